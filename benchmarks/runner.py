"""Run every case in its own process against its own emulator, check the rows arrived, report.

One *round* runs every case once; figures are medians over rounds, and each ratio is computed
within a round (numerator and denominator measured minutes apart on the same machine state),
then its median over rounds is taken.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks import dataset, stateful, warehouses
from benchmarks.cases import DELETE_BATCH, RESULT_PREFIX, UPLOAD_BATCH
from benchmarks.emulator import EmulatorProcess

ROOT = dataset.ROOT
API_CONCURRENCY = 15  # CleverTap's concurrent requests per account


def _placement() -> tuple[set[int] | None, set[int] | None]:
    """CPUs for the case process and for the emulator: apart when the machine has two or more.

    The emulator stands in for CleverTap's servers, which never share the client's core; on a
    shared core its work would evict the syncing process's caches and count as the client's cost.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


CASE_CPUS, EMULATOR_CPUS = _placement()
ACCOUNT_ID, PASSCODE = "TEST-ACCOUNT", "test-passcode"  # the emulator's defaults
CASE_TIMEOUT = 1800.0


class BenchmarkError(RuntimeError):
    """A case failed, or rows did not all arrive: the figures would be meaningless.

    ``partial`` holds the run up to the failure (its raw results are still worth keeping).
    """

    partial: Run | None = None


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
    # The event upload cases (benchmarks/events.py): issue 13's 200k orders at 200 and 50 ms.
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


# -- the plan ---------------------------------------------------------------------------------------------


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


# -- running ------------------------------------------------------------------------------------------------


def run(settings: Settings, command: str = "", log: Callable[[str], None] = print) -> Run:
    """Run every round of every case; raise BenchmarkError when a case fails or loses rows."""
    cases, skipped = plan(settings)
    outcome = Run(settings, command, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), machine_note())
    outcome.skipped = [{**asdict(case), "reason": reason} for case, reason in skipped]
    started = time.monotonic()
    log(f"Preparing the staged tables ({settings.backend})")
    tables = {rows: dataset.table(rows, settings.backend, log=log) for rows in {case.rows for case in cases}}
    home = dataset.CACHE / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    log(f"{len(cases)} cases per round, {settings.rounds} round(s); {len(skipped)} left out (see the report)")
    try:
        for round_number in range(1, settings.rounds + 1):
            for case in cases:
                try:
                    result = run_case(case, tables[case.rows], settings, home)
                except BenchmarkError as error:
                    outcome.seconds = time.monotonic() - started
                    error.partial = outcome  # what was measured before, for the caller to keep
                    raise
                result["round"] = round_number
                outcome.results.append(result)
                log(f"  [round {round_number}/{settings.rounds}] {case.label}: {_describe(result)}")
    finally:
        for table in tables.values():
            dataset.discard(table)
    outcome.seconds = time.monotonic() - started
    outcome.machine["load_average_after"] = _load_average()
    outcome.machine["commit_after"] = _git_commit()  # the code may have changed under a long run
    return outcome


def run_case(case: Case, table: dataset.Table, settings: Settings, home: Path) -> dict[str, Any]:
    """One case in a fresh process, against a fresh emulator; the measured figures."""
    with own_copy(case, table) as table:
        return _run_case(case, table, settings, home)


@contextmanager
def own_copy(case: Case, table: dataset.Table) -> Iterator[dataset.Table]:
    """A stateful case runs on a copy of the staged table: its state table is written there, its rows edited.

    So does ours on events: it records the accepted event ids in a state table.
    """
    if case.op != "state" and (case.op, case.kind) != ("event", "ours"):
        yield table
        return
    with dataset.own_copy(table, f"{case.op}_{case.kind}") as copy:
        yield copy


def _run_case(case: Case, table: dataset.Table, settings: Settings, home: Path) -> dict[str, Any]:
    concurrency = {
        ("upload", "ours"): settings.upload_concurrency,
        ("event", "ours"): settings.upload_concurrency,
        ("state", case.kind): settings.upload_concurrency,
        ("delete", "ours"): settings.delete_concurrency,
    }.get((case.op, case.kind), settings.absorb_concurrency if case.kind == "absorb" else 1)
    spec: dict[str, Any] = {
        "op": case.op,
        "kind": case.kind,
        "table": table.as_dict(),
        "concurrency": concurrency,
        "account_id": ACCOUNT_ID,
        "passcode": PASSCODE,
        "cpus": sorted(CASE_CPUS) if CASE_CPUS else None,
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_WAREHOUSE": table.airflow_connection(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if case.latency is None:
        measured = _run_process(spec, env)
        emulator_cpu = None
        stats: dict[str, Any] = {}
    else:
        # Ours and naive meet CleverTap's limit of 15; the ceiling's client may send more.
        limit = 2 * settings.absorb_concurrency if case.kind == "absorb" else API_CONCURRENCY
        log_path = dataset.CACHE / "emulator.log"
        with EmulatorProcess(case.latency, concurrency_limit=limit, log_path=log_path, cpus=EMULATOR_CPUS) as emulator:
            spec["url"] = emulator.url
            env["AIRFLOW_CONN_CLEVERTAP_DEFAULT"] = emulator.connection_json
            setup: dict[str, Any] = {}
            if case.op == "state":  # untimed, in a process of its own: the timed one starts fresh
                setup = _run_process({**spec, "phase": "setup", "latency": case.latency, "emulator_limit": limit}, env)
                _check_set_up(case, setup)
            counted_before = emulator.stats()
            cpu_before = emulator.cpu_seconds()
            measured = _run_process(spec, env)
            emulator.wait_idle()
            emulator_cpu = emulator.cpu_seconds() - cpu_before
            stats = _counted_since(counted_before, emulator.stats())
    _check_arrival(case, measured, stats)
    if case.op == "state":
        measured["set_up_run"] = setup.get("first_run")
        measured["bare_diff"] = setup.get("bare_diff")
    # The ceiling's client counts the records it sent; the other cases the rows of the table.
    counted = measured["sent"] if case.kind == "absorb" else case.rows
    result = {**measured, **asdict(case), "concurrency": concurrency, "emulator_cpu": emulator_cpu}
    result["rate"] = counted / result["wall"]
    result["cpu_per_m"] = result["cpu"] / counted * 1e6
    if emulator_cpu is not None:
        result["emulator_cpu_per_m"] = emulator_cpu / counted * 1e6
    result["emulator_stats"] = {
        key: stats.get(key)
        for key in (
            "requests",
            "throttled",
            "max_in_flight",
            "records_received",
            "records_stored",
            "events_stored",
            "deletes",
        )  # fmt: skip
    }
    return result


def _counted_since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The emulator's counters of the timed part: a stateful case's set-up was counted before it."""
    counters = ("requests", "throttled", "records_received", "records_stored", "events_stored", "deletes")
    return {**after, **{key: after[key] - before[key] for key in counters}}


def _check_set_up(case: Case, setup: dict[str, Any]) -> None:
    first = setup.get("first_run") or {}
    if case.kind == "changed":
        expected = dataset.expected_upload(case.rows)
        got = {key: first.get(key) for key in ("rows_accepted", "rows_refused", "rows_invalid")}
        if got != {key: expected[key] for key in got}:
            raise BenchmarkError(f"{case.label}: the set-up's first run accounted {got}, expected {expected}")


def expected_state(case: Case) -> dict[str, int]:
    """What a stateful case's timed run must account: accepted, refused, invalid, unchanged."""
    expected = {**dataset.expected_upload(case.rows), "rows_unchanged": 0}
    if case.kind == "changed":  # only the edited rows are new to CleverTap; refused rows are retried
        edited = stateful.edited_rows(case.rows)
        expected["rows_unchanged"] = expected["rows_accepted"] - edited
        expected["rows_accepted"] = edited
    return expected


def _run_process(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.cases", json.dumps(spec)]
    try:
        finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{spec['op']} {spec['kind']} did not finish in {CASE_TIMEOUT:.0f} s") from None
    lines = [line for line in finished.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if finished.returncode != 0 or not lines:
        raise BenchmarkError(
            f"{spec['op']} {spec['kind']} on {spec['table']['rows']} rows failed (exit {finished.returncode}):\n"
            + (finished.stderr or finished.stdout)[-4000:]
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def _check_arrival(case: Case, result: dict[str, Any], stats: dict[str, Any]) -> None:
    """Every row must be accounted for, and what the client says it sent the emulator received."""
    rows = case.rows
    problems = []
    if case.kind != "absorb" and result["rows"] != rows:  # absorb counts the records it sent
        problems.append(f"read {result['rows']} rows of {rows}")
    if case.op in ("upload", "state", "event"):
        if case.op == "state":
            expected = expected_state(case)
        else:
            expected = (dataset.expected_events if case.op == "event" else dataset.expected_upload)(rows)
        stored = "events_stored" if case.op == "event" else "records_stored"
        sendable = rows - expected["rows_invalid"] - expected.get("rows_unchanged", 0)
        if case.kind not in ("naive", "floor", "absorb"):  # ours, in any sync mode
            keys = ["rows_accepted", "rows_refused", "rows_invalid"]
            keys += ["rows_unchanged"] if case.op == "state" else []
            got = {key: result[key.removeprefix("rows_")] for key in keys}
            wanted = {key: expected[key] for key in got}
            if got != wanted:
                problems.append(f"accounted {got}, expected {wanted}")
        sent = rows if case.kind == "naive" else sendable  # naive sends rows without identity too
        if result["sent"] != sent:
            problems.append(f"sent {result['sent']} records, expected {sent}")
        if case.latency is not None:
            if stats.get("records_received") != sent:
                problems.append(f"the emulator received {stats.get('records_received')} records of {sent} sent")
            if case.kind not in ("floor", "absorb") and stats.get(stored) != expected["rows_accepted"]:
                problems.append(f"the emulator stored {stats.get(stored)}, expected {expected['rows_accepted']}")
    else:
        if result["sent"] != rows:
            problems.append(f"sent {result['sent']} ids of {rows}")
        if case.latency is not None and stats.get("deletes") != rows:
            problems.append(f"the emulator received {stats.get('deletes')} ids of {rows}")
    if problems:
        raise BenchmarkError(f"{case.label}: rows did not all arrive: {'; '.join(problems)}")


def _describe(result: dict[str, Any]) -> str:
    text = (
        f"{result['rate']:>9,.0f} rows/s, CPU {result['cpu_per_m']:5.1f} s/M rows, peak {result['peak_rss_mb']:4.0f} MB"
    )
    if result.get("emulator_cpu_per_m") is not None:
        text += f", emulator CPU {result['emulator_cpu_per_m']:4.1f} s/M"
    if result.get("retries"):
        text += f", {result['retries']} retries"
    return text


# -- figures ----------------------------------------------------------------------------------------------------


def _results(run: Run, op: str, kind: str, rows: int | None = None, latency: float | None = None) -> dict[int, dict]:
    """By round: the result of one case."""
    return {
        result["round"]: result
        for result in run.results
        if result["op"] == op
        and result["kind"] == kind
        and (rows is None or result["rows"] == rows)
        and (latency is None or result["latency"] == latency)
    }


def ceiling(run: Run, op: str, rows: int, latency: float, round_number: int) -> float | None:
    """The smaller of the API's limit and what the emulator absorbed of this table, in one round."""
    absorbed = _results(run, op, "absorb", rows, latency).get(round_number)
    if absorbed is None:
        return None
    batch, concurrency = _api_batch_and_concurrency(op, run.settings)
    api_limit = math.inf if latency == 0 else concurrency * batch / latency
    return min(api_limit, absorbed["rate"])


def _api_batch_and_concurrency(op: str, settings: Settings) -> tuple[int, int]:
    """Rows per request and requests at once CleverTap allows (deletes: as many as ours sends)."""
    batch, concurrency = _batch_and_concurrency(op, settings)
    return batch, (concurrency if op == "delete" else API_CONCURRENCY)


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def figures(run: Run) -> dict[str, Any]:
    """Medians over rounds of every figure, and of every ratio computed within a round."""
    settings = run.settings
    rounds = range(1, settings.rounds + 1)
    table: dict[str, Any] = {"upload": [], "delete": [], "event": [], "floor": [], "ceiling": []}
    for op, sizes, latencies in _ops(settings):
        for rows in sizes:
            floor = _results(run, op, "floor", rows)
            if floor:
                table["floor"].append(
                    {
                        "op": op,
                        "rows": rows,
                        "rate": _median([r["rate"] for r in floor.values()]),
                        "cpu_per_m": _median([r["cpu_per_m"] for r in floor.values()]),
                        "peak_rss_mb": _median([r["peak_rss_mb"] for r in floor.values()]),
                    }
                )
        for latency in latencies:
            for rows in sizes:
                absorbed = _results(run, op, "absorb", rows, latency)
                if absorbed:
                    batch, concurrency = _api_batch_and_concurrency(op, settings)
                    table["ceiling"].append(
                        {
                            "op": op,
                            "rows": rows,
                            "latency": latency,
                            "api_limit": None if latency == 0 else concurrency * batch / latency,
                            "absorbed": _median([r["rate"] for r in absorbed.values()]),
                            "emulator_cpu_per_m": _median([r.get("emulator_cpu_per_m") for r in absorbed.values()]),
                            "ceiling": _median([ceiling(run, op, rows, latency, n) for n in rounds]),
                        }
                    )
            for rows in sizes:
                ours = _results(run, op, "ours", rows, latency)
                if not ours:
                    continue
                naive = _results(run, op, "naive", rows, latency)
                floor = _results(run, op, "floor", rows)
                row: dict[str, Any] = {"rows": rows, "latency": latency}
                for kind, results in (("ours", ours), ("naive", naive)):
                    for key in ("rate", "cpu_per_m", "peak_rss_mb", "emulator_cpu_per_m"):
                        row[f"{kind}_{key}"] = _median([r.get(key) for r in results.values()])
                    row[f"{kind}_growth_mb"] = _median([r["peak_rss_mb"] - r["start_rss_mb"] for r in results.values()])
                row["ours_retries"] = max(r.get("retries") or 0 for r in ours.values())
                row["ceiling"] = _median([ceiling(run, op, rows, latency, n) for n in rounds])
                row["floor_cpu_per_m"] = _median([r["cpu_per_m"] for r in floor.values()])
                row["ours_over_naive"] = _median(
                    [ours[n]["rate"] / naive[n]["rate"] if n in naive else None for n in ours]
                )
                row["ours_over_ceiling"] = _median(
                    [ours[n]["rate"] / c if (c := ceiling(run, op, rows, latency, n)) else None for n in ours]
                )
                row["cpu_over_floor"] = _median(
                    [ours[n]["cpu_per_m"] / floor[n]["cpu_per_m"] if n in floor else None for n in ours]
                )
                table[op].append(row)
    table["memory"] = _memory_growth(run)
    table["state"] = _state_figures(run)
    table["targets"] = targets(table, "upload") + state_targets(table["state"]) + targets(table, "event")
    return table


def _state_figures(run: Run) -> list[dict[str, Any]]:
    """Per size and latency: each stateful case's figures, and the ratios of the targets, per round."""
    found = []
    for latency in run.settings.state_latencies:
        for rows in run.settings.state_sizes:
            by_kind = {kind: _results(run, "state", kind, rows, latency) for kind in stateful.KINDS}
            if not any(by_kind.values()):
                continue
            upsert, changed, first = (by_kind[kind] for kind in stateful.KINDS)
            floor = _results(run, "upload", "floor", rows)
            row: dict[str, Any] = {"rows": rows, "latency": latency}
            for kind, results in by_kind.items():
                for key in ("wall", "rate", "cpu_per_m", "peak_rss_mb"):
                    row[f"{kind}_{key}"] = _median([r[key] for r in results.values()])
            row["changed_sent"] = _median([r["sent"] for r in changed.values()])
            row["floor_cpu_per_m"] = _median([r["cpu_per_m"] for r in floor.values()])
            row["upsert_over_changed"] = _median(
                [upsert[n]["wall"] / changed[n]["wall"] for n in changed if n in upsert]
            )
            row["first_over_upsert"] = _median([first[n]["wall"] / upsert[n]["wall"] for n in first if n in upsert])
            # Per row read: an upper bound of the cost per unchanged row (the few rows sent cost more).
            row["changed_cpu_over_floor"] = _median(
                [changed[n]["cpu_per_m"] / floor[n]["cpu_per_m"] for n in changed if n in floor]
            )
            row.update(_against_bare_diff(changed, latency, run.settings.upload_concurrency))
            found.append(row)
    return found


def _against_bare_diff(changed: dict[int, dict], latency: float, concurrency: int) -> dict[str, Any]:
    """The ``changed`` run against the warehouse's bare diff measured in its set-up, and against
    that diff plus the API time of the rows it sent (its batches, ``concurrency`` at once)."""
    diffs = {n: r["bare_diff"] for n, r in changed.items() if r.get("bare_diff")}
    api = {n: math.ceil(math.ceil(r["sent"] / UPLOAD_BATCH) / concurrency) * latency for n, r in changed.items()}
    return {
        "diff_wall": _median([diff["wall"] for diff in diffs.values()]),
        "diff_streamed": _median([diff["streamed"] for diff in diffs.values()]),
        "api_wall": _median(list(api.values())),
        "changed_over_diff": _median([changed[n]["wall"] / diff["wall"] for n, diff in diffs.items()]),
        "changed_over_diff_api": _median([changed[n]["wall"] / (diff["wall"] + api[n]) for n, diff in diffs.items()]),
    }


def state_targets(state: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 12's targets, at the largest size measured (1M rows at 200 ms is the issue's case)."""
    largest = max(state, key=lambda r: (r["rows"], r["latency"]), default=None)
    smallest = min(
        (r for r in state if largest and r["latency"] == largest["latency"]), key=lambda r: r["rows"], default=None
    )
    where = "" if largest is None else f", {_size(largest['rows'])} rows, {largest['latency'] * 1000:.0f} ms"
    found = []

    def add(name: str, key: str, goal: str, test: Callable[[float], bool]) -> None:
        value = None if largest is None else largest[key]
        found.append(
            {"target": name + where, "value": value, "goal": goal, "met": None if value is None else test(value)}
        )

    add("changed: upsert time / changed time, 1% changed", "upsert_over_changed", ">= 20", lambda v: v >= 20)
    add("changed: CPU per row read / floor's", "changed_cpu_over_floor", "<= 1.5", lambda v: v <= 1.5)
    add("first changed run (empty state): time / upsert's", "first_over_upsert", "<= 1.10", lambda v: v <= 1.10)
    growth = None
    if largest is not None and smallest is not None and smallest["rows"] < largest["rows"]:
        growth = largest["changed_peak_rss_mb"] - smallest["changed_peak_rss_mb"]
    add("changed: time / (bare diff + API time of the rows sent)", "changed_over_diff_api", "<= 1.5",
        lambda v: v <= 1.5)  # fmt: skip
    add("first changed run: time / upsert's, on any warehouse", "first_over_upsert", "<= 1.3", lambda v: v <= 1.3)
    name = "changed: peak memory" + (
        "" if growth is None else f" {_size(largest['rows'])} minus {_size(smallest['rows'])} rows"
    )
    found.append({"target": name, "value": growth, "goal": "<= 64 MB", "met": None if growth is None else growth <= 64})
    return found


def _memory_growth(run: Run) -> list[dict[str, Any]]:
    """Per op and latency: ours' peak memory at the largest size minus at the smallest, per round."""
    growth = []
    settings = run.settings
    for op, sizes, latencies in _ops(settings):
        if len(sizes) < 2:
            continue
        small, large = min(sizes), max(sizes)
        for latency in latencies:
            low, high = _results(run, op, "ours", small, latency), _results(run, op, "ours", large, latency)
            differences = [high[n]["peak_rss_mb"] - low[n]["peak_rss_mb"] for n in high if n in low]
            if differences:
                growth.append(
                    {"op": op, "latency": latency, "small": small, "large": large, "mb": _median(differences)}
                )
    return growth


def targets(table: dict[str, Any], op: str = "upload") -> list[dict[str, Any]]:
    """The issue's targets for profile uploads (or events: the same targets), read from the median figures.

    Each with its value, goal and whether it is met; an event target's name starts with "events: ".
    """
    uploads = table[op]
    found = []
    prefix = "events: " if op == "event" else ""

    def add(name: str, value: float | None, goal: str, met: bool | None) -> None:
        found.append({"target": prefix + name, "value": value, "goal": goal, "met": met})

    speedup = [r for r in uploads if r["latency"] == 0.2 and r["rows"] == 200_000]
    value = speedup[0]["ours_over_naive"] if speedup else None
    add("ours / naive, 200 ms, 200k rows", value, ">= 8", None if value is None else value >= 8)
    at_50 = [r for r in uploads if r["latency"] == 0.05 and r["ours_over_ceiling"] is not None]
    if at_50:
        worst = min(at_50, key=lambda r: r["ours_over_ceiling"])
        add(f"ours / ceiling, 50 ms (worst: {_size(worst['rows'])} rows)", worst["ours_over_ceiling"], ">= 0.6",
            worst["ours_over_ceiling"] >= 0.6)  # fmt: skip
    else:
        add("ours / ceiling, 50 ms", None, ">= 0.6", None)
    cpu = [r for r in uploads if r["cpu_over_floor"] is not None]
    if cpu:
        worst = max(cpu, key=lambda r: r["cpu_over_floor"])
        add(
            f"CPU ours / floor (worst: {_size(worst['rows'])} rows, {worst['latency'] * 1000:.0f} ms)",
            worst["cpu_over_floor"], "<= 2", worst["cpu_over_floor"] <= 2,
        )  # fmt: skip
    else:
        add("CPU ours / floor", None, "<= 2", None)
    memory = [g for g in table["memory"] if g["op"] == op and g["small"] <= 10_000 and g["large"] >= 1_000_000]
    if memory:
        worst = max(memory, key=lambda g: g["mb"])
        add(f"peak memory 1M minus 10k rows (worst: {worst['latency'] * 1000:.0f} ms)", worst["mb"], "<= 64 MB",
            worst["mb"] <= 64)  # fmt: skip
    else:
        add("peak memory 1M minus 10k rows", None, "<= 64 MB", None)
    return found


# -- the machine --------------------------------------------------------------------------------------------------


def machine_note() -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        memory_kb = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
    except (OSError, StopIteration, ValueError):
        memory_kb = 0
    return {
        "cpu": cpu_model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": _git_commit(),
        "load_average_before": _load_average(),
        "case_cpus": sorted(CASE_CPUS) if CASE_CPUS else None,
        "emulator_cpus": sorted(EMULATOR_CPUS) if EMULATOR_CPUS else None,
    }


def _git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{commit}{' + uncommitted changes' if dirty else ''}" or "unknown"


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _size(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1000 and rows % 1000 == 0:
        return f"{rows // 1000}k"
    return str(rows)


def save(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**asdict(run), "figures": figures(run)}
    path.write_text(json.dumps(data, indent=1, default=str))


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **{key: value for key, value in changes.items() if value is not None})
