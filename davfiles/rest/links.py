"""davfiles' own JSON API for share links (``/davfiles/api/links...``): create, list (with
state, counts and last access), change, regenerate, disable and delete the links of the
authenticated user. The rules are the store's (``store/links.py``); this is protocol only."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from davfiles.errors import InvalidName
from davfiles.rest.dialect import Dialect, Route, json_object, parse_file_id
from davfiles.rest.io import iso_time, json_response
from davfiles.rest.openapi import json_response_spec
from davfiles.store import Owner, parse_user_path
from davfiles.store.links import LinkListing


def link_json(listed: LinkListing, url_root: str) -> dict[str, Any]:
    """A link as the API (and the CLI's JSON) shows it; ``url_root`` ends with a slash."""
    link = listed.link
    target = "present" if listed.path is not None else "trashed" if listed.trashed else "deleted"
    return {
        "id": link.id,
        "token": link.token,
        "url": f"{url_root}s/{link.token}",
        "kind": str(link.kind),
        "state": str(link.state()),
        "target": target,
        "path": None if listed.path is None else "/" + listed.path.text,
        "file_id": link.node_id,
        "is_dir": listed.is_dir,
        "has_password": link.has_password,
        "expires_at": None if link.expires_at is None else iso_time(link.expires_at),
        "max_downloads": link.max_downloads,
        "max_upload_bytes": link.max_upload_bytes,
        "require_name": link.require_name,
        "label": link.label,
        "note": link.note,
        "disabled": link.disabled,
        "views": link.views,
        "downloads": link.downloads,
        "uploads": link.uploads,
        "uploaded_bytes": link.uploaded_bytes,
        "last_access_at": None if link.last_access_at is None else iso_time(link.last_access_at),
        "created_at": iso_time(link.created_at),
    }


class ShareLinksApi(Dialect):
    name = "links"
    default_prefix = "/davfiles"
    routes = (
        Route("/api/links", ("GET",), "list_links"),
        Route("/api/links", ("POST",), "create_link"),
        Route("/api/links/<link_id>", ("GET",), "get_link"),
        Route("/api/links/<link_id>", ("PATCH",), "update_link"),
        Route("/api/links/<link_id>", ("DELETE",), "delete_link"),
        Route("/api/links/<link_id>/regenerate", ("POST",), "regenerate_link"),
    )

    def _json(self, request: Request, listed: LinkListing, status: int = 200) -> Response:
        return json_response({"link": link_json(listed, request.url_root)}, status)

    def list_links(self, request: Request, owner: Owner) -> Response:
        node_id = None
        if "file_id" in request.args:
            node_id = parse_file_id(request.args["file_id"], "file_id must be a file id")
        elif "path" in request.args:
            info = self.store.stat(owner, parse_user_path(request.args["path"]))
            if info is None:
                return json_response({"links": []})
            node_id = info.id
        listed = self.store.links.listing(owner, node_id)
        return json_response({"links": [link_json(entry, request.url_root) for entry in listed]})

    def create_link(self, request: Request, owner: Owner) -> Response:
        body = json_object(request)
        path = body.pop("path", None)
        if not isinstance(path, str):
            raise InvalidName('give the "path" of the file or folder to share')
        kind = body.pop("kind", "view")
        link = self.store.links.create(owner, parse_user_path(path), kind, body)
        return self._json(request, self.store.links.get(owner, link.id), 201)

    def get_link(self, request: Request, owner: Owner, link_id: str) -> Response:
        return self._json(request, self.store.links.get(owner, _link_id(link_id)))

    def update_link(self, request: Request, owner: Owner, link_id: str) -> Response:
        number = _link_id(link_id)
        self.store.links.update(owner, number, json_object(request))
        return self._json(request, self.store.links.get(owner, number))

    def regenerate_link(self, request: Request, owner: Owner, link_id: str) -> Response:
        number = _link_id(link_id)
        self.store.links.regenerate(owner, number)
        return self._json(request, self.store.links.get(owner, number))

    def delete_link(self, request: Request, owner: Owner, link_id: str) -> Response:
        number = _link_id(link_id)
        self.store.links.delete(owner, number)
        return json_response({"deleted": number})

    def openapi_paths(self) -> dict[str, Any]:
        error = {"type": "object", "properties": {"error": {"type": "string"}}}
        nullable_int = {"type": ["integer", "null"]}
        nullable_text = {"type": ["string", "null"]}
        link = {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "token": {"type": "string"},
                "url": {"type": "string"},
                "kind": {"enum": ["view", "drop", "edit"]},
                "state": {"enum": ["active", "expired", "exhausted", "disabled"]},
                "target": {"enum": ["present", "trashed", "deleted"]},
                "path": nullable_text,
                "file_id": {"type": "integer"},
                "is_dir": {"type": ["boolean", "null"]},
                "has_password": {"type": "boolean"},
                "expires_at": nullable_text,
                "max_downloads": nullable_int,
                "max_upload_bytes": nullable_int,
                "require_name": {"type": "boolean"},
                "label": nullable_text,
                "note": nullable_text,
                "disabled": {"type": "boolean"},
                "views": {"type": "integer"},
                "downloads": {"type": "integer"},
                "uploads": {"type": "integer"},
                "uploaded_bytes": {"type": "integer"},
                "last_access_at": nullable_text,
                "created_at": {"type": "string"},
            },
            "required": ["id", "token", "url", "kind", "state", "target", "path", "downloads"],
        }
        settings = {
            "kind": {"enum": ["view", "drop", "edit"]},
            "password": {"type": ["string", "null"], "description": "null removes it"},
            "expires_at": {"type": ["number", "null"], "description": "unix seconds"},
            "max_downloads": nullable_int,
            "max_upload_bytes": nullable_int,
            "require_name": {"type": "boolean"},
            "label": nullable_text,
            "note": nullable_text,
            "disabled": {"type": "boolean"},
        }
        one = {"type": "object", "properties": {"link": link}, "required": ["link"]}
        link_id = [
            {"name": "link_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ]

        def answer(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
            return {
                status: json_response_spec("success", schema),
                "4XX": json_response_spec("refused", error),
            }

        def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
            schema = {"type": "object", "properties": properties, "required": required}
            return {"required": True, "content": {"application/json": {"schema": schema}}}

        return {
            "/api/links": {
                "get": {
                    "summary": "The user's share links with state, counts and last access",
                    "parameters": [
                        {"name": "path", "in": "query", "schema": {"type": "string"}},
                        {"name": "file_id", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": answer(
                        {
                            "type": "object",
                            "properties": {"links": {"type": "array", "items": link}},
                            "required": ["links"],
                        }
                    ),
                },
                "post": {
                    "summary": "Share a file or folder: view, drop (upload only) or edit",
                    "requestBody": body({"path": {"type": "string"}, **settings}, ["path"]),
                    "responses": answer(one, "201"),
                },
            },
            "/api/links/{link_id}": {
                "get": {"summary": "One link", "parameters": link_id, "responses": answer(one)},
                "patch": {
                    "summary": "Change a link's settings (disable with disabled: true)",
                    "parameters": link_id,
                    "requestBody": body(settings, []),
                    "responses": answer(one),
                },
                "delete": {
                    "summary": "Delete a link; its token is never valid again",
                    "parameters": link_id,
                    "responses": answer(
                        {
                            "type": "object",
                            "properties": {"deleted": {"type": "integer"}},
                            "required": ["deleted"],
                        }
                    ),
                },
            },
            "/api/links/{link_id}/regenerate": {
                "post": {
                    "summary": "A new token, the same settings; the old URL stops working",
                    "parameters": link_id,
                    "responses": answer(one),
                }
            },
        }


def _link_id(raw: str) -> int:
    return parse_file_id(raw, "give the numeric id of a link")
