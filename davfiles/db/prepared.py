"""Hot statements compiled once and run on the driver's cursor.

``Connection.execute`` spends about 60 µs of Python on each statement (execution context,
parameter processing, result wrapping), four times what SQLite takes to answer an indexed
read; a small PUT runs a dozen statements and a GET three, every one of them this kind. A
``Prepared`` compiles its Core statement once per dialect and runs the SQL on the DBAPI
cursor of the caller's connection, inside the caller's transaction, with SQLAlchemy's own
bind and result processors of each column's type. The engine's cursor events fire as for
any statement (the metrics and the tests' statement counts see it), and a driver's error is
raised as SQLAlchemy's exception for it, so callers catch what they caught before. The
drivers keep the prepared statement: sqlite3 in its statement cache, psycopg on the server
after a few runs. ``tests/unit/test_prepared.py`` checks that each hot statement answers
what ``Connection.execute`` answers, on SQLite and PostgreSQL.

Statements with expanding (``IN``) or literal-execute parameters are refused: their SQL
depends on the values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

Processor = Callable[[Any], Any]


@dataclass
class _Bind:
    """One parameter of the SQL: the caller's key, its default and its type's processor."""

    key: str
    default: Any
    process: Processor | None


class _Plan:
    """A statement compiled for one dialect: its SQL, how to build its parameters from the
    caller's mapping, and (learned from the first result) its columns' processors."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        binds: dict[str, _Bind] = {}
        for bind, sql_name in compiled.bind_names.items():
            if bind.expanding or bind.literal_execute:
                raise ValueError(f"not a fixed statement (parameter {bind.key!r}): {statement}")
            binds[sql_name] = _Bind(
                bind.key,
                bind.effective_value,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
            )
        self.sql = compiled.string
        positions = compiled.positiontup
        # qmark drivers (sqlite3) take a tuple in the SQL's order; pyformat ones (psycopg) a dict.
        self._order = [binds[name] for name in positions] if positions is not None else None
        self._named = list(binds.items())
        self._types = [column.type for column in getattr(statement, "exported_columns", ())]
        self._dialect = dialect
        self._processors: list[tuple[int, Processor]] | None = None

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if self._order is not None:
            return tuple(_value(bind, values) for bind in self._order)
        return {name: _value(bind, values) for name, bind in self._named}

    def processors(self, description: Any) -> list[tuple[int, Processor]]:
        """The result processors of the columns that have one (the driver's type codes in
        ``description`` choose some, as for PostgreSQL's numerics)."""
        if self._processors is None:
            found = []
            for index, (kind, column) in enumerate(zip(self._types, description, strict=False)):
                process = kind.dialect_impl(self._dialect).result_processor(
                    self._dialect, column[1]
                )
                if process is not None:
                    found.append((index, process))
            self._processors = found
        return self._processors


def _value(bind: _Bind, values: Mapping[str, Any]) -> Any:
    value = values[bind.key] if bind.key in values else bind.default
    return bind.process(value) if bind.process is not None else value


class Prepared:
    """A Core statement to run many times; see the module docstring."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._lock = threading.Lock()

    def _plan(self, dialect: Dialect) -> _Plan:
        # The SQL depends on the dialect and the server's version, not on the engine.
        key = (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info)
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.setdefault(key, _Plan(self.statement, dialect))
        return plan

    def all(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, as tuples in the statement's column order."""
        plan, cursor = self._run(connection, values)
        try:
            rows = cursor.fetchall()
            processors = plan.processors(cursor.description) if rows else []
        finally:
            cursor.close()
        if not processors:
            return rows  # type: ignore[no-any-return]
        return [_processed(row, processors) for row in rows]

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row or None; the rest are discarded."""
        plan, cursor = self._run(connection, values)
        try:
            row = cursor.fetchone()
            if row is None:
                return None
            processors = plan.processors(cursor.description)
        finally:
            cursor.close()
        return _processed(row, processors) if processors else row

    def scalar(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        row = self.first(connection, values)
        return row[0] if row is not None else None

    def run(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """A statement without rows; the number of rows it changed."""
        _plan, cursor = self._run(connection, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _run(self, connection: Connection, values: Mapping[str, Any]) -> tuple[_Plan, Any]:
        if not connection.in_transaction():
            # What ``execute`` would do first (the engine's "begin" events: BEGIN on SQLite).
            connection.begin()
        dialect = connection.dialect
        plan = self._plan(dialect)
        parameters = plan.parameters(values)
        dispatch = connection.dispatch
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, plan.sql, parameters, None, False)
        try:
            cursor.execute(plan.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            disconnected = dialect.is_disconnect(error, dbapi_connection, cursor)
            if disconnected:
                connection.invalidate(error)
            raise DBAPIError.instance(
                plan.sql,
                parameters,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected,
                dialect=dialect,
            ) from error
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, plan.sql, parameters, None, False)
        return plan, cursor


def _processed(row: Sequence[Any], processors: list[tuple[int, Processor]]) -> tuple[Any, ...]:
    values = list(row)
    for index, process in processors:
        values[index] = process(values[index])
    return tuple(values)
