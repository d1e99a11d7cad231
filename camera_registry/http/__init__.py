"""What the web pages and the API share about one HTTP request: its unit of work (`units`), who is asking
(`actor`) and the status a refusal answers with (`statuses`).

Both camera_registry.web and camera_registry.api import these and neither imports the other, as Flask's
tutorial keeps get_db in its db.py. camera_registry.db stays free of Flask: the services use its units.
"""
