"""Two ``davfiles serve`` processes on one data dir and one PostgreSQL database, behind
Debian's haproxy balancing round robin: what one instance decides, the other honours."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bench.haproxy import haproxy_path
from davfiles.db.models import UploadSlot
from tests.cluster import Cluster, served_by
from tests.conftest import postgres_database, require_postgres
from tests.dav.helpers import lock
from tests.harness import CliServer

pytestmark = pytest.mark.postgres
LOGIN_LIMIT = 4
UPLOAD_CAP = 3
ENV = {
    "DAVFILES_LOGIN_FAILURES_PER_USER": str(LOGIN_LIMIT),
    # Behind a proxy every client is the proxy's address (README, Deployment).
    "DAVFILES_LOGIN_FAILURES_PER_ADDRESS": "0",
    "DAVFILES_MAX_UPLOADS_PER_USER": str(UPLOAD_CAP),
    # The cap test holds uploads open without sending.
    "DAVFILES_MIN_BODY_RATE": "0",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _require_tools() -> None:
    if haproxy_path() is None:
        pytest.skip("haproxy is not installed (scripts/install-debian-tools.sh)")
    require_postgres()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require_tools()
    for database_url in postgres_database():
        started = Cluster(tmp_path_factory.mktemp("cluster"), database_url, 2, ENV)
        try:
            yield started
        finally:
            started.stop()


def _user(cluster: Cluster, name: str, **quota: int | None) -> requests.Session:
    assert cluster.services is not None
    cluster.services.accounts.add_user(
        name, f"pw-{name}", max_bytes=quota.get("max_bytes"), max_files=None
    )
    session = requests.Session()
    session.auth = (name, f"pw-{name}")
    return session


def test_round_robin_spreads_consecutive_requests(cluster: Cluster) -> None:
    session = _user(cluster, "rob")
    answers = [session.get(cluster.url()) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    served = [served_by(a) for a in answers]
    assert set(served) == {"i0", "i1"}
    assert all(a != b for a, b in zip(served, served[1:], strict=False)), served


def test_parallel_uploads_on_both_never_exceed_the_quota(cluster: Cluster) -> None:
    size, limit = 20_000, 50_000
    _user(cluster, "quinn", max_bytes=limit)
    statuses: list[int] = []
    served: set[str] = set()

    def upload(number: int) -> None:
        session = requests.Session()
        session.auth = ("quinn", "pw-quinn")
        for _attempt in range(50):
            response = session.put(cluster.url(f"/dav/f{number}.bin"), data=b"q" * size)
            if response.status_code != 429:
                break
            time.sleep(0.1)
        statuses.append(response.status_code)
        served.add(served_by(response))

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(upload, range(12)))
    assert sorted(statuses) == [201, 201] + [507] * 10
    assert served == {"i0", "i1"}
    assert cluster.services is not None
    owner = cluster.services.accounts.owner("quinn")
    assert cluster.services.store.usage(owner).used_bytes == 2 * size
    stored = [f for f in cluster.services.store.list_files(owner) if not f.is_dir]
    assert len(stored) == 2


def test_lock_taken_on_one_instance_is_honoured_on_the_other(cluster: Cluster) -> None:
    session = _user(cluster, "lena")
    assert session.put(cluster.direct(0, "/dav/doc.txt"), data=b"v1").status_code == 201
    taken = lock(session, cluster.direct(0, "/dav/doc.txt"))
    assert taken.status_code == 200
    token = taken.headers["Lock-Token"]
    assert session.put(cluster.direct(1, "/dav/doc.txt"), data=b"v2").status_code == 423
    assert session.delete(cluster.direct(1, "/dav/doc.txt")).status_code == 423
    with_token = session.put(
        cluster.direct(1, "/dav/doc.txt"), data=b"v3", headers={"If": f"({token})"}
    )
    assert with_token.status_code == 204
    unlocked = session.request(
        "UNLOCK", cluster.direct(1, "/dav/doc.txt"), headers={"Lock-Token": token}
    )
    assert unlocked.status_code == 204
    assert session.put(cluster.direct(0, "/dav/doc.txt"), data=b"v4").status_code == 204
    assert session.get(cluster.direct(1, "/dav/doc.txt")).content == b"v4"


def test_login_failures_count_across_instances(cluster: Cluster) -> None:
    _user(cluster, "tina")
    statuses = []
    for attempt in range(3 * LOGIN_LIMIT):
        response = requests.get(cluster.direct(attempt % 2), auth=("tina", "wrong"))
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    # Counted per instance, neither would refuse before 2 * LOGIN_LIMIT failures; counted
    # together, the first refusal follows the LOGIN_LIMIT-th failure (later if the machine
    # is so slow that the first one-second wait passed in between).
    assert statuses[-1] == 429, statuses
    assert len(statuses) <= 2 * LOGIN_LIMIT, statuses
    assert set(statuses[:LOGIN_LIMIT]) == {401}


def test_a_changed_password_is_refused_by_both_at_once(cluster: Cluster) -> None:
    """Each instance caches verified credentials; the user's row tells both of a change."""
    session = _user(cluster, "paul")
    for number in (0, 1):
        assert session.get(cluster.direct(number)).status_code == 200
    assert cluster.services is not None
    cluster.services.accounts.set_password("paul", "new-pw-paul")
    for number in (0, 1):
        assert session.get(cluster.direct(number)).status_code == 401
        answer = requests.get(cluster.direct(number), auth=("paul", "new-pw-paul"))
        assert answer.status_code == 200


def _slot_count(cluster: Cluster, name: str) -> int:
    assert cluster.services is not None
    owner = cluster.services.accounts.owner(name)
    with cluster.services.store.db.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(UploadSlot).where(UploadSlot.user_id == owner.id)
            )
            or 0
        )


def test_upload_cap_holds_across_instances(cluster: Cluster) -> None:
    session = _user(cluster, "carl")
    release = threading.Event()
    results: dict[int, int] = {}

    def slow_body() -> Iterator[bytes]:
        yield b"s" * 20_000
        release.wait(20)
        yield b"e" * 20_000

    def held_upload(number: int) -> None:
        held = requests.Session()
        held.auth = session.auth
        results[number] = held.put(
            cluster.direct(number % 2, f"/dav/held{number}.bin"), data=slow_body()
        ).status_code

    threads = [threading.Thread(target=held_upload, args=(n,)) for n in range(UPLOAD_CAP)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(200):
            if _slot_count(cluster, "carl") == UPLOAD_CAP:
                break
            time.sleep(0.05)
        assert _slot_count(cluster, "carl") == UPLOAD_CAP
        for number in (0, 1):
            refused = session.put(cluster.direct(number, "/dav/one-more.bin"), data=b"x" * 70_000)
            assert refused.status_code == 429, refused.text
            assert refused.headers["Retry-After"]
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    assert results == {n: 201 for n in range(UPLOAD_CAP)}
    assert session.put(cluster.url("/dav/one-more.bin"), data=b"x" * 70_000).status_code == 201


def test_rest_ids_are_unique_and_seen_by_both(cluster: Cluster) -> None:
    assert cluster.services is not None
    _user(cluster, "rita")
    _, token = cluster.services.accounts.create_token("rita", "sync")
    headers = {"Authorization": f"Token {token}"}

    def upload(number: int) -> str:
        for _attempt in range(50):
            response = requests.put(
                cluster.url("/backend/upload_file/"),
                headers=headers,
                files={"file": (f"r{number}.txt", f"rest {number}".encode())},
            )
            if response.status_code != 429:
                break
            time.sleep(0.1)
        assert response.status_code == 200, response.text
        return served_by(response)

    with ThreadPoolExecutor(4) as pool:
        served = set(pool.map(upload, range(8)))
    assert served == {"i0", "i1"}
    listings = [
        requests.get(cluster.direct(n, "/backend/user_files"), headers=headers).json()["files"]
        for n in (0, 1)
    ]
    ids = sorted(entry["id"] for entry in listings[0])
    assert len(ids) == len(set(ids)) == 8
    assert sorted(entry["id"] for entry in listings[1]) == ids
    for entry in listings[0]:
        number = entry["name"][1:-4]
        got = requests.get(cluster.direct(1, f"/dav/{entry['name']}"), auth=("rita", "pw-rita"))
        assert got.content == f"rest {number}".encode()


def test_chunked_upload_across_instances_assembles(cluster: Cluster) -> None:
    session = _user(cluster, "nick")
    uploads = "/remote.php/dav/uploads/nick/transfer-1/"
    data = bytes(range(256)) * 4000
    sizes = [300_000, 300_000, 300_000, len(data) - 900_000]
    assert session.request("MKCOL", cluster.url(uploads)).status_code == 201
    served = set()
    start = 0
    for size in sizes:
        name = f"{start:015d}-{start + size - 1:015d}"
        put = session.put(
            cluster.url(uploads + name), data=data[start : start + size], headers=FORM
        )
        assert put.status_code == 201
        served.add(served_by(put))
        start += size
    assert served == {"i0", "i1"}
    merged = session.request(
        "MOVE",
        cluster.url(uploads + ".file"),
        headers={"Destination": cluster.url("/remote.php/dav/files/nick/big.bin")},
    )
    assert merged.status_code == 201, merged.text
    for number in (0, 1):
        got = session.get(cluster.direct(number, "/dav/big.bin"))
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest(user: str, password: str, uri: str, nonce: str, nc: int) -> str:
    ha1, ha2 = _md5(f"{user}:davfiles:{password}"), _md5(f"GET:{uri}")
    response = _md5(f"{ha1}:{nonce}:{nc:08x}:c0ffee:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="davfiles", nonce="{nonce}", uri="{uri}", '
        f'algorithm=MD5, qop=auth, nc={nc:08x}, cnonce="c0ffee", response="{response}"'
    )


def test_digest_nonce_of_one_instance_works_once_on_each(cluster: Cluster) -> None:
    _user(cluster, "dora")
    challenge = requests.get(cluster.direct(0)).headers["WWW-Authenticate"]
    match = re.search(r'nonce="([^"]+)"', challenge)
    assert match
    nonce = match.group(1)

    def get(number: int, nc: int) -> int:
        header = _digest("dora", "pw-dora", "/dav/", nonce, nc)
        return requests.get(cluster.direct(number), headers={"Authorization": header}).status_code

    assert get(1, 1) == 200
    assert get(0, 2) == 200
    assert get(1, 2) == 401  # replayed on the other instance
    assert get(0, 1) == 401
    assert get(1, 3) == 200


def test_a_restarting_instance_leaves_the_others_uploads_alone(cluster: Cluster) -> None:
    """A start sweeps staging leftovers; while another instance serves, only stale ones."""
    session = _user(cluster, "sam")
    release = threading.Event()
    result: list[int] = []

    def slow_body() -> Iterator[bytes]:
        yield b"a" * 50_000
        release.wait(20)
        yield b"b" * 50_000

    upload = threading.Thread(
        target=lambda: result.append(
            session.put(cluster.direct(0, "/dav/during-restart.bin"), data=slow_body()).status_code
        )
    )
    upload.start()
    try:
        for _ in range(200):
            if _slot_count(cluster, "sam") == 1:
                break
            time.sleep(0.05)
        staging = list((cluster.data_dir / "tmp").iterdir())
        assert staging, "the upload should be staged"
        cluster.restart(1)
        assert all(entry.exists() for entry in staging)
    finally:
        release.set()
        upload.join(30)
    assert result == [201]
    got = session.get(cluster.url("/dav/during-restart.bin"))
    assert got.content == b"a" * 50_000 + b"b" * 50_000
    assert cluster.services is not None
    owner = cluster.services.accounts.owner("sam")
    assert cluster.services.store.usage(owner).used_bytes == 100_000


def test_two_instances_starting_at_once_on_an_empty_database(tmp_path: Path) -> None:
    """Schema creation, the first admin and the JWT secret happen once, whoever is first."""
    _require_tools()
    for database_url in postgres_database():
        env = {"DAVFILES_DATABASE_URL": database_url}
        with ThreadPoolExecutor(2) as pool:
            starting = [
                pool.submit(CliServer, tmp_path / "data", tmp_path / f"i{n}.log", env)
                for n in (0, 1)
            ]
        instances = [future.result() for future in starting if future.exception() is None]
        try:
            assert len(instances) == 2, [f.exception() for f in starting]
            passwords = [i.admin_password for i in instances if i.admin_password]
            assert len(passwords) == 1
            for instance in instances:
                answer = requests.get(instance.base + "/dav/", auth=("admin", passwords[0]))
                assert answer.status_code == 200
            secret = (tmp_path / "data" / "jwt-secret").read_text()
            assert len(secret) > 40
        finally:
            for instance in instances:
                instance.stop()
