"""One benchmark case, run in a fresh process: ``python -m benchmarks.cases '<spec as JSON>'``.

Everything a case needs before its clock starts (imports, building the operator, pre-encoding
the ceiling's request bodies) happens first; then the timed part runs, and the process prints
one line starting with ``BENCH-RESULT`` holding the figures as JSON. A fresh process per case
keeps one case's peak memory (VmHWM) and CPU from mixing with another's.

The cases, for uploads and for deletes (and for events: benchmarks/events.py):

- ``ours``: ``CleverTapUserUploadOperator(...).execute(context)`` (or the delete operator): the
  code path a task runs, configured like ``example_dags/clevertap_user_sync.py``.
- ``naive``: what people write in a PythonOperator: read rows, build the records, post one batch
  at a time with ``requests`` (a keep-alive session, ``json=``), raise on an HTTP error.
- ``floor``: the least client work that produces the same request bodies: read the rows, build
  the records, JSON-encode the batches with msgspec; no HTTP, no validation, no accounting.
- ``absorb``: what the emulator alone can take: the bodies are encoded before the clock starts,
  then sent over keep-alive ``http.client`` connections, many at once.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import http.client
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from more_itertools import chunked

from benchmarks.dataset import DELETE_ID_COLUMN, UPLOAD_OPTIONS, Table

RESULT_PREFIX = "BENCH-RESULT "
UPLOAD_BATCH = 1000  # CleverTap's limit per upload request
DELETE_BATCH = 100  # CleverTap's limit per delete request
FETCH_SIZE = 5000
UPLOAD_PATH = "/1/upload"
DELETE_PATH = "/1/delete/profiles.json"
CONTEXT = {"run_id": "bench"}

Spec = dict[str, Any]
Prepared = Callable[[], dict[str, Any]]


# -- reading the table without Airflow (naive, floor, absorb) ---------------------------------------


def _stream(table: Table, sql: str) -> tuple[Any, list[str], Iterator[tuple[Any, ...]]]:
    """A connection, the column names and the rows, read in chunks (server-side on PostgreSQL)."""
    connection = table.connect()
    cursor = table.streaming_cursor(connection)
    cursor.execute(sql)
    first = cursor.fetchmany(FETCH_SIZE)
    columns = [column[0] for column in cursor.description]

    def rows() -> Iterator[tuple[Any, ...]]:
        chunk = first
        while chunk:
            yield from chunk
            chunk = cursor.fetchmany(FETCH_SIZE)

    return connection, columns, rows()


# -- the same records as ours, with the least work ---------------------------------------------------


_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_SECOND = dt.timedelta(seconds=1)


def epoch_seconds(text: str) -> int:
    """Whole epoch seconds (floored) of an ISO-8601 text, naive meaning UTC: the quickest exact way."""
    moment = dt.datetime.fromisoformat(text)
    return (moment - (_EPOCH if moment.tzinfo is None else _EPOCH_UTC)) // _SECOND


def _number(value: Any) -> Any:
    # PostgreSQL NUMERIC reads as Decimal, which ours sends as an int when whole, else a float.
    if type(value) is decimal.Decimal:
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def floor_records(columns: list[str], rows: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """The records ours sends for the staged table, built with the least work (no checks).

    Tailored to this table: no nulls but the identity; ``signup_at`` is the only ISO-8601
    property; ``lifetime_value`` the only NUMERIC one.
    """
    index = {column: position for position, column in enumerate(columns)}
    identity = index[UPLOAD_OPTIONS["identity_column"]]
    ts = index[UPLOAD_OPTIONS["ts_column"]]
    names = UPLOAD_OPTIONS["property_columns"]
    (name, email, phone, gender, plan, value, orders, active, signup) = (index[column] for column in names)
    (n_name, n_email, n_phone, n_gender, n_plan, n_value, n_orders, n_active, n_signup) = names.values()
    epoch = epoch_seconds
    number = _number
    for row in rows:
        if row[identity] is None:
            continue  # ours reports it invalid and does not send it
        yield {
            "type": "profile",
            "identity": row[identity],
            "ts": epoch(row[ts]),
            "profileData": {
                n_name: row[name],
                n_email: row[email],
                n_phone: row[phone],
                n_gender: row[gender],
                n_plan: row[plan],
                n_value: number(row[value]),
                n_orders: row[orders],
                n_active: row[active],
                n_signup: f"$D_{epoch(row[signup])}",
            },
        }


def encoded_bodies(
    table: Table, sql: str, items: Callable[[list[str], Iterator[tuple[Any, ...]]], Iterable[Any]], size: int, key: str
) -> Iterator[tuple[int, bytes]]:
    """The request bodies ``{key: [...]}`` of the items built from the rows of ``sql``, with msgspec."""
    import msgspec

    encode = msgspec.json.Encoder().encode
    connection, columns, rows = _stream(table, sql)
    try:
        for batch in chunked(items(columns, rows), size):
            yield len(batch), encode({key: batch})
    finally:
        connection.close()


def _encoded_upload_bodies(table: Table) -> Iterator[tuple[int, bytes]]:
    return encoded_bodies(table, table.upload_sql, floor_records, UPLOAD_BATCH, "d")


def _encoded_delete_bodies(table: Table) -> Iterator[tuple[int, bytes]]:
    return encoded_bodies(table, table.delete_sql, lambda _, rows: (row[0] for row in rows), DELETE_BATCH, "identity")


# -- the cases: each prepares, then returns the timed part -------------------------------------------


def operator(name: str, spec: Spec, sql: str, **options: Any) -> Any:
    """The operator ``name`` of ours reading ``sql`` from the staged table, ``spec``'s requests at once."""
    from airflow_provider_clevertap import operators

    return getattr(operators, name)(source_conn_id="warehouse", sql=sql, max_concurrency=spec["concurrency"], **options)


def upload_operator(spec: Spec, **options: Any) -> Any:
    """The upload operator of ours, configured like the example DAG; ``options`` add to it."""
    table = Table.from_dict(spec["table"])
    return operator(
        "CleverTapUserUploadOperator",
        spec,
        table.upload_sql,
        task_id="bench_upload",
        max_failed_ratio=0.01,  # the table holds 4 bad rows in 1000, as the example DAG allows
        **UPLOAD_OPTIONS,
        **options,
    )


def ours_upload(spec: Spec) -> Prepared:
    return timed_execute(upload_operator(spec))


def ours_delete(spec: Spec) -> Prepared:
    table = Table.from_dict(spec["table"])
    delete = operator(
        "CleverTapUserDeleteOperator", spec, table.delete_sql, task_id="bench_delete", identity_column=DELETE_ID_COLUMN
    )
    return timed_execute(delete)


def timed_execute(task: Any) -> Prepared:
    """The timed part of ours: the operator's ``execute()``, as a task process calls it."""
    as_in_a_task_process()
    return lambda: ours_result(task.execute(CONTEXT))


def as_in_a_task_process() -> None:
    """Load what Airflow's task process has loaded before it calls ``execute()``.

    Outside a task, Airflow imports its connection machinery (and the warehouse's hook module)
    on the first connection lookup: 20 ms of CPU, a tenth of a 10k-row case, that a task never
    pays inside ``execute()``. The lookups cache nothing; the operator makes its own.
    """
    from airflow.providers.common.compat.sdk import BaseHook

    BaseHook.get_connection("warehouse").get_hook()
    BaseHook.get_connection("clevertap_default")


def ours_result(summary: dict[str, Any]) -> dict[str, Any]:
    unchanged = summary.get("rows_unchanged", 0)  # stateful syncs: read, not sent
    return {
        "rows": summary["rows_read"],
        "sent": summary["rows_read"] - summary["rows_invalid"] - unchanged,
        "unchanged": unchanged,
        "accepted": summary["rows_accepted"],
        "refused": summary["rows_refused"],
        "invalid": summary["rows_invalid"],
        "requests": summary["requests"],
        "retries": summary["retries"],
    }


def naive_upload(spec: Spec) -> Prepared:
    table = Table.from_dict(spec["table"])
    return naive_loop(spec, UPLOAD_PATH, table.upload_sql, UPLOAD_BATCH, _naive_profiles)


def _naive_profiles(columns: list[str], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    batch = []
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        lifetime_value = record["lifetime_value"]
        if isinstance(lifetime_value, decimal.Decimal):
            lifetime_value = float(lifetime_value)
        updated = dt.datetime.fromisoformat(record["updated_at"]).replace(tzinfo=dt.timezone.utc)
        signup = dt.datetime.fromisoformat(record["signup_at"])
        batch.append(
            {
                "type": "profile",
                "identity": record["customer_id"],
                "ts": int(updated.timestamp()),
                "profileData": {
                    "Name": record["full_name"],
                    "Email": record["email"],
                    "Phone": record["phone"],
                    "Gender": record["gender"],
                    "Plan": record["plan"],
                    "Lifetime Value": lifetime_value,
                    "Orders": record["orders"],
                    "Active": record["is_active"],
                    "Signup Date": f"$D_{int(signup.timestamp())}",
                },
            }
        )
    return {"d": batch}


def naive_delete(spec: Spec) -> Prepared:
    table = Table.from_dict(spec["table"])
    return naive_loop(
        spec, DELETE_PATH, table.delete_sql, DELETE_BATCH, lambda _, rows: {"identity": [row[0] for row in rows]}
    )


def naive_loop(
    spec: Spec, path: str, sql: str, size: int, body: Callable[[list[str], list[tuple[Any, ...]]], dict[str, Any]]
) -> Prepared:
    """What a hand-written task looks like: read ``size`` rows, post their ``body``, one batch after another."""
    import requests

    table = Table.from_dict(spec["table"])
    url = spec["url"] + path
    headers = _auth_headers(spec)

    def run() -> dict[str, Any]:
        connection = table.connect()
        cursor = connection.cursor()
        cursor.execute(sql)
        columns = [column[0] for column in cursor.description]
        session = requests.Session()
        read = 0
        while rows := cursor.fetchmany(size):
            response = session.post(url, json=body(columns, rows), headers=headers, timeout=60)
            response.raise_for_status()
            read += len(rows)
        session.close()
        connection.close()
        return {"rows": read, "sent": read}

    return run


def floor_upload(spec: Spec) -> Prepared:
    return floor(spec, _encoded_upload_bodies)


def floor_delete(spec: Spec) -> Prepared:
    return floor(spec, _encoded_delete_bodies)


def floor(spec: Spec, bodies: Callable[[Table], Iterator[tuple[int, bytes]]]) -> Prepared:
    table = Table.from_dict(spec["table"])
    import msgspec  # noqa: F401  (imported before the clock starts)

    def run() -> dict[str, Any]:
        sent = encoded = 0
        for count, body in bodies(table):
            sent += count
            encoded += len(body)
        return {"rows": table.rows, "sent": sent, "bytes": encoded}

    return run


def absorb_upload(spec: Spec) -> Prepared:
    return absorb(spec, UPLOAD_PATH, _encoded_upload_bodies)


def absorb_delete(spec: Spec) -> Prepared:
    return absorb(spec, DELETE_PATH, _encoded_delete_bodies)


def absorb(spec: Spec, path: str, bodies: Callable[[Table], Iterator[tuple[int, bytes]]]) -> Prepared:
    """The ceiling's timed part: the bodies, encoded before the clock starts, sent many at once."""
    encoded = list(bodies(Table.from_dict(spec["table"])))
    return lambda: _send_all(spec, path, encoded)


def _auth_headers(spec: Spec) -> dict[str, str]:
    return {"X-CleverTap-Account-Id": spec["account_id"], "X-CleverTap-Passcode": spec["passcode"]}


def _send_all(spec: Spec, path: str, bodies: list[tuple[int, bytes]]) -> dict[str, Any]:
    """Send pre-encoded bodies over ``spec["concurrency"]`` keep-alive connections at once."""
    address = urlsplit(spec["url"])
    headers = {**_auth_headers(spec), "Content-Type": "application/json; charset=utf-8"}
    pending = iter(bodies)
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        try:
            while not errors:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                connection.request("POST", path, item[1], headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    errors.append(f"HTTP {answer.status}")
        except Exception as error:  # reported by the runner, which checks every row arrived
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(spec["concurrency"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"the emulator refused pre-encoded batches: {errors[:3]}")
    sent = sum(count for count, _ in bodies)
    return {"rows": sent, "sent": sent}


CASES: dict[tuple[str, str], Callable[[Spec], Prepared]] = {
    ("upload", "ours"): ours_upload,
    ("upload", "naive"): naive_upload,
    ("upload", "floor"): floor_upload,
    ("upload", "absorb"): absorb_upload,
    ("delete", "ours"): ours_delete,
    ("delete", "naive"): naive_delete,
    ("delete", "floor"): floor_delete,
    ("delete", "absorb"): absorb_delete,
}


# -- measuring ------------------------------------------------------------------------------------------


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_resident_mb() -> float:
    """This process's peak resident memory (VmHWM).

    Not ``ru_maxrss``: Linux carries it over ``exec`` from the process that forked this one, so
    a case started by a runner holding 300 MB would report at least 300 MB.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the closest there is


def measure(timed: Prepared) -> dict[str, Any]:
    """Run ``timed`` and return its result with wall clock, CPU (all threads) and peak memory."""
    gc.collect()
    start_rss = _resident_mb()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = timed()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        **result,
        "wall": wall,
        "cpu": cpu,
        "start_rss_mb": start_rss,
        "peak_rss_mb": _peak_resident_mb(),
    }


def prepare(spec: Spec) -> Prepared:
    """The timed part of one case, ready to run (``measure``, or a profiler)."""
    if spec["op"] == "state":
        from benchmarks import stateful  # it builds on this module's cases

        return stateful.timed(spec)
    if spec["op"] == "event":
        from benchmarks import events  # it builds on this module's cases

        return events.CASES[spec["kind"]](spec)
    return CASES[(spec["op"], spec["kind"])](spec)


def run_case(spec: Spec) -> dict[str, Any]:
    """Prepare and measure one case in this process (the runner gives each case its own).

    A stateful case (op ``state``) may first need its set-up, run by the runner in a process of
    its own (``"phase": "setup"``), untimed.
    """
    if spec.get("phase") == "setup":
        from benchmarks import stateful

        return stateful.set_up(spec)
    return measure(prepare(spec))


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    if spec.get("cpus"):
        os.sched_setaffinity(0, set(spec["cpus"]))  # before any thread starts: they inherit it
    result = run_case(spec)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
