"""WebDAV locks taken through an edit link's public WebDAV, in the same lock table and by the
same WsgiDAV lock manager as the main door's, so a lock taken on either side holds on both.

A lock is keyed by the owner's ref URL (``/<owner>/<path>``, as the main door keys it) and held
by the principal ``link:<id>`` (no user name holds a colon, so no account shares it): the owner
writing through ``/dav/`` is refused a file a visitor locked, and the other way round.

No one but the link can unlock such a lock, so it never outlives the link: the store drops
the link's locks when the link is deleted, disabled, regenerated or made another kind
(``ShareLinks``), and a lock taken here expires no later than the link does (an expiry
the owner moves earlier ends the link's locks by then too). The lock's write and the
owner's change lock the link's row in turn (``taken_through_link``), so a LOCK racing the
change is refused or trimmed by it, never left behind. A link that stops serving otherwise
(its node trashed, its download limit reached) leaves its locks to their own timeout, at
most the lock table's cap; a new password keeps its visitors' locks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from wsgidav import util
from wsgidav.lock_man.lock_manager import LockManager

from davfiles.provider.resources import quote_path
from davfiles.store import UserPath
from davfiles.store.links import Visit
from davfiles.store.locks import link_principal, taken_through_link

LockDict = dict[str, Any]


def ref_url(visit: Visit, path: UserPath, is_dir: bool) -> str:
    """The key the main door's resources give locks (``resources.get_ref_url``)."""
    slash = "/" if is_dir and path.text else ""
    return quote_path(f"/{visit.owner.name}/{path.text}{slash}")


def principal(visit: Visit) -> str:
    return link_principal(visit.link.id)


class LinkLocks:
    """The lock manager over the main door's lock storage, asked on a link's behalf."""

    def __init__(self, storage: Any) -> None:
        self._manager = LockManager(storage)

    def check_write(self, environ: dict[str, Any], visit: Visit, url: str, depth: str) -> None:
        """Raise WsgiDAV's DAVError (423) unless the request's ``If`` tokens cover the
        locks on ``url`` (and below it, for ``depth`` infinity)."""
        util.parse_if_header_dict(environ)
        self._manager.check_write_permission(
            url=url,
            depth=depth,
            token_list=environ["wsgidav.ifLockTokenList"],
            principal=principal(visit),
        )

    def acquire(
        self,
        environ: dict[str, Any],
        visit: Visit,
        url: str,
        *,
        scope: str,
        depth: str,
        owner: bytes,
        timeout: float | None,
    ) -> LockDict:
        util.parse_if_header_dict(environ)
        with taken_through_link(visit.link.id, visit.link.token):
            return self._manager.acquire(
                url=url,
                lock_type="write",
                lock_scope=scope,
                lock_depth=depth,
                lock_owner=owner,
                timeout=timeout,
                principal=principal(visit),
                token_list=environ["wsgidav.ifLockTokenList"],
            )

    def refresh(
        self, environ: dict[str, Any], visit: Visit, url: str, timeout: float | None
    ) -> LockDict | None:
        """Refresh the lock named in ``If`` that covers ``url`` and is the link's own; None
        when there is none (or it went, the owner's change to the link dropping it)."""
        util.parse_if_header_dict(environ)
        for token in environ["wsgidav.ifLockTokenList"]:
            lock = self._manager.get_lock(token)
            if lock and lock["principal"] == principal(visit) and _covers(lock, url):
                try:
                    with taken_through_link(visit.link.id, visit.link.token):
                        return self._manager.refresh(token, timeout=timeout)
                except ValueError:
                    return None
        return None

    def release(self, visit: Visit, url: str, token: str) -> bool:
        """Release the link's own lock ``token`` covering ``url``; False if there is none."""
        lock = self._manager.get_lock(token)
        if not lock or lock["principal"] != principal(visit) or not _covers(lock, url):
            return False
        self._manager.release(token)
        return True

    def conditions_hold(
        self, environ: dict[str, Any], href: str, url: str, etag: str | None
    ) -> bool:
        """Whether the ``If`` header's lists for this resource (untagged, or tagged with
        ``href``, its path as the client names it) hold: one list whose every condition
        holds, a lock token being one of the locks on ``url`` and an entity tag its ETag."""
        util.parse_if_header_dict(environ)
        conditions = environ["wsgidav.conditions.if"]
        if not conditions:
            return True
        wanted = unquote(href).rstrip("/")
        lists = [
            conditions_list
            for tag, tagged in conditions.items()
            if tag == "*" or unquote(urlsplit(tag).path).rstrip("/") == wanted
            for conditions_list in tagged
        ]
        if not lists:
            return True
        tokens = {lock["token"] for lock in self.locks_on(url)}

        def holds(kind: str, value: str) -> bool:
            if kind == "entity":
                return etag is not None and value.removeprefix("W/").strip('"') == etag
            return value in tokens

        return any(
            all(holds(kind, value) == positive for positive, kind, value in conditions_list)
            for conditions_list in lists
        )

    def locks_on(self, url: str) -> list[LockDict]:
        """The locks on ``url`` itself or on a folder above it with depth infinity."""
        return self._manager.get_indirect_url_lock_list(url)

    def forget(self, url: str) -> None:
        """Drop the locks on and below a resource that is gone (deleted or moved away)."""
        self._manager.remove_all_locks_from_url(url, recursive=True)


def _covers(lock: LockDict, url: str) -> bool:
    root = lock["root"].rstrip("/")
    target = "/" + url.strip("/")
    return target == root or (lock["depth"] == "infinity" and target.startswith(root + "/"))
