"""The web server: the ESP API, the REST API and the public pages, in one FastAPI app."""

from veille.web.app import create_app

__all__ = ["create_app"]
