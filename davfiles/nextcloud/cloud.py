"""OCS ``cloud/capabilities`` and ``cloud/user``: the two calls both sync clients make before
their first PROPFIND (either failing stops them).

Only what davfiles really does is advertised. ``dav.chunking: "1.0"`` keeps files over 10 MB on
the ``/remote.php/dav/uploads/<user>/`` flow (without it Nextcloud's client falls back to a
legacy chunking protocol davfiles does not serve); SHA1 and MD5 are the checksums the store
verifies in ``OC-Checksum``. Sharing is public links only. Nothing for bulk upload, TUS,
locking, encryption or push: a client that sees one of those switches to a protocol davfiles
does not serve.

Both need credentials, as every call but ``status.php``. The ``OCS-APIRequest: true`` header the
clients send is accepted, not required: Nextcloud uses it to tell API calls from browser
sessions that carry a cookie (a CSRF guard), and davfiles' OCS takes no cookies.
"""

from __future__ import annotations

import shutil
from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.nextcloud.ocs import ocs_response
from davfiles.nextcloud.status import VERSION, VERSION_STRING, server_status
from davfiles.store import Owner, Store
from davfiles.store.links import LinkKind, LinkPolicy

WEBDAV_ROOT = "remote.php/webdav"
# Nextcloud's "unlimited" in the quota figures of cloud/user.
UNLIMITED = -3


def capabilities() -> dict[str, Any]:
    major, minor, micro, _ = VERSION
    return {
        "version": {
            "major": major,
            "minor": minor,
            "micro": micro,
            "string": VERSION_STRING,
            "edition": "",
            "extendedSupport": False,
        },
        "capabilities": {
            "core": {
                "pollinterval": 60,
                "webdav-root": WEBDAV_ROOT,
                "status": server_status(),
            },
            "dav": {"chunking": "1.0"},
            "files": {"bigfilechunking": True, "blacklisted_files": []},
            "checksums": {"supportedTypes": ["SHA1", "MD5"], "preferredUploadType": "SHA1"},
            # Public links only (``nextcloud/shares.py``): no user, group, mail or federated
            # shares, no resharing.
            "files_sharing": {
                "api_enabled": True,
                "public": {
                    "enabled": True,
                    "password": {"enforced": False, "askForOptionalPassword": False},
                    "expire_date": {"enabled": True, "enforced": False},
                    "multiple_links": True,
                    "upload": True,
                    "upload_files_drop": True,
                    "send_mail": False,
                },
                "resharing": False,
                "group_sharing": False,
                "user": {"send_mail": False, "expire_date": {"enabled": False}},
                "group": {"enabled": False},
                "federation": {"outgoing": False, "incoming": False},
                "sharebymail": {"enabled": False},
            },
            # The files_downloadlimit app's API (``download_limit.py``).
            "downloadlimit": {"enabled": True},
        },
    }


def capabilities_endpoint(request: Request, version: int, owner: Owner, store: Store) -> Response:
    answer = capabilities()
    _announce_policy(answer["capabilities"]["files_sharing"]["public"], store.links.policy())
    keeping = store.keeping
    # The trashbin and versions WebDAV (provider/trash_resources.py), as the settings allow.
    answer["capabilities"]["files"].update(
        undelete=keeping.trash_enabled,
        delete_from_trash=True,
        versioning=keeping.versions_enabled,
        version_labeling=keeping.versions_enabled,
        version_deletion=keeping.versions_enabled,
    )
    return ocs_response(request, version, answer)


def _announce_policy(public: dict[str, Any], policy: LinkPolicy) -> None:
    """The link policy as Nextcloud's apps read it before making a link: they ask for a
    password, or a date within the maximum, instead of meeting a refusal."""
    public["password"] = {
        "enforced": LinkKind.VIEW in policy.password_kinds,
        "askForOptionalPassword": bool(policy.password_kinds),
    }
    expiry: dict[str, Any] = {"enabled": True, "enforced": policy.max_expiry_days is not None}
    days = policy.default_expiry_days or policy.max_expiry_days
    if days is not None:
        expiry["days"] = days
    public["expire_date"] = expiry


def user_endpoint(request: Request, version: int, owner: Owner, store: Store) -> Response:
    """``data.id`` is the name in ``/remote.php/dav/files/<id>/``."""
    figures = store.usage(owner)
    if figures.max_bytes is None:
        free = shutil.disk_usage(store.users_dir).free
        limit = UNLIMITED
    else:
        free = figures.available_bytes or 0
        limit = figures.max_bytes
    total = figures.used_bytes + free
    data = {
        "enabled": True,
        "id": owner.name,
        "display-name": owner.name,
        "displayname": owner.name,
        "email": None,
        "quota": {
            "free": free,
            "used": figures.used_bytes,
            "total": total,
            "relative": round(100 * figures.used_bytes / total, 2) if total else 0,
            "quota": limit,
        },
    }
    return ocs_response(request, version, data)
