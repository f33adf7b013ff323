"""The figures as tables: aligned text for the terminal, Markdown for docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.dataset import BACKEND_NAMES
from benchmarks.figures import figures
from benchmarks.plan import Run, _size

BEGIN = "<!-- benchmark results: begin (written by `make bench`; edit outside these markers) -->"
END = "<!-- benchmark results: end -->"
OPS = (("upload", "1000"), ("delete", "100"), ("event", "1000"))  # each op's table, and its batch size


def _num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def _ms(latency: float | None) -> str:
    return "–" if latency is None else f"{latency * 1000:.0f} ms"


def _render(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(headers, widths, strict=True))]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def tables(run: Run, markdown: bool = False) -> str:
    data = figures(run)
    parts = []
    heading = (lambda text: f"\n#### {text}\n") if markdown else (lambda text: f"\n{text}\n")
    rounds = run.settings.rounds
    note = (
        f"medians of {rounds} rounds; ratios computed within a round, then their median" if rounds > 1 else "one round"
    )

    for op, batch in OPS:
        rows = data[op]
        if not rows:
            continue
        parts.append(heading(f"{op.capitalize()}s ({note}; batches of {batch})"))
        headers = [
            "rows", "latency", "ours rows/s", "naive rows/s", "ceiling rows/s", "ours/naive", "ours/ceiling",
            "CPU s/M ours", "CPU s/M naive", "CPU s/M floor", "CPU ours/floor", "peak MB ours", "peak MB naive",
        ]  # fmt: skip
        body = [
            [
                _size(r["rows"]), _ms(r["latency"]), _num(r["ours_rate"]), _num(r["naive_rate"]), _num(r["ceiling"]),
                _num(r["ours_over_naive"], 1, "x"), _num(r["ours_over_ceiling"], 2), _num(r["ours_cpu_per_m"], 1),
                _num(r["naive_cpu_per_m"], 1), _num(r["floor_cpu_per_m"], 1), _num(r["cpu_over_floor"], 2),
                _num(r["ours_peak_rss_mb"]), _num(r["naive_peak_rss_mb"]),
            ]
            for r in rows
        ]  # fmt: skip
        parts.append(_render(headers, body, markdown))

    if data["floor"]:
        parts.append(heading("Floor: read the rows, build and JSON-encode the batches, no HTTP"))
        body = [
            [r["op"], _size(r["rows"]), _num(r["rate"]), _num(r["cpu_per_m"], 1), _num(r["peak_rss_mb"])]
            for r in data["floor"]
        ]
        parts.append(_render(["op", "rows", "rows/s", "CPU s/M", "peak MB"], body, markdown))

    if data["ceiling"]:
        parts.append(heading("Ceiling: the smaller of the API's limit and what the emulator absorbs"))
        body = [
            [
                r["op"], _size(r["rows"]), _ms(r["latency"]),
                "unbounded" if r["api_limit"] is None else _num(r["api_limit"]), _num(r["absorbed"]),
                _num(r["emulator_cpu_per_m"], 1), _num(r["ceiling"]),
            ]
            for r in data["ceiling"]
        ]  # fmt: skip
        headers = [
            "op",
            "rows",
            "latency",
            "API limit rows/s",
            "emulator absorbs rows/s",
            "emulator CPU s/M",
            "ceiling rows/s",
        ]
        parts.append(_render(headers, body, markdown))

    ours_rows = [r for op, _ in OPS for r in data[op]]
    if ours_rows:
        parts.append(heading("Ours in detail: memory growth during the run, emulator CPU, retries"))
        body = [
            [
                op, _size(r["rows"]), _ms(r["latency"]), _num(r["ours_peak_rss_mb"]), _num(r["ours_growth_mb"]),
                _num(r["ours_emulator_cpu_per_m"], 1), str(r["ours_retries"]),
            ]
            for op, _ in OPS
            for r in data[op]
        ]  # fmt: skip
        parts.append(
            _render(["op", "rows", "latency", "peak MB", "growth MB", "emulator CPU s/M", "retries"], body, markdown)
        )

    if data["memory"]:
        parts.append(heading("Peak memory of ours: largest size minus smallest"))
        body = [
            [g["op"], _ms(g["latency"]), f"{_size(g['large'])} - {_size(g['small'])}", _num(g["mb"], 1, " MB")]
            for g in data["memory"]
        ]
        parts.append(_render(["op", "latency", "sizes", "difference"], body, markdown))

    if data["state"]:
        parts.append(heading(
            f"Stateful syncs ({note}): 1% of the rows edited since the last run; upsert, changed, "
            "and a first changed run on an empty state, on the same table"
        ))  # fmt: skip
        headers = [
            "rows", "latency", "upsert s", "changed s", "first s", "upsert/changed", "first/upsert", "changed: sent",
            "CPU s/M upsert", "CPU s/M changed", "CPU s/M first", "CPU s/M floor", "CPU changed/floor",
            "peak MB upsert", "peak MB changed", "peak MB first",
        ]  # fmt: skip
        body = [
            [
                _size(r["rows"]), _ms(r["latency"]), _num(r["upsert_wall"], 2), _num(r["changed_wall"], 2),
                _num(r["first_wall"], 2), _num(r["upsert_over_changed"], 1, "x"), _num(r["first_over_upsert"], 2),
                _num(r["changed_sent"]), _num(r["upsert_cpu_per_m"], 1), _num(r["changed_cpu_per_m"], 1),
                _num(r["first_cpu_per_m"], 1), _num(r["floor_cpu_per_m"], 1), _num(r["changed_cpu_over_floor"], 2),
                _num(r["upsert_peak_rss_mb"]), _num(r["changed_peak_rss_mb"]), _num(r["first_peak_rss_mb"]),
            ]
            for r in data["state"]
        ]  # fmt: skip
        parts.append(_render(headers, body, markdown))
        parts.append(heading(
            f"Stateful syncs against the warehouse's bare diff ({note}): the query joined with the state, "
            "read and dropped (measured after the edit, before the changed run)"
        ))  # fmt: skip
        headers = [
            "rows", "latency", "bare diff s", "rows streamed", "changed s", "changed/diff", "API s of the rows sent",
            "changed/(diff+API)", "upsert s", "first s", "first/upsert",
        ]  # fmt: skip
        body = [
            [
                _size(r["rows"]), _ms(r["latency"]), _num(r["diff_wall"], 2), _num(r["diff_streamed"]),
                _num(r["changed_wall"], 2), _num(r["changed_over_diff"], 2), _num(r["api_wall"], 2),
                _num(r["changed_over_diff_api"], 2), _num(r["upsert_wall"], 2), _num(r["first_wall"], 2),
                _num(r["first_over_upsert"], 2),
            ]
            for r in data["state"]
        ]  # fmt: skip
        parts.append(_render(headers, body, markdown))

    if run.skipped:
        parts.append(heading("Not run"))
        seen = set()
        lines = []
        for skip in run.skipped:
            text = f"{skip['op']} {skip['kind']} {_size(skip['rows'])} @ {_ms(skip['latency'])}: {skip['reason']}"
            if text not in seen:
                seen.add(text)
                lines.append(("- " if markdown else "  ") + text)
        parts.append("\n".join(lines))

    parts.append(heading("Targets"))
    body = [
        [t["target"], _num(t["value"], 2), t["goal"], {True: "met", False: "NOT met", None: "not measured"}[t["met"]]]
        for t in data["targets"]
    ]
    parts.append(_render(["target", "value", "goal", ""], body, markdown))
    return "\n".join(parts).strip("\n") + "\n"


def _placement_note(machine: dict[str, Any]) -> str:
    case_cpus, emulator_cpus = machine.get("case_cpus"), machine.get("emulator_cpus")
    if not case_cpus:
        return "Case processes and the emulator shared the machine's one CPU."
    return (
        f"Case processes ran on CPU {', '.join(map(str, case_cpus))}, the emulator on CPU "
        f"{', '.join(map(str, emulator_cpus))}: it stands in for CleverTap's servers, "
        "which never share the client's core."
    )


def markdown_section(run: Run) -> str:
    machine = run.machine
    settings = run.settings
    lines = [
        BEGIN,
        "",
        f"Measured {run.started} with `{run.command}` ({run.seconds / 60:.1f} min), "
        f"source table in {BACKEND_NAMES[settings.backend]}.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; Python {machine['python']}, "
        f"{machine['platform']}; commit {machine['commit']}"
        + (
            f" (at the end: {machine['commit_after']})"
            if machine.get("commit_after", machine["commit"]) != machine["commit"]
            else ""
        )
        + f". Load average {machine['load_average_before']} before, "
        f"{machine.get('load_average_after', '?')} after: a shared machine, so figures move by 10-20% between runs.",
        "",
        f"Ours runs {settings.upload_concurrency} uploads / {settings.delete_concurrency} deletes at once; the "
        f"ceiling's client {settings.absorb_concurrency}. Emulator CPU is the emulator process's, per million rows.",
        "",
        _placement_note(machine),
        "",
        tables(run, markdown=True).rstrip(),
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_markdown(run: Run, path: Path, template: str) -> None:
    """Replace the results between the markers of ``path`` (created from ``template`` if missing)."""
    text = path.read_text() if path.exists() else template
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END) + r"\n?", re.DOTALL)
    text = pattern.sub(lambda _: markdown_section(run), text, count=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def summary_line(run: Run) -> str:
    data: dict[str, Any] = figures(run)
    met = [t for t in data["targets"] if t["met"]]
    measured = [t for t in data["targets"] if t["met"] is not None]
    return f"{len(met)} of {len(measured)} measured targets met; {len(run.results)} cases in {run.seconds / 60:.1f} min"
