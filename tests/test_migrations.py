"""Migrations build the schema on an empty database of both engines and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from henkham.schema import metadata


def test_migrated_schema_matches_the_models(db):
    # ``db`` was built by `alembic upgrade head` on an empty database (SQLite file / new PostgreSQL db).
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
        tables = set(inspect(conn).get_table_names())
    assert differences == [], f"models and migrations disagree: {differences}"
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_drift_is_detected(db):
    """The check above is not vacuous: a column the migrations lack shows up as a difference."""
    from sqlalchemy import Column, Integer, MetaData, Table

    extended = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(extended)
    Table("hospitals", extended, Column("not_migrated", Integer), extend_existing=True)
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), extended)
    assert any(d[0] == "add_column" and d[3].name == "not_migrated" for d in differences)
