"""Run Alembic migrations from the installed package (`coopwatch db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command


def script_location() -> Path:
    """The migrations: packaged into a wheel as worker/alembic_scripts (see pyproject), or the
    top-level alembic/ folder of a source checkout (editable install)."""
    packaged = Path(__file__).parent / "alembic_scripts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree."""
    command.check(alembic_config(database_url))
