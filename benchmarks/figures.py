"""The figures of a run: medians over rounds, ratios computed within a round, and the targets."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from benchmarks import stateful
from benchmarks.cases import UPLOAD_BATCH
from benchmarks.plan import API_CONCURRENCY, Run, Settings, _batch_and_concurrency, _ops, _size


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
    """The stateful cases' targets, at the largest size measured (they are set for 1M rows at 200 ms)."""
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
    """The targets for profile uploads (or events: the same targets), read from the median figures.

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
