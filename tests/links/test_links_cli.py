"""``davfiles links``: an admin lists every user's links and creates, disables, enables,
regenerates and deletes them from the command line, on a real data dir."""

from __future__ import annotations

import json
from pathlib import Path

from davfiles.app import create_services
from davfiles.config import Settings
from davfiles.store import parse_user_path
from tests.test_cli import assert_one_line_error, davfiles


def prepared(data_dir: Path) -> None:
    services = create_services(Settings(data_dir=data_dir))
    try:
        for name in ("erin", "frank"):
            owner = services.accounts.add_user(name, "pw", max_bytes=None, max_files=None)
            services.store.write_bytes(owner, parse_user_path(f"/{name}.txt"), b"x")
    finally:
        services.close()


def test_links_are_created_listed_disabled_regenerated_and_deleted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepared(data)
    made = davfiles(data, "links", "create", "erin", "/erin.txt", "--max-downloads", "3")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split("/s/")[1].strip()
    assert len(token) == 22
    assert davfiles(data, "links", "create", "frank", "/frank.txt", "--label", "f").returncode == 0

    listed = davfiles(data, "links", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(row[1], row[3], row[4], row[-1]) for row in rows] == [
        ("erin", "active", "0/3", "/erin.txt"),
        ("frank", "active", "0", "/frank.txt"),
    ]
    only_frank = davfiles(data, "links", "list", "frank", "--json")
    [frank] = [json.loads(line) for line in only_frank.stdout.splitlines()]
    assert (frank["user"], frank["label"], frank["path"]) == ("frank", "f", "/frank.txt")

    erin_id = rows[0][0]
    assert davfiles(data, "links", "disable", erin_id).returncode == 0
    assert "disabled" in davfiles(data, "links", "list", "erin").stdout
    assert davfiles(data, "links", "enable", erin_id).returncode == 0
    renewed = davfiles(data, "links", "regenerate", erin_id)
    assert renewed.returncode == 0 and token not in renewed.stdout
    assert davfiles(data, "links", "delete", erin_id).returncode == 0
    assert "erin" not in davfiles(data, "links", "list").stdout

    assert_one_line_error(davfiles(data, "links", "delete", erin_id), "no link")
    assert_one_line_error(davfiles(data, "links", "create", "erin", "/nope.txt"), "does not exist")
    assert_one_line_error(
        davfiles(data, "links", "create", "erin", "/erin.txt", "--expires", "soon"), "not a time"
    )
