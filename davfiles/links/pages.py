"""The HTML of the public link pages: Jinja2 templates, no script, strict headers."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.wrappers import Response

# Pages of a link: only this server's styles, no framing, no referrer (the URL is the secret).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}

_environment = Environment(
    loader=PackageLoader("davfiles.links", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLESHEET = resources.files("davfiles.links").joinpath("static/links.css").read_bytes()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def page(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> Response:
    """Render ``template`` with the helpers every page uses."""
    body = _environment.get_template(template).render(size=human_size, when=human_time, **values)
    response = Response(body, status, mimetype="text/html")
    response.headers.update(PAGE_HEADERS)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def stylesheet() -> Response:
    response = Response(STYLESHEET, mimetype="text/css")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
