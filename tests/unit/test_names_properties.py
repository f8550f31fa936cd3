"""Property-based tests of name handling: what is accepted is safe, what is refused always is.

Names come from all of Unicode (surrogates, controls, separators, Windows device names and
over-long names included); accepted names are also stored through the real store, so a name
that passes the rules but breaks the disk or the database would show here.
"""

from __future__ import annotations

import itertools
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from davfiles.app import Services, create_services
from davfiles.config import Settings
from davfiles.errors import InvalidName
from davfiles.store import ROOT, UserPath, check_name, parse_user_path
from davfiles.store.paths import MAX_DEPTH, MAX_NAME_BYTES, MAX_PATH_BYTES, disk_path

HOME = Path("/srv/davfiles/users/alice")
EXAMPLES = settings(max_examples=300, deadline=None)
STORE_EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_users = itertools.count()

# Text weighted towards the characters that matter: separators, dots, controls, NUL, device
# names, non-characters and long runs, next to arbitrary Unicode.
TRICKY = st.sampled_from(
    ["/", "\\", "\0", ".", "..", "\n", "\r", "\x7f", "\x85", "\ufffd", "\ud800", "\u202e", " "]
)
DEVICES = st.sampled_from(["CON", "con", "Nul.txt", "aux.tar.gz", "COM1", "lpt9.x", "PRN"])
NAMES = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(TRICKY, st.text(max_size=4)), max_size=8).map("".join),
    DEVICES,
    st.text(alphabet="aé漢🙂", min_size=60, max_size=300),
)


def accepted(name: str) -> bool:
    try:
        check_name(name)
    except InvalidName:
        return False
    return True


@EXAMPLES
@given(NAMES)
def test_an_accepted_name_is_one_safe_component(name: str) -> None:
    if not accepted(name):
        return
    assert name not in ("", ".", "..")
    assert not {"/", "\\", "\0"} & set(name)
    assert all(unicodedata.category(char) not in ("Cc", "Cs") for char in name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    target = disk_path(HOME, UserPath((name,)))
    assert target.parent == HOME and target.name == name
    assert os.path.normpath(target) == str(target)


@EXAMPLES
@given(NAMES)
def test_every_way_in_agrees_on_a_name(name: str) -> None:
    """check_name, a one-segment path and UserPath.child accept or refuse the same names."""
    assume("/" not in name and name)
    verdicts = []
    for attempt in (
        lambda: check_name(name),
        lambda: parse_user_path("/" + name),
        lambda: ROOT.child(name),
        lambda: parse_user_path("/a/" + name + "/"),
    ):
        try:
            attempt()
            verdicts.append(True)
        except InvalidName:
            verdicts.append(False)
    assert len(set(verdicts)) == 1, (name, verdicts)
    assert accepted(name) == verdicts[0]


@EXAMPLES
@given(st.lists(NAMES.map(lambda name: name.replace("/", "")), min_size=1, max_size=8))
def test_a_parsed_path_round_trips_and_stays_in_the_home(names: list[str]) -> None:
    raw = "/" + "/".join(names)
    try:
        path = parse_user_path(raw)
    except InvalidName:
        fits = len(raw.encode("utf-8", "surrogatepass")) <= MAX_PATH_BYTES
        assert not (fits and all(accepted(n) for n in names if n))
        return
    assert path.parts == tuple(n for n in names if n)
    assert len(path.parts) <= MAX_DEPTH
    assert parse_user_path(str(path)) == path
    assert parse_user_path(str(path) + "/") == path
    target = disk_path(HOME, path)
    assert target.is_relative_to(HOME)
    assert os.path.normpath(target) == str(target)
    assert target.relative_to(HOME).parts == path.parts


@EXAMPLES
@given(st.text(max_size=200))
def test_any_raw_path_parses_to_checked_names_or_is_refused(raw: str) -> None:
    try:
        path = parse_user_path(raw)
    except InvalidName:
        return
    for name in path.parts:
        check_name(name)
    assert disk_path(HOME, path).is_relative_to(HOME)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    built = create_services(Settings(data_dir=tmp_path_factory.mktemp("names") / "data"))
    yield built
    built.close()


@STORE_EXAMPLES
@given(name=NAMES)
def test_an_accepted_name_round_trips_through_the_store(services: Services, name: str) -> None:
    assume(accepted(name))
    owner = services.accounts.add_user(f"u{next(_users)}", "pw", max_bytes=None, max_files=None)
    path = ROOT.child(name)
    services.store.write_bytes(owner, path, name.encode("utf-8"))
    services.store.mkdir(owner, ROOT.child("d"))
    services.store.write_bytes(owner, ROOT.child("d").child(name), b"inner")
    assert {info.name for info in services.store.list_dir(owner, ROOT)} == {"d", name}
    home = services.store.home(owner)
    assert sorted(os.listdir(home)) == sorted(["d", name])
    assert (home / name).read_bytes() == name.encode("utf-8")
    assert os.listdir(home / "d") == [name]
    services.store.delete(owner, path)
    assert services.store.stat(owner, path) is None
    assert sorted(os.listdir(home)) == ["d"]
