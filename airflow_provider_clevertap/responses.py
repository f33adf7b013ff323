"""What comes back from CleverTap for one batch: which items it accepted and which it refused.

CleverTap answers HTTP 200 even when it refuses some or all records, listing the refused ones
under ``unprocessed`` with an error ending in "Skipped record number : N" (1-based position in
the batch). The echoed ``record`` is normalised by the server (identity as a string, phone
without its "+"), so the position is the reliable key; the echoed identity is only a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_SKIPPED_RECORD = re.compile(r"\s*\.?\s*Skipped record number\s*:\s*(\d+)\s*$", re.IGNORECASE)


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
    """

    identities: Sequence[Any]
    refused: list[Refusal] = field(default_factory=list)
    attempts: int = 1
    tags: Sequence[Any] | None = None
    maybe_duplicated: bool = False

    @property
    def accepted_count(self) -> int:
        return len(self.identities) - len(self.refused)


def parse_refusals(body: Any, identities: Sequence[Any], *, processed_is_stored: bool = False) -> list[Refusal]:
    """Map the ``unprocessed`` entries of a CleverTap answer back to positions in the batch.

    :param body: the decoded JSON answer.
    :param identities: the batch's identities, in the order sent; an entry that gives no
        position is placed by the identity (or objectId) its echoed record carries.
    :param processed_is_stored: the answer's ``processed`` counts the records stored (a real
        upload; not a dry run or a delete, whose answers are unconfirmed). When the answer is
        not a success, records it neither counts nor lists are refused too, unplaced: none is
        counted accepted that CleverTap did not say it stored.
    """
    if not isinstance(body, dict):
        return []
    unprocessed = body.get("unprocessed") or []
    status = str(body.get("status", "")).lower()
    if status == "fail" and not unprocessed:
        # The whole batch refused with one top-level error: every item shares it.
        error = str(body.get("error") or "refused with no reason given")
        code = _as_int(body.get("code"))
        return [Refusal(position, code, error) for position in range(len(identities))]

    refused: dict[int, Refusal] = {}
    unplaced: list[Refusal] = []
    for entry in unprocessed:
        if not isinstance(entry, dict):
            continue
        message = str(entry.get("error") or "refused with no reason given")
        code = _as_int(entry.get("code"))
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
    refusals = [refused[position] for position in sorted(refused)] + unplaced[:room]
    if processed_is_stored and status != "success":
        refusals += _unaccounted(body.get("processed"), len(identities), len(refusals))
    return refusals


def _unaccounted(processed: Any, sent: int, refused: int) -> list[Refusal]:
    """One unplaced refusal per record an upload's answer neither counts as processed nor lists."""
    if type(processed) is not int or not 0 <= processed <= sent:
        return []
    missing = sent - processed - refused
    error = (
        f"not stored: CleverTap counted {processed} of the batch's {sent} records processed and listed "
        f"{refused} as skipped, without saying which others it skipped"
    )
    return [Refusal(None, None, error)] * max(missing, 0)


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


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
