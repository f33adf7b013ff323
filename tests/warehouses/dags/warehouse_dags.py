"""The DAG of the warehouse matrix's real run: the connection, the tables' prefix and the quoted
``Email`` column come from the environment the test sets before the file is parsed."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

SOURCE = os.environ.get("WAREHOUSE_TEST_SOURCE", "wh_matrix")
PREFIX = os.environ.get("WAREHOUSE_TEST_PREFIX", "t")
EMAIL = os.environ.get("WAREHOUSE_TEST_EMAIL", '"Email"')

with DAG(dag_id="warehouse_sync", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    CleverTapUserUploadOperator(
        task_id="upload",
        source_conn_id=SOURCE,
        sql=f"SELECT identity, {EMAIL}, plan FROM {PREFIX}_users",
        state_table=f"{PREFIX}_state",
        sync_mode="changed",
        batch_size=5,
        max_concurrency=2,
    )
