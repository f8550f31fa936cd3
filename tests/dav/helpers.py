"""Small WebDAV client helpers for the HTTP tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests

DAV = "{DAV:}"

LOCK_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype><D:owner>tests</D:owner></D:lockinfo>"
)


def propfind(
    session: requests.Session, url: str, *, depth: str = "0", props: tuple[str, ...] = ()
) -> dict[str, dict[str, str]]:
    """PROPFIND and return {href: {prop local name: text}} for the 200 propstats."""
    body = None
    if props:
        inner = "".join(f"<D:{name}/>" for name in props)
        body = (
            f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{inner}</D:prop></D:propfind>'
        )
    response = session.request("PROPFIND", url, headers={"Depth": depth}, data=body)
    assert response.status_code == 207, response.text
    result: dict[str, dict[str, str]] = {}
    for entry in ET.fromstring(response.content).iter(f"{DAV}response"):
        href = entry.findtext(f"{DAV}href") or ""
        values: dict[str, str] = {}
        for propstat in entry.iter(f"{DAV}propstat"):
            if " 200 " not in (propstat.findtext(f"{DAV}status") or ""):
                continue
            for prop in propstat.iter(f"{DAV}prop"):
                for child in prop:
                    values[child.tag.split("}")[-1]] = child.text or ""
        result[href] = values
    return result


def lock(session: requests.Session, url: str) -> requests.Response:
    return session.request("LOCK", url, data=LOCK_BODY, headers={"Timeout": "Second-600"})
