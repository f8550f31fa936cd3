"""The second reference: Apache mod_dav from Debian, with a config file of its own.

Never the system instance: everything Apache writes (pid file, runtime files, lock database,
the served folder) lives in a folder of the benchmark's temporary data, the modules are
loaded by absolute path, and the error log goes to the process' stderr. The MPM and
keep-alive settings are Debian's defaults (apache2.conf, mods-available/mpm_event.conf) but
for the threads per child (see the config), so Apache runs as a user who installed it would
run it. ``python -m bench.apache_server DIR`` writes the folder and prints the command that
serves it, for a run by hand.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MOUNT = "/dav"
MODULES_DIR = Path("/usr/lib/apache2/modules")
MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("auth_basic_module", "mod_auth_basic.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("alias_module", "mod_alias.so"),
    ("dav_module", "mod_dav.so"),
    ("dav_fs_module", "mod_dav_fs.so"),
)
# Apache refuses to serve as root; started as root, its workers become Debian's web user.
RUN_AS = "www-data"
# Debian installs apache2 in /usr/sbin, which is not on every user's PATH.
SEARCH_PATH = os.pathsep.join(filter(None, [os.environ.get("PATH"), "/usr/sbin", "/sbin"]))


class ApacheUnavailable(RuntimeError):
    """apache2 or htpasswd is missing, or its workers could not reach the served folder."""


@dataclass(frozen=True)
class ApacheSite:
    """A written config: the command that serves it, and where and whom it serves."""

    argv: list[str]
    port: int
    user: str
    password: str


def apache_binary() -> str | None:
    """Path of Debian's apache2, or None when it is not installed."""
    return shutil.which("apache2", path=SEARCH_PATH)


def missing_tools() -> list[str]:
    """The Apache tools the benchmark needs that are not installed (Debian package names)."""
    missing = [] if apache_binary() and MODULES_DIR.is_dir() else ["apache2"]
    if shutil.which("htpasswd", path=SEARCH_PATH) is None:
        missing.append("apache2-utils")
    return missing


def free_port() -> int:
    """A port that was free a moment ago (Apache cannot listen on port 0 and report it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_site(folder: Path, user: str = "admin", password: str = "") -> ApacheSite:
    """Config, password file and DAV root in ``folder``; the served folder starts empty."""
    binary = apache_binary()
    missing = missing_tools()
    if binary is None or missing:
        raise ApacheUnavailable(
            f"missing {', '.join(missing)} (sh scripts/install-debian-tools.sh)"
        )
    password = password or secrets.token_urlsafe(16)
    root, runtime = folder / "dav", folder / "run"
    for path in (folder, root, runtime):
        path.mkdir(parents=True, exist_ok=True)
    passwords = folder / "htpasswd"
    subprocess.run(
        ["htpasswd", "-c", "-i", "-m", str(passwords), user],
        input=password.encode(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    passwords.chmod(0o644)
    run_as = _run_as(folder, (root, runtime))
    port = free_port()
    config = folder / "httpd.conf"
    config.write_text(apache_config(folder, port, run_as))
    return ApacheSite([binary, "-f", str(config), "-DFOREGROUND"], port, user, password)


def _run_as(folder: Path, writable: tuple[Path, ...]) -> str | None:
    """As root: hand the writable folders to RUN_AS and check it can reach ``folder``."""
    if os.geteuid() != 0:
        return None
    account = pwd.getpwnam(RUN_AS)
    for path in writable:
        os.chown(path, account.pw_uid, account.pw_gid)
    for parent in (folder, *folder.parents):
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise ApacheUnavailable(
                f"Apache's workers run as {RUN_AS} and cannot enter {parent}: "
                "put the data where every parent folder lets others enter (chmod o+x)"
            )
    return RUN_AS


def apache_config(folder: Path, port: int, run_as: str | None) -> str:
    """httpd.conf serving ``folder``/dav at MOUNT with Basic auth, on loopback only."""
    modules = "\n".join(f"LoadModule {name} {MODULES_DIR / file}" for name, file in MODULES)
    account = f"User {run_as}\nGroup {run_as}\n" if run_as else ""
    return f"""\
# Written by bench/apache_server.py: the benchmark's own Apache, not the system instance.
ServerRoot "{folder}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{folder / "run" / "apache2.pid"}"
DefaultRuntimeDir "{folder / "run"}"
ErrorLog /dev/stderr
LogLevel warn
{account}{modules}

# Debian's defaults (apache2.conf, mods-available/mpm_event.conf) but for the threads per
# child: with Debian's 25, a child whose workers are all busy closes its idle keep-alive
# connections, and wrk, which does not retry a request, counts read errors in W4.
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 128
MaxConnectionsPerChild 0

<Directory />
    AllowOverride None
    Require all denied
</Directory>

DavLockDB "{folder / "run" / "DavLock"}"
Alias {MOUNT} "{folder / "dav"}"
<Directory "{folder / "dav"}">
    Dav On
    AuthType Basic
    AuthName "davfiles benchmark"
    AuthBasicProvider file
    AuthUserFile "{folder / "htpasswd"}"
    Require valid-user
</Directory>
"""


def main() -> None:
    """Write a site into the folder given and print how to serve it."""
    if len(sys.argv) != 2:
        sys.exit("usage: python -m bench.apache_server DIR")
    folder = Path(sys.argv[1]).resolve()
    try:
        site = write_site(folder)
    except ApacheUnavailable as exc:
        sys.exit(str(exc))
    print(f"run:  {' '.join(site.argv)}")
    print(f"then: curl -u {site.user}:{site.password} -X PROPFIND -H 'Depth: 1' ", end="")
    print(f"http://127.0.0.1:{site.port}{MOUNT}/")
    print(f"stop: Ctrl-C, or kill $(cat {folder / 'run' / 'apache2.pid'})")


if __name__ == "__main__":
    main()
