"""What ownCloud/Nextcloud clients (rclone's owncloud and nextcloud vendors) need from WebDAV.

Live ``oc:`` properties from the store's record (checksums computed by the store, stable ids),
and the request headers those clients send: ``X-OC-Mtime`` and ``OC-Checksum``.
"""

from __future__ import annotations

import email.utils
from typing import Any

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError
from wsgidav.xml_tools import etree

from davfiles.numbers import storable_time
from davfiles.store import FileInfo

OC_NS = "{http://owncloud.org/ns}"
OC_CHECKSUMS = OC_NS + "checksums"
LIVE_MTIME_PROPERTIES = (
    "{DAV:}lastmodified",
    "{DAV:}getlastmodified",
    "{urn:schemas-microsoft-com:}Win32LastModifiedTime",
)


def oc_property(info: FileInfo, name: str) -> Any:
    """The value of an ``oc:`` live property, or None if it is not one davfiles serves."""
    if name == OC_CHECKSUMS:
        element = etree.Element(name)
        if info.sha1 and info.md5 and not info.is_dir:
            checksum = etree.SubElement(element, OC_NS + "checksum")
            checksum.text = f"SHA1:{info.sha1} MD5:{info.md5}"
        return element
    if name in (OC_NS + "fileid", OC_NS + "id"):
        return str(info.id)
    if name == OC_NS + "permissions":
        return "RDNVCK" if info.is_dir else "RDNVW"
    if name == OC_NS + "size":
        # A folder's size is the total below it, kept by the store on every write.
        return str(info.tree_size if info.is_dir else info.size)
    return None


def parse_timestamp(text: str | None) -> float:
    """Unix seconds (``X-OC-Mtime``, rclone's PROPPATCH) or an HTTP date (Windows, RFC 4918),
    from 1970 to the end of 9999: a file's time must stay one an HTTP date can show."""
    value = (text or "").strip()
    try:
        return _in_range(float(value), value)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise DAVError(HTTP_BAD_REQUEST, context_info=f"not a time: {value[:40]!r}") from None
    return _in_range(parsed.timestamp(), value)


def requested_mtime(environ: dict[str, Any]) -> float | None:
    header = environ.get("HTTP_X_OC_MTIME")
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        raise DAVError(HTTP_BAD_REQUEST, context_info="X-OC-Mtime must be unix seconds") from None
    return _in_range(seconds, header.strip())


def _in_range(seconds: float, text: str) -> float:
    """``seconds`` if finite and within ``0 … LATEST_TIME``; a 400 DAVError otherwise."""
    if not storable_time(seconds):
        raise DAVError(HTTP_BAD_REQUEST, context_info=f"not a time we keep: {text[:40]!r}")
    return seconds


def requested_checksum(environ: dict[str, Any]) -> tuple[str, str] | None:
    """The (algorithm, hex) of an ``OC-Checksum: SHA1:<hex>`` (or MD5) header; others ignored."""
    header = environ.get("HTTP_OC_CHECKSUM", "").strip()
    algorithm, _, digest = header.partition(":")
    algorithm = algorithm.strip().lower()
    if algorithm in ("sha1", "md5") and digest.strip():
        return algorithm, digest.strip().lower()
    return None
