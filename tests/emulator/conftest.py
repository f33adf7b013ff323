"""A running emulator per test module, reset to a healthy state before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

ACCOUNT_ID = "TEST-ACCOUNT"
PASSCODE = "test-passcode"
AUTH = {"X-CleverTap-Account-Id": ACCOUNT_ID, "X-CleverTap-Passcode": PASSCODE}


@pytest.fixture(scope="module")
def running_emulator() -> Iterator[CleverTapEmulator]:
    with CleverTapEmulator(account_id=ACCOUNT_ID, passcode=PASSCODE, port=0) as emulator:
        yield emulator


@pytest.fixture
def emu(running_emulator: CleverTapEmulator) -> CleverTapEmulator:
    running_emulator.configure(account_id=ACCOUNT_ID, passcode=PASSCODE, faults=EmulatorFaults())
    running_emulator.reset()
    return running_emulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers.update(AUTH)
        yield http
