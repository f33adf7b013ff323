"""Profile one case: where the syncing process spends its CPU, main thread and worker threads apart.

    python -m benchmarks.profile                      # ours, upload, 200k rows, 50 ms
    python -m benchmarks.profile --op delete --rows 10000 --latency 0
    python -m benchmarks.profile --tool pyinstrument  # main thread only, with call tree
    python -m benchmarks.profile --op state --kind first --rows 1000000 --latency 200 --postgres
    python -m benchmarks.profile --op state --kind first --rows 200000 --latency 200 --duckdb  # or --mariadb

py-spy samples every thread, whichever holds the GIL (``pip install py-spy``); pyinstrument
(``pip install pyinstrument``) only the thread that runs the operator, where rows are read and mapped.
Neither is a dependency
of the project. Sampling slows the process down: read the shares, not the rates.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import dataset, plan, runner, stateful, warehouses
from benchmarks.emulator import EmulatorProcess

_SITE = re.compile(r"\(/[^()]*?/(?:site-packages|lib/python3\.\d+)/")


def _frame(text: str) -> str:
    return _SITE.sub("(", text).replace(str(dataset.ROOT) + "/", "")


def summarize(raw: Path, top: int = 25) -> str:
    """The share of samples per function, for the main thread and the worker threads."""
    threads = ("main", "workers", "state writer")
    inclusive = {thread: collections.Counter() for thread in threads}
    own = {thread: collections.Counter() for thread in threads}
    totals = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "_worker (concurrent/futures/thread.py" in stack:
            thread = "workers"
        elif "StateRecorder._run (airflow_provider_clevertap/state/recorder.py" in stack:
            thread = "state writer"
        elif "measure (benchmarks/cases.py" in stack:
            thread = "main"
        else:
            continue  # imports and preparation, before the clock starts
        frames = [_frame(frame) for frame in stack.split(";")]
        weight = int(count)
        totals[thread] += weight
        for name in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            inclusive[thread][name] += weight
        own[thread][frames[-1]] += weight
    total = sum(totals.values()) or 1
    shares = ", ".join(f"{thread} {totals[thread] / total:.0%}" for thread in threads)
    out = [f"{total} samples: {shares}"]
    for thread in threads:
        out.append(f"\n== {thread}: inclusive (share of all samples)")
        out += [f"{count / total:6.1%}  {name[:140]}" for name, count in inclusive[thread].most_common(top)]
        out.append(f"\n== {thread}: self, by line")
        out += [f"{count / total:6.1%}  {name[:140]}" for name, count in own[thread].most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--op", choices=("upload", "delete", "event", "state"), default="upload")
    parser.add_argument(
        "--kind",
        choices=("ours", "naive", "floor", *stateful.KINDS),
        default="ours",
        help="state: upsert, changed, first",
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=50.0, help="milliseconds (default: %(default)s)")
    parser.add_argument("--tool", choices=("py-spy", "pyinstrument"), default="py-spy")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    warehouse = parser.add_mutually_exclusive_group()
    for backend in ("postgres", *warehouses.BACKENDS):
        warehouse.add_argument(f"--{backend}", action="store_true", help=f"the staged table on {backend}")
    args = parser.parse_args(argv)

    settings = plan.Settings()
    backend = next((name for name in ("postgres", *warehouses.BACKENDS) if getattr(args, name)), "sqlite")
    table = dataset.table(args.rows, backend)
    try:
        _profile(args, settings, table)
    finally:
        if backend in warehouses.BACKENDS:
            dataset.discard(table)
    return 0


def _profile(args: argparse.Namespace, settings: plan.Settings, table: dataset.Table) -> None:
    concurrency = settings.delete_concurrency if args.op == "delete" else settings.upload_concurrency
    spec = {
        "op": args.op, "kind": args.kind, "table": table.as_dict(), "concurrency": concurrency,
        "account_id": runner.ACCOUNT_ID, "passcode": runner.PASSCODE,
    }  # fmt: skip
    home = dataset.CACHE / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_WAREHOUSE": table.airflow_connection(),
        "PYTHONPATH": str(dataset.ROOT),
    }
    case_of = plan.Case(args.op, args.kind, args.rows, args.latency / 1000)
    with (
        EmulatorProcess(args.latency / 1000) as emulator,
        tempfile.TemporaryDirectory() as scratch,
        runner.own_copy(case_of, table) as copied,  # ours on events writes its state there
    ):
        spec["table"] = copied.as_dict()
        env["AIRFLOW_CONN_WAREHOUSE"] = copied.airflow_connection()
        spec["url"] = emulator.url
        env["AIRFLOW_CONN_CLEVERTAP_DEFAULT"] = emulator.connection_json
        if args.op == "state":  # its untimed set-up first, as the runner does
            limit = plan.API_CONCURRENCY
            runner._run_process({**spec, "phase": "setup", "latency": case_of.latency, "emulator_limit": limit}, env)
        case = [sys.executable, "-m", "benchmarks.cases", json.dumps(spec)]
        if args.tool == "py-spy":
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            raw = Path(scratch) / "profile.txt"
            # --gil: only the thread holding the GIL, i.e. running Python (or C called from it).
            command = [
                py_spy, "record", "--gil", "--format", "raw", "--rate", str(args.rate),
                "--output", str(raw), "--", *case,
            ]  # fmt: skip
            subprocess.run(command, cwd=dataset.ROOT, env=env, check=True, capture_output=True)
            print(summarize(raw))
        else:
            script = (
                "import json, sys, pyinstrument\n"
                "from benchmarks import cases\n"
                "spec = json.loads(sys.argv[1])\n"
                "timed = cases.prepare(spec)\n"
                "with pyinstrument.Profiler(interval=0.0005) as profiler:\n"
                "    cases.measure(timed)\n"
                "print(profiler.output_text(unicode=False, show_all=False))\n"
            )
            command = [sys.executable, "-c", script, json.dumps(spec)]
            done = subprocess.run(command, cwd=dataset.ROOT, env=env, capture_output=True, text=True)
            print(done.stdout if done.returncode == 0 else done.stderr[-4000:])


if __name__ == "__main__":
    raise SystemExit(main())
