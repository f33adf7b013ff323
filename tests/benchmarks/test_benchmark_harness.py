"""The benchmark harness cannot rot silently: on tiny tables it produces every figure, and every row arrives.

No timing is asserted: these machines are shared and the figures belong in docs/benchmarks.md.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from benchmarks import cases, dataset, events, report, runner, stateful

TINY = runner.Settings(
    upload_sizes=(1200,),
    upload_latencies=(0.0,),
    delete_sizes=(250,),
    delete_latencies=(0.0,),
    state_sizes=(),
    event_sizes=(),
    rounds=1,
    absorb_concurrency=4,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Tables, the Airflow home and the emulator log go to a temporary folder, not .benchmarks/."""
    monkeypatch.setattr(dataset, "CACHE", tmp_path)
    return tmp_path


def test_a_tiny_run_produces_every_figure_and_every_row_arrives(cache, tmp_path):
    # run() raises BenchmarkError when a case fails or the emulator did not receive every row.
    run = runner.run(TINY, "python -m benchmarks (smoke test)", log=lambda line: None)

    kinds = {(result["op"], result["kind"]) for result in run.results}
    assert kinds == {(op, kind) for op in ("upload", "delete") for kind in ("ours", "naive", "floor", "absorb")}
    for result in run.results:
        for key in ("wall", "cpu", "rate", "cpu_per_m", "peak_rss_mb", "start_rss_mb"):
            assert result[key] > 0, (result["op"], result["kind"], key)

    expected = dataset.expected_upload(1200)
    ours = next(r for r in run.results if (r["op"], r["kind"]) == ("upload", "ours"))
    assert (ours["accepted"], ours["refused"], ours["invalid"]) == (
        expected["rows_accepted"], expected["rows_refused"], expected["rows_invalid"],
    )  # fmt: skip
    assert ours["emulator_stats"]["records_stored"] == expected["rows_accepted"]
    deleted = next(r for r in run.results if (r["op"], r["kind"]) == ("delete", "ours"))
    assert deleted["emulator_stats"]["deletes"] == 250

    figures = runner.figures(run)
    for op in ("upload", "delete"):
        (row,) = figures[op]
        for key in (
            "ours_rate", "naive_rate", "ceiling", "ours_over_naive", "ours_over_ceiling", "ours_cpu_per_m",
            "naive_cpu_per_m", "floor_cpu_per_m", "cpu_over_floor", "ours_peak_rss_mb", "naive_peak_rss_mb",
        ):  # fmt: skip
            assert row[key] is not None and row[key] > 0, (op, key)
        assert row["ours_emulator_cpu_per_m"] >= 0  # counted in clock ticks: a tiny run may take none
    assert {r["op"] for r in figures["floor"]} == {r["op"] for r in figures["ceiling"]} == {"upload", "delete"}
    assert len(figures["targets"]) == 14  # the stateful and event ones not measured here: see the next tests

    text = report.tables(run)
    assert "Uploads" in text and "Deletes" in text and "Targets" in text
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nHand-written notes.\n\n{report.BEGIN}\nold figures\n{report.END}\n\nMore notes.\n")
    report.write_markdown(run, doc, "")
    written = doc.read_text()
    assert "Hand-written notes." in written and "More notes." in written and "old figures" not in written
    assert "| rows | latency | ours rows/s |" in written


def test_a_tiny_stateful_run_accounts_for_every_row_and_sends_only_what_changed(cache):
    settings = runner.Settings(
        upload_sizes=(), delete_sizes=(), state_sizes=(1200, 2500), state_latencies=(0.0,), event_sizes=(), rounds=1,
    )  # fmt: skip
    run = runner.run(settings, "python -m benchmarks (stateful smoke test)", log=lambda line: None)

    by_case = {(r["kind"], r["rows"]): r for r in run.results}
    assert set(by_case) == {(kind, rows) for kind in ("floor", "upsert", "changed", "first") for rows in (1200, 2500)}
    expected = dataset.expected_upload(2500)
    edited = 25  # keys ending in 42: 42, 142, ..., 2442
    changed, first = by_case[("changed", 2500)], by_case[("first", 2500)]
    assert changed["set_up_run"]["rows_accepted"] == expected["rows_accepted"]  # the state the edit starts from
    assert (changed["accepted"], changed["refused"], changed["invalid"], changed["unchanged"]) == (
        edited, expected["rows_refused"], expected["rows_invalid"], expected["rows_accepted"] - edited,
    )  # fmt: skip
    # The emulator's counters are the timed run's: the edited rows and the refused ones, retried.
    assert changed["emulator_stats"]["records_received"] == edited + expected["rows_refused"]
    assert changed["emulator_stats"]["records_stored"] == edited
    for kind in ("upsert", "first"):
        result = by_case[(kind, 2500)]
        assert (result["accepted"], result["unchanged"]) == (expected["rows_accepted"], 0), kind
        assert result["emulator_stats"]["records_stored"] == expected["rows_accepted"], kind
    assert first["emulator_stats"]["records_received"] == 2500 - expected["rows_invalid"]

    (small, large) = runner.figures(run)["state"]
    assert (small["rows"], large["rows"], large["changed_sent"]) == (1200, 2500, edited + expected["rows_refused"])
    for key in ("upsert_over_changed", "first_over_upsert", "changed_cpu_over_floor"):
        assert large[key] > 0, key
    state_targets = runner.figures(run)["targets"][4:10]  # the event ones follow
    assert [t["met"] is not None for t in state_targets] == [True] * 6
    assert "Stateful syncs" in report.tables(run)
    assert not list(cache.glob("state-*.db"))  # each case's copy of the table is removed


def test_a_tiny_event_run_produces_every_figure_and_every_event_arrives(cache):
    settings = runner.Settings(
        upload_sizes=(), delete_sizes=(), state_sizes=(), event_sizes=(1200,), event_latencies=(0.0,), rounds=1,
        absorb_concurrency=4,
    )  # fmt: skip
    run = runner.run(settings, "python -m benchmarks (event smoke test)", log=lambda line: None)

    by_kind = {(r["op"], r["kind"]): r for r in run.results}
    assert set(by_kind) == {("event", kind) for kind in ("ours", "naive", "floor", "absorb")}
    ours = by_kind[("event", "ours")]
    assert (ours["accepted"], ours["refused"], ours["invalid"], ours["unchanged"]) == (1200, 0, 0, 0)
    for kind in ("ours", "naive", "absorb"):
        stats = by_kind[("event", kind)]["emulator_stats"]
        assert (stats["records_received"], stats["events_stored"], stats["records_stored"]) == (1200, 1200, 0), kind
    # Ours wrote its state on its own copy of the table: the next round's ours sends every event again.
    assert not list(cache.glob("event-*.db"))
    with sqlite3.connect(dataset.table(1200, log=lambda line: None).location) as db:
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'clevertap_sync_state'").fetchall()

    figures = runner.figures(run)
    (row,) = figures["event"]
    for key in ("ours_over_naive", "ours_over_ceiling", "cpu_over_floor", "ours_peak_rss_mb", "naive_peak_rss_mb"):
        assert row[key] > 0, key
    event_targets = [t for t in figures["targets"] if t["target"].startswith("events: ")]
    assert [t["met"] is not None for t in event_targets] == [False, False, True, False]  # only CPU is size-free
    text = report.tables(run)
    assert "Events (one round; batches of 1000)" in text and "events: CPU ours / floor" in text


def test_on_postgresql_the_event_and_stateful_cases_run_on_a_copy_of_their_own(postgres_uri):
    settings = runner.Settings(upload_sizes=(), delete_sizes=(), state_sizes=(1200,), backend="postgres")
    cases, skipped = runner.plan(settings)
    assert ("event", "ours", 200_000) in {(case.op, case.kind, case.rows) for case in cases}
    assert {case.kind for case in cases if case.op == "state"} == set(stateful.KINDS) and not skipped

    import psycopg

    staged = dataset.table(1200, "postgres", log=lambda line: None)
    with dataset.own_copy(staged, "state_changed") as copy:
        assert copy.prefix != staged.prefix
        with psycopg.connect(copy.location) as db:
            db.execute(f"UPDATE {copy.prefix}staged_customers SET orders = -1")
            (count,) = db.execute(f"SELECT COUNT(*) FROM {copy.prefix}staged_customers").fetchone()
        assert count == 1200
    with psycopg.connect(staged.location) as db:
        assert db.execute(f"SELECT COUNT(*) FROM {staged.prefix}staged_customers WHERE orders = -1").fetchone() == (0,)
        schema = copy.prefix.rstrip(".")
        assert db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None


def _staged(size, query):
    """The columns and rows of a staged table's query (``upload_sql``, ``event_sql``)."""
    table = dataset.table(size, log=lambda line: None)
    with sqlite3.connect(table.location) as db:
        cursor = db.execute(getattr(table, query))
        return [column[0] for column in cursor.description], cursor.fetchall()


def test_the_event_floor_builds_the_very_events_ours_sends(cache):
    from airflow_provider_clevertap.event_records import EventMapper

    columns, rows = _staged(3000, "event_sql")
    mapper = EventMapper(columns, **dataset.EVENT_OPTIONS)
    assert list(events.floor_event_records(columns, rows)) == [mapper.convert(row) for row in rows]
    assert len({row[0] for row in rows}) == 3000  # one order, one event id, per row


def test_the_floor_builds_the_very_records_ours_sends(cache):
    """The floor is only a floor if it does the same job: same records, for every sendable row."""
    from airflow_provider_clevertap.records import InvalidRow, ProfileMapper

    columns, rows = _staged(3000, "upload_sql")
    mapper = ProfileMapper(columns, **dataset.UPLOAD_OPTIONS)
    ours = []
    for row in rows:
        try:
            ours.append(mapper.convert(row))
        except InvalidRow:
            pass
    assert list(cases.floor_records(columns, rows)) == ours
    assert len(ours) == 3000 - dataset.expected_upload(3000)["rows_invalid"]


def _result(op, kind, rows, latency, round_number, rate, cpu_per_m=10.0, peak=100.0):
    return {
        "op": op, "kind": kind, "rows": rows, "latency": latency, "round": round_number, "rate": rate,
        "cpu_per_m": cpu_per_m, "peak_rss_mb": peak, "start_rss_mb": 90.0, "retries": 0,
    }  # fmt: skip


def test_ratios_are_taken_within_a_round_and_targets_read_from_them():
    settings = runner.Settings(
        upload_sizes=(10_000, 1_000_000), upload_latencies=(0.05,), delete_sizes=(), delete_latencies=(), rounds=3
    )
    run = runner.Run(settings, "", "", {})
    for n, factor in ((1, 1.0), (2, 2.0), (3, 0.5)):  # the machine got faster, then slower
        run.results += [
            _result("upload", "floor", 10_000, None, n, 100_000 * factor, cpu_per_m=4.0 / factor),
            _result("upload", "floor", 1_000_000, None, n, 100_000 * factor, cpu_per_m=4.0 / factor),
            _result("upload", "absorb", 10_000, 0.05, n, 200_000 * factor),
            _result("upload", "ours", 10_000, 0.05, n, 130_000 * factor, cpu_per_m=7.0 / factor, peak=150),
            _result("upload", "naive", 10_000, 0.05, n, 13_000 * factor),
            _result("upload", "ours", 1_000_000, 0.05, n, 130_000 * factor, cpu_per_m=9.0 / factor, peak=150 + 10 * n),
        ]
    figures = runner.figures(run)
    small, large = figures["upload"]
    # The same ratio in every round, whatever the machine did: exactly that ratio.
    assert small["ours_over_naive"] == pytest.approx(10.0)
    assert small["ours_over_ceiling"] == pytest.approx(0.65)
    assert small["cpu_over_floor"] == pytest.approx(1.75)
    assert large["cpu_over_floor"] == pytest.approx(2.25)
    assert figures["memory"] == [{"op": "upload", "latency": 0.05, "small": 10_000, "large": 1_000_000, "mb": 20.0}]
    met = {target["goal"]: target["met"] for target in figures["targets"][:4]}  # the stateful ones follow
    assert met == {">= 8": None, ">= 0.6": True, "<= 2": False, "<= 64 MB": True}


def test_the_parts_print_every_figure(cache, capsys, monkeypatch):
    from benchmarks import parts

    monkeypatch.setattr(parts, "REQUESTS", 3)

    assert parts.main(["--rows", "1200", "--repeats", "1"]) == 0

    figures = re.findall(
        r"^(.+?)\s+(\d+\.\d+) (?:µs per row|ms of CPU per 1000 records)$", capsys.readouterr().out, re.M
    )
    assert [name for name, _ in figures] == [
        "read (fetchmany)",
        "floor: build records",
        "ours: ProfileMapper.convert",
        "encode batches (msgspec)",
        "one upload request (hook)",
    ]
    assert all(float(value) > 0 for _, value in figures)
