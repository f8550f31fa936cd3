"""The web app: the user's files in a browser, server-rendered, usable without JavaScript."""

from davfiles.web.app import WebApp
from davfiles.web.sessions import WebSessions

__all__ = ["WebApp", "WebSessions"]
