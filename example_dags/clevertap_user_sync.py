"""
Daily sync of staged customer rows into CleverTap user profiles.

A ``changed`` sync over the whole ``staged_customers`` table: the sync's state (the table
``clevertap_sync_state`` in the warehouse) says what CleverTap already holds, so each run sends
only new and changed rows and those CleverTap refused before. Triggered with
``{"full_refresh": true}`` it sends every row and rebuilds the state. Columns are renamed to
CleverTap's reserved profile fields. Rows CleverTap refuses, or that cannot be sent, land in
``clevertap_failed_rows``.
Runs in the ``clevertap`` pool (15 slots: CleverTap's concurrent requests per account); the task
takes as many slots as requests it keeps in flight.

- **Scheduled and manual runs do the same**: the query needs no data interval (a manual run, the
  Trigger button or ``airflow dags trigger clevertap_user_sync``, has none), each run sends what
  changed since CleverTap last confirmed it.
- **To re-sync past days**, ``airflow backfill create --dag-id clevertap_user_sync --from-date
  2026-11-23 --to-date 2026-11-23`` runs the sync for each day, each sending what CleverTap does not
  hold yet; to send every row again whatever the state says, trigger with ``{"full_refresh": true}``.
  Not ``airflow dags trigger --logical-date 2026-11-23``: the CLI plans the run's interval from the
  moment it is triggered, and a daily timetable's manual run for a logical date covers the last
  whole day before it (11-22 00:00 to 11-23 00:00).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, Param

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow before 3.2 has it only in airflow.timetables
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

MAX_CONCURRENCY = 10

with DAG(
    dag_id="clevertap_user_sync",
    # Daily at midnight UTC; the state, not the data interval, finds what changed.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "full_refresh": Param(
            False, type="boolean", description="Send every staged row, not only changed ones, and rebuild the state"
        ),
    },
    tags=["clevertap"],
    doc_md=__doc__,
):
    # --8<-- [start:operator]
    CleverTapUserUploadOperator(
        task_id="upload_profiles",
        clevertap_conn_id="clevertap_default",
        source_conn_id="warehouse",
        sql="sql/staged_customers.sql",
        sync_mode="changed",
        full_refresh="{{ params.full_refresh }}",
        identity_column="customer_id",
        ts_column="updated_at",
        property_columns={
            "full_name": "Name",
            "email": "Email",
            "phone": "Phone",
            "gender": "Gender",
            "plan": "Plan",
            "lifetime_value": "Lifetime Value",
            "orders": "Orders",
            "is_active": "Active",
            "signup_at": "Signup Date",
        },
        timestamp_format="clevertap_date",
        max_concurrency=MAX_CONCURRENCY,
        max_failed_ratio=0.01,
        failed_rows_table="clevertap_failed_rows",
        pool="clevertap",
        pool_slots=MAX_CONCURRENCY,
        # DAGs scheduled on this Asset (clevertap_audience_refresh) run after each successful sync.
        outlets=[Asset("clevertap_default_profiles")],
    )
    # --8<-- [end:operator]
