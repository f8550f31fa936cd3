"""The litmus WebDAV suites against a live davfiles server: one pytest case per litmus test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from davfiles.app import create_services
from davfiles.config import Settings
from tests.clients.litmus import INVENTORY, SUITES, LitmusResult, litmus_missing_reason, run_suite
from tests.harness import LiveServer

pytestmark = pytest.mark.litmus


@pytest.fixture(scope="module")
def litmus_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[str, dict[str, LitmusResult]]]]:
    reason = litmus_missing_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("litmus")
    services = create_services(Settings(data_dir=root / "data"))
    server = LiveServer(services)
    try:
        server.add_user("litmus", "litmus-pw")
        yield {
            suite: run_suite(suite, server.url(), "litmus", "litmus-pw", Path(root / suite))
            for suite in SUITES
        }
    finally:
        server.stop()
        services.close()


@pytest.mark.parametrize("suite", SUITES)
def test_suite_ran_every_test(
    suite: str, litmus_results: dict[str, tuple[str, dict[str, LitmusResult]]]
) -> None:
    output, results = litmus_results[suite]
    assert tuple(results) == INVENTORY[suite], output


@pytest.mark.parametrize(
    ("suite", "test"), [(suite, test) for suite in SUITES for test in INVENTORY[suite]]
)
def test_litmus(
    suite: str, test: str, litmus_results: dict[str, tuple[str, dict[str, LitmusResult]]]
) -> None:
    output, results = litmus_results[suite]
    assert test in results, f"litmus {suite} did not report {test}:\n{output}"
    result = results[test]
    assert result.outcome == "pass", f"{suite} {test}: {result.outcome} {result.detail}"
