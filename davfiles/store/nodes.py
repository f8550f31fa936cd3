"""Queries on file records (nodes); the store's other modules build on these."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Text, and_, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from davfiles.db.models import Node
from davfiles.store.models import FileInfo
from davfiles.store.paths import UserPath


def to_info(node: Node) -> FileInfo:
    parts = (
        (*node.parent.split("/"), node.name) if node.parent else ((node.name,) if node.name else ())
    )
    return FileInfo(
        id=node.id,
        owner_id=node.owner_id,
        path=UserPath(parts),
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
    )


def get(
    session: Session, owner_id: int, path: UserPath, *, for_update: bool = False
) -> Node | None:
    statement = select(Node).where(
        Node.owner_id == owner_id, Node.parent == path.parent.text, Node.name == path.name
    )
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


def children(session: Session, owner_id: int, path: UserPath) -> Sequence[Node]:
    return session.scalars(
        select(Node)
        .where(Node.owner_id == owner_id, Node.parent == path.text, Node.name != "")
        .order_by(Node.name)
    ).all()


def _below(path: UserPath):  # type: ignore[no-untyped-def]
    """SQL condition: the node's parent is ``path`` or lies below it."""
    prefix = path.text + "/"
    if path.is_root:
        return Node.name != ""
    return or_(Node.parent == path.text, func.substr(Node.parent, 1, len(prefix)) == prefix)


def descendants(session: Session, owner_id: int, path: UserPath) -> Sequence[Node]:
    """Every node below ``path`` (not ``path`` itself), parents before children."""
    return session.scalars(
        select(Node)
        .where(Node.owner_id == owner_id, _below(path))
        .order_by(func.length(Node.parent), Node.parent, Node.name)
    ).all()


def tree_usage(session: Session, owner_id: int, node: Node) -> tuple[int, int]:
    """Bytes and file count of ``node`` and everything below it."""
    if not node.is_dir:
        return node.size, 1
    path = to_info(node).path
    total, count = session.execute(
        select(func.coalesce(func.sum(Node.size), 0), func.count(Node.id)).where(
            Node.owner_id == owner_id, _below(path), Node.is_dir.is_(False)
        )
    ).one()
    return int(total), int(count)


def delete_tree(session: Session, owner_id: int, node: Node) -> None:
    if node.is_dir:
        session.execute(delete(Node).where(Node.owner_id == owner_id, _below(to_info(node).path)))
    session.delete(node)
    session.flush()


def rename_tree(session: Session, owner_id: int, node: Node, target: UserPath) -> None:
    """Give ``node`` the path ``target``; for a folder, rewrite its descendants' parents."""
    old = to_info(node).path
    if node.is_dir:
        cut = len(old.text) + 1
        session.execute(
            update(Node)
            .where(Node.owner_id == owner_id, _below(old))
            .values(parent=literal(target.text, Text).concat(func.substr(Node.parent, cut)))
            .execution_options(synchronize_session=False)
        )
    node.parent = target.parent.text
    node.name = target.name
    node.original_name = None
    session.flush()


def by_id(session: Session, owner_id: int, node_id: int) -> Node | None:
    return session.scalars(
        select(Node).where(and_(Node.id == node_id, Node.owner_id == owner_id, Node.name != ""))
    ).one_or_none()
