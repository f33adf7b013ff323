"""
Daily deletion of the CleverTap profiles staged in ``staged_deletions``.

Deletes by identity the customers whose deletion was requested in the run's data interval
(for example right-to-erasure requests). CleverTap deletes within 48 hours; a later upload of
the same identity creates the profile again, so stage deletions after the last upload.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow before 3.2 has it only in airflow.timetables
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator

MAX_CONCURRENCY = 3

with DAG(
    dag_id="clevertap_user_delete",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["clevertap"],
    doc_md=__doc__,
):
    CleverTapUserDeleteOperator(
        task_id="delete_profiles",
        clevertap_conn_id="clevertap_default",
        source_conn_id="warehouse",
        sql="""
            SELECT customer_id FROM staged_deletions
            WHERE requested_at >= '{{ data_interval_start.strftime("%Y-%m-%d %H:%M:%S") }}'
              AND requested_at < '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
        """,
        identity_column="customer_id",
        id_type="identity",
        max_concurrency=MAX_CONCURRENCY,
        pool="clevertap",
        pool_slots=MAX_CONCURRENCY,
    )
