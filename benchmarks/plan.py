"""What one invocation runs: its settings, the cases of a round and those left out, and what a run holds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from benchmarks import dataset, stateful, warehouses
from benchmarks.cases import DELETE_BATCH, UPLOAD_BATCH

API_CONCURRENCY = 15  # CleverTap's concurrent requests per account


@dataclass(frozen=True)
class Settings:
    """What to run. The defaults are ``make bench``; :data:`QUICK` is ``make bench-quick``."""

    upload_sizes: tuple[int, ...] = (10_000, 200_000, 1_000_000)
    upload_latencies: tuple[float, ...] = (0.0, 0.05, 0.2)
    delete_sizes: tuple[int, ...] = (10_000, 200_000)
    delete_latencies: tuple[float, ...] = (0.0, 0.05, 0.2)
    # The stateful cases (benchmarks/stateful.py): 1M rows already synced, 1% changed, at 200 ms.
    state_sizes: tuple[int, ...] = (10_000, 1_000_000)
    state_latencies: tuple[float, ...] = (0.2,)
    # The event upload cases (benchmarks/events.py): 200k orders at 200 and 50 ms.
    event_sizes: tuple[int, ...] = (200_000,)
    event_latencies: tuple[float, ...] = (0.05, 0.2)
    rounds: int = 3
    backend: str = "sqlite"
    upload_concurrency: int = API_CONCURRENCY  # ours: every request CleverTap allows at once
    delete_concurrency: int = 3  # ours: the delete operator's default
    absorb_concurrency: int = 32  # the ceiling's client: enough to keep the emulator busy
    naive_max_rows: int = 200_000  # a naive 1M-row upload at 200 ms takes minutes: not run
    latency_budget: float = 60.0  # skip a case whose waiting on latency alone would take longer


QUICK = Settings(
    upload_sizes=(10_000,),
    delete_sizes=(10_000,),
    delete_latencies=(0.0, 0.05),
    state_sizes=(10_000,),
    event_sizes=(),
    rounds=1,
)


@dataclass(frozen=True)
class Case:
    op: str  # upload, delete, event or state
    kind: str  # ours, naive, floor or absorb; for state: upsert, changed or first (all ours)
    rows: int
    latency: float | None  # None: no HTTP (floor)

    @property
    def label(self) -> str:
        latency = "" if self.latency is None else f" @ {self.latency * 1000:.0f} ms"
        return f"{self.op} {self.kind:<6} {_size(self.rows):>5}{latency}"


@dataclass
class Run:
    """Everything one invocation measured."""

    settings: Settings
    command: str
    started: str
    machine: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def plan(settings: Settings) -> tuple[list[Case], list[tuple[Case, str]]]:
    """The cases of one round, and the cases left out with the reason."""
    cases: list[Case] = []
    skipped: list[tuple[Case, str]] = []
    if settings.backend in warehouses.BACKENDS and any(sizes for _, sizes, _ in _ops(settings)):
        name = dataset.BACKEND_NAMES[settings.backend]
        raise ValueError(f"only the stateful cases run on {name}: no upload, delete or event sizes")
    for op, sizes, latencies in _ops(settings):
        batch, concurrency = _batch_and_concurrency(op, settings)
        if not sizes or not latencies:
            continue
        cases += [Case(op, "floor", rows, None) for rows in sizes]
        for latency in latencies:
            for rows in sizes:
                # The ceiling is measured on the same table as ours, wherever ours runs.
                for kind, in_flight in (("absorb", settings.absorb_concurrency), ("ours", concurrency), ("naive", 1)):
                    case = Case(op, kind, rows, latency)
                    waiting = math.ceil(rows / batch) * latency / in_flight
                    ours_waiting = math.ceil(rows / batch) * latency / concurrency
                    if kind == "naive" and op != "delete" and rows > settings.naive_max_rows:
                        skipped.append((case, f"naive runs on at most {_size(settings.naive_max_rows)} rows"))
                    elif max(waiting, ours_waiting if kind == "absorb" else 0) > settings.latency_budget:
                        skipped.append(
                            (case, f"would spend {max(waiting, ours_waiting):.0f} s waiting on latency alone")
                        )
                    else:
                        cases.append(case)
    floors = {(case.op, case.rows) for case in cases if case.kind == "floor"}
    for latency in settings.state_latencies if settings.state_sizes else ():
        for rows in settings.state_sizes:
            for kind in stateful.KINDS:
                case = Case("state", kind, rows, latency)
                if ("upload", rows) not in floors:  # the floor of the CPU target
                    floors.add(("upload", rows))
                    cases.insert(0, Case("upload", "floor", rows, None))
                cases.append(case)
    return cases, skipped


def _ops(settings: Settings) -> tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...]:
    """The ops measured against ours, naive, floor and ceiling: their sizes and latencies."""
    return (
        ("upload", settings.upload_sizes, settings.upload_latencies),
        ("delete", settings.delete_sizes, settings.delete_latencies),
        ("event", settings.event_sizes, settings.event_latencies),
    )


def _batch_and_concurrency(op: str, settings: Settings) -> tuple[int, int]:
    """Rows per request and ours' requests at once: events are uploads, in batches of 1000."""
    if op == "delete":
        return DELETE_BATCH, settings.delete_concurrency
    return UPLOAD_BATCH, settings.upload_concurrency


def _size(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1000 and rows % 1000 == 0:
        return f"{rows // 1000}k"
    return str(rows)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **{key: value for key, value in changes.items() if value is not None})
