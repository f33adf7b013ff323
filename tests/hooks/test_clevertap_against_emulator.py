"""The hook over real HTTP against the emulator: a large upload through injected faults."""

from __future__ import annotations

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

RECORDS = 50_000
BAD_EMAIL_EVERY = 997  # CleverTap refuses these (515): refusals must be counted through the retries


def make_record(number: int) -> dict:
    email = "not-an-email" if number % BAD_EMAIL_EVERY == 0 else f"user{number}@example.com"
    return {
        "type": "profile",
        "identity": f"user-{number}",
        "ts": 1_700_000_000 + number,
        "profileData": {
            "Email": email,
            "Plan": ("free", "pro")[number % 2],
            "Orders": number % 50,
            "VIP": number % 3 == 0,
        },
    }


def test_a_50k_upload_through_faults_stores_every_record_as_sent(set_connection, account_id, passcode):
    # Faults the emulator injects before it processes a request: a retry is the only delivery.
    faults = EmulatorFaults(throttle_ratio=0.1, error_ratio=0.1, error_status=503, drop_ratio=0.05, seed=3)
    with CleverTapEmulator(account_id=account_id, passcode=passcode, faults=faults) as emulator:
        set_connection(host=emulator.url)
        hook = CleverTapHook(max_concurrency=10, max_attempts=8, backoff_base=0.005, backoff_max=0.05)

        results = list(hook.upload_records(make_record(n) for n in range(RECORDS)))

        stats, profiles = emulator.stats, emulator.profiles
    refused = {result.identities[r.position] for result in results for r in result.refused}
    expected_refused = {f"user-{n}" for n in range(RECORDS) if n % BAD_EMAIL_EVERY == 0}
    accepted = sum(result.accepted_count for result in results)

    # Every record has exactly one outcome, and the faults really happened.
    assert sum(len(result.identities) for result in results) == RECORDS
    assert refused == expected_refused
    assert accepted == RECORDS - len(expected_refused)
    assert stats.throttled > 0 and stats.failed > 0 and stats.dropped > 0
    # The hook's counts are the emulator's: every request it made arrived, every accepted record
    # was stored once.
    assert sum(result.attempts for result in results) == stats.requests
    assert stats.records_stored == accepted
    assert stats.max_in_flight <= 10
    # Stored exactly as sent.
    assert set(profiles) == {f"user-{n}" for n in range(RECORDS)} - expected_refused
    for number in (1, 2, 12_345, RECORDS - 1):
        record = make_record(number)
        assert profiles[record["identity"]]["profileData"] == record["profileData"]
        assert profiles[record["identity"]]["ts"] == record["ts"]
    mismatched = [
        identity
        for identity, stored in profiles.items()
        if stored["profileData"] != make_record(int(identity.split("-")[1]))["profileData"]
    ]
    assert mismatched == []
