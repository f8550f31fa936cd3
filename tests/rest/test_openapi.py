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
