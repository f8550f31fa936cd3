"""The litmus WebDAV suites against an edit link's public WebDAV, as against the main door:
every litmus test passes, locks and dead properties included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import parse_user_path
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
    root = tmp_path_factory.mktemp("litmus-link")
    services = create_services(Settings(data_dir=root / "data"))
    server = LiveServer(services)
    try:
        owner = server.add_user("alice", "alice-pw").owner
        services.store.mkdir(owner, parse_user_path("shared"))
        link = services.store.links.create(owner, parse_user_path("shared"), "edit", {})
        url = server.url(f"/public.php/dav/files/{link.token}/")
        # litmus wants a user and password; a link without a password takes any.
        yield {suite: run_suite(suite, url, "visitor", "-", Path(root / suite)) for suite in SUITES}
    finally:
        server.stop()
        services.close()


@pytest.mark.parametrize(
    ("suite", "test"), [(suite, test) for suite in SUITES for test in INVENTORY[suite]]
)
def test_litmus_on_an_edit_link(
    suite: str, test: str, litmus_results: dict[str, tuple[str, dict[str, LitmusResult]]]
) -> None:
    output, results = litmus_results[suite]
    assert test in results, f"litmus {suite} did not report {test}:\n{output}"
    result = results[test]
    assert result.outcome == "pass", f"{suite} {test}: {result.outcome} {result.detail}"
