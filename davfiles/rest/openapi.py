"""The OpenAPI 3.1 document of every enabled dialect, under its mount prefix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from davfiles import __version__
from davfiles.rest.dialect import Dialect


def json_object(**properties: Any) -> dict[str, Any]:
    """A JSON object schema with exactly these properties, all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def json_response_spec(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI response whose body is application/json matching ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


def _public_paths() -> dict[str, Any]:
    download = {
        "get": {
            "summary": "Download a file its owner made public (no credentials needed)",
            "security": [],
            "parameters": [
                {"name": "file_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": {"description": "the file's bytes"},
                "206": {"description": "the requested range"},
                "304": {"description": "not modified"},
                "404": json_response_spec("unknown or private id", _ERROR),
            },
        }
    }
    named = {
        "get": {
            **download["get"],
            "parameters": [
                *download["get"]["parameters"],
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
        }
    }
    return {"/public/{file_id}": download, "/public/{file_id}/{name}": named}


# Any dialect operation may meet the login throttle, and any upload the per-user cap on uploads
# in progress; the body is {"error": ...} or, for the cap, the dialect's error shape.
_TOO_MANY = {
    "description": (
        "too many failed logins, or too many uploads of this user in progress; "
        "retry after Retry-After seconds"
    ),
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/json": {}},
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def build_openapi(dialects: Sequence[Dialect]) -> dict[str, Any]:
    paths: dict[str, Any] = dict(_public_paths())
    for dialect in dialects:
        for path, item in dialect.openapi_paths().items():
            for method in _METHODS:
                if method in item:
                    item[method].setdefault("responses", {}).setdefault("429", _TOO_MANY)
            paths[dialect.prefix + path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "davfiles REST dialects",
            "version": __version__,
            "description": "Upload APIs served over the same per-user store as WebDAV at /dav/.",
        },
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Token <api token>",
                },
                "molgenis": {"type": "apiKey", "in": "header", "name": "x-molgenis-token"},
            },
            "schemas": {"Error": _ERROR},
        },
        "security": [{"basic": []}, {"bearer": []}, {"token": []}, {"molgenis": []}],
        "paths": paths,
    }
