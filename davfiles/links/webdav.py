"""Public WebDAV of share links, where Nextcloud serves it: ``/public.php/dav/files/<token>/``,
and at the legacy ``/public.php/webdav/`` with the token as the Basic user name.

A small WebDAV class 1 server over the link, with no account: the password (when the link has
one) comes as HTTP Basic with any user name, throttled as on the pages (``access.py``).

- view links: ``OPTIONS``, ``PROPFIND`` (Depth 0 or 1), ``GET``/``HEAD`` (Range, ETag,
  counted as downloads like the raw download URLs);
- edit links: those, plus ``PUT`` (a replaced file keeps a version), ``MKCOL``, ``DELETE``
  (to the owner's trash) and ``MOVE`` within the link, never of the shared folder itself;
- drop links: ``PUT`` only, and a clash gets a free name (``201`` either way, naming
  nothing, so a visitor cannot probe what the folder holds); the uploader may name
  themselves in ``X-NC-Nickname`` (URL-encoded, as Nextcloud's file requests send it);
  ``PROPFIND`` shows the folder alone, never its content.

``COPY``, ``LOCK`` and ``PROPPATCH`` are not served (``501``).
"""

from __future__ import annotations

from email.utils import formatdate
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

from werkzeug.wrappers import Request, Response

from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import AlreadyExists, Conflict, DavfilesError, Gone, PermissionDenied
from davfiles.links.access import LinkGate, basic_user
from davfiles.links.transfer import counted_download, error_headers, status_of
from davfiles.rest.io import announced_length, body_chunks
from davfiles.store import FileInfo, Store
from davfiles.store.links import LinkKind, Visit

PREFIX = "/public.php/dav/files/"
LEGACY_PREFIX = "/public.php/webdav"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="davfiles share link"'}
_READ = ("OPTIONS", "PROPFIND", "GET", "HEAD")
_ALLOWED = {
    LinkKind.VIEW: _READ,
    LinkKind.EDIT: (*_READ, "PUT", "MKCOL", "DELETE", "MOVE"),
    LinkKind.DROP: ("OPTIONS", "PROPFIND", "PUT"),
}
_DAV = "DAV:"
ElementTree.register_namespace("d", _DAV)


class PublicDav:
    def __init__(self, store: Store, gate: LinkGate, block_size: int) -> None:
        self._store = store
        self._links = store.links
        self._gate = gate
        self._block_size = block_size

    def __call__(self, request: Request) -> Response:
        if request.path.startswith(PREFIX):
            token, _slash, sub = request.path[len(PREFIX) :].partition("/")
            base = f"{request.script_root}{PREFIX}{token}"
        else:
            # The legacy URL names the link by the Basic user name.
            token = basic_user(request) or ""
            sub = request.path[len(LEGACY_PREFIX) :]
            base = f"{request.script_root}{LEGACY_PREFIX}"
        try:
            if not token:
                return _text(401, "name the link's token as the user name", _CHALLENGE)
            visit = self._links.open(token)
            allowed = _ALLOWED[visit.link.kind]
            if request.method == "OPTIONS":
                return Response(status=200, headers={"DAV": "1", "Allow": ", ".join(allowed)})
            if not self._gate.admitted(request, visit):
                return _text(401, "this link needs its password (HTTP Basic)", _CHALLENGE)
            if request.method not in allowed:
                status = 501 if request.method not in _ALLOWED[LinkKind.EDIT] else 403
                return _text(status, f"a {visit.link.kind} link does not take {request.method}")
            return self._serve(request, visit, base, sub.strip("/"))
        except LoginThrottled as exc:
            return _text(429, "too many wrong passwords", {"Retry-After": str(exc.retry_after)})
        except Gone as exc:
            return _text(410, str(exc))
        except DavfilesError as exc:
            return _text(status_of(exc), str(exc), error_headers(exc))

    def _serve(self, request: Request, visit: Visit, base: str, sub: str) -> Response:
        method = request.method
        if method == "PUT":
            return self._put(request, visit, base, sub)
        if method == "MKCOL":
            self._links.edit_mkdir(visit, sub)
            return Response(status=201)
        if method == "DELETE":
            self._links.edit_delete(visit, sub)
            return Response(status=204)
        if method == "MOVE":
            return self._move(request, visit, base, sub)
        info = self._links.resolve(visit, sub)
        if method == "PROPFIND":
            return self._propfind(request, visit, base, info)
        if info.is_dir:
            return _text(405, "a folder has no content: PROPFIND lists it")
        return counted_download(request, self._store, visit, info)

    def _put(self, request: Request, visit: Visit, base: str, sub: str) -> Response:
        size = announced_length(request)
        if visit.link.kind == LinkKind.DROP:
            if not sub or "/" in sub:
                raise PermissionDenied("a drop takes files in its folder only")
            nickname = unquote(request.headers.get("X-NC-Nickname", ""))
            upload = self._links.drop_upload(visit, sub, nickname, size)
            try:
                for chunk in body_chunks(request, self._block_size):
                    upload.write(chunk)
                upload.commit()
            except BaseException:
                upload.abort()
                raise
            # No Location: the name it got would tell whether the folder held that name.
            return Response(status=201)
        existed = self._store.stat(visit.owner, self._links.inside(visit, sub))
        if existed is not None and existed.is_dir:
            raise Conflict("a folder is there")
        with self._links.edit_upload(visit, sub, size) as upload:
            for chunk in body_chunks(request, self._block_size):
                upload.write(chunk)
        assert upload.result is not None
        return Response(status=204 if existed else 201, headers={"ETag": f'"{upload.result.etag}"'})

    def _move(self, request: Request, visit: Visit, base: str, sub: str) -> Response:
        destination = urlsplit(request.headers.get("Destination", "")).path
        if not destination.startswith(base + "/"):
            return _text(502, "the Destination must be inside the same link")
        target = unquote(destination[len(base) + 1 :]).strip("/")
        overwrite = request.headers.get("Overwrite", "T").upper() != "F"
        try:
            created = self._links.edit_move(visit, sub, target, overwrite=overwrite)
        except AlreadyExists:
            return _text(412, "the Destination exists and Overwrite is F")
        return Response(status=201 if created else 204)

    def _propfind(self, request: Request, visit: Visit, base: str, info: FileInfo) -> Response:
        depth = request.headers.get("Depth", "1")
        members: list[FileInfo] = []
        if info.is_dir and depth != "0" and visit.link.kind != LinkKind.DROP:
            members = self._links.list_folder(visit, info)
        root = ElementTree.Element(f"{{{_DAV}}}multistatus")
        for entry in (info, *members):
            _response(root, self._href(base, visit, entry), entry)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root)
        return Response(body, 207, content_type='application/xml; charset="utf-8"')

    def _href(self, base: str, visit: Visit, info: FileInfo) -> str:
        relative = self._links.relative(visit, info)
        path = "/".join(quote(part, safe="") for part in relative.split("/") if part)
        suffix = "/" if info.is_dir and path else ""
        return f"{base}/{path}{suffix}"


def _response(root: ElementTree.Element, href: str, info: FileInfo) -> None:
    response = ElementTree.SubElement(root, f"{{{_DAV}}}response")
    ElementTree.SubElement(response, f"{{{_DAV}}}href").text = href
    propstat = ElementTree.SubElement(response, f"{{{_DAV}}}propstat")
    prop = ElementTree.SubElement(propstat, f"{{{_DAV}}}prop")
    ElementTree.SubElement(prop, f"{{{_DAV}}}displayname").text = info.name
    kind = ElementTree.SubElement(prop, f"{{{_DAV}}}resourcetype")
    if info.is_dir:
        ElementTree.SubElement(kind, f"{{{_DAV}}}collection")
    else:
        ElementTree.SubElement(prop, f"{{{_DAV}}}getcontentlength").text = str(info.size)
        ElementTree.SubElement(prop, f"{{{_DAV}}}getcontenttype").text = info.content_type
    modified = formatdate(info.modified_at, usegmt=True)
    ElementTree.SubElement(prop, f"{{{_DAV}}}getlastmodified").text = modified
    ElementTree.SubElement(prop, f"{{{_DAV}}}getetag").text = f'"{info.etag}"'
    ElementTree.SubElement(propstat, f"{{{_DAV}}}status").text = "HTTP/1.1 200 OK"


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status, headers, mimetype="text/plain")
