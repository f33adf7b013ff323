"""What comes back from CleverTap for one batch: which items it accepted and which it refused.

CleverTap answers HTTP 200 even when it refuses some or all records, listing the refused ones
under ``unprocessed`` with an error ending in "Skipped record number : N" (1-based position in
the batch). The echoed ``record`` is normalised by the server (identity as a string, phone
without its "+"), so the position is the reliable key; the echoed identity is only a fallback.
An answer that does not account for every record of its batch confirms none of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

_SKIPPED_RECORD = re.compile(r"\s*\.?\s*Skipped record number\s*:\s*(\d+)\s*$", re.IGNORECASE)
_STATUSES = ("success", "partial", "fail")


@dataclass(frozen=True)
class Unreadable:
    """A 2xx answer that could not be read: not JSON, or larger than the hook reads.

    :param reason: what was wrong with it (no text of the answer).
    """

    reason: str


@dataclass(frozen=True)
class Refusal:
    """One item CleverTap refused.

    :param position: 0-based index of the item in its batch; None when CleverTap's answer
        could not be tied to an item.
    :param code: CleverTap's per-record code (e.g. 515 email invalid), when given.
    :param error: CleverTap's message, without the batch-relative position.
    """

    position: int | None
    code: int | None
    error: str


@dataclass
class BatchResult:
    """The outcome of one batch: every item is either accepted or refused, exactly once.

    :param identities: who was in the batch, in the order sent: each record's identity (or
        objectId) for uploads, the ids themselves for deletes.
    :param refused: CleverTap's refusals, at most one per item.
    :param attempts: HTTP requests it took (1 + retries).
    :param tags: what the sender attached to each item, in the same order (a stateful sync's key
        and fingerprint), or None.
    :param maybe_duplicated: the batch was sent again after an attempt that may have reached
        CleverTap (a read timeout, a connection dropped once the request was out, a 500, 502 or
        504 answer): CleverTap may have stored its accepted items twice. Harmless for profiles
        (upserts), not for events.
    :param unconfirmed: why CleverTap's answer confirms none of the batch's items (``read_answer``),
        or None. Its items are neither accepted nor refused: CleverTap may or may not hold them.
    """

    identities: Sequence[Any]
    refused: list[Refusal] = field(default_factory=list)
    attempts: int = 1
    tags: Sequence[Any] | None = None
    maybe_duplicated: bool = False
    unconfirmed: str | None = None

    @property
    def accepted_count(self) -> int:
        return 0 if self.unconfirmed is not None else len(self.identities) - len(self.refused)

    @property
    def unconfirmed_count(self) -> int:
        return len(self.identities) if self.unconfirmed is not None else 0


def read_answer(
    body: Any, identities: Sequence[Any], *, counted: bool, scrub: Callable[[str], str] = str
) -> tuple[list[Refusal], str | None]:
    """What a 2xx answer says of a batch: its refusals, or why it confirms nothing.

    A record is accepted only when the answer says so: CleverTap's status object whose counts
    add up (``processed`` plus the ``unprocessed`` entries make the batch), or a ``fail`` that
    refuses the whole batch. Any other answer (``{}``, ``[]``, no counts, counts that do not add
    up, a body that could not be read) leaves every record of the batch unconfirmed.

    :param body: the decoded JSON answer, or ``Unreadable``.
    :param identities: the batch's identities, in the order sent.
    :param counted: the answer must count the records processed (a real upload). Dry runs and
        deletes, whose answers' shapes are unconfirmed, may answer a bare ``{"status": "success"}``.
    :param scrub: applied to every text of the answer kept in a refusal (removes secrets).
    :return: the refusals, and None; or no refusals and the reason the batch is unconfirmed.
    """
    if isinstance(body, Unreadable):
        return [], body.reason
    if not isinstance(body, dict):
        return [], f"the answer is a JSON {type(body).__name__}, not CleverTap's status object"
    status = body.get("status")
    processed = body.get("processed")
    unprocessed = body.get("unprocessed", [])
    if status not in _STATUSES:
        return [], "the answer gives no status of success, partial or fail"
    if not isinstance(unprocessed, list) or not all(isinstance(entry, dict) for entry in unprocessed):
        return [], "the answer's unprocessed is not a list of records"
    if status == "fail" and not unprocessed and processed in (None, 0) and type(processed) is not bool:
        # The whole batch refused with one top-level error: every item shares it.
        error = scrub(str(body.get("error") or "refused with no reason given"))
        code = as_code(body.get("code"))
        return [Refusal(position, code, error) for position in range(len(identities))], None
    if processed is None and not counted and status == "success" and not unprocessed:
        return [], None
    if type(processed) is not int or processed < 0:
        return [], "the answer does not count the records processed"
    if processed + len(unprocessed) != len(identities) or (status == "fail" and processed):
        return [], (
            f"the answer ({status}) counts {processed} records processed and lists {len(unprocessed)} "
            f"unprocessed of the {len(identities)} sent"
        )
    return parse_refusals(unprocessed, identities, scrub), None


def parse_refusals(
    unprocessed: list[dict[str, Any]], identities: Sequence[Any], scrub: Callable[[str], str] = str
) -> list[Refusal]:
    """Map the ``unprocessed`` entries of a CleverTap answer back to positions in the batch.

    :param unprocessed: the answer's entries, one per refused record.
    :param identities: the batch's identities, in the order sent; an entry that gives no
        position is placed by the identity (or objectId) its echoed record carries.
    :param scrub: applied to each entry's error text.
    """
    refused: dict[int, Refusal] = {}
    unplaced: list[Refusal] = []
    for entry in unprocessed:
        message = scrub(str(entry.get("error") or "refused with no reason given"))
        code = as_code(entry.get("code"))
        match = _SKIPPED_RECORD.search(message)
        position: int | None
        if match:
            position = int(match.group(1)) - 1
            message = message[: match.start()] or message
        else:
            position = _position_by_identity(entry.get("record"), identities, refused)
        if position is not None and 0 <= position < len(identities) and position not in refused:
            refused[position] = Refusal(position, code, message)
        else:
            unplaced.append(Refusal(None, code, message))
    # A refusal we cannot place is still a refusal: count it, but never more than the batch.
    room = len(identities) - len(refused)
    return [refused[position] for position in sorted(refused)] + unplaced[:room]


def _position_by_identity(echoed: Any, identities: Sequence[Any], taken: dict[int, Refusal]) -> int | None:
    if not isinstance(echoed, dict):
        return None
    wanted = echoed.get("identity", echoed.get("objectId"))
    if wanted is None:
        return None
    wanted = str(wanted)
    for position, identity in enumerate(identities):
        if position not in taken and str(identity) == wanted:
            return position
    return None


def as_code(value: Any) -> int | None:
    """A code from an answer as a number, or None: never the answer's text."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None
