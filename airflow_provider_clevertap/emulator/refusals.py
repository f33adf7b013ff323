"""What the per-record rules of profiles (``validation``) and events (``event_validation``) share:
a refusal, CleverTap's per-record codes, the byte limits of keys and values and how they are measured.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_KEY_BYTES = 120
MAX_VALUE_BYTES = 512

GENDER_INVALID = 514
EMAIL_INVALID = 515
PHONE_INVALID = 516
EMPLOYED_INVALID = 517
EDUCATION_INVALID = 518
MARRIED_INVALID = 519
AGE_INVALID = 520
IDENTITY_MISSING = 523
NOT_A_RECORD = 524
TIMESTAMP_INVALID = 525
OBJECT_ID_INVALID = 526
MISCELLANEOUS = 555


class Refusal(NamedTuple):
    """Why a record is refused.

    :param code: CleverTap's per-record code.
    :param message: the text before "Skipped record number : N".
    :param field: the ``profileData`` key at fault; None when the record as a whole is.
    """

    code: int
    message: str
    field: str | None


REFUSE_TIMESTAMP = Refusal(TIMESTAMP_INVALID, "Timestamp should be present in the Unix Epoch format.", None)


def utf8_length(text: str) -> int:
    # surrogatepass: a lone surrogate escaped in JSON must be measured, not crash the check.
    return len(text.encode("utf-8", "surrogatepass"))
