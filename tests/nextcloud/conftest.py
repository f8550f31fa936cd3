"""Services whose login throttle holds a user name back after two failures."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from davfiles.app import Services, create_services
from davfiles.config import Settings


@pytest.fixture
def strict_services(settings: Settings) -> Iterator[Services]:
    services = create_services(dataclasses.replace(settings, login_failures_per_user=2))
    yield services
    services.close()
