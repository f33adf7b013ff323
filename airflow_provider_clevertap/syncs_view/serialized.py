"""The tasks of the latest serialized DAGs that run given operators: syncs that may never have run."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from airflow.models.serialized_dag import SerializedDagModel
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DeclaredTask:
    """A task as its DAG's serialization declares it."""

    dag_id: str
    task_id: str
    operator: str | None
    custom_operator_name: str | None
    mapped: bool


def declared_tasks(session: Session, dag_ids: Collection[str], operators: Collection[str]) -> Iterator[DeclaredTask]:
    """The tasks of the DAGs' latest serialized versions whose operator is one of ``operators``.

    The database finds the DAGs whose serialization names one of them; only theirs are decoded. A
    DAG serialized compressed (``[core] compress_serialized_dags``) is not searched.

    :param session: a session on Airflow's metadata database.
    :param dag_ids: the DAGs to look in.
    :param operators: operator class names (or custom operator names).
    """
    newest = (
        select(
            SerializedDagModel.id,
            func.row_number()
            .over(partition_by=SerializedDagModel.dag_id, order_by=SerializedDagModel.created_at.desc())
            .label("rank"),
        )
        .where(SerializedDagModel.dag_id.in_(dag_ids))
        .subquery()
    )
    text = cast(SerializedDagModel._data, Text)
    query = (
        select(SerializedDagModel.dag_id, SerializedDagModel._data)
        .join(newest, newest.c.id == SerializedDagModel.id)
        .where(newest.c.rank == 1, or_(*(text.like(f'%"{name}"%') for name in operators)))
    )
    for dag_id, data in session.execute(query):
        for task in _tasks(data):
            operator = task.get("task_type") or task.get("_task_type")
            custom = task.get("_operator_name")
            if operator in operators or custom in operators:
                yield DeclaredTask(dag_id, task["task_id"], operator, custom, bool(task.get("_is_mapped")))


def _tasks(data: Any) -> list[dict[str, Any]]:
    """The tasks of a serialized DAG, as they are stored."""
    if isinstance(data, str):
        data = json.loads(data)
    tasks = (data or {}).get("dag", {}).get("tasks", [])
    return [task.get("__var", task) for task in tasks if isinstance(task, dict)]
