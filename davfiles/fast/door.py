"""The fast door: the hot WebDAV requests of sync clients straight to the store.

WsgiDAV answers every request through a generic pipeline: two or three resource look-ups, a
lock-manager check per level, ``If`` evaluation and a directory browser, each of which reads
the database. Most requests of a file manager or a sync client need none of it: a GET or HEAD
of a file, a small PUT, a MKCOL, a DELETE, a MOVE or COPY, by a user who holds no lock, with
no conditional header. ``FastDoor`` sits in WsgiDAV's middleware stack right after
authentication (so every credential is checked, throttled and answered by the one
authenticator) and answers exactly those requests with the provider's own resources and
WsgiDAV's own response helpers, so the answers are the ones WsgiDAV gives
(``tests/dav/test_fast_door.py`` compares them). A MOVE or COPY whose Destination names this
mount on this host goes past WsgiDAV's checks (re-done from the head, any refusal left to
WsgiDAV) to the resource's native ``handle_move``/``handle_copy``, the calls WsgiDAV makes.
Anything else goes on to WsgiDAV untouched, decided before a byte of the body is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from wsgidav import util
from wsgidav.dav_error import HTTP_CREATED, HTTP_NO_CONTENT, DAVError, as_DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from davfiles.errors import ConfigError
from davfiles.fast.eligibility import Plan, plan_request
from davfiles.metrics_doors import DOOR_KEY, FAST
from davfiles.provider.provider import DavfilesProvider
from davfiles.provider.resources import FileResource, FolderResource
from davfiles.store.locks import SqlLockStorage

StartResponse = Callable[..., Any]
Handler = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class FastDoor(BaseMiddleware):
    """A WsgiDAV middleware; see the module docstring."""

    def __init__(self, wsgidav_app: Any, next_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, next_app, config)
        locks = config.get("lock_storage")
        if not isinstance(locks, SqlLockStorage):
            raise ConfigError("the fast door needs davfiles' lock storage")
        self._locks = locks
        self._block_size: int = config["block_size"]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        provider = environ.get("wsgidav.provider")
        plan = (
            plan_request(environ, provider, self._locks)
            if isinstance(provider, DavfilesProvider)
            else None
        )
        if plan is None:
            return self.next_app(environ, start_response)  # type: ignore[no-any-return]
        handler = self._handlers()[plan.method]
        environ[DOOR_KEY] = FAST
        # What WsgiDAV's RequestServer sets before it dispatches.
        environ["wsgidav.user_name"] = environ.get("wsgidav.auth.user_name", "anonymous")

        def handle(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            return handler(plan, environ, start_response)

        # The provider's own wrapper: its response-header additions apply as they do for
        # WsgiDAV's handlers.
        return provider.custom_request_handler(environ, start_response, handle)  # type: ignore[union-attr]

    def _handlers(
        self,
    ) -> dict[str, Callable[[Plan, dict[str, Any], StartResponse], Iterable[bytes]]]:
        return {
            "GET": self._get,
            "HEAD": self._get,
            "PUT": self._put,
            "MKCOL": self._mkcol,
            "DELETE": self._delete,
            "MOVE": self._transfer,
            "COPY": self._transfer,
        }

    def _get(
        self, plan: Plan, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """WsgiDAV's ``_send_resource`` for a whole file without conditions or ranges."""
        resource = plan.resource
        assert isinstance(resource, FileResource) and resource.info is not None
        headers = [
            ("Content-Length", str(resource.get_content_length())),
            ("Last-Modified", util.get_rfc1123_time(resource.get_last_modified())),
            ("Content-Type", resource.get_content_type()),
            ("Date", util.get_rfc1123_time()),
            ("ETag", f'"{util.checked_etag(resource.get_etag())}"'),
            ("Accept-Ranges", "bytes"),
        ]
        headers += environ["wsgidav.config"].get("response_headers", [])
        resource.finalize_headers(environ, headers)
        if plan.method == "HEAD":
            start_response("200 OK", headers)
            return [b""]
        content = resource.get_content()
        start_response("200 OK", headers)
        return _blocks(content, resource.get_content_length(), self._block_size)

    def _put(
        self, plan: Plan, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """WsgiDAV's ``do_PUT`` for a body that has already arrived whole.

        WsgiDAV marks the resource as being written while it reads a body, so that no LOCK is
        granted meanwhile; here the body is read from memory at once, so there is no such
        window beyond the one between any check and the commit.
        """
        resource = plan.resource
        if isinstance(resource, FolderResource):
            resource = resource.create_empty_resource(plan.name)
        assert isinstance(resource, FileResource)
        created = resource.info is None
        try:
            stream = resource.begin_write(content_type=environ.get("CONTENT_TYPE"))
            body = environ["wsgi.input"]
            while data := body.read(self._block_size):
                stream.write(data)
            environ["wsgidav.all_input_read"] = 1
            stream.close()
        except Exception as exc:
            resource.end_write(with_errors=True)
            raise as_DAVError(exc) from exc
        resource.end_write(with_errors=False)
        etag = [("ETag", f'"{util.checked_etag(resource.get_etag())}"')]
        status = HTTP_CREATED if created else HTTP_NO_CONTENT
        return util.send_status_response(environ, start_response, status, add_headers=etag)  # type: ignore[no-any-return]

    def _mkcol(
        self, plan: Plan, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """WsgiDAV's ``do_MKCOL`` where the parent is a folder and the name is free."""
        parent = plan.resource
        assert isinstance(parent, FolderResource)
        parent.create_collection(plan.name)
        return util.send_status_response(environ, start_response, HTTP_CREATED)  # type: ignore[no-any-return]

    def _delete(
        self, plan: Plan, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """WsgiDAV's ``do_DELETE`` through the resource's native ``handle_delete``, which checks
        the locks of the whole tree again and removes any (one taken since the plan)."""
        resource = plan.resource
        try:
            resource.handle_delete()
        except DAVError as exc:
            return util.send_status_response(environ, start_response, exc)  # type: ignore[no-any-return]
        return util.send_status_response(environ, start_response, HTTP_NO_CONTENT)  # type: ignore[no-any-return]

    def _transfer(
        self, plan: Plan, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """WsgiDAV's ``_copy_or_move`` past its checks: the resource's native ``handle_move`` or
        ``handle_copy``, a 204 the provider turns into 201 for a new target, or the error.

        The user held no lock when the request was planned; a LOCK granted since would not be
        seen, as one granted between WsgiDAV's own checks and its ``handle_move`` is not (a
        MOVE still removes any lock on the tree it moves).
        """
        resource = plan.resource
        try:
            if plan.method == "MOVE":
                resource.handle_move(plan.destination)
            else:
                resource.handle_copy(plan.destination, depth_infinity=plan.recursive)
        except Exception as exc:
            return util.send_status_response(environ, start_response, as_DAVError(exc))  # type: ignore[no-any-return]
        return util.send_status_response(environ, start_response, HTTP_NO_CONTENT)  # type: ignore[no-any-return]


def _blocks(content: Any, length: int, block_size: int) -> Iterator[bytes]:
    """The file's bytes in blocks; the file is closed however the response ends."""
    remaining = length
    try:
        while remaining > 0:
            data = content.read(min(block_size, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
        if length == 0:
            yield b""
    finally:
        content.close()
