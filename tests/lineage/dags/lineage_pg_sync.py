"""DAGs of the lineage tests: PostgreSQL staging tables (named by LINEAGE_TABLE_PREFIX) into CleverTap."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.lineage import clevertap_asset
from airflow_provider_clevertap.operators import (
    CleverTapEventUploadOperator,
    CleverTapUserDeleteOperator,
    CleverTapUserUploadOperator,
)

PREFIX = os.environ.get("LINEAGE_TABLE_PREFIX", "lineage")
ACCOUNT = os.environ.get("CLEVERTAP_ACCOUNT_ID", "LINEAGE-ACCOUNT")
PROFILES = clevertap_asset(ACCOUNT)
START = pendulum.datetime(2026, 1, 1, tz="UTC")

for dag_id, max_failed_ratio in (("lineage_pg_sync", 0.5), ("lineage_pg_sync_failing", 0.0)):
    with DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False):
        upload = CleverTapUserUploadOperator(
            task_id="upload_profiles",
            source_conn_id="warehouse_pg",
            sql=f"SELECT customer_id, email, plan FROM {PREFIX}_customers ORDER BY customer_id",
            identity_column="customer_id",
            property_columns={"email": "Email", "plan": "Plan"},
            failed_rows_table=f"{PREFIX}_failed",
            max_failed_ratio=max_failed_ratio,
            outlets=[PROFILES],
        )
        delete = CleverTapUserDeleteOperator(
            task_id="delete_profiles",
            source_conn_id="warehouse_pg",
            sql=f"SELECT customer_id FROM {PREFIX}_erasures",
            identity_column="customer_id",
        )
        upload >> delete

with DAG(dag_id="lineage_pg_events", schedule=None, start_date=START, catchup=False):
    CleverTapEventUploadOperator(
        task_id="upload_events",
        source_conn_id="warehouse_pg",
        sql=f"SELECT order_id, customer_id, amount, ordered_at FROM {PREFIX}_orders",
        identity_column="customer_id",
        event_name="Order Placed",
        ts_column="ordered_at",
        event_id_column="order_id",
        property_columns={"order_id": "Order", "amount": "Amount"},
        state_table=f"{PREFIX}_state",
        max_failed_ratio=0.5,
        outlets=[clevertap_asset(ACCOUNT, "events")],
    )
