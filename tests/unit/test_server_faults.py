"""A real fault under WsgiDAV's error printer reaches the client as one fixed line."""

from __future__ import annotations

from typing import Any

from wsgidav.error_printer import ErrorPrinter

from davfiles.provider.server_faults import FAULT_BODY, HideServerFaults

SECRET_DETAIL = "cannot open /srv/davfiles/data/users/alice/x.bin"


def failing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise OSError(5, SECRET_DETAIL)


def ok_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def call(app: Any) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}, start_response))
    return seen["status"], seen["headers"], body


def test_a_500_says_nothing_of_the_exception() -> None:
    wrapped = HideServerFaults(ErrorPrinter(None, failing_app, {"error_printer": {}}))
    status, headers, body = call(wrapped)
    assert status.startswith("500")
    assert body == FAULT_BODY
    assert headers["Content-Length"] == str(len(FAULT_BODY))
    assert b"/srv" not in body and b"OSError" not in body


def test_other_answers_pass_unchanged() -> None:
    assert call(HideServerFaults(ok_app)) == (
        "200 OK",
        {"Content-Type": "text/plain", "Content-Length": "2"},
        b"ok",
    )
