"""`make demo`: the daily sync DAG, end to end, on this machine, with no CleverTap account.

Builds a SQLite warehouse of staged customers, starts the CleverTap emulator, runs
``clevertap_user_sync`` with ``airflow dags test`` against a local SQLite metadata database and
prints the task's summary line and counts, each explained, a stored profile and the failed
rows. Then it edits a few staged rows,
fixes a refused one, and runs the sync again the next day: the sync's state (a table in the
warehouse) makes it send only what changed. Then ``clevertap_event_sync`` sends the day's orders as
``Charged`` events, twice: the second run sends nothing, every order id being accepted already;
it prints the events one customer received. Stops the emulator at the end, and says what to try next.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from airflow_provider_clevertap.emulator import CleverTapEmulator
from demo.orders import customer_of, in_interval, stage_orders
from demo.warehouse import build_warehouse, expected_outcome

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


# structlog's tail of a task log line: the logger's name and the code location.
_LOGGER_TAIL = re.compile(r"\s+\[[\w.]+\]\s+loc=\S+$")


def main() -> None:
    WORK.mkdir(exist_ok=True)
    (WORK / "clevertap.db").unlink(missing_ok=True)  # the emulator would load the last run's profiles
    warehouse = build_warehouse(WORK / "warehouse.db", CUSTOMERS, INTERVAL_START)
    stage_orders(warehouse, ORDERS, CUSTOMERS, INTERVAL_START)
    expected = expected_outcome(CUSTOMERS)
    print(f"Staged {CUSTOMERS} customers and {ORDERS} orders in {warehouse}")
    print(
        f"  Among the customers, {expected['rows_refused']} have a value CleverTap refuses (an invalid email, "
        f"a phone without its country code, an unknown gender) and {expected['rows_invalid']} have no identity."
    )

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
        metadata_db = WORK / "airflow" / "airflow.db"

        print(f"\n1. The first sync: airflow dags test clevertap_user_sync {LOGICAL_DATE.date()}")
        run_dag(env, "clevertap_user_sync", LOGICAL_DATE)
        first = summary_of(metadata_db, "clevertap_user_sync", "upload_profiles")
        explain(
            first,
            read="every staged customer: a `changed` sync reads the whole table",
            accepted="stored by CleverTap (its answer says so), and recorded in the sync's state",
            refused="CleverTap's answer refused them, each with a code: 515 email, 516 phone, 514 gender",
            invalid="not sent: no identity",
            unchanged="the sync's state was empty: every row was new",
        )
        report(warehouse, emulator)

        print(f"\n2. A day later: {len(EDITED)} staged rows edited and the refused email of {FIXED} fixed.")
        print(f"   airflow dags test clevertap_user_sync {(LOGICAL_DATE + dt.timedelta(days=1)).date()}")
        edit_warehouse(warehouse, LOGICAL_DATE)
        run_dag(env, "clevertap_user_sync", LOGICAL_DATE + dt.timedelta(days=1))
        second = summary_of(metadata_db, "clevertap_user_sync", "upload_profiles")
        explain(
            second,
            read="the whole table again",
            accepted=f"the {len(EDITED)} edited rows and {FIXED}: the only rows sent, with the ones below",
            refused="refused the day before and sent again (CleverTap holds none of them); still wrong",
            invalid="still no identity",
            unchanged="CleverTap already holds exactly these records: not sent",
        )
        with sqlite3.connect(warehouse) as db:
            (held,) = db.execute("SELECT COUNT(*) FROM clevertap_sync_state").fetchone()
        print(f"  The sync's state (table clevertap_sync_state) holds {held} profiles CleverTap accepted.")
        run_events(env, emulator, metadata_db)
    print(
        "\nNext: `make airflow` runs these DAGs in a local Airflow UI with the emulator (Ctrl-C stops it);"
        "\nthen the README's first DAG (clevertap_first_sync) on your own warehouse and CleverTap account."
    )


def run_events(env: dict[str, str], emulator: CleverTapEmulator, metadata_db: Path) -> None:
    """The day's orders as Charged events, twice: the second run finds every order id accepted."""
    in_day = sum(in_interval(key) for key in range(1, ORDERS + 1))
    for number, (attempt, accepted, unchanged) in enumerate(
        (
            ("first", "sent as Charged events and stored", "no order id was accepted before"),
            ("second", "none sent: CleverTap accepted every order id already", "every order id accepted before"),
        ),
        start=3,
    ):
        print(
            f"\n{number}. The event sync, {attempt} time: airflow dags test clevertap_event_sync {LOGICAL_DATE.date()}"
        )
        run_dag(env, "clevertap_event_sync", LOGICAL_DATE)
        explain(
            summary_of(metadata_db, "clevertap_event_sync", "upload_orders"),
            read=f"the orders of the data interval, {INTERVAL_START.date()}: {in_day} of the {ORDERS} staged "
            f"(the other {ORDERS - in_day} were placed the day before)",
            accepted=accepted,
            refused="none",
            invalid="none",
            unchanged=unchanged,
        )
    customer = customer_of(1, CUSTOMERS)
    events = emulator.events(customer).get(customer, [])
    print(f"\nThe events {customer} received ({len(events)}):")
    for event in events:
        print(
            textwrap.fill(
                json.dumps(event, ensure_ascii=False), width=100, initial_indent="  ", subsequent_indent="    "
            )
        )


def run_dag(env: dict[str, str], dag_id: str, logical_date: dt.datetime) -> None:
    """``airflow dags test``, then the task's summary line from its log, whole."""
    run = airflow(env, "dags", "test", dag_id, logical_date.date().isoformat())
    for line in (run.stdout + run.stderr).splitlines():
        if (message := summary_line(line)) is not None:
            print(textwrap.fill(message, width=100, initial_indent="  log: ", subsequent_indent="       "))


def summary_line(line: str) -> str | None:
    """The message of a task log's summary line, whole, without its time and logger; None for other lines."""
    if not re.search(r"CleverTap (event )?upload( \(dry run\))? (finished|stopped)", line):
        return None
    return _LOGGER_TAIL.sub("", line[line.index("CleverTap") :])


def explain(summary: dict[str, Any], **meanings: str) -> None:
    """The summary's counts, each with what it means here."""
    print("  The task's summary (its return value), explained:")
    for key in ("read", "accepted", "refused", "invalid", "unchanged"):
        field = "rows_refused" if key == "refused" else f"rows_{key}"
        print(f"    {summary.get(field, 0):>5} {key:<10} {meanings[key]}")
    print(
        f"    {summary.get('batches', 0):>5} batches    of up to 1000 records each; HTTP requests: "
        f"{summary.get('requests', 0)}, retries: {summary.get('retries', 0)}; {summary.get('seconds', 0):.1f} s"
    )


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


def summary_of(metadata_db: Path, dag_id: str, task_id: str) -> dict[str, Any]:
    """The latest summary the task returned (its XCom)."""
    with sqlite3.connect(metadata_db) as db:
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value' "
            "ORDER BY timestamp DESC LIMIT 1",
            (dag_id, task_id),
        ).fetchone()
    summary = json.loads(row[0]) if row else {}
    return json.loads(summary) if isinstance(summary, str) else summary


def report(warehouse: Path, emulator: CleverTapEmulator) -> None:
    profiles = emulator.profiles
    first = sorted(profiles)[0]
    print(f"\n  The emulator stores {len(profiles)} profiles; the first of them:")
    print(textwrap.indent(json.dumps(profiles[first], ensure_ascii=False, indent=2), "    "))

    with sqlite3.connect(warehouse) as db:
        problems = db.execute(
            "SELECT identity, code, error FROM clevertap_failed_rows ORDER BY code IS NULL, identity"
        ).fetchall()
    print(f"\n  Failed rows ({len(problems)}), from the warehouse table clevertap_failed_rows:")
    for identity, code, error in problems:
        kind = "invalid" if code is None else f"refused {code}"
        print(f"  {identity or '(no identity)':>14}  {kind:<12} {error}")


if __name__ == "__main__":
    main()
