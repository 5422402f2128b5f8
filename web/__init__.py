"""The web service: 누고 search pages, the JSON API, personal feeds, the status page (WSGI, served by gunicorn)."""
