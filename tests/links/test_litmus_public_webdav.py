"""The litmus WebDAV suites against an edit link's public WebDAV, as against the main door:
every litmus test passes, locks and dead properties included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from davfiles.store import parse_user_path
from tests.clients.litmus import (
    EVERY_TEST,
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
    root = tmp_path_factory.mktemp("litmus-link")
    with litmus_server(root) as server:
        store = server.services.store
        owner = server.add_user("alice", "alice-pw").owner
        store.mkdir(owner, parse_user_path("shared"))
        link = store.links.create(owner, parse_user_path("shared"), "edit", {})
        url = server.url(f"/public.php/dav/files/{link.token}/")
        # litmus wants a user and password; a link without a password takes any.
        yield run_every_suite(url, "visitor", "-", root)


@pytest.mark.parametrize(("suite", "test"), EVERY_TEST)
def test_litmus_on_an_edit_link(suite: str, test: str, litmus_results: SuiteRuns) -> None:
    assert_passed(litmus_results, suite, test)
