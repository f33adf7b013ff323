"""The parts of a sync one at a time, in this process: ``python -m benchmarks.parts``.

    python -m benchmarks.parts               # 200k rows, 5 repeats
    python -m benchmarks.parts --rows 10000 --repeats 3

Where ``python -m benchmarks`` times whole cases, this splits one: reading the staged table,
building the floor's records, ``ProfileMapper.convert`` (ours), encoding batches, and the CPU of
one upload request through ``CleverTapHook`` against the emulator (one at a time, so no other
thread competes). Each figure is the best of the repeats, in process CPU time: the parts are
small enough for a shared machine's noise to matter more than in the whole-case figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import msgspec
from more_itertools import chunked

from benchmarks import dataset
from benchmarks.cases import UPLOAD_BATCH, floor_records
from benchmarks.dataset import UPLOAD_OPTIONS
from benchmarks.emulator import EmulatorProcess

REQUESTS = 200


def _best(repeats: int, work: Callable[[], Any]) -> float:
    """The least CPU time ``work`` took over ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def per_row(rows: int, repeats: int) -> dict[str, float]:
    """Microseconds per row of each part, on the rows held in memory (reading: from the file)."""
    from airflow_provider_clevertap.records import InvalidRow, ProfileMapper

    table = dataset.table(rows, log=lambda *args: None)
    connection = sqlite3.connect(table.location)
    cursor = connection.execute(table.upload_sql)
    columns = [column[0] for column in cursor.description]
    staged = cursor.fetchall()
    mapper = ProfileMapper(columns, **UPLOAD_OPTIONS)
    records = list(floor_records(columns, staged))
    encode = msgspec.json.Encoder().encode

    def read() -> None:
        reader = connection.execute(table.upload_sql)
        while reader.fetchmany(5000):
            pass

    def convert() -> None:
        for row in staged:
            try:
                mapper.convert(row)
            except InvalidRow:
                pass

    parts = {
        "read (fetchmany)": read,
        "floor: build records": lambda: sum(1 for _ in floor_records(columns, staged)),
        "ours: ProfileMapper.convert": convert,
        "encode batches (msgspec)": lambda: [encode({"d": batch}) for batch in chunked(records, UPLOAD_BATCH)],
    }
    return {name: _best(repeats, work) / len(staged) * 1e6 for name, work in parts.items()}


def per_request(repeats: int) -> float:
    """Milliseconds of CPU per upload request of 1000 records (encoding excluded), one at a time."""
    body = msgspec.json.encode(
        {
            "d": [
                {"type": "profile", "identity": f"u{i}", "profileData": {"Email": f"u{i}@example.com"}}
                for i in range(1000)
            ]
        }
    )
    from airflow_provider_clevertap.hooks.clevertap import UPLOAD_ENDPOINT, CleverTapHook

    with EmulatorProcess(0.0) as emulator:
        hook = CleverTapHook("clevertap_parts", max_concurrency=1)
        os.environ["AIRFLOW_CONN_CLEVERTAP_PARTS"] = emulator.connection_json
        try:
            hook._request("upload", "POST", UPLOAD_ENDPOINT, body=body)  # the connection is opened once

            def send() -> None:
                for _ in range(REQUESTS):
                    hook._request("upload", "POST", UPLOAD_ENDPOINT, body=body)

            return _best(repeats, send) / REQUESTS * 1e3
        finally:
            hook.close()
            del os.environ["AIRFLOW_CONN_CLEVERTAP_PARTS"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for name, micros in per_row(args.rows, args.repeats).items():
        print(f"{name:<32} {micros:6.2f} µs per row")
    print(f"{'one upload request (hook)':<32} {per_request(args.repeats):6.2f} ms of CPU per 1000 records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
