"""Mapping CleverTap's answer for one batch back to the identities sent (``parse_refusals``)."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.responses import BatchResult, Refusal, parse_refusals


def test_a_success_refuses_nothing():
    batch = ["a", "b"]
    assert parse_refusals({"status": "success", "processed": 2, "unprocessed": []}, batch) == []
    assert BatchResult(batch).accepted_count == 2


def test_the_recorded_partial_answer():
    # Recorded from CleverTap: the second record's email was refused.
    batch = ["3", "4"]
    body = {
        "status": "partial",
        "processed": 1,
        "unprocessed": [
            {
                "status": "fail",
                "code": 515,
                "error": "Profile data is incorrect. Email is not valid.Skipped record number : 2",
                "record": {"identity": "4", "ts": 1521649274, "type": "profile", "profileData": {}},
            }
        ],
    }
    [refusal] = parse_refusals(body, batch)
    assert refusal.position == 1 and refusal.code == 515
    assert "Email is not valid" in refusal.error
    assert "Skipped record number" not in refusal.error  # the batch-relative position is dropped


def test_the_recorded_failed_answer_with_an_empty_echo():
    body = {
        "status": "fail",
        "processed": 0,
        "unprocessed": [
            {
                "status": "fail",
                "code": 525,
                "error": "Timestamp should be present in the Unix Epoch format. Skipped record number : 1",
                "record": {},
            }
        ],
    }
    [refusal] = parse_refusals(body, ["x"])
    assert (refusal.position, refusal.code) == (0, 525)
    assert refusal.error.rstrip(".") == "Timestamp should be present in the Unix Epoch format"


def test_the_position_wins_over_a_normalised_echo():
    # Record 1 has identity "13"; record 2 has 13 (a number) and a phone with "+". CleverTap
    # echoes record 2 as identity "13" and phone without "+": that echo matches record 1 better.
    batch = ["13", 13]
    body = {
        "status": "partial",
        "processed": 1,
        "unprocessed": [
            {
                "code": 516,
                "error": "Phone is invalid. Skipped record number : 2",
                "record": {"identity": "13", "profileData": {"Phone": "35922333232"}},
            }
        ],
    }
    assert [r.position for r in parse_refusals(body, batch)] == [1]


@pytest.mark.parametrize(
    "error",
    [
        "Bad. Skipped record number : 3",
        "Bad.Skipped record number: 3",
        "Bad skipped record number :3",
        "Bad. Skipped record number : 3  ",
    ],
)
def test_position_spellings(error):
    [refusal] = parse_refusals({"unprocessed": [{"code": 514, "error": error}]}, ["a", "b", "c"])
    assert refusal.position == 2 and refusal.code == 514


def test_without_a_position_the_echoed_identity_is_used():
    batch = [12, 13, 14]
    body = {"status": "partial", "unprocessed": [{"code": 555, "error": "Server error", "record": {"identity": "13"}}]}
    assert parse_refusals(body, batch) == [Refusal(1, 555, "Server error")]


def test_the_echoed_identity_places_duplicates_on_distinct_records():
    batch = ["a", "dup", "b", "dup"]
    entry = {"code": 555, "error": "Server error", "record": {"identity": "dup"}}
    assert sorted(r.position for r in parse_refusals({"unprocessed": [entry, entry]}, batch)) == [1, 3]


def test_object_id_records_fall_back_on_object_id():
    batch = ["__g1", "__g2"]
    body = {"unprocessed": [{"code": 526, "error": "objectId invalid", "record": {"objectId": "__g2"}}]}
    assert [r.position for r in parse_refusals(body, batch)] == [1]


def test_a_whole_batch_failure_refuses_every_record():
    body = {"status": "fail", "error": "Invalid JSON", "code": 400}
    refusals = parse_refusals(body, ["a", "b", "c"])
    assert refusals == [
        Refusal(0, 400, "Invalid JSON"),
        Refusal(1, 400, "Invalid JSON"),
        Refusal(2, 400, "Invalid JSON"),
    ]
    assert BatchResult(["a", "b", "c"], refusals).accepted_count == 0


def test_a_whole_batch_failure_of_ids():
    refusals = parse_refusals({"status": "fail"}, ["id1", "id2"])
    assert [r.position for r in refusals] == [0, 1] and all(r.error for r in refusals)


def test_a_refusal_that_cannot_be_placed_still_counts():
    batch = ["a", "b"]
    body = {"status": "partial", "unprocessed": [{"code": 555, "error": "Server error", "record": {"identity": "zzz"}}]}
    refusals = parse_refusals(body, batch)
    assert refusals == [Refusal(None, 555, "Server error")]
    assert BatchResult(batch, refusals).accepted_count == 1


@pytest.mark.parametrize("number", [0, 3, 99])
def test_an_out_of_range_position_is_not_pinned_on_a_record(number):
    batch = ["a", "b"]
    refusals = parse_refusals({"unprocessed": [{"code": 515, "error": f"x. Skipped record number : {number}"}]}, batch)
    assert [r.position for r in refusals] == [None]


def test_never_more_refusals_than_records():
    batch = ["a", "b"]
    entries = [{"code": 515, "error": "x. Skipped record number : 1"}] * 2 + [{"code": 555, "error": "y"}] * 5
    refusals = parse_refusals({"status": "fail", "unprocessed": entries}, batch)
    assert len(refusals) == 2
    assert [r.position for r in refusals] == [0, None]  # position 1 taken once; the rest unplaced
    assert BatchResult(batch, refusals).accepted_count == 0


@pytest.mark.parametrize("body", [None, [], "ok", 42, {"unprocessed": None}, {"unprocessed": ["junk", 3]}])
def test_odd_answers_refuse_nothing(body):
    assert parse_refusals(body, ["a"]) == []


def test_a_refusal_without_code_or_message():
    [refusal] = parse_refusals({"unprocessed": [{"record": {"identity": "a"}}]}, ["a"])
    assert refusal.position == 0 and refusal.code is None and refusal.error


# -- answers that leave records unaccounted for ---------------------------------------------------

SHORT_FAIL = {
    "status": "fail",
    "processed": 0,
    "unprocessed": [{"code": 525, "error": "Timestamp should be present. Skipped record number : 1", "record": {}}],
}


def test_records_an_upload_answer_neither_stored_nor_listed_are_refused_unplaced():
    # Three records sent; CleverTap stored none and named only the first.
    refusals = parse_refusals(SHORT_FAIL, ["a", "b", "c"], processed_is_stored=True)

    assert [(r.position, r.code) for r in refusals] == [(0, 525), (None, None), (None, None)]
    assert "counted 0 of the batch's 3 records processed and listed 1 as skipped" in refusals[1].error
    assert BatchResult(["a", "b", "c"], refusals).accepted_count == 0


def test_a_partial_answer_short_of_its_batch_refuses_the_shortfall():
    body = {
        "status": "partial",
        "processed": 2,
        "unprocessed": [{"code": 515, "error": "Email. Skipped record number : 4"}],
    }

    refusals = parse_refusals(body, ["a", "b", "c", "d", "e"], processed_is_stored=True)

    assert [r.position for r in refusals] == [3, None, None]
    assert BatchResult(["a", "b", "c", "d", "e"], refusals).accepted_count == 2


@pytest.mark.parametrize(
    "body",
    [
        {**SHORT_FAIL, "processed": 2},  # the counts add up
        {**SHORT_FAIL, "processed": "0"},  # not a count
        {**SHORT_FAIL, "processed": False},
        {**SHORT_FAIL, "processed": 9},  # more than the batch: nothing to go by
        {key: value for key, value in SHORT_FAIL.items() if key != "processed"},
        {"status": "success", "processed": 1, "unprocessed": []},  # a success stored them all
    ],
)
def test_only_a_count_that_falls_short_refuses_more(body):
    assert [r.position for r in parse_refusals(body, ["a", "b", "c"], processed_is_stored=True)] == (
        [] if body["status"] == "success" else [0]
    )


def test_dry_runs_and_deletes_do_not_read_the_count():
    # Their answers' shapes are unconfirmed: only what is listed is refused.
    assert [r.position for r in parse_refusals(SHORT_FAIL, ["a", "b", "c"])] == [0]
