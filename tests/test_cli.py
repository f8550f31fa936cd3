"""The davfiles command as scripts use it: forms, output and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from tests.harness import CliServer


def davfiles(
    data_dir: Path, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "davfiles", *args, "--data-dir", str(data_dir)]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


def test_user_lifecycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert (
        davfiles(
            data,
            "user",
            "add",
            "carol",
            "--password",
            "pw1",
            "--max-bytes",
            "5M",
            "--max-files",
            "10",
        ).returncode
        == 0
    )
    listing = davfiles(data, "user", "list")
    assert listing.returncode == 0
    row = next(line for line in listing.stdout.splitlines() if line.startswith("carol"))
    assert row.split() == ["carol", "0", str(5 * 1024**2), "0", "10", "no"]
    assert davfiles(data, "user", "set-quota", "carol", "--max-bytes", "unlimited").returncode == 0
    row = next(
        line
        for line in davfiles(data, "user", "list").stdout.splitlines()
        if line.startswith("carol")
    )
    assert row.split() == ["carol", "0", "unlimited", "0", "10", "no"]
    assert davfiles(data, "user", "passwd", "carol", "--password", "pw2").returncode == 0
    assert_one_line_error(
        davfiles(data, "user", "add", "carol", "--password", "x"), "already exists"
    )
    assert davfiles(data, "user", "delete", "carol").returncode == 0
    assert not (data / "users" / "carol").exists()
    assert_one_line_error(davfiles(data, "user", "delete", "carol"), "no such user")


def test_bad_input_gives_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert_one_line_error(davfiles(data, "user", "add", "../evil", "--password", "x"), "user name")
    assert_one_line_error(
        davfiles(data, "user", "add", "dave", "--password", "x", "--max-bytes", "lots"),
        "not a size",
    )
    assert_one_line_error(davfiles(data, "token", "revoke", "999"), "no such token")


def test_token_create_list_revoke_against_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = CliServer(data, tmp_path / "server.log")
    try:
        assert davfiles(data, "user", "add", "erin", "--password", "pw").returncode == 0
        created = davfiles(data, "token", "create", "erin", "--label", "rclone")
        assert created.returncode == 0
        secret = created.stdout.strip().splitlines()[-1]
        dav = f"{server.base}/dav/"
        assert (
            requests.request(
                "PROPFIND", dav, headers={"Depth": "0"}, auth=("erin", secret)
            ).status_code
            == 207
        )
        listing = davfiles(data, "token", "list", "erin")
        token_id = listing.stdout.strip().splitlines()[-1].split()[0]
        assert "rclone" in listing.stdout
        assert davfiles(data, "token", "revoke", token_id).returncode == 0
        assert (
            requests.request(
                "PROPFIND", dav, headers={"Depth": "0"}, auth=("erin", secret)
            ).status_code
            == 401
        )
    finally:
        server.stop()


def test_first_start_creates_an_admin_and_prints_the_password_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = CliServer(data, tmp_path / "first.log")
    try:
        assert first.admin_password
        response = requests.request(
            "PROPFIND",
            f"{first.base}/dav/",
            headers={"Depth": "0"},
            auth=("admin", first.admin_password),
        )
        assert response.status_code == 207
    finally:
        first.stop()
    second = CliServer(data, tmp_path / "second.log")
    second.stop()
    assert "password" not in second.output()
    listing = davfiles(data, "user", "list").stdout.splitlines()
    assert next(line for line in listing if line.startswith("admin")).split()[-1] == "yes"


def test_admins_are_named_and_unnamed_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = davfiles(data, "user", "add", "dora", "--password", "pw", "--admin")
    assert made.returncode == 0 and made.stdout.strip() == "created admin dora"
    assert davfiles(data, "user", "add", "ed", "--password", "pw").returncode == 0

    def admins() -> list[str]:
        rows = davfiles(data, "user", "list").stdout.splitlines()[1:]
        return [row.split()[0] for row in rows if row.split()[-1] == "yes"]

    assert admins() == ["dora"]
    granted = davfiles(data, "user", "admin", "ed", "--on")
    assert granted.returncode == 0 and granted.stdout.strip() == "ed is now an admin"
    assert davfiles(data, "user", "admin", "dora", "--off").returncode == 0
    assert admins() == ["ed"]
    assert_one_line_error(davfiles(data, "user", "admin", "nobody", "--on"), "no such user")
    assert davfiles(data, "user", "admin", "ed").returncode == 2  # --on or --off is required


def test_serve_refuses_a_missing_or_invalid_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert_one_line_error(
        davfiles(data, "serve", config=tmp_path / "missing.yaml"), "config file not found"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("davfiles:\n  prot: 80\n")
    assert_one_line_error(davfiles(data, "serve", config=bad), "unknown option davfiles.prot")
    broken = tmp_path / "broken.yaml"
    broken.write_text("davfiles: [unclosed\n")
    assert_one_line_error(davfiles(data, "serve", config=broken), "not valid YAML")
    reserved = tmp_path / "reserved.yaml"
    reserved.write_text("provider_mapping: {}\n")
    assert_one_line_error(davfiles(data, "serve", config=reserved), "provider_mapping")
