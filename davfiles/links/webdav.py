"""Public WebDAV of share links, where Nextcloud serves it: ``/public.php/dav/files/<token>/``,
and at the legacy ``/public.php/webdav/`` with the token as the Basic user name.

A small WebDAV server over the link, with no account: the password (when the link has one)
comes as HTTP Basic with any user name, throttled as on the pages (``access.py``).

- view links: ``OPTIONS``, ``PROPFIND`` (Depth 0 or 1), ``GET``/``HEAD`` (Range, ETag,
  counted as downloads like the raw download URLs);
- edit links (class 2, every litmus suite passes): those, plus ``PUT`` (a replaced file
  keeps a version), ``MKCOL``, ``DELETE`` (to the owner's trash), ``MOVE`` and ``COPY``
  within the link, never of the shared folder itself (a copy goes through the store, so the
  quota counts; a file copied over a file keeps a version, ``ShareLinks.edit_copy``);
  ``LOCK``/``UNLOCK`` in the main door's lock table by its lock manager (``davlocks.py``:
  each side honours the other's locks) with ``If`` conditions; ``PROPPATCH`` as the main
  door answers it (``getlastmodified`` and the Win32 times set the file's time, other
  properties are kept as dead properties, which its ``PROPFIND`` shows);
- drop links: ``PUT`` only, and a clash gets a free name (``201`` either way, naming
  nothing, so a visitor cannot probe what the folder holds); the uploader may name
  themselves in ``X-NC-Nickname`` (URL-encoded, as Nextcloud's file requests send it);
  ``PROPFIND`` shows the folder alone, never its content.

A method a link's kind does not take is ``403`` with a DAV error body, as Nextcloud answers
it; ``PROPFIND`` gives the main door's basic live properties (``davxml.py``), with
``oc:permissions`` as the link's kind allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit
from xml.etree.ElementTree import tostring

from werkzeug.wrappers import Request, Response
from wsgidav.dav_error import DAVError

from davfiles.auth.throttle import LoginThrottled
from davfiles.errors import (
    AlreadyExists,
    Conflict,
    DavfilesError,
    Gone,
    PermissionDenied,
)
from davfiles.links import davxml
from davfiles.links.access import LinkGate, basic_user
from davfiles.links.davlocks import LinkLocks, principal, ref_url
from davfiles.links.transfer import counted_download, error_headers, status_of
from davfiles.provider.nextcloud import LIVE_MTIME_PROPERTIES, parse_timestamp
from davfiles.rest.io import announced_length, body_chunks
from davfiles.store import FileInfo, Store, UserPath
from davfiles.store.links import LinkKind, Visit
from davfiles.store.locks import request_scope
from davfiles.xml_guard import XmlRefused, check_xml_body, read_body

_Parsed = TypeVar("_Parsed")

PREFIX = "/public.php/dav/files/"
LEGACY_PREFIX = "/public.php/webdav"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="davfiles share link"'}
_READ = ("OPTIONS", "PROPFIND", "GET", "HEAD")
_ALLOWED = {
    LinkKind.VIEW: _READ,
    LinkKind.EDIT: (
        *_READ,
        "PUT",
        "MKCOL",
        "DELETE",
        "MOVE",
        "COPY",
        "LOCK",
        "UNLOCK",
        "PROPPATCH",
    ),
    LinkKind.DROP: ("OPTIONS", "PROPFIND", "PUT"),
}
_TIMEOUT = re.compile(r"\s*Second-(\d+)", re.IGNORECASE)


class PublicDav:
    def __init__(self, store: Store, gate: LinkGate, block_size: int, locks: LinkLocks) -> None:
        self._store = store
        self._links = store.links
        self._gate = gate
        self._block_size = block_size
        self._locks = locks

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
                dav = "1, 2" if "LOCK" in allowed else "1"
                return Response(status=200, headers={"DAV": dav, "Allow": ", ".join(allowed)})
            if not self._gate.admitted(request, visit):
                return _text(401, "this link needs its password (HTTP Basic)", _CHALLENGE)
            if request.method not in allowed:
                message = f"a {visit.link.kind} link does not take {request.method}"
                if request.method not in _ALLOWED[LinkKind.EDIT]:
                    return _text(501, message)
                return davxml.error_answer(403, message)
            with request_scope():
                return self._serve(request, visit, base, sub.strip("/"))
        except LoginThrottled as exc:
            return _text(429, "too many wrong passwords", {"Retry-After": str(exc.retry_after)})
        except Gone as exc:
            return _text(410, str(exc))
        except DavfilesError as exc:
            return _text(status_of(exc), str(exc), error_headers(exc))
        except DAVError as exc:
            # The lock manager's refusal (423).
            if exc.value == 423:
                return davxml.error_answer(423, "locked", "lock-token-submitted")
            return _text(exc.value, exc.get_user_info())

    def _serve(self, request: Request, visit: Visit, base: str, sub: str) -> Response:
        method = request.method
        if method not in _READ and not self._conditions_hold(request, visit, sub):
            return davxml.error_answer(412, "the If header's conditions do not hold")
        if method == "PUT":
            return self._put(request, visit, sub)
        if method == "MKCOL":
            return self._mkcol(request, visit, sub)
        if method == "DELETE":
            path = self._links.inside(visit, sub)
            self._guard(request, visit, path, depth="infinity", parent=True)
            info = self._links.edit_delete(visit, sub)
            self._locks.forget(ref_url(visit, path, info.is_dir))
            return Response(status=204)
        if method in ("MOVE", "COPY"):
            return self._transfer(request, visit, base, sub)
        if method == "LOCK":
            return self._lock(request, visit, base, sub)
        if method == "UNLOCK":
            return self._unlock(request, visit, sub)
        info = self._links.resolve(visit, sub)
        if method == "PROPFIND":
            return self._propfind(request, visit, base, info)
        if method == "PROPPATCH":
            return self._proppatch(request, visit, base, sub, info)
        if info.is_dir:
            return _text(405, "a folder has no content: PROPFIND lists it")
        return counted_download(request, self._store, visit, info)

    def _conditions_hold(self, request: Request, visit: Visit, sub: str) -> bool:
        path = self._links.inside(visit, sub)
        info = self._store.stat(visit.owner, path) if visit.link.kind == LinkKind.EDIT else None
        is_dir = info is not None and info.is_dir
        href = request.script_root + request.path
        etag = info.etag if info is not None else None
        return self._locks.conditions_hold(
            request.environ, href, ref_url(visit, path, is_dir), etag
        )

    def _mkcol(self, request: Request, visit: Visit, sub: str) -> Response:
        if request.content_length or request.headers.get("Transfer-Encoding"):
            return davxml.error_answer(415, "MKCOL takes no body")
        path = self._links.inside(visit, sub)
        if self._store.stat(visit.owner, path) is not None:
            return davxml.error_answer(405, "something is there already")
        self._guard(request, visit, path, parent=True)
        self._links.edit_mkdir(visit, sub)
        return Response(status=201)

    def _guard(
        self,
        request: Request,
        visit: Visit,
        path: UserPath,
        *,
        is_dir: bool = False,
        depth: str = "0",
        parent: bool = False,
    ) -> None:
        """Refuse (423) a write that locks forbid, as the main door does: on the resource,
        and on its folder when a member comes or goes."""
        self._locks.check_write(request.environ, visit, ref_url(visit, path, is_dir), depth)
        if parent and path != visit.root.path:
            self._locks.check_write(request.environ, visit, ref_url(visit, path.parent, True), "0")

    def _put(self, request: Request, visit: Visit, sub: str) -> Response:
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
        path = self._links.inside(visit, sub)
        existed = self._store.stat(visit.owner, path)
        if existed is not None and existed.is_dir:
            raise Conflict("a folder is there")
        self._guard(request, visit, path, parent=existed is None)
        with self._links.edit_upload(visit, sub, size) as upload:
            for chunk in body_chunks(request, self._block_size):
                upload.write(chunk)
        assert upload.result is not None
        return Response(status=204 if existed else 201, headers={"ETag": f'"{upload.result.etag}"'})

    def _transfer(self, request: Request, visit: Visit, base: str, sub: str) -> Response:
        """MOVE or COPY within the link."""
        destination = urlsplit(request.headers.get("Destination", "")).path
        if not destination.startswith(base + "/"):
            return _text(502, "the Destination must be inside the same link")
        target = unquote(destination[len(base) + 1 :]).strip("/")
        overwrite = request.headers.get("Overwrite", "T").upper() != "F"
        source_path = self._links.inside(visit, sub)
        target_path = self._links.inside(visit, target)
        source = self._links.resolve(visit, sub)
        moving = request.method == "MOVE"
        if moving:
            self._guard(request, visit, source_path, is_dir=source.is_dir, depth="infinity")
            self._guard(request, visit, source_path, is_dir=source.is_dir, parent=True)
        self._guard(request, visit, target_path, is_dir=source.is_dir, depth="infinity")
        self._guard(request, visit, target_path, is_dir=source.is_dir, parent=True)
        try:
            if moving:
                created = self._links.edit_move(visit, sub, target, overwrite=overwrite)
                self._locks.forget(ref_url(visit, source_path, source.is_dir))
            else:
                recursive = request.headers.get("Depth", "infinity") != "0"
                created = self._links.edit_copy(
                    visit, sub, target, overwrite=overwrite, recursive=recursive
                )
        except AlreadyExists:
            return _text(412, "the Destination exists and Overwrite is F")
        return Response(status=201 if created else 204)

    def _lock(self, request: Request, visit: Visit, base: str, sub: str) -> Response:
        path = self._links.inside(visit, sub)
        timeout = _timeout(request.headers.get("Timeout", ""))
        wanted = _body_of(request, davxml.parse_lockinfo, "LOCK")
        if isinstance(wanted, Response):
            return wanted
        info = self._store.stat(visit.owner, path)
        href = f"{base}/{_quoted(sub)}" if sub else f"{base}/"
        if wanted is None:
            url = ref_url(visit, path, info is not None and info.is_dir)
            lock = self._locks.refresh(request.environ, visit, url, timeout)
            if lock is None:
                return davxml.error_answer(
                    412, "no lock of this link's to refresh", "lock-token-matches-request-uri"
                )
            return davxml.lock_answer(lock, href, 200)
        created = info is None
        if created:
            # A lock on an unmapped URL makes an empty file (RFC 4918 7.3), as on the main door.
            self._guard(request, visit, path, parent=True)
            with self._links.edit_upload(visit, sub, 0):
                pass
            info = self._links.resolve(visit, sub)
        depth = "0" if not info.is_dir or request.headers.get("Depth") == "0" else "infinity"
        lock = self._locks.acquire(
            request.environ,
            visit,
            ref_url(visit, path, info.is_dir),
            scope=wanted.scope,
            depth=depth,
            owner=wanted.owner,
            timeout=timeout,
        )
        return davxml.lock_answer(lock, href, 201 if created else 200)

    def _unlock(self, request: Request, visit: Visit, sub: str) -> Response:
        token = request.headers.get("Lock-Token", "").strip().strip("<>")
        info = self._links.resolve(visit, sub)
        if not token or not self._locks.release(
            visit, ref_url(visit, info.path, info.is_dir), token
        ):
            return davxml.error_answer(
                409, "no lock of this link's with that token here", "lock-token-matches-request-uri"
            )
        return Response(status=204)

    def _proppatch(
        self, request: Request, visit: Visit, base: str, sub: str, info: FileInfo
    ) -> Response:
        """Times as the main door sets them (a time it cannot read is ``400``); other
        properties kept as dead ones; ``DAV:`` properties otherwise protected (``403``).
        All or nothing: every change is checked before the store applies them together, and
        when one fails the others are ``424`` and none is applied; when the store refuses
        the set (no room for more dead properties), the new ones are ``403``."""
        changes = _body_of(request, davxml.parse_propertyupdate, "PROPPATCH")
        if isinstance(changes, Response):
            return changes
        self._guard(request, visit, info.path, is_dir=info.is_dir)
        failed: dict[str, str] = {}
        properties: dict[str, bytes | None] = {}
        modified = None
        for change in changes:
            if change.name in LIVE_MTIME_PROPERTIES:
                text = change.element.text if change.element is not None else None
                try:
                    modified = parse_timestamp(text)
                except DAVError:
                    failed[change.name] = "HTTP/1.1 400 Bad Request"
            elif change.name.startswith(davxml.DAV):
                failed[change.name] = "HTTP/1.1 403 Forbidden"
            else:
                element = change.element
                properties[change.name] = tostring(element) if element is not None else None
        href = self._href(base, visit, info)
        if failed:
            statuses = {change.name: "HTTP/1.1 424 Failed Dependency" for change in changes}
            return davxml.proppatch_answer(href, {**statuses, **failed})
        try:
            self._links.edit_proppatch(visit, sub, properties, modified)
        except PermissionDenied:
            # The store refused the set as a whole (the room for dead properties, as the
            # main door answers it: 403): the properties it would have added failed.
            kept = self._store.dead_properties(visit.owner, info.path)
            added = [n for n, v in properties.items() if v is not None and n not in kept]
            statuses = {change.name: "HTTP/1.1 424 Failed Dependency" for change in changes}
            statuses.update(dict.fromkeys(added or properties, "HTTP/1.1 403 Forbidden"))
            return davxml.proppatch_answer(href, statuses)
        return davxml.proppatch_answer(
            href, dict.fromkeys((c.name for c in changes), "HTTP/1.1 200 OK")
        )

    def _propfind(self, request: Request, visit: Visit, base: str, info: FileInfo) -> Response:
        wanted = _body_of(request, davxml.parse_propfind, "PROPFIND")
        if isinstance(wanted, Response):
            return wanted
        depth = request.headers.get("Depth", "1")
        kind = visit.link.kind
        members: list[FileInfo] = []
        if info.is_dir and depth != "0" and kind != LinkKind.DROP:
            members = self._links.list_folder(visit, info)
        # Dead properties are the edit link's to see, as it may set them; never a view's.
        own: dict[str, bytes] = {}
        inside: dict[str, dict[str, bytes]] = {}
        if kind == LinkKind.EDIT:
            own = self._store.dead_properties(visit.owner, info.path)
            if members:
                inside = self._store.dead_properties_in(visit.owner, info.path)
        root = davxml.multistatus()
        for entry in (info, *members):
            locks = None
            if kind == LinkKind.EDIT:
                url = ref_url(visit, entry.path, entry.is_dir)
                locks = [_as_seen(visit, lock) for lock in self._locks.locks_on(url)]
            properties = davxml.live_properties(entry, kind, locks)
            stored = own if entry is info else inside.get(entry.name, {})
            properties += davxml.dead_properties(stored)
            davxml.add_entry(root, self._href(base, visit, entry), properties, wanted)
        return davxml.multistatus_answer(root)

    def _href(self, base: str, visit: Visit, info: FileInfo) -> str:
        relative = self._links.relative(visit, info)
        path = _quoted(relative)
        suffix = "/" if info.is_dir and path else ""
        return f"{base}/{path}{suffix}"


def _body_of(
    request: Request, parse: Callable[[bytes], _Parsed], method: str
) -> _Parsed | Response:
    """``parse`` of the request's XML body, or the DAV error answer when it cannot be read."""
    try:
        return parse(_xml_body(request))
    except XmlRefused as exc:
        return davxml.error_answer(int(exc.status.split()[0]), str(exc))
    except ValueError as exc:
        return davxml.error_answer(400, f"not a {method} body: {exc}")


def _xml_body(request: Request) -> bytes:
    """A LOCK or PROPPATCH body, read and checked as the main door's ``XmlGuard`` does."""
    body = read_body(request.environ)
    if body:
        check_xml_body(body, request.mimetype_params.get("charset"))
    return body


def _as_seen(visit: Visit, lock: dict[str, Any]) -> dict[str, Any]:
    """A lock as a visitor sees it: who holds another principal's lock is not theirs to read."""
    if lock["principal"] == principal(visit):
        return lock
    return {**lock, "owner": b""}


def _quoted(relative: str) -> str:
    return "/".join(quote(part, safe="") for part in relative.split("/") if part)


def _timeout(header: str) -> float | None:
    """The first ``Second-N`` of a Timeout header; None (the lock table's cap) otherwise."""
    match = _TIMEOUT.match(header.split(",")[0])
    return float(match.group(1)) if match else None


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status, headers, mimetype="text/plain")
