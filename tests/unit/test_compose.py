"""docker-compose.yml describes the production topology (Docker is not available to run it)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return data


def test_services_are_the_production_topology(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "worker", "beat"}
    assert set(compose["volumes"]) == {"pgdata", "redisdata"}


def test_databases_have_health_checks_and_volumes(compose: dict[str, Any]) -> None:
    pg, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert pg["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert redis["volumes"] == ["redisdata:/data"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_migration_runs_once_before_workers_and_beat(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["coopwatch", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("worker", "beat"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"


def test_workers_scale_and_exactly_one_beat(compose: dict[str, Any]) -> None:
    worker, beat = compose["services"]["worker"], compose["services"]["beat"]
    assert worker["command"][:4] == ["celery", "-A", "worker.celery_app", "worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert beat["command"][:4] == ["celery", "-A", "worker.celery_app", "beat"]
    assert beat["deploy"]["replicas"] == 1


def test_services_point_at_postgres_and_redis(compose: dict[str, Any]) -> None:
    env = compose["services"]["worker"]["environment"]
    assert env["COOPWATCH_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["COOPWATCH_DATABASE_URL"]
    assert env["COOPWATCH_BROKER_URL"] == "redis://redis:6379/0"
    assert compose["services"]["migrate"]["environment"] == env


def test_the_image_installs_the_coopwatch_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert "pip install" in dockerfile
    assert "COPY alembic" in dockerfile
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert project["project"]["scripts"]["coopwatch"] == "worker.cli:app"
