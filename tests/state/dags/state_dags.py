"""DAGs of the stateful-sync tests, run with ``dag.test()`` through Airflow's real task runner.

The warehouse connection and the tables' prefix come from the environment the test sets before
the file is parsed (``STATE_TEST_SOURCE``, ``STATE_TEST_PREFIX``), so one file serves SQLite and
PostgreSQL.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
SOURCE = os.environ.get("STATE_TEST_SOURCE", "warehouse")
PREFIX = os.environ.get("STATE_TEST_PREFIX", "t")
USERS, STATE, DELETIONS = f"{PREFIX}_users", f"{PREFIX}_state", f"{PREFIX}_deletions"
SQL = f'SELECT identity, "Email", plan FROM {USERS}'
PARAMS = {
    "sync_mode": Param("changed", enum=["upsert", "changed", "mirror"]),
    "full_refresh": Param(False, type="boolean"),
}
UPLOAD = {
    "source_conn_id": SOURCE,
    "state_table": STATE,
    "sync_mode": "{{ params.sync_mode }}",
    "full_refresh": "{{ params.full_refresh }}",
    "batch_size": 10,
    "max_concurrency": 2,
    "max_failed_ratio": 1.0,
}

with DAG(dag_id="state_sync", schedule=None, start_date=START, catchup=False, params=PARAMS):
    CleverTapUserUploadOperator(task_id="upload", sql=SQL, **UPLOAD)

with DAG(dag_id="state_sync_dry_run", schedule=None, start_date=START, catchup=False, params=PARAMS):
    # The same sync as state_sync (same state), validating only.
    CleverTapUserUploadOperator(task_id="upload", sql=SQL, sync_id="state_sync.upload", dry_run=True, **UPLOAD)

with DAG(dag_id="state_delete", schedule=None, start_date=START, catchup=False):
    CleverTapUserDeleteOperator(
        task_id="delete", source_conn_id=SOURCE, sql=f"SELECT identity FROM {DELETIONS}", state_table=STATE
    )

with DAG(dag_id="state_partitioned", schedule=None, start_date=START, catchup=False, params=PARAMS):
    CleverTapUserUploadOperator.partial(task_id="upload", **UPLOAD).expand(
        sql=[f"{SQL} WHERE n % 2 = {partition}" for partition in range(2)]
    )
