"""The connection pool survives a database restart: at most one request fails, the next ones reconnect."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc, select, text

from tests.conftest import POSTGRES_ADMIN_URL


@pytest.mark.postgres_only("SQLite has no server connections to lose")
def test_lost_connections_are_replaced_after_one_error(db):
    for _ in range(3):  # fill the pool with connections that will be killed
        with db.reader() as uow:
            assert uow.session.execute(text("select 1")).scalar() == 1
    name = db.engine.url.database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        killed = admin.execute(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = %s", (name,)
        ).fetchone()[0]
    assert killed >= 1
    failures = 0
    for _ in range(3):
        try:
            with db.reader() as uow:
                assert uow.session.execute(text("select 2")).scalar() == 2
        except exc.DBAPIError as error:
            assert error.connection_invalidated, "a lost connection is recognised as such"
            failures += 1
    assert failures <= 1
    with db.uow() as uow:  # writers work again too
        assert uow.session.execute(text("select 3")).scalar() == 3


@pytest.mark.postgres_only("on SQLite readers share the writers' connections (one process, serialised writes)")
def test_a_reader_cannot_write(db):
    with db.reader() as uow, pytest.raises(exc.DBAPIError) as info:
        uow.session.execute(text("create table should_not_exist (a int)"))
    assert "read-only" in str(info.value)
    with db.reader() as uow:  # and the reader still works after the refusal
        assert uow.session.execute(text("select to_regclass('should_not_exist')")).scalar() is None


def test_a_thread_keeps_its_reader_yet_every_read_sees_the_latest_data(db, is_postgres):
    from core.booking.models import Hospital
    from tests.factories import build_world, today_local

    build_world(db, start=today_local(), days=1)
    with db.reader() as uow:
        first = uow.session.scalar(select(Hospital).where(Hospital.slug == "test"))
        assert first.name == "Bệnh viện Thử nghiệm"
        if is_postgres:  # a read inside a read gets its own session (on SQLite a reader holds the write lock)
            with db.reader() as inner:
                assert inner.session.scalar(select(Hospital.name)) == "Bệnh viện Thử nghiệm"
        assert uow.session.scalar(text("select 1")) == 1
    with db.uow() as uow:
        uow.session.execute(text("update hospitals set name = 'Bệnh viện Mới'"))
        uow.commit()
    with db.reader() as uow:
        again = uow.session.scalar(select(Hospital).where(Hospital.slug == "test"))
        assert again.name == "Bệnh viện Mới", "no object or snapshot survives from the previous read"
        assert again is not first
