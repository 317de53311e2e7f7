"""Protects: version names (``<base>+seal-<tenant>~<domain>@YYYY.MM.DD[.N]``): the first of a day has no
counter, the next ones count up from the highest taken, a name is never reused, and tenant ids cannot
smuggle the separators ``@`` or ``+`` into a name."""

from __future__ import annotations

from datetime import date

import pytest

from aion_assets.registry.naming import family_name, next_version_name, ordinal_of, version_name

DAY = date(2026, 11, 23)
FAMILY = "aion-base+seal-acme~support"


def test_family_name_matches_the_documented_shape() -> None:
    assert family_name("aion-base", "acme", "support") == FAMILY
    assert version_name(FAMILY, DAY) == "aion-base+seal-acme~support@2026.11.23"
    assert version_name(FAMILY, DAY, 3) == "aion-base+seal-acme~support@2026.11.23.3"


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        ([], "@2026.11.23"),
        (["@2026.11.23"], "@2026.11.23.2"),
        (["@2026.11.23", "@2026.11.23.2"], "@2026.11.23.3"),
        # a gap (never possible in the store, but the rule is "one more than the highest")
        (["@2026.11.23.5"], "@2026.11.23.6"),
        # other days and malformed counters do not count
        (["@2026.11.22", "@2026.11.22.9", "@2026.11.23.02", "@2026.11.23.x"], "@2026.11.23"),
    ],
)
def test_next_name_counts_up_from_the_highest_taken(taken: list[str], expected: str) -> None:
    assert next_version_name(FAMILY, DAY, [FAMILY + n for n in taken]) == FAMILY + expected


def test_other_families_do_not_count() -> None:
    other = "aion-base+seal-acme~sales@2026.11.23"
    assert next_version_name(FAMILY, DAY, [other, other + ".2"]) == FAMILY + "@2026.11.23"
    assert ordinal_of(other, FAMILY, DAY) is None


@pytest.mark.parametrize("tenant", ["a@b", "a+b", "a/b", "a b"])
def test_tenant_separators_are_quoted(tenant: str) -> None:
    name = family_name("aion-base", tenant, "support")
    assert name.count("+") == 1 and "@" not in name and "/" not in name and " " not in name


@pytest.mark.parametrize(
    ("base", "domain"), [("aion base", "support"), ("aion-base", "Support"), ("aion-base", "a@b"), ("", "x")]
)
def test_unnameable_parts_are_refused(base: str, domain: str) -> None:
    with pytest.raises(ValueError):
        family_name(base, "acme", domain)


def test_ordinal_starts_at_one() -> None:
    with pytest.raises(ValueError):
        version_name(FAMILY, DAY, 0)
