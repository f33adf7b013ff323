"""Benchmarks: the upload and delete operators against a hand-written loop, the CPU floor and the API ceiling.

Run ``make bench`` (about a quarter of an hour) or ``make bench-quick`` (under a minute), or
``python -m benchmarks --help``. Each case runs in a fresh process (:mod:`benchmarks.cases`)
against an emulator in its own process (:mod:`benchmarks.emulator`), over a staged table that
is generated once and cached under ``.benchmarks/`` (:mod:`benchmarks.dataset`). The runner
(:mod:`benchmarks.runner`) checks that every row arrived, prints the figures and writes them
to ``docs/benchmarks.md``.
"""
