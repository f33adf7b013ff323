"""Test-session set-up shared by every test: an isolated AIRFLOW_HOME, set before Airflow loads."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="clevertap-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# The secrets a deployment's airflow.cfg holds: connections are encrypted with a Fernet key, and
# the execution API (which dag.test() starts in process before Airflow 3.3) signs with a JWT
# secret. Airflow's unit-test mode would set both, but changes other behaviour too.
os.environ["AIRFLOW__CORE__FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "example_dags")

import json  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

POSTGRES_URI = os.environ.get("CLEVERTAP_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")
PASSCODE = "test-passcode-5eCr3t"


def _postgres_required() -> bool:
    # CI must run the PostgreSQL tests, never skip them.
    return bool(os.environ.get("CI")) or bool(os.environ.get("CLEVERTAP_REQUIRE_POSTGRES"))


@pytest.fixture(scope="session")
def postgres_uri() -> str:
    """The PostgreSQL test server's URI; fails in CI and skips on a laptop when it is unreachable."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URI, connect_timeout=5).close()
    except psycopg.Error as error:
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_URI} ({error.__class__.__name__}). "
            "Start it, or point CLEVERTAP_TEST_POSTGRES_URI at one, to run these tests."
        )
        if _postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URI


@pytest.fixture
def postgres_connection_json(postgres_uri):
    """Builds ``AIRFLOW_CONN_...`` JSON for the PostgreSQL test database, with an optional extra."""
    from demo.warehouse import postgres_connection

    return lambda extra=None: postgres_connection(postgres_uri, extra)


@pytest.fixture
def postgres_warehouse(postgres_uri, monkeypatch):
    """An Airflow connection ``warehouse_pg`` to the PostgreSQL test database, and a unique table prefix."""
    from demo.warehouse import postgres_connection

    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PG", postgres_connection(postgres_uri))
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_warehouse(tmp_path, monkeypatch):
    """An Airflow connection ``warehouse`` to a fresh SQLite file; returns the file's path."""
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


@pytest.fixture
def clevertap_connection(monkeypatch):
    """``clevertap_default`` pointing at the default (eu1) region, for requests-mock tests."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_CLEVERTAP_DEFAULT",
        json.dumps({"conn_type": "clevertap", "login": "TEST-ACCOUNT", "password": PASSCODE}),
    )
    return "https://api.clevertap.com"


@pytest.fixture(scope="session")
def airflow_db():
    """One Airflow metadata database (SQLite) for the whole test session, and ``dag.test()`` working on it."""
    from airflow.utils import db

    from demo.airflow_cli import wait_for_in_process_api_startup

    db.resetdb()
    wait_for_in_process_api_startup()


@pytest.fixture
def task_logs(caplog):
    """``caplog`` at DEBUG that also receives Airflow's task and hook logs, raw (before Airflow masks).

    Airflow 3 operators and hooks log through structlog, which bypasses the standard library;
    for the test structlog is pointed at it, with no masking processor, so a leak cannot hide
    behind ``***``.
    """
    import logging

    import airflow.sdk  # noqa: F401  (Airflow configures structlog on import: let it go first)
    import structlog

    saved = structlog.get_config()
    structlog.configure(
        processors=[structlog.stdlib.PositionalArgumentsFormatter(), structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "airflow", "airflow.task", "airflow_provider_clevertap"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        yield caplog
    finally:
        structlog.configure(**saved)


@pytest.fixture
def dag_runner(airflow_db, monkeypatch):
    """Run DAGs of a test folder with ``dag.test()``: ``dag_runner(dag_file)`` returns
    ``run(dag_id, **kwargs) -> DagRun``.

    The file's folder is added as a second DAG bundle (``dag.test()`` only runs DAGs it can find
    in a bundle), next to the default one.
    """
    import datetime as dt

    def runner(dag_file):
        folder = str(Path(dag_file).parent)
        monkeypatch.setenv(
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
            json.dumps(
                [
                    {
                        "name": "dags-folder",
                        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                        "kwargs": {},
                    },
                    {
                        "name": "test-dags",
                        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                        "kwargs": {"path": folder},
                    },
                ]
            ),
        )

        def run(dag_id, **kwargs):
            from _airflow_compat import load_dag

            dag = load_dag(Path(dag_file), dag_id)
            kwargs.setdefault("logical_date", dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc))
            return dag.test(**kwargs)

        return run

    return runner
