"""/openapi.json is a valid OpenAPI 3.1 document covering every enabled dialect route."""

from __future__ import annotations

import re

import requests
from openapi_spec_validator import validate

from davfiles.rest.registry import DIALECT_CLASSES
from tests.harness import LiveServer


def test_document_is_valid_and_complete(live_server: LiveServer) -> None:
    response = requests.get(live_server.url("/openapi.json"))
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    for cls in DIALECT_CLASSES:
        for route in cls.routes:
            path = cls.default_prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path)
            item = spec["paths"].get(path) or spec["paths"].get(path.rstrip("/"))
            assert item is not None, f"{cls.name}: {path} missing from /openapi.json"
            for method in route.methods:
                assert method.lower() in item, f"{cls.name}: {method} {path} undocumented"


def test_every_dialect_operation_documents_429_with_retry_after(
    live_server: LiveServer,
) -> None:
    """The login throttle and the upload cap answer 429 on any dialect route; generated
    clients must know to wait. Only the public downloads need no login and never get it."""
    spec = requests.get(live_server.url("/openapi.json"), timeout=30).json()
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or operation.get("security") == []:
                continue
            assert "429" in operation["responses"], f"{method.upper()} {path}"
            assert "Retry-After" in operation["responses"]["429"]["headers"]
            checked += 1
    assert checked >= len(DIALECT_CLASSES)
