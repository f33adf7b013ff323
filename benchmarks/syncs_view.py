"""``python -m benchmarks.syncs_view``: the syncs view's response times over a large history.

A metadata database of its own (SQLite, or PostgreSQL with ``--postgres``) gets SYNCS DAGs of one
CleverTap task each, parsed and serialized by ``airflow dags reserialize``, and RUNS runs spread
over them: DAG runs, task instances, summary XComs and rendered fields, one run in 20 failed
without a summary. Then Airflow's API app (the plugin mounted through its entry point) answers
the syncs list and one sync's page as a signed-in admin, each ROUNDS times; the figures printed
are the median and the slowest.

    python -m benchmarks.syncs_view                  # 10,000 runs across 50 syncs, SQLite
    python -m benchmarks.syncs_view --postgres       # the same on PostgreSQL (CLEVERTAP_BENCH_POSTGRES_URI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POSTGRES_URI = os.environ.get("CLEVERTAP_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres")
DAG_FILE = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

for number in range({syncs}):
    with DAG(dag_id=f"bench_sync_{{number:02d}}", schedule="@hourly", start_date=pendulum.datetime(2026, 1, 1)):
        CleverTapUserUploadOperator(
            task_id="upload_profiles", source_conn_id="warehouse", sql="SELECT 1",
            failed_rows_table="clevertap_failed_rows",
        )
"""
OPERATOR = "CleverTapUserUploadOperator"


@contextmanager
def _metadata_database(postgres: bool, home: Path) -> Iterator[str]:
    """The SQLAlchemy URI of an empty metadata database, dropped at the end when on PostgreSQL."""
    if not postgres:
        yield f"sqlite:///{home / 'airflow.db'}"
        return
    import psycopg

    name = f"bench_syncs_view_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URI, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://{POSTGRES_URI.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URI, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _summary(number: int) -> dict[str, Any]:
    refused = number % 7
    return {
        "rows_read": 10_000,
        "rows_invalid": number % 3,
        "rows_accepted": 2_000 - refused,
        "rows_refused": refused,
        "rows_failed": number % 3 + refused,
        "rows_unchanged": 8_000 - number % 3,
        "profiles_deleted": 0,
        "rows_maybe_duplicated": 0,
        "batches": 2,
        "requests": 2,
        "retries": 0,
        "dry_run": False,
        "seconds": 12.5,
        "failed_sample": [
            {"identity": f"cust-{number}-{n}", "code": 515, "error": "Profile data is incorrect. Email is not valid"}
            for n in range(refused)
        ],
    }


def seed(dag_ids: list[str], runs: int) -> None:
    """RUNS runs spread over the DAGs, written as the scheduler and the task runner write them."""
    from airflow.models.dagrun import DagRun
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert, select

    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    per_dag = runs // len(dag_ids)
    with create_session() as session:
        for dag_id in dag_ids:
            times = [start + dt.timedelta(hours=hour) for hour in range(per_dag)]
            run_ids = [f"scheduled__{moment.isoformat()}" for moment in times]
            session.execute(
                insert(DagRun.__table__),
                [
                    {"dag_id": dag_id, "run_id": run_id, "run_type": "scheduled", "state": "success",
                     "run_after": moment, "logical_date": moment, "start_date": moment,
                     "end_date": moment + dt.timedelta(seconds=13)}
                    for run_id, moment in zip(run_ids, times, strict=True)
                ],
            )  # fmt: skip
            ids = dict(session.execute(select(DagRun.run_id, DagRun.id).where(DagRun.dag_id == dag_id)).all())
            failed = {number for number in range(per_dag) if number % 20 == 19}
            session.execute(
                insert(TaskInstance.__table__),
                [
                    {"id": uuid.uuid4(), "dag_id": dag_id, "task_id": "upload_profiles", "run_id": run_id,
                     "map_index": -1, "pool": "default_pool", "try_number": 1, "operator": OPERATOR,
                     "state": "failed" if number in failed else "success", "start_date": moment,
                     "end_date": moment + dt.timedelta(seconds=12.5), "duration": 12.5}
                    for number, (run_id, moment) in enumerate(zip(run_ids, times, strict=True))
                ],
            )  # fmt: skip
            session.execute(
                insert(XComModel.__table__),
                [
                    {"dag_run_id": ids[run_id], "task_id": "upload_profiles", "map_index": -1, "key": "return_value",
                     "dag_id": dag_id, "run_id": run_id, "value": _summary(number), "timestamp": moment}
                    for number, (run_id, moment) in enumerate(zip(run_ids, times, strict=True))
                    if number not in failed
                ],
            )  # fmt: skip
            session.execute(
                insert(RenderedTaskInstanceFields.__table__),
                [
                    {"dag_id": dag_id, "task_id": "upload_profiles", "run_id": run_id, "map_index": -1,
                     "rendered_fields": {"sql": "SELECT 1", "failed_rows_table": "clevertap_failed_rows"}}
                    for run_id in run_ids[-30:]  # Airflow keeps the latest 30 a task
                ],
            )  # fmt: skip


def _timed(client: Any, path: str, headers: dict[str, str], rounds: int) -> tuple[float, float, int]:
    """The median and slowest of ``rounds`` requests (after one warm-up), and the answer's size."""
    warm_up = client.get(path, headers=headers)
    assert warm_up.status_code == 200, warm_up.text
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return statistics.median(seconds), max(seconds), len(warm_up.content)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.syncs_view", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="a PostgreSQL metadata database")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the metadata database")
    parser.add_argument("--syncs", type=int, default=50, help="syncs (DAGs of one CleverTap task)")
    parser.add_argument("--rounds", type=int, default=10, help="requests timed per endpoint")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bench-syncs-view-"))
    (home / "dags").mkdir()
    (home / "dags" / "bench_syncs.py").write_text(DAG_FILE.format(syncs=args.syncs))
    with _metadata_database(args.postgres, home) as uri:
        os.environ.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": uri,
                "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex * 2,
            }
        )
        for command in (["db", "migrate"], ["dags", "reserialize"]):
            subprocess.run([sys.executable, "-m", "airflow", *command], check=True, capture_output=True)
        dag_ids = [f"bench_sync_{number:02d}" for number in range(args.syncs)]
        started = time.perf_counter()
        seed(dag_ids, args.runs)
        print(f"seeded {args.runs:,} runs across {args.syncs} syncs in {time.perf_counter() - started:.1f} s")
        _measure(dag_ids, args)


def _measure(dag_ids: list[str], args: argparse.Namespace) -> None:
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    database = "PostgreSQL" if args.postgres else "SQLite"
    with TestClient(create_app(apps="core")) as client:
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="ADMIN"))
        headers = {"Authorization": f"Bearer {token}"}
        listed = client.get("/clevertap/api/syncs", headers=headers).json()["syncs"]
        assert len(listed) == args.syncs, f"{len(listed)} syncs listed, {args.syncs} expected"
        for name, path in (
            ("syncs list", "/clevertap/api/syncs"),
            ("one sync's page", f"/clevertap/api/syncs/{dag_ids[0]}/upload_profiles"),
        ):
            median, slowest, size = _timed(client, path, headers, args.rounds)
            print(
                f"{database}, {args.runs:,} runs across {args.syncs} syncs: {name}: median {median * 1000:.0f} ms, "
                f"slowest {slowest * 1000:.0f} ms of {args.rounds}, {size / 1024:.0f} KiB"
            )


if __name__ == "__main__":
    main()
