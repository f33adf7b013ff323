"""A local CleverTap emulator: develop, demo and test DAGs without a CleverTap account.

It keeps CleverTap's contract as far as it is known (header auth, ``POST /1/upload`` with its
per-record codes, ``POST /1/delete/profiles.json``, ``GET /1/profile.json``, the limit of 15
concurrent requests), injects faults on demand and counts what it receives, so tests assert
against what a client really sent. Run it from Python::

    from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

    with CleverTapEmulator(faults=EmulatorFaults(throttle_every=3, retry_after=1)) as emu:
        ...  # point the clevertap_default connection at emu.connection_json()
        assert emu.stats.throttled > 0

or as a process: ``python -m airflow_provider_clevertap.emulator --help``. A running emulator
is also controlled over HTTP, with no CleverTap auth: ``GET /_emulator/state`` (stats; profiles
too with ``?profiles=1``, events with ``?events=1``), ``POST /_emulator/reset`` and ``POST /_emulator/configure``.
"""

from __future__ import annotations

from airflow_provider_clevertap.emulator.faults import EmulatorFaults
from airflow_provider_clevertap.emulator.server import CleverTapEmulator
from airflow_provider_clevertap.emulator.stats import EmulatorStats

__all__ = ["CleverTapEmulator", "EmulatorFaults", "EmulatorStats"]
