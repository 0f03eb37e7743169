"""Many rows into one table in the session's transaction: COPY on PostgreSQL, executemany elsewhere (the
importer's visits and their children, the master patient index's new persons, identifiers and matches)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session


@functools.cache
def _copy_statement(table: Table, columns: tuple[str, ...]) -> Any:
    from psycopg import sql

    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )


@functools.cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (every row with the same keys, every column given) in the session's transaction: COPY on
    PostgreSQL (a multi-row INSERT costs the driver more than the server's work), executemany elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    from psycopg.types.json import Json

    columns = tuple(rows[0])
    json_columns = _json_columns(table)
    wrap = [c in json_columns for c in columns]
    raw = connection.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(_copy_statement(table, columns)) as copy:
        for row in rows:
            values = [row[c] for c in columns]
            for i, is_json in enumerate(wrap):
                if is_json and values[i] is not None:
                    values[i] = Json(values[i])
            copy.write_row(values)
