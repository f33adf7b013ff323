"""Run every case in its own process against its own emulator, check the rows arrived, report.

One *round* runs every case once; figures are medians over rounds, and each ratio is computed
within a round (numerator and denominator measured minutes apart on the same machine state),
then its median over rounds is taken.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import dataset, stateful
from benchmarks.cases import RESULT_PREFIX
from benchmarks.emulator import EmulatorProcess
from benchmarks.figures import figures
from benchmarks.machine import CASE_CPUS, EMULATOR_CPUS, _git_commit, _load_average, machine_note
from benchmarks.plan import API_CONCURRENCY, Case, Run, Settings, plan

ROOT = dataset.ROOT
ACCOUNT_ID, PASSCODE = "TEST-ACCOUNT", "test-passcode"  # the emulator's defaults
CASE_TIMEOUT = 1800.0


class BenchmarkError(RuntimeError):
    """A case failed, or rows did not all arrive: the figures would be meaningless.

    ``partial`` holds the run up to the failure (its raw results are still worth keeping).
    """

    partial: Run | None = None


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


def save(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**asdict(run), "figures": figures(run)}
    path.write_text(json.dumps(data, indent=1, default=str))
