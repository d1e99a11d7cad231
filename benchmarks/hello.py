"""The trivial WSGI app the load benchmark serves under the same gunicorn settings as the registry.

    gunicorn -c deploy/gunicorn.conf.py benchmarks.hello:app

Its figures are the ceiling of the machine, gunicorn and the load generator
together: what the registry's figures are to be read against. Not part of
the product.
"""

BODY = b"hello\n"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
