"""Alembic environment: the database URL comes from coopwatch's settings (or the caller)."""

from __future__ import annotations

from sqlalchemy import text

from alembic import context
from models import Base
from worker import store
from worker.settings import load_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = store.make_engine(_url())
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Never wait forever behind a running worker's lock; fail and say so.
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text("SET statement_timeout = '300s'"))
            connection.commit()  # end the implicit transaction; the settings stay for the session
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
