"""The response headers of the web app: strict ones for its pages, sandboxing ones for users'
files, and the rule of which files a browser may show inline at all.

User content never runs in the app's origin: every response carrying a user's bytes has
``Content-Security-Policy: sandbox`` (the browser treats it as a foreign, script-less origin)
and ``nosniff``; only images, audio, video, PDF and text are ever shown inline, text always as
``text/plain``; HTML, SVG, XML and anything else are attachments.
"""

from __future__ import annotations

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
CONTENT_HEADERS = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-cache",
}
# Text a browser may show as text/plain; anything else textual that can run (HTML, XML,
# SVG) is an attachment.
_ACTIVE_TEXT = frozenset({"text/html", "text/xml", "text/xsl", "text/xhtml"})
_PLAIN_APPLICATION = frozenset(
    {
        "application/json",
        "application/x-sh",
        "application/x-python",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/sql",
    }
)


def preview_kind(content_type: str) -> str | None:
    """How the app may show a file inline: image, audio, video, pdf or text; None: never."""
    media = content_type.split(";")[0].strip().lower()
    major, _slash, minor = media.partition("/")
    if major == "image" and "svg" not in minor and "xml" not in minor:
        return "image"
    if major in ("audio", "video"):
        return major
    if media == "application/pdf":
        return "pdf"
    if major == "text" and media not in _ACTIVE_TEXT and "xml" not in minor:
        return "text"
    if media in _PLAIN_APPLICATION:
        return "text"
    return None


def inline_type(content_type: str) -> str | None:
    """The Content-Type to show a file inline with, or None for an attachment only."""
    kind = preview_kind(content_type)
    if kind is None:
        return None
    if kind == "text":
        return "text/plain; charset=utf-8"
    return content_type.split(";")[0].strip().lower()
