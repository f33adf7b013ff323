"""The syncs the view's endpoint tests run: rows from the run's conf, against the emulator."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
ROWS = "{{ dag_run.conf['rows'] | tojson }}"

with DAG(dag_id="syncs_view_profiles", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator(
        task_id="upload",
        rows=ROWS,
        source_conn_id="warehouse",
        failed_rows_table="clevertap_failed_rows",
        max_failed_ratio=0.5,
    )

with DAG(dag_id="syncs_view_partitions", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator.partial(task_id="upload_partition").expand(
        rows=[
            [{"identity": "part-0-a", "Name": "A"}],
            [{"identity": "part-1-a", "Name": "A"}, {"identity": "part-1-b", "Name": "B"}],
        ]
    )

with DAG(dag_id="syncs_view_dry", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator(task_id="upload", rows=ROWS, dry_run=True)

with DAG(dag_id="syncs_view_failing", schedule=None, start_date=START, catchup=False):
    # Any failed row fails the task (max_failed_ratio 0.0).
    CleverTapUserUploadOperator(task_id="upload", rows=ROWS)

with DAG(dag_id="syncs_view_broken", schedule=None, start_date=START, catchup=False):
    # No such connection: the task fails before it reads a row, without a summary.
    CleverTapUserUploadOperator(task_id="upload", rows=ROWS, clevertap_conn_id="no_such_connection")

with DAG(dag_id="syncs_view_never_run", schedule=None, start_date=START, catchup=False):
    CleverTapUserDeleteOperator(task_id="delete", rows=ROWS)
