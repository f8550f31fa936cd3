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


def test_the_link_policy_is_shown_set_and_obeyed_by_links_create(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepared(data)
    shown = davfiles(data, "links", "policy")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "default expiry: none",
        "maximum expiry: none",
        "passwords required for: none",
    ]
    changed = davfiles(
        data, "links", "policy", "--max-expiry-days", "14", "--passwords", "edit,view"
    )
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines()[1:] == [
        "maximum expiry: 14 days",
        "passwords required for: view,edit",
    ]
    assert_one_line_error(
        davfiles(data, "links", "create", "erin", "/erin.txt"), "requires a password"
    )
    assert_one_line_error(
        davfiles(
            data,
            "links",
            "create",
            "erin",
            "/erin.txt",
            "--password",
            "pw",
            "--expires",
            "2099-01-01",
        ),
        "at most 14 days",
    )
    made = davfiles(data, "links", "create", "erin", "/erin.txt", "--password", "pw")
    assert made.returncode == 0, made.stderr
    listed = json.loads(davfiles(data, "links", "list", "--json").stdout.splitlines()[0])
    assert listed["has_password"] and listed["expires_at"] is not None
    kept = davfiles(data, "links", "policy", "--default-expiry-days", "7")
    assert "maximum expiry: 14 days" in kept.stdout
    assert_one_line_error(
        davfiles(data, "links", "policy", "--default-expiry-days", "30"), "longer than the maximum"
    )
    assert_one_line_error(davfiles(data, "links", "policy", "--passwords", "all,some"), "some")
    cleared = davfiles(data, "links", "policy", "--max-expiry-days", "none", "--passwords", "none")
    assert cleared.stdout.splitlines()[1:] == [
        "maximum expiry: none",
        "passwords required for: none",
    ]
