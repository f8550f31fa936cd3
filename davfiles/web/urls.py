"""Redirects within the app under the path prefix its request came through.

The app's own paths start with ``/app/``; a reverse proxy that mounts davfiles under a prefix
(``X-Forwarded-Prefix``, see ``davfiles.proxy``) puts it in SCRIPT_NAME, which the browser's
view of every URL must start with. Pages get it as ``root`` and write ``{{ root }}/app/...``.
"""

from __future__ import annotations

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response


def see_other(request: Request, app_path: str, code: int = 303) -> Response:
    """A redirect to ``app_path`` (``/app/...``) as the browser reached the app."""
    return redirect(request.script_root + app_path, code)
