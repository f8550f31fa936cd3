"""The ``davfiles`` command: serve, user and token administration, fsck, schema upgrades,
backup and restore.

Every failure a user can cause ends in one line on stderr and a non-zero exit, never a
traceback. The forms of these commands are a contract for scripts: change them carefully.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from davfiles import __version__, backup
from davfiles.app import DAV_MOUNT, Services, create_app, create_services
from davfiles.auth.accounts import KEEP
from davfiles.auth.secrets import new_password
from davfiles.cli_links import add_link_commands
from davfiles.config import ConfigError, Settings, load_settings, parse_count, parse_size
from davfiles.db import schema
from davfiles.db.engine import make_engine
from davfiles.errors import AlreadyExists, DavfilesError, NotFound
from davfiles.instances import ServerLock
from davfiles.logs import configure_logging
from davfiles.malloc import limit_malloc
from davfiles.metrics_dir import MetricsDir
from davfiles.server import server_for
from davfiles.store import Finding, FsckReport, Repair, parse_user_path
from davfiles.store.trash import TrashEntry
from davfiles.supervisor import PORT, exec_supervisor
from davfiles.workers import stop_on_sigterm, worker_count

logger = logging.getLogger("davfiles")
DEFAULT_CONFIG_FILE = "wsgidav.yaml"


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="FILE", help="configuration file (default: ./wsgidav.yaml if present)"
    )
    common.add_argument("--data-dir", metavar="DIR", help="data folder (env DAVFILES_DATA_DIR)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="davfiles", description="Multi-user WebDAV file server.")
    parser.add_argument("--version", action="version", version=f"davfiles {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="port to listen on (0: any free port)")
    serve.add_argument("--certfile", help="TLS certificate (PEM): serve HTTPS")
    serve.add_argument("--keyfile", help="TLS private key (PEM) for --certfile")
    serve.add_argument(
        "--workers", type=int, help="server processes on the port (0: one per CPU core)"
    )
    serve.set_defaults(handler=cmd_serve)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = user.add_parser("add", parents=[common], help="create a user")
    add.add_argument("name")
    add.add_argument("--password", required=True)
    add.add_argument("--max-bytes", metavar="SIZE", help="byte quota: 5G, 500M, 1024 or unlimited")
    add.add_argument("--max-files", metavar="N", help="file-count quota or unlimited")
    add.add_argument("--admin", action="store_true", help="may use the web app's admin pages")
    add.set_defaults(handler=cmd_user_add)
    user.add_parser("list", parents=[common], help="list users and usage").set_defaults(
        handler=cmd_user_list
    )
    passwd = user.add_parser("passwd", parents=[common], help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password", required=True)
    passwd.set_defaults(handler=cmd_user_passwd)
    quota = user.add_parser("set-quota", parents=[common], help="change a user's quota")
    quota.add_argument("name")
    quota.add_argument("--max-bytes", metavar="SIZE")
    quota.add_argument("--max-files", metavar="N")
    quota.set_defaults(handler=cmd_user_set_quota)
    admin = user.add_parser(
        "admin", parents=[common], help="grant or revoke the web app's admin pages"
    )
    admin.add_argument("name")
    switch = admin.add_mutually_exclusive_group(required=True)
    switch.add_argument("--on", dest="admin", action="store_true", help="make NAME an admin")
    switch.add_argument("--off", dest="admin", action="store_false", help="revoke it")
    admin.set_defaults(handler=cmd_user_admin)
    delete = user.add_parser("delete", parents=[common], help="delete a user and all their files")
    delete.add_argument("name")
    delete.set_defaults(handler=cmd_user_delete)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = token.add_parser("create", parents=[common], help="create a token (printed once)")
    create.add_argument("name")
    create.add_argument("--label", default="", help="a note to recognise the token by")
    create.set_defaults(handler=cmd_token_create)
    listing = token.add_parser("list", parents=[common], help="list a user's tokens")
    listing.add_argument("name")
    listing.set_defaults(handler=cmd_token_list)
    revoke = token.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=cmd_token_revoke)

    fsck = commands.add_parser(
        "fsck", parents=[common], help="compare the database with the files on disk"
    )
    fsck.add_argument(
        "--repair",
        action="store_true",
        help="record unrecorded files, drop records of vanished ones, take sizes, hashes and "
        "usage from the disk, finish writes killed half-way; never deletes a recorded file",
    )
    fsck.add_argument(
        "--hashes", action="store_true", help="also read every file and compare MD5 and SHA-1"
    )
    fsck.add_argument("--user", metavar="NAME", help="check only this user")
    fsck.set_defaults(handler=cmd_fsck)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    db.add_parser(
        "upgrade", parents=[common], help="bring the database schema to this version's"
    ).set_defaults(handler=cmd_db_upgrade)
    db.add_parser(
        "current", parents=[common], help="show the schema revision (exit 1 when behind)"
    ).set_defaults(handler=cmd_db_current)

    backup_command = commands.add_parser(
        "backup", parents=[common], help="copy the database and every home, also while serving"
    )
    backup_command.add_argument(
        "destination", type=Path, metavar="DEST", help="new or empty folder"
    )
    backup_command.set_defaults(handler=cmd_backup)
    restore_command = commands.add_parser(
        "restore", parents=[common], help="put a backup into an empty data dir and database"
    )
    restore_command.add_argument(
        "source", type=Path, metavar="SOURCE", help="a folder made by backup"
    )
    restore_command.set_defaults(handler=cmd_restore)
    _add_trash_and_versions_commands(commands, common)
    add_link_commands(commands, common, _services, _moment)
    return parser


def _add_trash_and_versions_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    trash = commands.add_parser("trash", help="a user's deleted files").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--folder", metavar="PATH", help="this folder, or deleted in it or below")
    filters.add_argument("--since", metavar="TIME", help="deleted at or after (ISO 8601, UTC)")
    filters.add_argument("--until", metavar="TIME", help="deleted at or before (ISO 8601, UTC)")
    filters.add_argument("--origin", metavar="ADDRESS", help="deleted by this client address")
    filters.add_argument(
        "--door", metavar="DOOR", help="deleted through this door (webdav, rest:<dialect>)"
    )
    filters.add_argument(
        "--agent", metavar="TEXT", help="deleted by a client whose User-Agent contains TEXT"
    )
    listing = trash.add_parser("list", parents=[common, filters], help="list a user's trash")
    listing.add_argument("name")
    listing.set_defaults(handler=cmd_trash_list)
    for action, handler, text in (
        ("restore", cmd_trash_restore, "put trash items back where they were"),
        ("purge", cmd_trash_purge, "delete trash items for good"),
    ):
        command = trash.add_parser(action, parents=[common, filters], help=text)
        command.add_argument("name")
        command.add_argument("ids", nargs="*", type=int, metavar="ID")
        command.add_argument(
            "--all", action="store_true", help="every item the filters select (or the whole trash)"
        )
        command.set_defaults(handler=handler)

    versions = commands.add_parser("versions", help="earlier contents of files").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    listing = versions.add_parser("list", parents=[common], help="list a file's versions")
    listing.add_argument("name")
    listing.add_argument("path")
    listing.set_defaults(handler=cmd_versions_list)
    restore = versions.add_parser("restore", parents=[common], help="make a version current")
    restore.add_argument("name")
    restore.add_argument("id", type=int)
    restore.set_defaults(handler=cmd_versions_restore)
    label = versions.add_parser(
        "label", parents=[common], help="label a version, which pins it ('' removes the label)"
    )
    label.add_argument("name")
    label.add_argument("id", type=int)
    label.add_argument("label")
    label.set_defaults(handler=cmd_versions_label)


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    config = args.config
    if config is None and os.environ.get("DAVFILES_CONFIG"):
        config = os.environ["DAVFILES_CONFIG"]
    if config is None and Path(DEFAULT_CONFIG_FILE).is_file():
        config = DEFAULT_CONFIG_FILE
    return load_settings(config, overrides={"data_dir": args.data_dir, **overrides})


def _services(args: argparse.Namespace, **overrides: object) -> Services:
    return create_services(_settings(args, **overrides))


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Engine]:
    """The database alone, for commands that must work on a schema that is behind."""
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url, threads=1)
    try:
        yield engine
    finally:
        engine.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    limit_malloc()
    services = _services(
        args,
        host=args.host,
        port=args.port,
        certfile=args.certfile,
        keyfile=args.keyfile,
        workers=args.workers,
    )
    settings = services.settings
    workers = worker_count(settings.workers)
    # One process keeps its metrics as the supervisor's workers do; set up before the
    # application, whose metrics go there. With workers, the supervisor sets it up.
    metrics = MetricsDir.create(settings) if workers == 1 else None
    # Built before anything else, so that a bad configuration ends with one line.
    app = create_app(services)
    server_lock = ServerLock(settings.data_dir)
    _startup_check(services, alone=server_lock.alone())
    server_lock.share(inheritable=True)
    _create_first_admin(services)
    scheme = "https" if settings.certfile else "http"
    if workers > 1:
        services.close()
        line = _serving_line(scheme, settings.host, PORT, f" with {workers} workers")
        exec_supervisor(settings, workers, line)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    return _serve_in_process(services, app, scheme, metrics)


def _serve_in_process(services: Services, app: Any, scheme: str, metrics: MetricsDir | None) -> int:
    settings = services.settings
    server = server_for(settings, app, settings.port)
    services.store.start_keeper(services.audit)
    server.prepare()
    host, port = server.bind_addr[:2]
    try:
        if metrics is not None and not metrics.listen_and_announce(settings.metrics_listen):
            return 1
        _announce(scheme, host, port, "")
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        services.close()
        if metrics is not None:
            metrics.close()
    return 0


def _announce(scheme: str, host: str, port: int, detail: str) -> None:
    print(_serving_line(scheme, host, str(port), detail), flush=True)


def _serving_line(scheme: str, host: str, port: str, detail: str) -> str:
    return f"davfiles {__version__} serving {scheme}://{host}:{port}{DAV_MOUNT}/{detail}"


def _create_first_admin(services: Services) -> None:
    """An empty user table gets an ``admin`` (an admin of the web app too) whose password is
    printed once."""
    if services.accounts.count_users() > 0:
        return
    settings = services.settings
    password = new_password()
    try:
        services.accounts.add_user(
            "admin",
            password,
            max_bytes=settings.default_max_bytes,
            max_files=settings.default_max_files,
            admin=True,
        )
    except AlreadyExists:  # another server on the database, starting at the same moment
        return
    print(f"created user admin with password {password} (shown only this once)", flush=True)


# A staging entry unchanged this long is a leftover even while other servers run (an upload
# in flight changes its file as bytes arrive; a stall is cut off after body_timeout).
STALE_STAGING = 24 * 3600


def _startup_check(services: Services, *, alone: bool) -> None:
    """Sweep staging leftovers, then log the cheap fsck (no hashes).

    Only usage counters, safe to recount, are corrected. This runs once, before any worker
    starts: later, a staging file may be an upload in flight. While another server shares
    the data dir (not ``alone``), its uploads are in flight: only stale leftovers are swept
    and the counters, which hold its reservations, are left as they are.
    """
    swept = services.store.sweep_staging(None if alone else STALE_STAGING)
    if swept:
        logger.info("removed %d staging leftovers of an earlier run", swept)
    if not alone:
        logger.info("start-up check: other servers use this data dir, usage is not recounted")
    report = services.store.fsck(repair=Repair.USAGE if alone else Repair.NOTHING)
    for finding in report.findings:
        logger.warning("start-up check: %s", _finding_line(finding))
    logger.info("start-up check: %s", _summary_line(report))
    if not report.clean:
        logger.warning("start-up check: run `davfiles fsck --repair` to repair the rest")


def cmd_user_add(args: argparse.Namespace) -> int:
    services = _services(args)
    settings = services.settings
    max_bytes = parse_size(args.max_bytes) if args.max_bytes else settings.default_max_bytes
    max_files = parse_count(args.max_files) if args.max_files else settings.default_max_files
    services.accounts.add_user(
        args.name, args.password, max_bytes=max_bytes, max_files=max_files, admin=args.admin
    )
    print(f"created {'admin' if args.admin else 'user'} {args.name}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    users = _services(args).accounts.list_users()
    print(
        f"{'NAME':<24} {'USED BYTES':>14} {'MAX BYTES':>14} {'FILES':>8} {'MAX FILES':>10}  ADMIN"
    )
    for user in users:
        print(
            f"{user.name:<24} {user.used_bytes:>14} {_limit(user.max_bytes):>14} "
            f"{user.used_files:>8} {_limit(user.max_files):>10}  {'yes' if user.is_admin else 'no'}"
        )
    return 0


def _limit(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def cmd_user_passwd(args: argparse.Namespace) -> int:
    _services(args).accounts.set_password(args.name, args.password)
    print(f"password of {args.name} changed")
    return 0


def cmd_user_set_quota(args: argparse.Namespace) -> int:
    if args.max_bytes is None and args.max_files is None:
        raise ConfigError("give --max-bytes, --max-files or both")
    _services(args).accounts.set_quota(
        args.name,
        max_bytes=parse_size(args.max_bytes) if args.max_bytes is not None else KEEP,
        max_files=parse_count(args.max_files) if args.max_files is not None else KEEP,
    )
    print(f"quota of {args.name} changed")
    return 0


def cmd_user_admin(args: argparse.Namespace) -> int:
    _services(args).accounts.set_admin(args.name, args.admin)
    print(f"{args.name} is {'now' if args.admin else 'no longer'} an admin")
    return 0


def cmd_user_delete(args: argparse.Namespace) -> int:
    _services(args).accounts.delete_user(args.name)
    print(f"deleted user {args.name} and their files")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    token_id, secret = _services(args).accounts.create_token(args.name, args.label)
    print(f"created token {token_id} for {args.name}; it is shown only this once:")
    print(secret)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    print(f"{'ID':>6}  {'CREATED (UTC)':<20} LABEL")
    for token in _services(args).accounts.list_tokens(args.name):
        created = datetime.fromtimestamp(token.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{token.id:>6}  {created:<20} {token.label}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    _services(args).accounts.revoke_token(args.id)
    print(f"revoked token {args.id}")
    return 0


def cmd_fsck(args: argparse.Namespace) -> int:
    services = _services(args)
    owner = services.accounts.owner(args.user) if args.user else None
    repair = Repair.ALL if args.repair else Repair.NOTHING
    report = services.store.fsck(owner, hashes=args.hashes, repair=repair)
    for finding in report.findings:
        print(_finding_line(finding))
    print(_summary_line(report))
    return 0 if report.clean else 1


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        before, after = schema.upgrade(engine)
    if before == after:
        print(f"the database is at schema revision {after}, the newest")
    else:
        print(f"upgraded the database from schema revision {before or 'none'} to {after}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    with _engine(args) as engine:
        state = schema.state(engine)
    if state.up_to_date:
        print(f"schema revision {state.current} (the newest)")
        return 0
    print(
        f"schema revision {state.current or 'none'}; this davfiles needs {state.head}: "
        "run `davfiles db upgrade`"
    )
    return 1


def cmd_backup(args: argparse.Namespace) -> int:
    manifest = backup.backup(_settings(args), args.destination)
    print(
        f"backed up {manifest.users} users and {manifest.files} files "
        f"(schema revision {manifest.revision}) to {args.destination}"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """After the copy, usage counters are recounted as a start would: uploads in flight
    when the backup was taken had reserved room they never used."""
    settings = _settings(args)
    manifest = backup.restore(settings, args.source)
    print(
        f"restored {manifest.users} users and {manifest.files} files "
        f"(schema revision {manifest.revision}) from {args.source}"
    )
    try:
        services = create_services(settings)
    except schema.SchemaOutOfDate as exc:
        # A backup of an older release restores as it was; the recount waits for the upgrade.
        print(f"{exc}; after that, `davfiles fsck --repair` recounts usage")
        return 0
    try:
        report = services.store.fsck(repair=Repair.USAGE)
    finally:
        services.close()
    print(_summary_line(report))
    return 0


def _finding_line(finding: Finding) -> str:
    outcome = " (repaired)" if finding.repaired else ""
    return f"{finding.user}:{finding.path} {finding.kind}: {finding.detail}{outcome}"


def _summary_line(report: FsckReport) -> str:
    found, remaining = len(report.findings), len(report.remaining)
    line = (
        f"checked {report.users} users, {report.files} files and {report.folders} folders: "
        f"{found} differences, {found - remaining} repaired, {remaining} remain"
    )
    if report.staging_entries:
        line += (
            f"; {report.staging_entries} entries in data_dir/tmp "
            "(uploads in flight, or leftovers the next start sweeps)"
        )
    return line


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except DavfilesError as exc:
        print(f"davfiles: error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"davfiles: error: database: {reason}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"davfiles: error: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _moment(text: str | None) -> float | None:
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"not a time: {text!r} (use e.g. 2026-12-07T09:30)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _trash_selection(args: argparse.Namespace, services: Services) -> list[TrashEntry]:
    owner = services.accounts.owner(args.name)
    folder = parse_user_path(args.folder) if getattr(args, "folder", None) else None
    entries = services.store.trash_list(
        owner,
        folder=folder,
        since=_moment(args.since),
        until=_moment(args.until),
        origin=args.origin,
        door=args.door,
        agent=args.agent,
    )
    if getattr(args, "ids", None):
        wanted = set(args.ids)
        entries = [entry for entry in entries if entry.id in wanted]
    elif hasattr(args, "ids") and not args.all:
        raise ConfigError("give trash item ids, or --all (with filters or without)")
    return entries


def _when(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_trash_list(args: argparse.Namespace) -> int:
    services = _services(args)
    print(
        f"{'ID':>8}  {'DELETED (UTC)':<20} {'BYTES':>12} {'VERSIONS':>10}  "
        f"{'ORIGIN':<16} {'DOOR':<14} PATH"
    )
    for entry in _trash_selection(args, services):
        path = "/" + entry.original_path.text + ("/" if entry.is_dir else "")
        pinned = " (pinned)" if entry.pinned else ""
        print(
            f"{entry.id:>8}  {_when(entry.deleted_at):<20} {entry.size:>12} "
            f"{entry.version_bytes:>10}  {entry.origin or '-':<16} {entry.door or '-':<14} "
            f"{path}{pinned}"
        )
    return 0


def cmd_trash_restore(args: argparse.Namespace) -> int:
    services = _services(args)
    owner = services.accounts.owner(args.name)
    ids = [entry.id for entry in _trash_selection(args, services)]
    restored, failed = services.store.trash_restore_all(owner, ids)
    for item_id, info in restored:
        print(f"restored {item_id} to /{info.path.text}")
    for item_id, why in failed:
        print(f"could not restore {item_id}: {why}", file=sys.stderr)
    return 1 if failed else 0


def cmd_trash_purge(args: argparse.Namespace) -> int:
    services = _services(args)
    owner = services.accounts.owner(args.name)
    ids = [entry.id for entry in _trash_selection(args, services)]
    purged = services.store.trash_purge(owner, ids, services.audit) if ids else []
    freed = sum(entry.size + entry.version_bytes for entry in purged)
    print(f"deleted {len(purged)} trash items for good ({freed} bytes)")
    return 0


def cmd_versions_list(args: argparse.Namespace) -> int:
    services = _services(args)
    owner = services.accounts.owner(args.name)
    info = services.store.stat(owner, parse_user_path(args.path))
    if info is None or info.is_dir:
        raise NotFound(f"no file {args.path}")
    print(f"{'ID':>8}  {'REPLACED (UTC)':<20} {'BYTES':>12}  {'SHA-1':<40} LABEL")
    for version in services.store.versions_of(owner, info.id):
        print(
            f"{version.id:>8}  {_when(version.created_at):<20} {version.size:>12}  "
            f"{version.sha1 or '-':<40} {version.label or ''}"
        )
    return 0


def cmd_versions_restore(args: argparse.Namespace) -> int:
    services = _services(args)
    info = services.store.version_restore(services.accounts.owner(args.name), args.id)
    print(f"version {args.id} is the content of /{info.path.text} again")
    return 0


def cmd_versions_label(args: argparse.Namespace) -> int:
    services = _services(args)
    version = services.store.version_label(services.accounts.owner(args.name), args.id, args.label)
    print(
        f"version {version.id}: "
        + (f"labelled {version.label!r}" if version.pinned else "no label")
    )
    return 0
