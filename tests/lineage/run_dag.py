"""Run one DAG with ``dag.test()`` in a fresh interpreter and print what Airflow recorded, as JSON.

A fresh interpreter, as ``airflow dags test`` has: the OpenLineage listener reads its settings
once per process, and a run without the OpenLineage provider needs a path without it.
Usage: ``python run_dag.py DAG_FILE DAG_ID LOGICAL_DATE``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the compatibility module


def main(dag_file: str, dag_id: str, logical_date: str) -> None:
    from _airflow_compat import load_dag, write_dags_to_db
    from airflow.models import DagModel
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from demo.airflow_cli import wait_for_in_process_api_startup

    # dag.test() runs the task through the in-process execution API: fixed for 3.1 and 3.2 as the
    # demo's `airflow dags test` and the in-process tests have it.
    wait_for_in_process_api_startup()
    write_dags_to_db()
    # Every DAG switched on, as a user switches on those scheduled on the Asset (`airflow dags
    # unpause`): a paused one gets no queued run.
    with create_session() as session:
        session.query(DagModel).update({DagModel.is_paused: False})
    dag = load_dag(Path(dag_file), dag_id)
    run = dag.test(logical_date=dt.datetime.fromisoformat(logical_date))
    with create_session() as session:
        xcoms = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run.run_id, key="return_value").all()
        events = session.query(AssetEvent).filter_by(source_dag_id=dag_id, source_run_id=run.run_id).all()
        queued = session.query(AssetModel.uri, AssetDagRunQueue.target_dag_id).join(
            AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id
        )
        outcome = {
            "state": str(run.state),
            "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)},
            "summaries": {xcom.task_id: XComModel.deserialize_value(xcom) for xcom in xcoms},
            "asset_events": [{"uri": event.asset.uri, "extra": event.extra} for event in events],
            "queued_dag_runs": [{"uri": uri, "dag_id": target} for uri, target in queued],
            "lineage_without_provider": {
                task.task_id: [task.get_openlineage_facets_on_start(), task.get_openlineage_facets_on_complete(None)]
                for task in dag.tasks
                if importlib.util.find_spec("openlineage") is None and hasattr(task, "get_openlineage_facets_on_start")
            },
        }
    # One write, on a line of its own: other threads (the OpenLineage listener's) log to stdout too.
    sys.stdout.write("\nOUTCOME " + json.dumps(outcome, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(*sys.argv[1:])
