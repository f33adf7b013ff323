"""DAGs the reliability suite runs with ``dag.test()``, so tasks go through Airflow's real task
runner: its SIGTERM handler, its execution timeout, its task logger and its XCom push.

They read the ``warehouse`` SQLite connection's ``users`` table and write to ``clevertap_default``
(both set by the tests). Each task uses the operator's own hook, with default retry settings.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(dag_id="reliability_upload", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator(
        task_id="upload_profiles",
        source_conn_id="warehouse",
        sql="SELECT * FROM users ORDER BY identity",
        batch_size=100,
        max_concurrency=4,
        max_failed_ratio=1.0,
    )

with DAG(dag_id="reliability_upload_timeout", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator(
        task_id="upload_profiles",
        source_conn_id="warehouse",
        sql="SELECT * FROM users ORDER BY identity",
        batch_size=100,
        max_concurrency=4,
        execution_timeout=dt.timedelta(seconds=1),
    )

# Templated fields render through Airflow (and are stored as the task's rendered fields).
with DAG(dag_id="reliability_upload_templated", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator(
        task_id="upload_profiles",
        source_conn_id="warehouse",
        sql="SELECT * FROM users WHERE '{{ ds }}' <> '' ORDER BY identity",
        parameters={"run": "{{ run_id }}"},
        batch_size=100,
        max_concurrency=4,
        max_failed_ratio=1.0,
        failed_rows_table="clevertap_failed_{{ ds_nodash }}",
    )

# The default threshold: any invalid or refused row fails the task (after every row was sent).
with DAG(dag_id="reliability_upload_strict", schedule=None, start_date=START, catchup=False):
    CleverTapUserUploadOperator(
        task_id="upload_profiles",
        source_conn_id="warehouse",
        sql="SELECT * FROM users ORDER BY identity",
        batch_size=100,
        max_concurrency=4,
    )
