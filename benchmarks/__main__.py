"""``python -m benchmarks``: run the benchmarks, print the figures, write docs/benchmarks.md.

python -m benchmarks                 # make bench: every size and latency, 3 rounds
python -m benchmarks --quick         # make bench-quick: 10k rows, 1 round, under a minute
python -m benchmarks --postgres      # read the staged table from PostgreSQL
python -m benchmarks --mariadb --state-sizes 200000 --rounds 1   # the stateful cases on MariaDB (or --duckdb)
python -m benchmarks --sizes 10000,200000 --latencies 50 --rounds 5 --no-write
python -m benchmarks --sizes "" --delete-sizes "" --state-sizes "" --event-sizes 10000  # events only
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from benchmarks import dataset, plan, report, runner, warehouses

DOC = dataset.ROOT / "docs" / "benchmarks.md"
DOC_TEMPLATE = "# Benchmarks\n\nRun `make bench` to fill in the results.\n"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part)


def _latencies(text: str) -> tuple[float, ...]:
    return tuple(float(part) / 1000 for part in text.split(",") if part)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k rows, one round: a check in under a minute")
    warehouse = parser.add_mutually_exclusive_group()
    warehouse.add_argument(
        "--postgres", action="store_true", help="read from PostgreSQL (CLEVERTAP_BENCH_POSTGRES_URI)"
    )
    warehouse.add_argument(
        "--mariadb", action="store_true", help="only the stateful cases, on MariaDB (CLEVERTAP_BENCH_MARIADB_HOST)"
    )
    warehouse.add_argument("--duckdb", action="store_true", help="only the stateful cases, on a DuckDB file")
    parser.add_argument("--rounds", type=int, help="rounds of every case; figures are medians over rounds")
    parser.add_argument("--sizes", type=_ints, help="upload sizes in rows, comma-separated")
    parser.add_argument("--latencies", type=_latencies, help="upload latencies in ms, comma-separated")
    parser.add_argument("--delete-sizes", type=_ints, help="delete sizes in rows (empty: no delete cases)")
    parser.add_argument("--delete-latencies", type=_latencies, help="delete latencies in ms")
    parser.add_argument("--state-sizes", type=_ints, help="stateful case sizes in rows (empty: no stateful cases)")
    parser.add_argument("--state-latencies", type=_latencies, help="stateful case latencies in ms")
    parser.add_argument("--event-sizes", type=_ints, help="event upload sizes in rows (empty: no event cases)")
    parser.add_argument("--event-latencies", type=_latencies, help="event upload latencies in ms")
    parser.add_argument("--write", dest="write", action="store_true", default=None, help="write docs/benchmarks.md")
    parser.add_argument("--no-write", dest="write", action="store_false", help="do not write docs/benchmarks.md")
    parser.add_argument("--output", type=Path, default=DOC, help="the Markdown file to write (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = plan.QUICK if args.quick else plan.Settings()
    backend = "postgres" if args.postgres else "mariadb" if args.mariadb else "duckdb" if args.duckdb else None
    if backend in warehouses.BACKENDS:
        if args.sizes or args.delete_sizes or args.event_sizes:
            parser.error(f"only the stateful cases run with --{backend}: no --sizes, --delete-sizes or --event-sizes")
        settings = plan.with_overrides(settings, upload_sizes=(), delete_sizes=(), event_sizes=())
    settings = plan.with_overrides(
        settings,
        rounds=args.rounds,
        upload_sizes=args.sizes,
        upload_latencies=args.latencies,
        delete_sizes=args.delete_sizes,
        delete_latencies=args.delete_latencies,
        state_sizes=args.state_sizes,
        state_latencies=args.state_latencies,
        event_sizes=args.event_sizes,
        event_latencies=args.event_latencies,
        backend=backend,
    )
    command = "python -m benchmarks" + "".join(
        f" {shlex.quote(arg)}" for arg in (sys.argv[1:] if argv is None else argv)
    )
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        run = runner.run(settings, command)
    except runner.BenchmarkError as error:
        print(f"\nBenchmark failed: {error}", file=sys.stderr)
        if error.partial is not None and error.partial.results:
            raw = dataset.CACHE / f"results-{stamp}-partial.json"
            runner.save(error.partial, raw)
            print(f"The cases measured before the failure: {raw.relative_to(dataset.ROOT)}", file=sys.stderr)
        return 1
    print()
    print(report.tables(run))
    print(report.summary_line(run))
    raw = dataset.CACHE / f"results-{stamp}.json"
    runner.save(run, raw)
    print(f"Raw results: {raw.relative_to(dataset.ROOT)}")
    # A full run writes the docs; a quick or narrowed one only when asked to.
    write = (
        args.write
        if args.write is not None
        else not (args.quick or args.sizes or args.latencies or args.state_sizes or args.event_sizes)
    )
    if write:
        report.write_markdown(run, args.output, DOC_TEMPLATE)
        print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
