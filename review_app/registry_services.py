"""What the registry pages share, as plain functions over a RegistryClient (no Streamlit here).

Every read and action goes through the registry API with a token of one tenant, so its tenant
scoping, role checks, the four-eyes rule and the audit log apply to reviewers as to any other
client. Errors become messages a reviewer can act on; nothing in these modules raises for an API
error in an action. Each page's own logic is beside this module: ``registry_promotions``,
``registry_models`` (models and lineage), ``registry_routes`` (routes and rollback) and
``registry_audit`` (the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass

from aion_assets.registry.http_client import RegistryApiError, RegistryClient
from aion_assets.registry.models import ModelVersion
from review_app.services import CLIENT_OPTIONS

#: How many versions the pages read (the API's maximum page).
VERSIONS_LIMIT = 500


def make_registry_client(base_url: str, token: str) -> RegistryClient:
    """A registry API client with the console's short retry budget (the memory client's)."""
    return RegistryClient(base_url, token, **CLIENT_OPTIONS)

def describe_registry_error(exc: RegistryApiError, base_url: str = "", thing: str = "version") -> str:
    """A message a reviewer can act on, for a registry API error."""
    message = exc.message
    if exc.status is None:
        where = f" at {base_url}" if base_url else ""
        return f"The registry API{where} is unreachable; nothing was changed. Try again shortly."
    if exc.status in (502, 503, 504):
        return f"The registry cannot reach its database right now ({message}); nothing was changed. Try again shortly."
    if exc.status == 401:
        return f"Your sign-in is no longer accepted ({message}): sign out and sign in again."
    if exc.status == 403:
        if "four-eyes" in message:
            return (f"Refused by the four-eyes rule: {message}. Another reviewer must decide on this version; "
                    "nothing was changed.")
        return f"Not allowed: {message}."
    if exc.status == 404:
        return f"This {thing} does not exist (or belongs to another tenant)."
    if exc.status == 409:
        return f"Not done: {message}. Nothing was changed; the page shows what is stored now."
    if exc.status == 422:
        where = f" ({exc.field})" if exc.field else ""
        return f"Invalid value{where}: {message}"
    return f"The registry API answered {exc.status}: {message}"

@dataclass(frozen=True)
class Outcome:
    """The result of one registry action.

    Attributes:
        kind: ``done`` (this call did it), ``already`` (someone decided the same before),
            ``refused`` (four-eyes, role or state: nothing changed) or ``failed`` (input or outage).
        message: what to show the reviewer.
    """

    kind: str
    message: str

def version_label(version: ModelVersion) -> str:
    """A short label of a version for lists (names are unique per tenant)."""
    return f"{version.name} · {version.status.value} · {version.created_at:%Y-%m-%d %H:%M}"

def short_name(name: str) -> str:
    """A version's name without its tenant (every page shows one tenant): ``<base> <domain>@<date>[.N]``.

    Names are ``<base>+seal-<tenant>~<domain>@YYYY.MM.DD[.N]`` (``aion_assets.registry.naming``); a name
    of another shape is returned whole.
    """
    base, plus, rest = name.partition("+seal-")
    _, tilde, tail = rest.rpartition("~")
    return f"{base} {tail}" if plus and tilde else name
