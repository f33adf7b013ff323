"""A mirror sync's second pass: delete from CleverTap the profiles this sync delivered whose
identity the query no longer returns, unless they are too many."""

from __future__ import annotations

import logging
from itertools import islice
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap.exceptions import CleverTapAPIError, CleverTapCancelled
from airflow_provider_clevertap.hooks.clevertap import MAX_DELETE_BATCH, CleverTapHook
from airflow_provider_clevertap.results import SAMPLE_SIZE, SyncReport
from airflow_provider_clevertap.state.changes import Confirmed
from airflow_provider_clevertap.state.table import Parameters, SyncState, forget_identities


def check_delete_ratio(leaving: int, held: int, max_delete_ratio: float) -> None:
    """Fail (for good: the staged data will not change on a retry) when too many would go."""
    if leaving > max_delete_ratio * held:
        raise AirflowFailException(
            f"CleverTap mirror: {leaving} of the {held} profiles this sync holds are no longer in the query, "
            f"more than max_delete_ratio {max_delete_ratio} of them allows ({leaving / held:.4f}); nothing was "
            "deleted. An empty or half-loaded staging table looks like this. If the deletions are wanted, "
            "raise max_delete_ratio for one run."
        )


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
    """Delete the leavers (100 per request) and forget the deletions CleverTap confirmed."""
    held = state.held()
    leaving = state.count_leavers(sql, parameters)
    if not leaving:
        log.info("CleverTap mirror: every one of the %d profiles this sync holds is still in the query", held)
        return
    check_delete_ratio(leaving, held, max_delete_ratio)
    if dry_run:
        with state.leavers(sql, parameters) as identities:
            sample = list(islice(identities, SAMPLE_SIZE))
        report.profiles_deleted = leaving
        log.info(
            "CleverTap mirror (dry run): would delete %d of the %d profiles this sync holds, for example: %s",
            leaving,
            held,
            ", ".join(sample),
        )
        return
    log.info("CleverTap mirror: deleting %d of the %d profiles this sync holds", leaving, held)
    confirmed = Confirmed()
    try:
        try:
            with state.leavers(sql, parameters) as identities:
                for result in hook.delete_profiles(identities, batch_size=MAX_DELETE_BATCH):
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
