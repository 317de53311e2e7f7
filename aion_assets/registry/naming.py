"""Version names of the registry: ``<base>+seal-<tenant>~<domain>@YYYY.MM.DD[.N]``.

``~`` separates tenant and domain and is quoted inside the tenant (``%7E``, like ``@``, ``+``
and ``/``), so tenant ``acme-support`` with domain ``x`` and tenant ``acme`` with domain
``support-x`` never share a family. The adapter packages use the same family name
(``aion_assets.seal.assets.model_name`` calls :func:`family_name`).

The first version of a family on a day has no counter; the second is ``.2``, the third
``.3``, and so on. A name is never reused: the next counter is one more than the highest
counter ever registered that day (rejected versions included), and the store never deletes
a version. The name is a label for humans; a version's identity is its manifest hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from urllib.parse import quote

_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_BASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def name_segment(tenant_id: str) -> str:
    """TENANT_ID as one name segment: characters other than letters, digits, ``._-`` percent-quoted.

    ``@``, ``+`` and ``~`` are quoted so that they only ever separate the parts of a name.
    """
    return quote(tenant_id, safe="._-").replace("~", "%7E")


def family_name(base_model: str, tenant_id: str, domain: str) -> str:
    """The family of versions of one tenant's domain, e.g. ``aion-base+seal-acme~support``.

    Raises:
        ValueError: BASE_MODEL or DOMAIN has characters a name cannot carry.
    """
    if not _BASE.match(base_model):
        raise ValueError(f"base_model {base_model!r} must be letters, digits, '.', '_' or '-'")
    if not _DOMAIN.match(domain):
        raise ValueError(f"domain {domain!r} must be lowercase letters, digits, '.', '_' or '-'")
    if not tenant_id:
        raise ValueError("tenant_id is empty")
    return f"{base_model}+seal-{name_segment(tenant_id)}~{domain}"


def version_name(family: str, day: date, ordinal: int = 1) -> str:
    """The ORDINAL-th name of FAMILY on DAY (1 -> no counter, 2 -> ``.2``).

    Raises:
        ValueError: ORDINAL is below 1.
    """
    if ordinal < 1:
        raise ValueError("ordinal starts at 1")
    stem = f"{family}@{day:%Y.%m.%d}"
    return stem if ordinal == 1 else f"{stem}.{ordinal}"


def ordinal_of(name: str, family: str, day: date) -> int | None:
    """The counter of NAME when it is a name of FAMILY on DAY, else None."""
    stem = f"{family}@{day:%Y.%m.%d}"
    if name == stem:
        return 1
    if name.startswith(stem + "."):
        rest = name[len(stem) + 1 :]
        if rest.isdigit() and not rest.startswith("0") and int(rest) >= 2:
            return int(rest)
    return None


def next_version_name(family: str, day: date, taken: Iterable[str]) -> str:
    """The name the next version of FAMILY registered on DAY gets, given the names TAKEN so far.

    TAKEN may hold any names (other families or days are ignored).
    """
    highest = max((o for o in (ordinal_of(n, family, day) for n in taken) if o is not None), default=0)
    return version_name(family, day, highest + 1)
