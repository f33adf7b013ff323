"""The seen-ids benchmark runs and prints its figures."""

from __future__ import annotations

from benchmarks import seen_ids


def test_the_seen_ids_benchmark_prints_memory_and_cpu_of_both_ways(capsys):
    assert seen_ids.main(["--ids", "5000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["SeenIds", "set of the ids' hashes"]
    assert all("MB held" in line and "s CPU for 5000 ids" in line for line in lines)
