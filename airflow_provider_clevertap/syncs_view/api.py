"""The syncs view's FastAPI app: its page, and the JSON the page reads, behind Airflow's auth manager.

The JSON endpoints authenticate as Airflow's own API does (a JWT in the Authorization header or
Airflow's session cookie; none: 401, invalid: 403), and show only DAGs the auth manager lets the user
read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, status
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from airflow_provider_clevertap.syncs_view.history import Run, Sync, list_syncs, sync_history

STATIC = Path(__file__).with_name("static")


def create_app() -> FastAPI:
    """The app Airflow's API server mounts under the plugin's URL prefix."""
    app = FastAPI(title="CleverTap syncs", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The page (no data in it: it reads the endpoints below with the user's session)."""
        return FileResponse(STATIC / "index.html")

    @app.get("/api/syncs")
    def syncs(user: GetUserDep, session: SessionDep) -> dict[str, Any]:
        """Every CleverTap sync of the DAGs the user may read, with its latest run."""
        dag_ids = get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
        return {"syncs": [sync.as_dict() for sync in list_syncs(session, dag_ids)]}

    @app.get("/api/syncs/{dag_id}/{task_id}")
    def sync(dag_id: str, task_id: str, user: GetUserDep, session: SessionDep, map_index: int = -1) -> dict[str, Any]:
        """One sync: its runs, newest first, and its latest failed rows."""
        readable = get_auth_manager().batch_is_authorized_dag(
            [
                {"method": "GET", "access_entity": entity, "details": DagDetails(id=dag_id)}
                for entity in (DagAccessEntity.TASK_INSTANCE, DagAccessEntity.XCOM)
            ],
            user=user,
        )
        if not readable:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
        found = sync_history(session, dag_id, task_id, map_index)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No CleverTap sync {dag_id}.{task_id}[{map_index}]")
        return {**found.as_dict(), "runs": [run.as_dict() for run in found.history], **failed_rows(found)}

    return app


def failed_rows(sync: Sync) -> dict[str, Any]:
    """The latest run's sample of failed rows that has any, and the query for all of that run's.

    :param sync: the sync, with its history.
    """
    run = next((run for run in sync.history if run.summary and run.summary.get("failed_sample")), None)
    if run is None or run.summary is None:
        return {"failed_rows": [], "failed_rows_run": None, "failed_rows_query": None}
    return {
        "failed_rows": run.summary["failed_sample"],
        "failed_rows_run": run.run_id,
        "failed_rows_query": failed_rows_query(sync, run),
    }


def failed_rows_query(sync: Sync, run: Run) -> str | None:
    """The SQL that reads every failed row of ``run`` from the sync's failed-rows table (None: it keeps none).

    :param sync: the sync.
    :param run: one of its runs.
    """
    if not sync.failed_rows_table:
        return None
    return (
        f"SELECT identity, code, error, recorded_at, try_number, attempt\n"
        f"FROM {sync.failed_rows_table}\n"
        f"WHERE dag_id = {_literal(sync.dag_id)} AND task_id = {_literal(sync.task_id)}\n"
        f"  AND run_id = {_literal(run.run_id)} AND map_index = {sync.map_index}\n"
        f"ORDER BY recorded_at"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
