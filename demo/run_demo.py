"""`make demo`: the daily sync DAG, end to end, on this machine, with no CleverTap account.

Builds a SQLite warehouse of staged customers, starts the CleverTap emulator, runs
``clevertap_user_sync`` with ``airflow dags test`` against a local SQLite metadata database and
prints the summary, a few stored profiles and the refused rows. Then it edits a few staged rows,
fixes a refused one, and runs the sync again the next day: the sync's state (a table in the
warehouse) makes it send only what changed. Then ``clevertap_event_sync`` sends the day's orders as
``Charged`` events, twice: the second run sends nothing, every order id being accepted already;
it prints the events one customer received. Stops the emulator at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from airflow_provider_clevertap.emulator import CleverTapEmulator
from demo.orders import customer_of, stage_orders
from demo.warehouse import build_warehouse

ROOT = Path(__file__).resolve().parents[1]
# CLEVERTAP_DEMO_DIR: `make matrix` gives each Airflow version its own, since a metadata database
# migrated by a newer Airflow cannot be migrated back by an older one.
WORK = Path(os.environ.get("CLEVERTAP_DEMO_DIR") or ROOT / ".demo").resolve()
CUSTOMERS = 3000
LOGICAL_DATE = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
INTERVAL_START = LOGICAL_DATE - dt.timedelta(days=1)
EDITED = ("cust-0000002", "cust-0000003", "cust-0000005")
FIXED = "cust-0000017"  # staged with an email CleverTap refuses
ORDERS = 500


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo.airflow_cli", *args], env=env, check=True, text=True, capture_output=True
    )


def main() -> None:
    WORK.mkdir(exist_ok=True)
    (WORK / "clevertap.db").unlink(missing_ok=True)  # the emulator would load the last run's profiles
    warehouse = build_warehouse(WORK / "warehouse.db", CUSTOMERS, INTERVAL_START)
    stage_orders(warehouse, ORDERS, CUSTOMERS, INTERVAL_START)
    print(f"Staged {CUSTOMERS} customers and {ORDERS} orders in {warehouse}")

    with CleverTapEmulator(
        account_id="DEMO-ACCOUNT", passcode="demo-passcode", db_path=WORK / "clevertap.db"
    ) as emulator:
        print(f"CleverTap emulator running at {emulator.url}")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(WORK / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{WORK / 'airflow' / 'airflow.db'}",
            "AIRFLOW_CONN_CLEVERTAP_DEFAULT": emulator.connection_json(),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
        }
        print("Preparing the Airflow metadata database (first run takes a while)...")
        airflow(env, "db", "migrate")
        airflow(env, "pools", "set", "clevertap", "15", "CleverTap: concurrent requests per account")
        run_sync(env, LOGICAL_DATE)
        report(WORK / "airflow" / "airflow.db", warehouse, emulator)

        print(f"\nEditing {len(EDITED)} staged rows and fixing the refused email of {FIXED}, then running again:")
        edit_warehouse(warehouse, LOGICAL_DATE)
        run_sync(env, LOGICAL_DATE + dt.timedelta(days=1))
        print_summary(WORK / "airflow" / "airflow.db")
        with sqlite3.connect(warehouse) as db:
            (held,) = db.execute("SELECT COUNT(*) FROM clevertap_sync_state").fetchone()
        print(f"  The sync's state (table clevertap_sync_state) holds {held} profiles CleverTap accepted.")
        run_events(env, emulator)


def run_events(env: dict[str, str], emulator: CleverTapEmulator) -> None:
    """The day's orders as Charged events, twice: the second run finds every order id accepted."""
    for attempt in ("first", "second"):
        print(f"\nRunning ({attempt} time): airflow dags test clevertap_event_sync {LOGICAL_DATE.date()}")
        run = airflow(env, "dags", "test", "clevertap_event_sync", LOGICAL_DATE.date().isoformat())
        for line in (run.stdout + run.stderr).splitlines():
            if "CleverTap event upload finished" in line:
                print("  log:", line.strip()[:300])
    customer = customer_of(1, CUSTOMERS)
    events = emulator.events(customer).get(customer, [])
    print(f"\nThe events {customer} received ({len(events)}):")
    for event in events:
        print(f"  {json.dumps(event, ensure_ascii=False)}")


def run_sync(env: dict[str, str], logical_date: dt.datetime) -> None:
    print(f"Running: airflow dags test clevertap_user_sync {logical_date.date()}")
    run = airflow(env, "dags", "test", "clevertap_user_sync", logical_date.date().isoformat())
    for line in (run.stdout + run.stderr).splitlines():
        if "CleverTap upload" in line:
            print("  log:", line.strip()[:300])


def edit_warehouse(warehouse: Path, now: dt.datetime) -> None:
    """A day's changes: a few customers upgrade their plan, one fixes the email CleverTap refused."""
    updated = now.strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(warehouse) as db:
        db.executemany(
            "UPDATE staged_customers SET plan = 'enterprise', updated_at = ? WHERE customer_id = ?",
            [(updated, identity) for identity in EDITED],
        )
        db.execute(
            "UPDATE staged_customers SET email = 'fixed.email@example.com', updated_at = ? WHERE customer_id = ?",
            (updated, FIXED),
        )


def print_summary(metadata_db: Path) -> None:
    with sqlite3.connect(metadata_db) as db:
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = 'clevertap_user_sync' AND task_id = 'upload_profiles' "
            "AND key = 'return_value' ORDER BY timestamp DESC LIMIT 1"
        ).fetchone()
    summary = json.loads(row[0]) if row else {}
    if isinstance(summary, str):
        summary = json.loads(summary)
    print("\nSummary (the task's return value):")
    keys = (
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "rows_invalid",
        "rows_unchanged",
        "batches",
        "requests",
        "seconds",
    )
    for key in keys:
        print(f"  {key:>14}: {summary.get(key)}")


def report(metadata_db: Path, warehouse: Path, emulator: CleverTapEmulator) -> None:
    print_summary(metadata_db)

    profiles = emulator.profiles
    print(f"\nThe emulator stores {len(profiles)} profiles; a few of them:")
    for identity in sorted(profiles)[:3]:
        print(f"  {identity}: {json.dumps(profiles[identity], ensure_ascii=False)[:240]}")

    with sqlite3.connect(warehouse) as db:
        problems = db.execute(
            "SELECT identity, code, error FROM clevertap_rejected_rows ORDER BY code IS NULL, identity"
        ).fetchall()
    print(f"\nRows that did not make it ({len(problems)}), from the warehouse table clevertap_rejected_rows:")
    for identity, code, error in problems:
        kind = "invalid" if code is None else f"refused {code}"
        print(f"  {identity or '(no identity)':>14}  {kind:<12} {error}")


if __name__ == "__main__":
    main()
