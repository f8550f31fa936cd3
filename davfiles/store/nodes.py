"""Queries on file records (nodes); the store's other modules build on these."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from davfiles.db.models import PAGE_SIZE_KEY, Node, User
from davfiles.db.prepared import Prepared
from davfiles.numbers import whole_number
from davfiles.store.models import FileInfo
from davfiles.store.paths import UserPath

_NODES: Any = Node.__table__

# Hot reads are built once and run on the driver's cursor (``Prepared``): building a
# statement and loading ORM objects cost more CPU than SQLite spends answering the query.
_AT_QUERY = select(_NODES).where(
    _NODES.c.owner_id == bindparam("owner_id"),
    _NODES.c.parent == bindparam("parent"),
    _NODES.c.name == bindparam("name"),
)
_AT = Prepared(_AT_QUERY)
_AT_FOR_UPDATE = Prepared(_AT_QUERY.with_for_update())
_CHILDREN = Prepared(
    select(_NODES)
    .where(
        _NODES.c.owner_id == bindparam("owner_id"),
        _NODES.c.parent == bindparam("parent"),
        _NODES.c.name != "",
    )
    .order_by(_NODES.c.name)
)


def info_at(
    connection: Connection, owner_id: int, path: UserPath, *, for_update: bool = False
) -> FileInfo | None:
    """The record at ``path``, read without the ORM (and locked, ``for_update``, on PostgreSQL)."""
    row = (_AT_FOR_UPDATE if for_update else _AT).first(
        connection, {"owner_id": owner_id, "parent": path.parent.text, "name": path.name}
    )
    return _row_info(row) if row is not None else None


def infos_in(connection: Connection, owner_id: int, path: UserPath) -> list[FileInfo]:
    """The records of a folder's members, by name, read without the ORM."""
    rows = _CHILDREN.all(connection, {"owner_id": owner_id, "parent": path.text})
    # Fetched at once and with the folder's path built once: a listing may hold 10,000 rows.
    parent, name = path.parts, _POSITIONS["name"]
    return [_row_info(row, UserPath((*parent, row[name]))) for row in rows]


# Positions of FileInfo's fields in a row of ``select(_NODES)``; unpacking a row by position
# costs a fraction of reading it by attribute name, which shows in a 10,000-entry listing.
_POSITIONS = {column.name: index for index, column in enumerate(_NODES.columns)}


def _row_info(row: Sequence[Any], path: UserPath | None = None) -> FileInfo:
    """The FileInfo of a row; ``path`` where the caller knows it already."""
    at = _POSITIONS
    return FileInfo(
        id=row[at["id"]],
        owner_id=row[at["owner_id"]],
        path=path if path is not None else _path(row[at["parent"]], row[at["name"]]),
        is_dir=row[at["is_dir"]],
        size=row[at["size"]],
        content_type=row[at["content_type"]],
        md5=row[at["md5"]],
        sha1=row[at["sha1"]],
        created_at=row[at["created_at"]],
        modified_at=row[at["modified_at"]],
        description=row[at["description"]],
        public=row[at["public"]],
        original_name=row[at["original_name"]],
        tree_size=row[at["tree_size"]],
        tree_version=row[at["tree_version"]],
    )


def _path(parent: str, name: str) -> UserPath:
    """The UserPath of a record from its stored parent text and name."""
    return UserPath((*parent.split("/"), name) if parent else ((name,) if name else ()))


# What a folder's record gives as its type.
FOLDER_TYPE = "httpd/unix-directory"
_FILE_COLUMNS = [column.name for column in _NODES.columns if column.name != "id"]
_INSERT = Prepared(
    insert(_NODES).values({name: bindparam(name) for name in _FILE_COLUMNS}).returning(_NODES.c.id)
)


def insert_file(session: Session, info: FileInfo) -> FileInfo:
    """Add the record of a new file described by ``info`` (its ``id`` is ignored); the record
    as stored, with its new id. A plain INSERT: the ORM's object and flush cost five times it
    on every small upload."""
    return _insert(session, dataclasses.replace(info, is_dir=False, public=False))


def insert_folder(session: Session, owner_id: int, path: UserPath, now: float) -> FileInfo:
    """Add the record of a new, empty folder at ``path``, as ``insert_file`` adds a file's."""
    return _insert(
        session,
        FileInfo(
            id=0,
            owner_id=owner_id,
            path=path,
            is_dir=True,
            size=0,
            content_type=FOLDER_TYPE,
            md5=None,
            sha1=None,
            created_at=now,
            modified_at=now,
            description=None,
            public=False,
        ),
    )


def _insert(session: Session, info: FileInfo) -> FileInfo:
    values = {
        "owner_id": info.owner_id,
        "parent": info.path.parent.text,
        "name": info.path.name,
        "is_dir": info.is_dir,
        "size": info.size,
        "content_type": info.content_type,
        "md5": info.md5,
        "sha1": info.sha1,
        "created_at": info.created_at,
        "modified_at": info.modified_at,
        "description": info.description,
        "original_name": info.original_name,
        "public": info.public,
        "tree_size": 0,
        "tree_version": 0,
    }
    new_id = _INSERT.scalar(session.connection(), values)
    return dataclasses.replace(info, id=new_id, tree_size=0, tree_version=0)


def new_folder(owner_id: int, path: UserPath, now: float) -> Node:
    """The record of a new, empty folder at ``path``."""
    return Node(
        owner_id=owner_id,
        parent=path.parent.text,
        name=path.name,
        is_dir=True,
        size=0,
        content_type=FOLDER_TYPE,
        created_at=now,
        modified_at=now,
    )


def path_of(parent: str, name: str) -> UserPath:
    """The UserPath a record with this stored parent text and name has (or had, in the trash)."""
    return _path(parent, name)


def to_info(node: Node) -> FileInfo:
    return FileInfo(
        id=node.id,
        owner_id=node.owner_id,
        path=_path(node.parent, node.name),
        is_dir=node.is_dir,
        size=node.size,
        content_type=node.content_type,
        md5=node.md5,
        sha1=node.sha1,
        created_at=node.created_at,
        modified_at=node.modified_at,
        description=node.description,
        public=node.public,
        original_name=node.original_name,
        tree_size=node.tree_size or 0,
        tree_version=node.tree_version or 0,
    )


_GET = select(Node).where(
    Node.owner_id == bindparam("owner_id"),
    Node.parent == bindparam("parent"),
    Node.name == bindparam("name"),
)
_GET_FOR_UPDATE = _GET.with_for_update()


def get(
    session: Session, owner_id: int, path: UserPath, *, for_update: bool = False
) -> Node | None:
    return session.scalars(
        _GET_FOR_UPDATE if for_update else _GET,
        {"owner_id": owner_id, "parent": path.parent.text, "name": path.name},
    ).one_or_none()


class _AtOrBelow(ColumnElement[bool]):
    """``column`` (a parent path) is ``folder`` or starts with ``prefix`` (``folder`` and a
    slash, of ``length`` characters; "" for the home). SQLite orders text by its bytes, so there
    the index on (owner, parent) answers it as one range from ``folder`` to ``end`` (the first
    text after every such one) with the exact test on what the range holds: the ``substr`` test
    alone read all of the owner's records for every folder DELETE and MOVE. Elsewhere the exact
    test alone, right under any collation."""

    type = Boolean()
    inherit_cache = True
    # A condition already: SQLAlchemy must not add "= 1" to it on SQLite.
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("folder", InternalTraversal.dp_clauseelement),
        ("prefix", InternalTraversal.dp_clauseelement),
        ("end", InternalTraversal.dp_clauseelement),
        ("length", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, folder: Any, prefix: Any, end: Any, length: Any) -> None:
        self.column, self.folder, self.prefix = column, folder, prefix
        self.end, self.length = end, length

    def exact(self) -> ColumnElement[bool]:
        return or_(
            self.column == self.folder,
            func.substr(self.column, 1, self.length) == self.prefix,
        )


@compiles(_AtOrBelow, "sqlite")
def _at_or_below_in_a_range(element: _AtOrBelow, compiler: Any, **kw: Any) -> str:
    column = element.column
    condition = and_(column >= element.folder, column < element.end, element.exact())
    return f"({compiler.process(condition, **kw)})"


@compiles(_AtOrBelow)
def _at_or_below_exactly(element: _AtOrBelow, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.exact(), **kw)})"


def _folder_bounds(folder: str) -> dict[str, Any]:
    """The parameters of ``_AtOrBelow`` for ``folder`` ("" is the home). "0" is the character
    after "/"; nothing comes after "", but on SQLite a BLOB sorts after all text."""
    prefix = folder + "/" if folder else ""
    end: str | bytes = folder + "0" if folder else b"\xff"
    return {"below": folder, "below_prefix": prefix, "below_end": end, "below_len": len(prefix)}


# "The node lies below the folder :below": its parent is that folder or starts with its text
# and a slash. Below the home (text "") every node but the home's own record lies. Built once
# with the statements using it: building them per call cost four times what SQLite spends on
# them. (An UPDATE reserves its columns' names for parameters.)
_BELOW = and_(
    Node.name != "",
    _AtOrBelow(
        Node.parent,
        bindparam("below", type_=Text),
        bindparam("below_prefix", type_=Text),
        bindparam("below_end"),
        bindparam("below_len"),
    ),
)
_IN_HOME = Node.owner_id == bindparam("in_home")
_DESCENDANTS = (
    select(Node).where(_IN_HOME, _BELOW).order_by(func.length(Node.parent), Node.parent, Node.name)
)
_PATHS_BELOW = select(Node.parent, Node.name).where(_IN_HOME, _BELOW)
_TREE_USAGE = select(func.coalesce(func.sum(Node.size), 0), func.count(Node.id)).where(
    _IN_HOME, _BELOW, Node.is_dir.is_(False)
)
_DELETE_BELOW = delete(Node).where(_IN_HOME, _BELOW)
_RENAME_BELOW = (
    update(Node)
    .where(_IN_HOME, _BELOW)
    .values(
        parent=bindparam("new_text", type_=Text).concat(func.substr(Node.parent, bindparam("cut")))
    )
    .execution_options(synchronize_session=False)
)


def _below(owner_id: int, path: UserPath) -> dict[str, Any]:
    """The parameters of ``_BELOW`` (and the owner) for the nodes below ``path``."""
    return {"in_home": owner_id, **_folder_bounds(path.text)}


def descendants(session: Session, owner_id: int, path: UserPath) -> Sequence[Node]:
    """Every node below ``path`` (not ``path`` itself), parents before children."""
    return session.scalars(_DESCENDANTS, _below(owner_id, path)).all()


def paths_below(session: Session, owner_id: int, path: UserPath) -> Iterator[str]:
    """The ``a/b/c`` text of every node below ``path``, without loading records."""
    rows = session.execute(_PATHS_BELOW, _below(owner_id, path))
    for parent, name in rows:
        yield f"{parent}/{name}" if parent else name


def tree_usage(session: Session, owner_id: int, node: Node) -> tuple[int, int]:
    """Bytes and file count of ``node`` and everything below it."""
    if not node.is_dir:
        return node.size, 1
    total, count = session.execute(_TREE_USAGE, _below(owner_id, to_info(node).path)).one()
    return int(total), int(count)


def in_tree(owner_id: int, node: Node) -> ColumnElement[bool]:
    """SQL condition: the record is ``node`` or lies below it (trash takes whole trees)."""
    if not node.is_dir:
        return Node.id == node.id
    bounds = _folder_bounds(to_info(node).path.text)
    below = _AtOrBelow(
        Node.parent,
        bindparam(None, bounds["below"], type_=Text),
        bindparam(None, bounds["below_prefix"], type_=Text),
        bindparam(None, bounds["below_end"]),
        bindparam(None, bounds["below_len"]),
    )
    return or_(Node.id == node.id, and_(Node.owner_id == owner_id, below))


def delete_tree(session: Session, owner_id: int, node: Node) -> None:
    if node.is_dir:
        session.execute(_DELETE_BELOW, _below(owner_id, to_info(node).path))
    session.delete(node)
    session.flush()


def rename_tree(session: Session, owner_id: int, node: Node, target: UserPath) -> None:
    """Give ``node`` the path ``target``; for a folder, rewrite its descendants' parents."""
    old = to_info(node).path
    if node.is_dir:
        params = {**_below(owner_id, old), "new_text": target.text, "cut": len(old.text) + 1}
        session.execute(_RENAME_BELOW, params)
    node.parent = target.parent.text
    node.name = target.name
    node.original_name = None
    session.flush()


# Record ids are INTEGER primary keys, 32-bit on PostgreSQL: a larger one names no record (and
# would make the driver raise instead of comparing).
MAX_ID = 2**31 - 1


def is_storable_id(node_id: int) -> bool:
    return 0 <= node_id <= MAX_ID


def parse_id(text: str) -> int | None:
    """A record id written in ``text`` (a form field, a path part), or None if it names none."""
    number = whole_number(text)
    return number if number is not None and is_storable_id(number) else None


def by_id(session: Session, owner_id: int, node_id: int) -> Node | None:
    if not is_storable_id(node_id):
        return None
    return session.scalars(
        select(Node).where(and_(Node.id == node_id, Node.owner_id == owner_id, Node.name != ""))
    ).one_or_none()


@functools.cache
def _touch(depth: int) -> Prepared:
    """The UPDATE of a chain of ``depth + 1`` folders, built once per depth.

    The keys are known from the path alone, so the whole chain is one UPDATE at any depth;
    an OR of full keys lets SQLite and PostgreSQL look each folder up in the unique index
    (a row-value IN list made SQLite scan the user's records).
    """
    keys = [
        and_(
            _NODES.c.owner_id == bindparam("owner"),
            _NODES.c.parent == bindparam(f"p{level}"),
            _NODES.c.name == bindparam(f"n{level}"),
        )
        for level in range(depth + 1)
    ]
    return Prepared(
        update(_NODES)
        .where(or_(*keys))
        .values(
            tree_size=_NODES.c.tree_size + bindparam("delta", type_=BigInteger),
            tree_version=_NODES.c.tree_version + 1,
        )
    )


def touch_ancestors(session: Session, owner_id: int, folder: UserPath, delta: int = 0) -> None:
    """Record a change inside ``folder``: it and every folder above it get a new version
    (hence a new ETag), and ``delta`` bytes more (or fewer) below them. Flush first."""
    parts = folder.parts
    parameters: dict[str, object] = {"owner": owner_id, "delta": delta, "p0": "", "n0": ""}
    for level in range(1, len(parts) + 1):
        parameters[f"p{level}"] = "/".join(parts[: level - 1])
        parameters[f"n{level}"] = parts[level - 1]
    # On the session's connection: the ORM's handling of an UPDATE cost three times the
    # statement, and every caller has flushed its own changes already.
    _touch(len(parts)).run(session.connection(), parameters)


_LOCK_OWNER = select(User.id).where(User.id == bindparam("owner_id")).with_for_update()


def lock_owner(session: Session, owner_id: int) -> None:
    """Queue the tree writes of one user on PostgreSQL before they lock any record.

    Every write updates the records of its ancestors, the home's included; taking this lock
    first keeps two writes from locking a folder and an ancestor in opposite orders. SQLite's
    write transaction is exclusive already, so there it costs no statement.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.execute(_LOCK_OWNER, {"owner_id": owner_id})


# The orders a folder page can be read in: the sort key of each (with the name, unique in a
# folder, it orders every member exactly). A folder's "size" is the bytes below it.
PAGE_ORDERS = ("name", "size", "modified")
_PAGE_KEYS: dict[str, Any] = {
    "name": _NODES.c.name,
    "size": PAGE_SIZE_KEY,
    "modified": _NODES.c.modified_at,
}


def page_in(
    connection: Connection,
    owner_id: int,
    path: UserPath,
    order: str,
    descending: bool,
    after: tuple[Any, str] | None,
    limit: int,
) -> list[FileInfo]:
    """Up to ``limit`` members of a folder in ``order``, those after the member whose sort key
    and name are ``after`` (keyset pagination): reading page 500 costs what page 1 does, where
    an OFFSET would read and drop every row before it. An index on (owner, parent, key, name)
    hands out the rows in order and stops at ``limit``: the unique one by name, and
    ``ix_nodes_page_modified`` and ``ix_nodes_page_size``. The position is written as
    ``key >= k AND (key > k OR name > n)``, which seeks to ``k`` in those indexes (a row value
    comparison does not, on SQLite, for the size expression)."""
    key = _PAGE_KEYS[order]
    name = _NODES.c.name
    query = select(_NODES).where(
        _NODES.c.owner_id == owner_id, _NODES.c.parent == path.text, name != ""
    )
    if after is not None:
        after_key, after_name = after
        if order == "name":
            query = query.where(name < after_name if descending else name > after_name)
        elif descending:
            query = query.where(key <= after_key, or_(key < after_key, name < after_name))
        else:
            query = query.where(key >= after_key, or_(key > after_key, name > after_name))
    keys = (key,) if order == "name" else (key, name)
    query = query.order_by(*(k.desc() if descending else k for k in keys)).limit(limit)
    rows = connection.execute(query).all()
    parent, at_name = path.parts, _POSITIONS["name"]
    return [_row_info(row, UserPath((*parent, row[at_name]))) for row in rows]


def page_key(info: FileInfo, order: str) -> Any:
    """The sort key of ``info`` in ``order``, as ``page_in`` compares it."""
    if order == "size":
        return info.tree_size if info.is_dir else info.size
    if order == "modified":
        return info.modified_at
    return info.name


def search_below(
    connection: Connection, owner_id: int, path: UserPath, text: str, limit: int
) -> list[FileInfo]:
    """Up to ``limit`` records below ``path`` whose name contains ``text`` in any case,
    by folder then name."""
    query = (
        select(_NODES)
        .where(
            _NODES.c.owner_id == bindparam("in_home"),
            _BELOW,
            func.lower(_NODES.c.name).contains(text.lower(), autoescape=True),
        )
        .order_by(_NODES.c.parent, _NODES.c.name)
        .limit(limit)
    )
    rows = connection.execute(query, _below(owner_id, path)).all()
    return [_row_info(row) for row in rows]
