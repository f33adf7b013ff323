"""A mirror sync's second pass: delete from CleverTap the profiles this sync delivered whose
identity the query no longer returns, unless they are too many."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from itertools import islice
from typing import IO, Any

import msgspec
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap.exceptions import CleverTapAPIError, CleverTapCancelled
from airflow_provider_clevertap.hooks.clevertap import MAX_DELETE_BATCH, CleverTapHook
from airflow_provider_clevertap.results import SAMPLE_SIZE, SyncReport
from airflow_provider_clevertap.state.changes import Confirmed
from airflow_provider_clevertap.state.table import Parameters, SyncState
from airflow_provider_clevertap.state.writes import forget_identities

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(str).decode


def check_delete_ratio(leaving: int, held: int, max_delete_ratio: float) -> None:
    """Fail (for good: the staged data will not change on a retry) when too many would go."""
    if leaving > max_delete_ratio * held:
        raise AirflowFailException(
            f"CleverTap mirror: {leaving} of the {held} profiles this sync holds are no longer in the query, "
            f"more than max_delete_ratio {max_delete_ratio} of them allows ({leaving / held:.4f}); nothing was "
            "deleted. An empty or half-loaded staging table looks like this. If the deletions are wanted, "
            "raise max_delete_ratio for one run."
        )


class Leavers:
    """The leavers read, in a temporary file (not in memory): every one counted, and kept while
    their count is within ``max_delete_ratio`` of the profiles held, so what the guard approves
    is exactly what is kept, whatever the tables hold by the time they are deleted.

    :param held: how many profiles this sync holds.
    :param max_delete_ratio: the share of them a run may delete.
    """

    def __init__(self, held: int, max_delete_ratio: float) -> None:
        self.held = held
        self.count = 0
        self._max_delete_ratio = max_delete_ratio
        self._file: IO[bytes] = tempfile.TemporaryFile()

    def read(self, identities: Iterator[str]) -> None:
        """Count every identity, and keep those the guard can approve."""
        for identity in identities:
            self.count += 1
            if self.count <= self._max_delete_ratio * self.held:  # check_delete_ratio's own test
                self._file.write(_encode(identity) + b"\n")

    def __iter__(self) -> Iterator[str]:
        self._file.seek(0)
        return (_decode(line) for line in self._file)

    def close(self) -> None:
        self._file.close()


def mirror_deletions(
    state: SyncState,
    hook: CleverTapHook,
    sql: str,
    parameters: Parameters,
    report: SyncReport,
    *,
    max_delete_ratio: float,
    dry_run: bool,
    log: logging.Logger | Any,
) -> None:
    """Read the leavers, check them against the guard, then delete them (100 per request) and
    forget the deletions CleverTap confirmed. The deletions are the leavers the guard counted,
    read by one statement before the first request: a staging table emptied meanwhile changes
    nothing."""
    with state.leavers(sql, parameters) as (held, identities):
        leavers = Leavers(held, max_delete_ratio)
        try:
            leavers.read(identities)
        except BaseException:
            leavers.close()
            raise
    try:
        _delete(leavers, state, hook, report, max_delete_ratio=max_delete_ratio, dry_run=dry_run, log=log)
    finally:
        leavers.close()


def _delete(
    leavers: Leavers,
    state: SyncState,
    hook: CleverTapHook,
    report: SyncReport,
    *,
    max_delete_ratio: float,
    dry_run: bool,
    log: logging.Logger | Any,
) -> None:
    held, leaving = leavers.held, leavers.count
    if not leaving:
        log.info("CleverTap mirror: every one of the %d profiles this sync holds is still in the query", held)
        return
    check_delete_ratio(leaving, held, max_delete_ratio)
    if dry_run:
        report.profiles_deleted = leaving
        log.info(
            "CleverTap mirror (dry run): would delete %d of the %d profiles this sync holds, for example: %s",
            leaving,
            held,
            ", ".join(islice(leavers, SAMPLE_SIZE)),
        )
        return
    log.info("CleverTap mirror: deleting %d of the %d profiles this sync holds", leaving, held)
    confirmed = Confirmed()
    try:
        try:
            for result in hook.delete_profiles(iter(leavers), batch_size=MAX_DELETE_BATCH):
                confirmed.note(result)
                report.requests += result.attempts
        except (CleverTapAPIError, CleverTapCancelled) as error:
            raise AirflowException(
                f"CleverTap mirror stopped after {confirmed.count} of {leaving} deletions were confirmed "
                f"(the others are retried on the next run). {error}"
            ) from None
        finally:
            hook.close()
            report.profiles_deleted = confirmed.count
            # The state forgets only what CleverTap confirmed: an unconfirmed deletion is retried.
            forget_identities(state.hook, state.table, (entry[0] for entry in confirmed), sync_id=state.sync_id)
    finally:
        confirmed.close()
    if confirmed.count < leaving:
        log.warning(
            "CleverTap mirror: %d of %d deletions were not confirmed; they are retried on the next run",
            leaving - confirmed.count,
            leaving,
        )
