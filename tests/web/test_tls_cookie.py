"""Over HTTPS the session cookie is Secure as well (``davfiles serve --certfile``)."""

from __future__ import annotations

from pathlib import Path

import requests

from davfiles.web.app import SESSION_COOKIE
from tests.harness import CliServer
from tests.test_tls import self_signed
from tests.web.helpers import Page


def test_the_session_cookie_is_secure_over_https(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = CliServer(
        tmp_path / "data",
        tmp_path / "server.log",
        args=("--certfile", str(cert), "--keyfile", str(key)),
    )
    try:
        http = requests.Session()
        ca = str(cert)  # per call: requests lets REQUESTS_CA_BUNDLE win over Session.verify
        http.headers["Accept"] = "text/html"
        form = Page(http.get(server.base + "/app/login", verify=ca).text).form("/app/login")
        fields = dict(form.fields) | {"user": "admin", "password": server.admin_password}
        answer = http.post(
            server.base + "/app/login",
            data=fields,
            headers={"Origin": server.base},
            allow_redirects=False,
            verify=ca,
        )
        assert answer.status_code == 303
        cookie = answer.headers["Set-Cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/app/"):
            assert attribute in cookie
        assert (
            http.get(server.base + "/app/files/", allow_redirects=False, verify=ca).status_code
            == 200
        )
    finally:
        server.stop()
