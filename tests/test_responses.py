"""Reading CleverTap's answer for one batch (``read_answer``) and mapping its refusals back to the
identities sent (``parse_refusals``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.responses import BatchResult, Refusal, Unreadable, parse_refusals, read_answer


def test_a_success_refuses_nothing():
    batch = ["a", "b"]
    assert read_answer({"status": "success", "processed": 2, "unprocessed": []}, batch, counted=True) == ([], None)
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
    [refusal], unconfirmed = read_answer(body, batch, counted=True)
    assert unconfirmed is None
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
    [refusal], _ = read_answer(body, ["x"], counted=True)
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
    assert [r.position for r in read_answer(body, batch, counted=True)[0]] == [1]


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
    [refusal] = parse_refusals([{"code": 514, "error": error}], ["a", "b", "c"])
    assert refusal.position == 2 and refusal.code == 514


def test_without_a_position_the_echoed_identity_is_used():
    batch = [12, 13, 14]
    entries = [{"code": 555, "error": "Server error", "record": {"identity": "13"}}]
    assert parse_refusals(entries, batch) == [Refusal(1, 555, "Server error")]


def test_the_echoed_identity_places_duplicates_on_distinct_records():
    batch = ["a", "dup", "b", "dup"]
    entry = {"code": 555, "error": "Server error", "record": {"identity": "dup"}}
    assert sorted(r.position for r in parse_refusals([entry, entry], batch)) == [1, 3]


def test_object_id_records_fall_back_on_object_id():
    batch = ["__g1", "__g2"]
    entries = [{"code": 526, "error": "objectId invalid", "record": {"objectId": "__g2"}}]
    assert [r.position for r in parse_refusals(entries, batch)] == [1]


def test_a_whole_batch_failure_refuses_every_record():
    body = {"status": "fail", "error": "Invalid JSON", "code": 400}
    refusals, unconfirmed = read_answer(body, ["a", "b", "c"], counted=True)
    assert unconfirmed is None
    assert refusals == [
        Refusal(0, 400, "Invalid JSON"),
        Refusal(1, 400, "Invalid JSON"),
        Refusal(2, 400, "Invalid JSON"),
    ]
    assert BatchResult(["a", "b", "c"], refusals).accepted_count == 0


def test_a_whole_batch_failure_of_ids():
    refusals, _ = read_answer({"status": "fail"}, ["id1", "id2"], counted=False)
    assert [r.position for r in refusals] == [0, 1] and all(r.error for r in refusals)


def test_a_refusal_that_cannot_be_placed_still_counts():
    batch = ["a", "b"]
    body = {
        "status": "partial",
        "processed": 1,
        "unprocessed": [{"code": 555, "error": "Server error", "record": {"identity": "zzz"}}],
    }
    refusals, _ = read_answer(body, batch, counted=True)
    assert refusals == [Refusal(None, 555, "Server error")]
    assert BatchResult(batch, refusals).accepted_count == 1


@pytest.mark.parametrize("number", [0, 3, 99])
def test_an_out_of_range_position_is_not_pinned_on_a_record(number):
    batch = ["a", "b"]
    refusals = parse_refusals([{"code": 515, "error": f"x. Skipped record number : {number}"}], batch)
    assert [r.position for r in refusals] == [None]


def test_never_more_refusals_than_records():
    batch = ["a", "b"]
    entries = [{"code": 515, "error": "x. Skipped record number : 1"}] * 2 + [{"code": 555, "error": "y"}] * 5
    refusals = parse_refusals(entries, batch)
    assert len(refusals) == 2
    assert [r.position for r in refusals] == [0, None]  # position 1 taken once; the rest unplaced
    assert BatchResult(batch, refusals).accepted_count == 0


@pytest.mark.parametrize("counted", [True, False])
@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "ok",
        42,
        {},
        {"status": "partial"},
        {"status": "success", "unprocessed": None},
        {"status": "partial", "processed": 0, "unprocessed": ["junk"]},
        Unreadable("the answer was not JSON"),
    ],
)
def test_odd_answers_confirm_nothing(body, counted):
    refusals, unconfirmed = read_answer(body, ["a"], counted=counted)
    assert refusals == [] and unconfirmed
    assert BatchResult(["a"], refusals, unconfirmed=unconfirmed).accepted_count == 0


def test_a_refusal_without_code_or_message():
    [refusal] = parse_refusals([{"record": {"identity": "a"}}], ["a"])
    assert refusal.position == 0 and refusal.code is None and refusal.error


# -- answers whose counts do not add up ------------------------------------------------------------

SHORT_FAIL = {
    "status": "fail",
    "processed": 0,
    "unprocessed": [{"code": 525, "error": "Timestamp should be present. Skipped record number : 1", "record": {}}],
}


@pytest.mark.parametrize("counted", [True, False])
@pytest.mark.parametrize(
    "body",
    [
        SHORT_FAIL,  # three sent, none stored, one named: the other two unaccounted for
        {**SHORT_FAIL, "processed": "0"},  # not a count
        {**SHORT_FAIL, "processed": False},
        {**SHORT_FAIL, "processed": 9},  # more than the batch
        {**SHORT_FAIL, "processed": 2},  # adds up, but a fail that stored two
        {"status": "partial", "processed": 2, "unprocessed": []},
        {"status": "success", "processed": 4, "unprocessed": []},
    ],
)
def test_an_answer_whose_counts_do_not_add_up_confirms_nothing(body, counted):
    refusals, unconfirmed = read_answer(body, ["a", "b", "c"], counted=counted)
    assert refusals == [] and unconfirmed


def test_an_upload_must_count_what_it_processed():
    assert read_answer({"status": "success", "unprocessed": []}, ["a"], counted=True)[1]


def test_dry_runs_and_deletes_may_answer_a_bare_success():
    # Their answers' shapes are unconfirmed: CleverTap documents only the status.
    assert read_answer({"status": "success"}, ["a", "b"], counted=False) == ([], None)


def test_server_text_is_scrubbed_where_it_becomes_a_refusal():
    def scrub(text: str) -> str:
        return text.replace("SECRET", "***")

    listed = {
        "status": "fail",
        "processed": 0,
        "unprocessed": [{"code": 515, "error": "SECRET. Skipped record number : 1"}],
    }
    whole = {"status": "fail", "error": "bad passcode SECRET", "code": 400}
    assert read_answer(listed, ["a"], counted=True, scrub=scrub)[0] == [Refusal(0, 515, "***")]
    assert read_answer(whole, ["a"], counted=True, scrub=scrub)[0] == [Refusal(0, 400, "bad passcode ***")]


# -- any answer at all (property-based) --------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers(-3, 1200) | st.floats(allow_nan=False) | st.text(max_size=40)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_errors = st.text(max_size=20) | st.builds(
    "{}. Skipped record number : {}".format, st.text(max_size=10), st.integers(-2, 60)
)
_entries = st.fixed_dictionaries(
    {},
    optional={
        "code": st.integers(400, 600) | st.text(max_size=5) | st.floats(),
        "error": _errors,
        "record": st.fixed_dictionaries({}, optional={"identity": st.integers(0, 60).map(str) | _scalars}),
    },
)
# Shaped like CleverTap's answers, often nearly right: the counts, statuses and entries vary.
_answers = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["success", "partial", "fail", "SUCCESS", "ok", ""]) | _scalars,
        "processed": st.integers(-1, 60) | _scalars,
        "unprocessed": st.lists(_entries | _json, max_size=8) | _scalars,
        "error": _errors,
        "code": _scalars,
    },
)


@settings(max_examples=200, deadline=None)
@given(
    body=_answers | _json | st.builds(Unreadable, st.text(min_size=1, max_size=10)),
    size=st.integers(1, 50),
    counted=st.booleans(),
)
def test_any_answer_accounts_for_every_record_and_accepts_only_what_it_confirms(body, size, counted):
    identities = [str(n) for n in range(size)]

    refusals, unconfirmed = read_answer(body, identities, counted=counted)
    result = BatchResult(identities, refusals, unconfirmed=unconfirmed)

    # Every record is exactly one of accepted, refused or unconfirmed.
    assert result.accepted_count + len(result.refused) + result.unconfirmed_count == size
    assert result.accepted_count >= 0
    placed = [refusal.position for refusal in refusals if refusal.position is not None]
    assert len(placed) == len(set(placed)) and all(0 <= position < size for position in placed)
    assert not (unconfirmed and refusals)
    # Nothing is accepted that the answer did not confirm: a known status and counts that add up
    # (or a dry run's or a delete's bare success).
    if result.accepted_count:
        assert isinstance(body, dict) and body.get("status") in ("success", "partial", "fail")
        processed = body.get("processed")
        if type(processed) is int:
            assert processed == result.accepted_count
            assert processed + len(body.get("unprocessed", [])) == size
        else:
            assert not counted and processed is None and body["status"] == "success" and not refusals
