"""davfiles' own JSON API for the trash and file versions (``/davfiles/api/...``).

List the trash with filters (original folder and below, deletion time range, and who
deleted: client address, door, part of the User-Agent), restore or purge in bulk (by ids, or
everything the filters select: one call undoes a sync client's mass delete), list a file's
versions, restore and label one. Any credential the REST side accepts works; the store does
the work.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import InvalidName
from davfiles.rest.dialect import Dialect, Route, json_object, parse_file_id
from davfiles.rest.io import iso_time, json_response
from davfiles.rest.openapi import json_response_spec
from davfiles.store import Owner, parse_user_path
from davfiles.store.trash import TrashEntry
from davfiles.store.versions import VersionInfo

# Filters matched as text: the client address and door exactly, the User-Agent in part.
_WHO = ("origin", "door", "agent")
_FILTERS = ("folder", "since", "until", *_WHO)


class Recovery(Dialect):
    name = "recovery"
    default_prefix = "/davfiles"
    routes = (
        Route("/api/trash", ("GET",), "trash_list"),
        Route("/api/trash/restore", ("POST",), "trash_restore"),
        Route("/api/trash/purge", ("POST",), "trash_purge"),
        Route("/api/files/<file_id>/versions", ("GET",), "versions_list"),
        Route("/api/versions/<version_id>/restore", ("POST",), "version_restore"),
        Route("/api/versions/<version_id>/label", ("PUT",), "version_label"),
    )

    def _selected(self, owner: Owner, filters: dict[str, Any]) -> list[TrashEntry]:
        folder = filters.get("folder")
        if folder is not None and not isinstance(folder, str):
            raise InvalidName("folder must be a path")
        times = [filters.get(name) for name in ("since", "until")]
        for value in times:
            if value is not None and (isinstance(value, bool) or not _is_number(value)):
                raise InvalidName("since and until are unix seconds")
        who = {name: filters.get(name) for name in _WHO}
        for name, value in who.items():
            if value is not None and not isinstance(value, str):
                raise InvalidName(f"{name} must be text")
        return self.store.trash_list(
            owner,
            folder=parse_user_path(folder) if folder else None,
            since=float(times[0]) if times[0] is not None else None,
            until=float(times[1]) if times[1] is not None else None,
            **who,
        )

    def trash_list(self, request: Request, owner: Owner) -> Response:
        filters = {name: request.args[name] for name in _FILTERS if name in request.args}
        return json_response({"items": [_item(e) for e in self._selected(owner, filters)]})

    def _chosen(self, request: Request, owner: Owner) -> list[TrashEntry]:
        """The items a bulk request names: ``ids``, or ``all`` with the list's filters."""
        body = json_object(request)
        entries = self._selected(owner, body)
        if "ids" in body:
            if not isinstance(body["ids"], list):
                raise InvalidName("ids must be a list of trash item ids")
            wanted = {parse_file_id(raw, "ids must be trash item ids") for raw in body["ids"]}
            return [entry for entry in entries if entry.id in wanted]
        if body.get("all") is not True:
            raise InvalidName('give "ids": [...], or "all": true (with filters or without)')
        return entries

    def trash_restore(self, request: Request, owner: Owner) -> Response:
        ids = [entry.id for entry in self._chosen(request, owner)]
        done, failed = self.store.trash_restore_all(owner, ids)
        restored = [
            {"id": item_id, "file_id": info.id, "path": "/" + info.path.text}
            for item_id, info in done
        ]
        errors = [{"id": item_id, "error": why} for item_id, why in failed]
        return json_response({"restored": restored, "failed": errors})

    def trash_purge(self, request: Request, owner: Owner) -> Response:
        ids = [entry.id for entry in self._chosen(request, owner)]
        purged = self.store.trash_purge(owner, ids) if ids else []
        freed = sum(entry.size + entry.version_bytes for entry in purged)
        return json_response({"purged": [entry.id for entry in purged], "bytes": freed})

    def versions_list(self, request: Request, owner: Owner, file_id: str) -> Response:
        number = parse_file_id(file_id, "give the numeric id of a file")
        versions = self.store.versions_of(owner, number)
        return json_response({"versions": [_version(version) for version in versions]})

    def version_restore(self, request: Request, owner: Owner, version_id: str) -> Response:
        number = parse_file_id(version_id, "give the numeric id of a version")
        info = self.store.version_restore(owner, number)
        return json_response({"file_id": info.id, "path": "/" + info.path.text, "md5": info.md5})

    def version_label(self, request: Request, owner: Owner, version_id: str) -> Response:
        number = parse_file_id(version_id, "give the numeric id of a version")
        label = json_object(request).get("label")
        if label is not None and not isinstance(label, str):
            raise InvalidName('send {"label": "text"}, or {"label": null} to unpin')
        return json_response({"version": _version(self.store.version_label(owner, number, label))})

    def openapi_paths(self) -> dict[str, Any]:
        error = {"type": "object", "properties": {"error": {"type": "string"}}}
        item = {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "file_id": {"type": "integer"},
                "path": {"type": "string"},
                "is_dir": {"type": "boolean"},
                "size": {"type": "integer"},
                "files": {"type": "integer"},
                "version_bytes": {"type": "integer"},
                "pinned": {"type": "boolean"},
                "deleted_at": {"type": "string"},
                "origin": {"type": ["string", "null"]},
                "door": {"type": ["string", "null"]},
                "agent": {"type": ["string", "null"]},
            },
            "required": ["id", "file_id", "path", "is_dir", "size", "deleted_at", "pinned"],
        }
        version = {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "file_id": {"type": "integer"},
                "size": {"type": "integer"},
                "md5": {"type": ["string", "null"]},
                "sha1": {"type": ["string", "null"]},
                "modified_at": {"type": "string"},
                "replaced_at": {"type": "string"},
                "author": {"type": "string"},
                "label": {"type": ["string", "null"]},
            },
            "required": ["id", "file_id", "size", "replaced_at", "author", "label"],
        }
        who_filters = {
            "origin": {"type": "string", "description": "client address, exactly"},
            "door": {
                "type": "string",
                "description": "door, exactly: webdav or rest:<dialect>",
            },
            "agent": {"type": "string", "description": "part of the User-Agent, any case"},
        }
        bulk_body = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "ids": {"type": "array", "items": {"type": "integer"}},
                            "all": {"type": "boolean"},
                            "folder": {"type": "string"},
                            "since": {"type": "number"},
                            "until": {"type": "number"},
                            **who_filters,
                        },
                    }
                }
            },
        }

        def answer(schema: dict[str, Any]) -> dict[str, Any]:
            return {
                "200": json_response_spec("success", schema),
                "4XX": json_response_spec("refused", error),
                "507": json_response_spec("quota exceeded", error),
            }

        def shape(**properties: Any) -> dict[str, Any]:
            return {"type": "object", "properties": properties, "required": list(properties)}

        filters = [
            {"name": "folder", "in": "query", "schema": {"type": "string"}},
            {"name": "since", "in": "query", "schema": {"type": "number"}},
            {"name": "until", "in": "query", "schema": {"type": "number"}},
            *(
                {"name": name, "in": "query", "schema": schema}
                for name, schema in who_filters.items()
            ),
        ]
        version_id = [
            {"name": "version_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ]
        restored = {"type": "array", "items": shape(id={}, file_id={}, path={})}
        failed = {"type": "array", "items": shape(id={}, error={})}
        return {
            "/api/trash": {
                "get": {
                    "summary": "The trash, newest first: by original folder, time, and who "
                    "deleted (client address, door, User-Agent)",
                    "parameters": filters,
                    "responses": answer(shape(items={"type": "array", "items": item})),
                }
            },
            "/api/trash/restore": {
                "post": {
                    "summary": "Put trash items back where they were (ids, or all filtered); "
                    "one that cannot be restored is listed in failed and stops no other",
                    "requestBody": bulk_body,
                    "responses": answer(shape(restored=restored, failed=failed)),
                }
            },
            "/api/trash/purge": {
                "post": {
                    "summary": "Delete trash items for good (ids, or all filtered)",
                    "requestBody": bulk_body,
                    "responses": answer(
                        shape(purged={"type": "array", "items": {"type": "integer"}}, bytes={})
                    ),
                }
            },
            "/api/files/{file_id}/versions": {
                "get": {
                    "summary": "A file's versions, newest first",
                    "parameters": [
                        {
                            "name": "file_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": answer(shape(versions={"type": "array", "items": version})),
                }
            },
            "/api/versions/{version_id}/restore": {
                "post": {
                    "summary": "Make a version current; the replaced content becomes one",
                    "parameters": version_id,
                    "responses": answer(shape(file_id={}, path={}, md5={})),
                }
            },
            "/api/versions/{version_id}/label": {
                "put": {
                    "summary": "Label (pin) a version, or unpin it with null",
                    "parameters": version_id,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": shape(label={"type": ["string", "null"]})
                            }
                        },
                    },
                    "responses": answer(shape(version=version)),
                }
            },
        }


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _item(entry: TrashEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "file_id": entry.node_id,
        "path": "/" + entry.original_path.text,
        "is_dir": entry.is_dir,
        "size": entry.size,
        "files": entry.files,
        "version_bytes": entry.version_bytes,
        "pinned": entry.pinned,
        "deleted_at": iso_time(entry.deleted_at),
        "origin": entry.origin,
        "door": entry.door,
        "agent": entry.agent,
    }


def _version(version: VersionInfo) -> dict[str, Any]:
    return {
        "id": version.id,
        "file_id": version.node_id,
        "size": version.size,
        "md5": version.md5,
        "sha1": version.sha1,
        "modified_at": iso_time(version.modified_at),
        "replaced_at": iso_time(version.created_at),
        "author": version.author,
        "label": version.label,
    }
