"""What the web pages and the API share about one HTTP request: its unit of work (`units`) and who is
asking (`actor`).

Both camera_registry.web and camera_registry.api import these, so the API needs nothing from the pages, as
Flask's tutorial keeps get_db in its db.py. camera_registry.db stays free of Flask: the services use its units.
"""
