"""The litmus WebDAV suites against a live davfiles server: one pytest case per litmus test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from davfiles.app import create_services
from davfiles.config import Settings
from tests.clients.litmus import (
    EVERY_TEST,
    INVENTORY,
    SUITES,
    SuiteRuns,
    assert_passed,
    litmus_missing_reason,
    run_every_suite,
)
from tests.harness import LiveServer

pytestmark = pytest.mark.litmus


@pytest.fixture(scope="module")
def litmus_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SuiteRuns]:
    reason = litmus_missing_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("litmus")
    services = create_services(Settings(data_dir=root / "data"))
    server = LiveServer(services)
    try:
        server.add_user("litmus", "litmus-pw")
        yield run_every_suite(server.url(), "litmus", "litmus-pw", Path(root))
    finally:
        server.stop()
        services.close()


@pytest.mark.parametrize("suite", SUITES)
def test_suite_ran_every_test(suite: str, litmus_results: SuiteRuns) -> None:
    output, results = litmus_results[suite]
    assert tuple(results) == INVENTORY[suite], output


@pytest.mark.parametrize(("suite", "test"), EVERY_TEST)
def test_litmus(suite: str, test: str, litmus_results: SuiteRuns) -> None:
    assert_passed(litmus_results, suite, test)
