"""Airflow 3.1.7's async metadata engine (`.venv-airflow`: SQLAlchemy and asyncpg as pip resolves them) accepts the
URL the platform templates into `[database] sql_alchemy_conn_async`, and rejects the one it would derive itself."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.plans import plan
from tests.pipelines.test_airflow_runtime import async_connection

from .services import consumer_python, free_port

pytestmark = pytest.mark.integration

SCRIPT = """
import asyncio
from airflow import settings
from sqlalchemy.ext.asyncio import create_async_engine
async def main():
    async with create_async_engine(settings.SQL_ALCHEMY_CONN_ASYNC).connect():
        pass
try:
    asyncio.run(main())
except Exception as e:
    print(type(e).__name__, e)
"""


def _first_async_connect(sync: str, async_url: str | None) -> str:
    """The error of the first async connect to a closed port: a connection error means the URL was accepted."""
    def fill(url: str) -> str:
        return (url.replace("{{ .username | urlquery }}", "airflow").replace("{{ .password | urlquery }}", "pw")
                .replace(url.split("@")[1].split("/")[0], f"127.0.0.1:{free_port()}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = fill(sync)
    if async_url is not None:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = fill(async_url)
    proc = subprocess.run([str(consumer_python("airflow")), "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_the_templated_async_url_reaches_the_connect_and_the_derived_one_does_not() -> None:
    sync, async_url = async_connection(plan("variant-pipelines"))
    assert "sslmode" in _first_async_connect(sync, None)  # derived: TypeError on connect(sslmode=...)
    ours = _first_async_connect(sync, async_url)
    assert ours.startswith(("ConnectionRefusedError", "OSError")), ours
