"""Real runs of the test DAGs (``dag.test()`` against the emulator) in the session's metadata
database, and Airflow's whole API app (the plugin mounted through its entry point) to read them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_clevertap.emulator import CleverTapEmulator

DAGS = Path(__file__).with_name("dags") / "syncs_view_dags.py"
GOOD = [{"identity": f"good-{n}", "Name": f"Customer {n}"} for n in range(3)]
BAD_EMAIL = {"identity": "bad-email", "Email": "not-an-email"}
NO_IDENTITY = {"identity": None, "Name": "Nobody"}


@pytest.fixture(scope="module")
def view_runs(airflow_db, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Each test DAG run once or twice; the DagRuns by name."""
    from _airflow_compat import load_dag, write_dags_to_db

    bundles = [
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {
            "name": "syncs-view-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS.parent)},
        },
    ]
    warehouse = tmp_path_factory.mktemp("syncs-view") / "warehouse.db"
    with CleverTapEmulator() as emulator, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
        patch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
        patch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)}))
        write_dags_to_db()  # syncs_view_never_run is only parsed, never run

        def run(dag_id: str, day: int, rows: list[dict[str, Any]] | None = None) -> Any:
            logical_date = dt.datetime(2026, 3, day, tzinfo=dt.timezone.utc)
            return load_dag(DAGS, dag_id).test(logical_date=logical_date, run_conf={"rows": rows or []})

        yield {
            "profiles_first": run("syncs_view_profiles", 1, GOOD),
            "profiles_second": run("syncs_view_profiles", 2, [*GOOD[:2], BAD_EMAIL, NO_IDENTITY]),
            "partitions": run("syncs_view_partitions", 1),
            "dry": run("syncs_view_dry", 1, GOOD[:2]),
            "failing": run("syncs_view_failing", 1, [GOOD[0], BAD_EMAIL]),
            "broken": run("syncs_view_broken", 1, GOOD),
            "warehouse": [warehouse],
        }


@pytest.fixture(scope="module")
def airflow_api(view_runs) -> Iterator[Any]:
    """A client of Airflow's API app, with an auth manager that has per-DAG permissions."""
    from airflow.api_fastapi import app as api_app
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "syncs_view._auth.OneDagAuthManager")
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "syncs-view-test-secret-" + "0" * 48)
        api_app.purge_cached_app()
        try:
            with TestClient(api_app.create_app(apps="core")) as client:
                yield client
        finally:
            api_app.purge_cached_app()


def token_of(username: str) -> dict[str, str]:
    """The Authorization header of a user of the simple auth manager who may read (role VIEWER)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role="VIEWER"))
    return {"Authorization": f"Bearer {token}"}
