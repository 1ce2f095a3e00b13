"""rota's web dashboard and JSON API (the ``web`` extra: ``pip install 'rota[web]'``).

``dashboard_app(app, auth=Auth(token=...), read_only=False)`` is an ASGI application to serve
with uvicorn (``rota dashboard``) or to mount in FastAPI or Starlette. See docs/dashboard.md.
"""

from rota.web._app import dashboard_app
from rota.web._auth import Auth

__all__ = ["Auth", "dashboard_app"]
