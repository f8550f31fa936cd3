"""The litmus WebDAV suites against a live davfiles server: one pytest case per litmus test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.litmus import (
    EVERY_TEST,
    INVENTORY,
    SUITES,
    SuiteRuns,
    assert_passed,
    litmus_server,
    run_every_suite,
)

pytestmark = pytest.mark.litmus


@pytest.fixture(scope="module")
def litmus_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SuiteRuns]:
    root = tmp_path_factory.mktemp("litmus")
    with litmus_server(root) as server:
        server.add_user("litmus", "litmus-pw")
        yield run_every_suite(server.url(), "litmus", "litmus-pw", root)


@pytest.mark.parametrize("suite", SUITES)
def test_suite_ran_every_test(suite: str, litmus_results: SuiteRuns) -> None:
    output, results = litmus_results[suite]
    assert tuple(results) == INVENTORY[suite], output


@pytest.mark.parametrize(("suite", "test"), EVERY_TEST)
def test_litmus(suite: str, test: str, litmus_results: SuiteRuns) -> None:
    assert_passed(litmus_results, suite, test)
