"""The CleverTap syncs' runs, read from Airflow's metadata database: their task instances, their
summary XComs, their rendered fields and, for tasks that never ran, the serialized DAGs.

A sync is one CleverTap task of a DAG, and one partition (map index) of a mapped task. Nothing here
reads the warehouse or adds a table.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow.models.dagrun import DagRun
from airflow.models.renderedtifields import RenderedTaskInstanceFields as RenderedFields
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from airflow_provider_clevertap.operators import (
    CleverTapEventUploadOperator,
    CleverTapUserDeleteOperator,
    CleverTapUserUploadOperator,
)
from airflow_provider_clevertap.operators.outcome import XCOM_RETURN_KEY
from airflow_provider_clevertap.syncs_view.serialized import declared_tasks

# What each CleverTap operator syncs, by the class name Airflow records as the task's operator.
KINDS: dict[str, str] = {
    CleverTapUserUploadOperator.__name__: "profiles",
    CleverTapEventUploadOperator.__name__: "events",
    CleverTapUserDeleteOperator.__name__: "deletes",
}
# A sync's page charts and lists its latest runs, at most this many.
RUNS_SHOWN = 500
_RENDERED = ("sync_mode", "failed_rows_table")


@dataclass
class Run:
    """One task instance of a sync, and its summary when it left one."""

    run_id: str
    run_type: str | None
    run_after: str | None
    state: str | None
    try_number: int | None
    start_date: str | None
    end_date: str | None
    duration: float | None
    summary: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


@dataclass
class Sync:
    """One CleverTap task (one partition of a mapped task) and what its runs left."""

    dag_id: str
    task_id: str
    map_index: int  # -1: not mapped, or a mapped task that never ran (``mapped`` tells them apart)
    kind: str
    runs_count: int = 0
    mode: str | None = None
    failed_rows_table: str | None = None
    latest: Run | None = None
    mapped: bool = False
    history: list[Run] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        fields = {key: value for key, value in self.__dict__.items() if key not in ("latest", "history")}
        return {**fields, "latest": self.latest and self.latest.as_dict()}


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def _summary(value: Any) -> dict[str, Any] | None:
    """The summary an XCom row holds, decoded as Airflow's own XCom API decodes it."""
    if value is None:
        return None
    decoded = XComModel.deserialize_value(_Stored(value))
    while isinstance(decoded, str):  # stored as a JSON string by some paths
        try:
            decoded = json.loads(decoded)
        except ValueError:
            return None
    return decoded if isinstance(decoded, dict) else None


@dataclass
class _Stored:
    value: Any


def _is_clevertap() -> Any:
    names = list(KINDS)
    return or_(TaskInstance.operator.in_(names), TaskInstance.custom_operator_name.in_(names))


def _kind(operator: str | None, custom_name: str | None) -> str:
    return KINDS.get(custom_name or "", KINDS.get(operator or "", "unknown"))


def _runs_select(*extra: Any) -> Any:
    """Task instances of CleverTap tasks with their DAG run and summary XCom."""
    return (
        select(
            TaskInstance.dag_id,
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.operator,
            TaskInstance.custom_operator_name,
            TaskInstance.run_id,
            DagRun.run_type,
            DagRun.run_after,
            TaskInstance.state,
            TaskInstance.try_number,
            TaskInstance.start_date,
            TaskInstance.end_date,
            TaskInstance.duration,
            XComModel.value,
            *extra,
        )
        .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
        .outerjoin(
            XComModel,
            and_(
                XComModel.dag_run_id == DagRun.id,
                XComModel.task_id == TaskInstance.task_id,
                XComModel.map_index == TaskInstance.map_index,
                XComModel.key == XCOM_RETURN_KEY,
            ),
        )
        .where(_is_clevertap())
    )


def _run(row: Any) -> Run:
    return Run(
        run_id=row.run_id,
        run_type=None if row.run_type is None else str(row.run_type),
        run_after=_iso(row.run_after),
        state=None if row.state is None else str(row.state),
        try_number=row.try_number,
        start_date=_iso(row.start_date),
        end_date=_iso(row.end_date),
        duration=row.duration,
        summary=_summary(row.value),
    )


def _rendered(session: Session, keys: Iterable[tuple[str, str, str, int]]) -> dict[tuple[str, str, str, int], dict]:
    """The sync mode and failed-rows table each task instance was rendered with."""
    keys = list(keys)
    if not keys:
        return {}
    rows = session.execute(
        select(
            RenderedFields.dag_id,
            RenderedFields.task_id,
            RenderedFields.run_id,
            RenderedFields.map_index,
            RenderedFields.rendered_fields,
        ).where(
            RenderedFields.dag_id.in_({key[0] for key in keys}),
            RenderedFields.run_id.in_({key[2] for key in keys}),
        )
    )
    wanted = set(keys)
    found = {}
    for row in rows:
        key = (row.dag_id, row.task_id, row.run_id, row.map_index)
        if key in wanted and isinstance(row.rendered_fields, dict):
            found[key] = {name: row.rendered_fields.get(name) for name in _RENDERED}
    return found


def _with_rendered(sync: Sync, rendered: dict[str, Any] | None) -> Sync:
    if rendered:
        sync.mode = rendered.get("sync_mode") if isinstance(rendered.get("sync_mode"), str) else None
        table = rendered.get("failed_rows_table")
        sync.failed_rows_table = table if isinstance(table, str) and table != "None" else None
    return sync


def list_syncs(session: Session, dag_ids: Collection[str]) -> list[Sync]:
    """Every CleverTap sync of ``dag_ids``, with its latest run, ordered by DAG, task and map index.

    :param session: a session on Airflow's metadata database.
    :param dag_ids: the DAGs the user may read.
    """
    if not dag_ids:
        return []
    # The latest run of each sync, ranked without the summaries; only the latest's are read.
    partition = (TaskInstance.dag_id, TaskInstance.task_id, TaskInstance.map_index)
    ranked = (
        select(
            *partition,
            TaskInstance.run_id,
            func.row_number().over(partition_by=partition, order_by=DagRun.run_after.desc()).label("rank"),
            func.count().over(partition_by=partition).label("runs"),
        )
        .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
        .where(_is_clevertap(), TaskInstance.dag_id.in_(dag_ids))
        .subquery()
    )
    latest = _runs_select(ranked.c.runs).join(
        ranked,
        and_(
            ranked.c.dag_id == TaskInstance.dag_id,
            ranked.c.task_id == TaskInstance.task_id,
            ranked.c.map_index == TaskInstance.map_index,
            ranked.c.run_id == TaskInstance.run_id,
            ranked.c.rank == 1,
        ),
    )
    rows = list(session.execute(latest))
    rendered = _rendered(session, ((row.dag_id, row.task_id, row.run_id, row.map_index) for row in rows))
    syncs = {
        (row.dag_id, row.task_id, row.map_index): _with_rendered(
            Sync(
                dag_id=row.dag_id,
                task_id=row.task_id,
                map_index=row.map_index,
                kind=_kind(row.operator, row.custom_operator_name),
                runs_count=row.runs,
                latest=_run(row),
                mapped=row.map_index >= 0,
            ),
            rendered.get((row.dag_id, row.task_id, row.run_id, row.map_index)),
        )
        for row in rows
    }
    ran = {(dag_id, task_id) for dag_id, task_id, _ in syncs}
    for sync in _declared_syncs(session, dag_ids):
        if (sync.dag_id, sync.task_id) not in ran:
            syncs[(sync.dag_id, sync.task_id, sync.map_index)] = sync
    return [syncs[key] for key in sorted(syncs)]


def sync_history(session: Session, dag_id: str, task_id: str, map_index: int) -> Sync | None:
    """One sync with its latest runs (at most RUNS_SHOWN, newest first); None when no such sync exists.

    :param session: a session on Airflow's metadata database.
    :param dag_id: the sync's DAG.
    :param task_id: its task.
    :param map_index: its partition, -1 when the task is not mapped.
    """
    query = (
        _runs_select()
        .where(TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id, TaskInstance.map_index == map_index)
        .order_by(DagRun.run_after.desc())
        .limit(RUNS_SHOWN)
    )
    rows = list(session.execute(query))
    if not rows:
        declared = [sync for sync in _declared_syncs(session, [dag_id]) if sync.task_id == task_id]
        return declared[0] if declared and map_index == -1 else None
    runs_count = session.scalar(
        select(func.count())
        .select_from(TaskInstance)
        .where(TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id, TaskInstance.map_index == map_index)
    )
    first = rows[0]
    sync = Sync(
        dag_id=dag_id,
        task_id=task_id,
        map_index=map_index,
        kind=_kind(first.operator, first.custom_operator_name),
        runs_count=runs_count or 0,
        latest=_run(first),
        mapped=map_index >= 0,
        history=[_run(row) for row in rows],
    )
    return _with_rendered(
        sync,
        _rendered(session, [(dag_id, task_id, first.run_id, map_index)]).get(
            (dag_id, task_id, first.run_id, map_index)
        ),
    )


def _declared_syncs(session: Session, dag_ids: Collection[str]) -> Iterator[Sync]:
    """The CleverTap tasks of the DAGs' latest serialized versions, as syncs with no runs."""
    for task in declared_tasks(session, dag_ids, list(KINDS)):
        kind = _kind(task.operator, task.custom_operator_name)
        yield Sync(dag_id=task.dag_id, task_id=task.task_id, map_index=-1, kind=kind, mapped=task.mapped)
