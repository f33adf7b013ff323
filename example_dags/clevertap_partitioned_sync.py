"""
Full sync of a table too big for one worker, split into partitions by dynamic task mapping.

Each mapped task uploads the rows whose ``customer_key`` falls in its partition
(``customer_key % PARTITIONS``; in a warehouse without such a key, hash the identity, e.g.
``MOD(ABS(HASH(customer_id)), 8)`` on Snowflake or ``abs(hashtext(customer_id)) % 8`` on
PostgreSQL). The partitions run on as many workers as the executor offers (Celery, Kubernetes)
while the ``clevertap`` pool keeps their requests together within CleverTap's 15 per account.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

# --8<-- [start:dag]
PARTITIONS = 4
MAX_CONCURRENCY_PER_PARTITION = 3

# Aliases name the CleverTap properties; every selected column but the identity and ts is sent.
PARTITION_SQL = """
    SELECT customer_id, full_name AS "Name", email AS "Email", phone AS "Phone", gender AS "Gender",
           plan AS "Plan", lifetime_value AS "Lifetime Value", orders AS "Orders",
           is_active AS "Active", signup_at AS "Signup Date", updated_at
    FROM staged_customers
    WHERE customer_key % {partitions} = {partition}
"""

with DAG(
    dag_id="clevertap_partitioned_sync",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["clevertap"],
    doc_md=__doc__,
):
    CleverTapUserUploadOperator.partial(
        task_id="upload_partition",
        clevertap_conn_id="clevertap_default",
        source_conn_id="warehouse",
        identity_column="customer_id",
        ts_column="updated_at",
        timestamp_format="clevertap_date",
        max_concurrency=MAX_CONCURRENCY_PER_PARTITION,
        max_failed_ratio=0.01,
        pool="clevertap",
        pool_slots=MAX_CONCURRENCY_PER_PARTITION,
    ).expand(sql=[PARTITION_SQL.format(partitions=PARTITIONS, partition=p) for p in range(PARTITIONS)])
# --8<-- [end:dag]
