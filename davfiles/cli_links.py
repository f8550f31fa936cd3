"""``davfiles links``: an admin's view of every user's share links, and the means to end them.

Kept beside ``cli.py`` (which calls ``add_link_commands``) so the link commands stay one small
module; the rules are the store's (``store/links.py``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from davfiles.app import Services
from davfiles.rest.links import link_json
from davfiles.store import parse_user_path
from davfiles.store.link_policy import LinkPolicy, kinds_text, parse_days, parse_kinds

ServicesOf = Callable[[argparse.Namespace], Services]


def add_link_commands(
    commands: Any,
    common: argparse.ArgumentParser,
    services_of: ServicesOf,
    parse_time: Callable[[str | None], float | None],
) -> None:
    links = commands.add_parser("links", help="share links").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    listing = links.add_parser("list", parents=[common], help="list links (all users' or one's)")
    listing.add_argument("name", nargs="?", help="only this user's links")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=lambda args: _list(args, services_of(args)))

    create = links.add_parser("create", parents=[common], help="share a user's file or folder")
    create.add_argument("name")
    create.add_argument("path")
    create.add_argument("--kind", choices=("view", "drop", "edit"), default="view")
    create.add_argument("--expires", metavar="TIME", help="expiry (ISO 8601, UTC)")
    create.add_argument("--max-downloads", type=int, metavar="N")
    create.add_argument("--label")
    create.add_argument("--password", help="the link's password")
    create.set_defaults(handler=lambda args: _create(args, services_of(args), parse_time))

    policy = links.add_parser(
        "policy", parents=[common], help="show or set the rules every new link follows"
    )
    policy.add_argument(
        "--default-expiry-days", metavar="N", help="expiry of a link made without one (or none)"
    )
    policy.add_argument(
        "--max-expiry-days", metavar="N", help="links must expire within N days (or none)"
    )
    policy.add_argument(
        "--passwords",
        metavar="KINDS",
        help="kinds whose links need a password: view,drop,edit, all or none",
    )
    policy.set_defaults(handler=lambda args: _policy(args, services_of(args)))

    for action, text in (
        ("disable", "stop a link (it answers 410 until enabled)"),
        ("enable", "let a disabled link serve again"),
        ("regenerate", "give a link a new token (the old URL stops working)"),
        ("delete", "delete a link (its token is never valid again)"),
    ):
        command = links.add_parser(action, parents=[common], help=text)
        command.add_argument("id", type=int)
        command.set_defaults(
            handler=lambda args, action=action: _change(args, services_of(args), action)
        )


def _list(args: argparse.Namespace, services: Services) -> int:
    owner = services.accounts.owner(args.name) if args.name else None
    listed = services.store.links.listing(owner)
    if args.json:
        for entry in listed:
            row = {"user": entry.owner_name, **link_json(entry, "/")}
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(
        f"{'ID':>6}  {'USER':<16} {'KIND':<5} {'STATE':<10} {'DOWNLOADS':>10} "
        f"{'LAST ACCESS (UTC)':<20} {'TOKEN':<22}  PATH"
    )
    for entry in listed:
        link = entry.link
        limit = f"/{link.max_downloads}" if link.max_downloads is not None else ""
        path = "/" + entry.path.text if entry.path is not None else "(in the trash)"
        if entry.path is None and not entry.trashed:
            path = "(deleted)"
        print(
            f"{link.id:>6}  {entry.owner_name:<16} {link.kind:<5} "
            f"{link.state():<10} {f'{link.downloads}{limit}':>10} "
            f"{_when(link.last_access_at):<20} {link.token:<22}  {path}"
        )
    return 0


def _create(
    args: argparse.Namespace,
    services: Services,
    parse_time: Callable[[str | None], float | None],
) -> int:
    owner = services.accounts.owner(args.name)
    settings: dict[str, Any] = {"label": args.label, "max_downloads": args.max_downloads}
    if args.password:
        settings["password"] = args.password
    if args.expires:
        settings["expires_at"] = parse_time(args.expires)
    link = services.store.links.create(owner, parse_user_path(args.path), args.kind, settings)
    print(f"link {link.id}: /s/{link.token}")
    return 0


def _policy(args: argparse.Namespace, services: Services) -> int:
    """Options not given keep their value; without any, the policy is shown."""
    links = services.store.links
    policy = links.policy()
    if (args.default_expiry_days, args.max_expiry_days, args.passwords) != (None, None, None):
        kinds = policy.password_kinds
        if args.passwords is not None:
            text = args.passwords.strip().lower()
            kinds = parse_kinds(
                "view,drop,edit" if text == "all" else "" if text == "none" else text
            )
        policy = LinkPolicy(
            _days_or(args.default_expiry_days, policy.default_expiry_days),
            _days_or(args.max_expiry_days, policy.max_expiry_days),
            kinds,
        )
        links.set_policy(policy, "cli")
    print(f"default expiry: {_days_text(policy.default_expiry_days)}")
    print(f"maximum expiry: {_days_text(policy.max_expiry_days)}")
    print(f"passwords required for: {kinds_text(policy.password_kinds) or 'none'}")
    return 0


def _days_or(text: str | None, current: int | None) -> int | None:
    return current if text is None else parse_days(text)


def _days_text(days: int | None) -> str:
    return "none" if days is None else f"{days} days"


def _change(args: argparse.Namespace, services: Services, action: str) -> int:
    links = services.store.links
    if action == "delete":
        links.delete(None, args.id)
        print(f"link {args.id} deleted")
    elif action == "regenerate":
        print(f"link {args.id}: /s/{links.regenerate(None, args.id).token}")
    else:
        links.update(None, args.id, {"disabled": action == "disable"})
        print(f"link {args.id} {action}d")
    return 0


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")
