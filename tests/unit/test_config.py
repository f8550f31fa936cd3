"""Settings parsing: sizes, environment overrides and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from davfiles.config import load_settings, parse_count, parse_size
from davfiles.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("5G", 5 * 1024**3),
        ("500M", 500 * 1024**2),
        ("2k", 2048),
        ("unlimited", None),
        (7, 7),
        ("1GiB", 1024**3),
    ],
)
def test_parse_size(text: object, expected: int | None) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "five", "-1", "5X", True])
def test_parse_size_refuses_nonsense(text: object) -> None:
    with pytest.raises(ConfigError):
        parse_size(text)


def test_parse_count() -> None:
    assert parse_count("10") == 10
    assert parse_count("unlimited") is None
    with pytest.raises(ConfigError):
        parse_count("-3")


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "wsgidav.yaml"
    config.write_text("verbose: 1\ndavfiles:\n  port: 9000\n  default_max_bytes: 1G\n")
    settings = load_settings(config, environ={"DAVFILES_PORT": "9100"}, overrides={"host": "::1"})
    assert settings.port == 9100
    assert settings.host == "::1"
    assert settings.default_max_bytes == 1024**3
    assert settings.wsgidav == {"verbose": 1}


def test_environment_value_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="DAVFILES_PORT"):
        load_settings(None, environ={"DAVFILES_PORT": "eighty"})


def test_shipped_wsgidav_yaml_is_valid() -> None:
    settings = load_settings(Path(__file__).parents[2] / "wsgidav.yaml", environ={})
    assert settings.port == 8080
    assert settings.host == "127.0.0.1"
    assert settings.default_max_bytes is None
