"""WebDAV over HTTP against a live server: content, quota, ids, ETags and auth."""

from __future__ import annotations

import threading

import requests

from davfiles.app import Services
from tests.dav.helpers import propfind
from tests.harness import LiveServer


def test_put_get_range_and_etag(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    dav = live_server.session(user)
    url = live_server.url("/dav/notes.txt")
    created = dav.put(url, data=b"0123456789")
    assert created.status_code == 201
    first_etag = created.headers["ETag"]
    assert dav.get(url).content == b"0123456789"
    partial = dav.get(url, headers={"Range": "bytes=2-5"})
    assert partial.status_code == 206
    assert partial.content == b"2345"
    assert partial.headers["Content-Range"] == "bytes 2-5/10"
    assert dav.head(url).headers["ETag"] == first_etag
    replaced = dav.put(url, data=b"another text")
    assert replaced.status_code == 204
    assert replaced.headers["ETag"] != first_etag
    assert dav.get(url).headers["ETag"] == replaced.headers["ETag"]
    props = propfind(dav, url, props=("getcontentlength", "getcontenttype", "getlastmodified"))
    assert props["/dav/notes.txt"]["getcontentlength"] == "12"
    assert props["/dav/notes.txt"]["getcontenttype"] == "text/plain"
    assert props["/dav/notes.txt"]["getlastmodified"].endswith("GMT")


def test_quota_properties_match_real_usage(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_bytes=10_000)
    dav = live_server.session(user)
    dav.request("MKCOL", live_server.url("/dav/sub/"))
    dav.put(live_server.url("/dav/a.bin"), data=b"x" * 1234)
    dav.put(live_server.url("/dav/sub/b.bin"), data=b"y" * 766)
    listing = propfind(
        dav,
        live_server.url("/dav/"),
        depth="1",
        props=("quota-used-bytes", "quota-available-bytes"),
    )
    figures = live_server.services.store.usage(user.owner)
    assert figures.used_bytes == 2000
    for href in ("/dav/", "/dav/sub/"):
        assert listing[href]["quota-used-bytes"] == "2000"
        assert listing[href]["quota-available-bytes"] == "8000"


def test_put_over_byte_quota_is_507_and_stores_nothing(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_bytes=1000)
    dav = live_server.session(user)
    assert dav.put(live_server.url("/dav/fits"), data=b"x" * 600).status_code == 201
    refused = dav.put(live_server.url("/dav/too-big"), data=b"x" * 500)
    assert refused.status_code == 507
    assert dav.get(live_server.url("/dav/too-big")).status_code == 404
    assert live_server.services.store.usage(user.owner).used_bytes == 600
    home = live_server.services.store.home(user.owner)
    assert sorted(path.name for path in home.iterdir()) == ["fits"]
    assert list(live_server.services.store.staging_dir.iterdir()) == []


def test_chunked_put_over_quota_is_aborted_while_streaming(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_bytes=100_000)

    def body():  # noqa: ANN202 - a generator makes requests send Transfer-Encoding: chunked
        for _ in range(50):
            yield b"z" * 10_000

    refused = live_server.session(user).put(live_server.url("/dav/chunked"), data=body())
    assert refused.status_code == 507
    usage = live_server.services.store.usage(user.owner)
    assert (usage.used_bytes, usage.used_files) == (0, 0)
    assert list(live_server.services.store.home(user.owner).iterdir()) == []


def test_put_over_file_limit_is_507(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_files=2)
    dav = live_server.session(user)
    assert dav.put(live_server.url("/dav/1"), data=b"1").status_code == 201
    assert dav.put(live_server.url("/dav/2"), data=b"2").status_code == 201
    assert dav.put(live_server.url("/dav/3"), data=b"3").status_code == 507
    assert dav.put(live_server.url("/dav/1"), data=b"overwrite").status_code == 204
    assert dav.request("MKCOL", live_server.url("/dav/folder/")).status_code == 201
    assert live_server.services.store.usage(user.owner).used_files == 2


def test_overwrite_counts_the_delta(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_bytes=1000)
    dav = live_server.session(user)
    dav.put(live_server.url("/dav/f"), data=b"x" * 700)
    assert dav.put(live_server.url("/dav/f"), data=b"y" * 900).status_code == 204
    assert live_server.services.store.usage(user.owner).used_bytes == 900


def test_concurrent_puts_never_exceed_the_quota(uncapped_services: Services) -> None:
    live_server = LiveServer(uncapped_services)
    try:
        race_puts_against_the_quota(live_server)
    finally:
        live_server.stop()


def race_puts_against_the_quota(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_bytes=50_000)
    statuses: list[int] = []
    start = threading.Barrier(16)

    def put(index: int) -> None:
        session = live_server.session(user)
        start.wait()
        try:
            response = session.put(live_server.url(f"/dav/f{index}"), data=b"x" * 5_000)
        except requests.RequestException as exc:
            statuses.append(repr(exc))
            return
        statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(map(str, statuses)) == ["201"] * 10 + ["507"] * 6
    usage = live_server.services.store.usage(user.owner)
    assert usage.used_bytes == 50_000 and usage.used_files == 10


def test_copy_over_quota_is_507(live_server: LiveServer) -> None:
    user = live_server.add_user("alice", max_bytes=1500)
    dav = live_server.session(user)
    dav.put(live_server.url("/dav/a"), data=b"x" * 1000)
    response = dav.request(
        "COPY", live_server.url("/dav/a"), headers={"Destination": live_server.url("/dav/b")}
    )
    assert response.status_code == 507
    assert dav.get(live_server.url("/dav/b")).status_code == 404
    assert live_server.services.store.usage(user.owner).used_bytes == 1000


def test_file_id_survives_move_and_copy_answers_201(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    dav = live_server.session(user)
    dav.put(live_server.url("/dav/before.txt"), data=b"content")
    store = live_server.services.store
    from davfiles.store import parse_user_path

    original = store.stat(user.owner, parse_user_path("/before.txt"))
    moved = dav.request(
        "MOVE",
        live_server.url("/dav/before.txt"),
        headers={"Destination": live_server.url("/dav/after.txt")},
    )
    assert moved.status_code == 201
    after = store.stat(user.owner, parse_user_path("/after.txt"))
    assert original is not None and after is not None and after.id == original.id
    copied = dav.request(
        "COPY",
        live_server.url("/dav/after.txt"),
        headers={"Destination": live_server.url("/dav/copy.txt")},
    )
    assert copied.status_code == 201
    again = dav.request(
        "COPY",
        live_server.url("/dav/after.txt"),
        headers={"Destination": live_server.url("/dav/copy.txt")},
    )
    assert again.status_code == 204


def test_depth_infinity_propfind_is_refused_by_default(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    response = live_server.session(user).request(
        "PROPFIND", live_server.url("/dav/"), headers={"Depth": "infinity"}
    )
    assert response.status_code == 403
    assert b"propfind-finite-depth" in response.content


def test_wrong_password_and_unknown_user_get_the_same_401(live_server: LiveServer) -> None:
    live_server.add_user("alice")
    wrong = requests.get(live_server.url(), auth=("alice", "nope"))
    unknown = requests.get(live_server.url(), auth=("nobody", "nope"))
    anonymous = requests.get(live_server.url())
    for response in (wrong, unknown, anonymous):
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers
    assert wrong.content == unknown.content
    assert (
        wrong.headers["WWW-Authenticate"].split(",")[0]
        == unknown.headers["WWW-Authenticate"].split(",")[0]
    )


def test_digest_auth(live_server: LiveServer) -> None:
    live_server.add_user("alice", "digest-pw")
    from requests.auth import HTTPDigestAuth

    response = requests.request(
        "PROPFIND",
        live_server.url(),
        headers={"Depth": "0"},
        auth=HTTPDigestAuth("alice", "digest-pw"),
    )
    assert response.status_code == 207
    refused = requests.get(live_server.url(), auth=HTTPDigestAuth("alice", "wrong"))
    assert refused.status_code == 401


def test_api_token_works_as_password_until_revoked(live_server: LiveServer) -> None:
    live_server.add_user("alice", "login-pw")
    accounts = live_server.services.accounts
    token_id, secret = accounts.create_token("alice", "rclone")
    assert requests.get(live_server.url(), auth=("alice", secret)).status_code == 200
    accounts.revoke_token(token_id)
    assert requests.get(live_server.url(), auth=("alice", secret)).status_code == 401


def test_repeated_basic_auth_does_not_verify_the_hash_each_time(
    in_process_server: LiveServer,
) -> None:
    user = in_process_server.add_user("alice", "cached-pw")
    authenticator = in_process_server.services.authenticator
    dav = in_process_server.session(user)
    before = authenticator.hash_verifications
    for _ in range(20):
        assert dav.get(in_process_server.url()).status_code == 200
    assert authenticator.hash_verifications - before == 1
    in_process_server.services.accounts.set_password("alice", "new-pw")
    assert dav.get(in_process_server.url()).status_code == 401
    assert requests.get(in_process_server.url(), auth=("alice", "new-pw")).status_code == 200


def test_dead_properties_per_file_are_bounded(live_server: LiveServer) -> None:
    user = live_server.add_user("alice")
    dav = live_server.session(user)
    url = live_server.url("/dav/props.txt")
    dav.put(url, data=b"x")

    def proppatch(first: int, count: int) -> requests.Response:
        props = "".join(f"<Z:p{n}>v</Z:p{n}>" for n in range(first, first + count))
        body = (
            '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
            f"<D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>"
        )
        return dav.request("PROPPATCH", url, data=body)

    assert b"403" not in proppatch(0, 100).content
    assert b"403" not in proppatch(100, 100).content
    refused = proppatch(200, 1)
    assert refused.status_code == 207 and b"403" in refused.content
    listing = dav.request("PROPFIND", url, headers={"Depth": "0"})
    assert listing.content.count(b"urn:z") >= 1 and b"p200" not in listing.content
