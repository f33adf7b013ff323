"""What the hook reads from a ``clevertap`` connection: credentials, the API's base URL, TLS and proxies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.flags import flag_word
from airflow_provider_clevertap.regions import base_url_for_region

OWN_EXTRAS = ("region", "verify", "proxies")


@dataclass(frozen=True)
class ConnectionSettings:
    """A connection's settings, checked.

    :param account_id: the Account ID (the login), without surrounding blanks.
    :param passcode: the Passcode (the password), without surrounding blanks.
    :param base_url: where requests go: the Host, or the region's API host.
    :param verify: ``requests``' ``verify`` (True, False or a CA bundle path).
    :param proxies: the ``proxies`` extra.
    :param ignored_extras: the names of extra fields the hook does not use.
    """

    account_id: str
    passcode: str
    base_url: str
    verify: bool | str
    proxies: dict[str, str]
    ignored_extras: list[str]


def read_settings(connection: Any, conn_id: str) -> ConnectionSettings:
    """Check ``connection`` and return its settings; a ``CleverTapConfigError`` names what is wrong."""
    # Blanks around a pasted value are not part of it (and requests would refuse the header
    # with an error quoting the passcode).
    account_id = (connection.login or "").strip()
    passcode = (connection.password or "").strip()
    if not account_id or not passcode:
        raise CleverTapConfigError(
            f"Connection {conn_id!r} needs the CleverTap Account ID as its login and the Passcode as its password"
        )
    for field, value in (("Account ID", account_id), ("Passcode", passcode)):
        if not header_safe(value):
            # Never the value itself: the Passcode is a secret.
            raise CleverTapConfigError(
                f"Connection {conn_id!r}: the {field} holds a character an HTTP header "
                "cannot carry (a line break or a non-ASCII character, pasted by mistake?)"
            )
    extra = connection_extra(connection, conn_id)
    try:
        url = base_url(connection.host, connection.schema, connection.port, extra.get("region"))
        verify = tls_verify(extra.get("verify"))
    except ValueError as error:
        raise CleverTapConfigError(f"Connection {conn_id!r}: {error}") from None
    return ConnectionSettings(
        account_id=account_id,
        passcode=passcode,
        base_url=url,
        verify=verify,
        proxies=dict(extra.get("proxies") or {}),
        ignored_extras=sorted(set(extra) - set(OWN_EXTRAS)),
    )


def connection_extra(connection: Any, conn_id: str) -> dict[str, Any]:
    """The connection's extra, decoded from its JSON text; an extra that is not a JSON object is an error.

    Not ``connection.extra_dejson``: that logs an extra it cannot decode and returns ``{}``, and
    credentials would then go to the default region without a word. It also hands every value of
    the extra to ``mask_secret`` once more; our own extras (region, verify, proxies) are not
    secrets, and any other key is ignored, never sent and never logged (its name only).
    """
    text = connection.extra
    if not text:
        return {}
    try:
        extra = json.loads(text)
    except ValueError:
        raise CleverTapConfigError(f"Connection {conn_id!r}: the extra is not JSON") from None
    if not isinstance(extra, dict):
        raise CleverTapConfigError(f"Connection {conn_id!r}: the extra is not a JSON object")
    return extra


def base_url(host: str | None, scheme: str | None, port: int | None, region: str | None) -> str:
    """The API's base URL: the Host when set (a port of 0 or none adds nothing), else the region's host."""
    if not host:
        return base_url_for_region(region)
    url = host.rstrip("/") if "://" in host else f"{scheme or 'https'}://{host.rstrip('/')}"
    return f"{url}:{port}" if port else url


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header value as it is: printable ASCII only."""
    return all(" " <= character <= "~" for character in value)


def tls_verify(value: Any) -> bool | str:
    """The session's ``verify`` from the connection's ``verify`` extra: on unless explicitly off.

    requests reads any falsy value as "do not verify", so an empty form field (null or "") must
    not reach it as such; a flag word typed as text (``flags``: "false", "off", ...) means what it
    says; any other text is a CA bundle path.
    """
    if value is None or value is True:
        return True
    if value is False:
        return False
    if isinstance(value, str):
        text = value.strip()
        flag = flag_word(text) if text else True
        return text if flag is None else flag
    raise ValueError(
        f"The connection's verify extra must be true, false or a CA bundle path, not a {type(value).__name__}"
    )
