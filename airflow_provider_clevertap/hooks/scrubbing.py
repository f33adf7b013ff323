"""Text from the server, scrubbed of the connection's secrets before anything keeps it.

A misbehaving proxy or server may echo the passcode header in an error. Airflow masks secrets in
task logs only; an exception message, XCom, the failed-rows table and lineage events are not
masked, so the text is scrubbed where it is read from the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "***"


class Scrubber:
    """Replaces each secret (and its URL-encoded form) in a text with ``***``.

    :param secrets: the connection's secrets; empty ones are ignored.
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        # Longest first: a secret that contains another is replaced whole.
        self._secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
