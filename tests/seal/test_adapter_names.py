"""Protects adapter names and storage prefixes (security finding 18): no two (tenant, domain)
pairs share a model name, version name or prefix, however their ids are spelled; two runs started
in the same second write into two prefixes; names stay readable and one path segment long."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from aion_assets.seal.assets import adapter_prefix, model_name, version_name

WHEN = datetime(2026, 4, 1, 9, 30, 15, tzinfo=UTC)
RUN_A = "1a2b3c4d-0000-4000-8000-000000000001"
RUN_B = "9f8e7d6c-0000-4000-8000-000000000002"

# Pairs that a naive "{tenant}-{domain}" (or a quoting that forgets a character) folds together.
TRICKY = [
    ("acme-support", "x"),
    ("acme", "support-x"),
    ("acme~support", "x"),
    ("acme%7Esupport", "x"),
    ("a/b", "c"),
    ("a%2Fb", "c"),
    ("a-b", "c"),
    ("a", "b-c"),
    ("acme+seal-x", "y"),
    ("acme", "x.seal-y"),
    ("user@example.com", "support"),
]


def test_the_finding_18_pair_no_longer_collides() -> None:
    first, second = ("acme-support", "x"), ("acme", "support-x")
    assert model_name("aion-base", *first) != model_name("aion-base", *second)
    assert adapter_prefix("aion-base", *first, WHEN, run_id=RUN_A) != adapter_prefix(
        "aion-base", *second, WHEN, run_id=RUN_A
    )
    assert version_name("aion-base", *first, WHEN, run_id=RUN_A) != version_name(
        "aion-base", *second, WHEN, run_id=RUN_A
    )


def test_no_two_tenant_domain_pairs_share_a_name_or_prefix() -> None:
    names = [model_name("aion-base", t, d) for t, d in TRICKY]
    prefixes = [adapter_prefix("aion-base", t, d, WHEN, run_id=RUN_A) for t, d in TRICKY]
    versions = [version_name("aion-base", t, d, WHEN, run_id=RUN_A) for t, d in TRICKY]
    assert len(set(names)) == len(set(prefixes)) == len(set(versions)) == len(TRICKY)
    for name, prefix in zip(names, prefixes, strict=True):
        assert "/" not in name  # one path segment: the prefix never nests into another's
        assert prefix.count("/") == 2 and prefix.startswith(f"seal-adapters/{name}/")
    # No prefix is a string prefix of another one either (listing one never lists the other).
    for a, b in itertools.permutations(prefixes, 2):
        assert not b.startswith(a + "/")


@pytest.mark.parametrize("domain", ["support~x", "b/c", "x+seal-y", "Support", ""])
def test_a_domain_no_partition_can_have_is_refused(domain: str) -> None:
    """Curated domains are normalised to [a-z0-9_.-]; anything else never becomes part of a name."""
    with pytest.raises(ValueError, match="domain"):
        model_name("aion-base", "acme", domain)


def test_runs_started_in_the_same_second_get_their_own_prefix_and_version() -> None:
    args = ("aion-base", "acme", "support", WHEN)
    assert adapter_prefix(*args, run_id=RUN_A) != adapter_prefix(*args, run_id=RUN_B)
    assert version_name(*args, run_id=RUN_A) != version_name(*args, run_id=RUN_B)
    assert adapter_prefix(*args, run_id=RUN_A) == adapter_prefix(*args, run_id=RUN_A)  # deterministic
    with pytest.raises(ValueError, match="run_id"):
        adapter_prefix(*args, run_id="")


def test_names_stay_readable() -> None:
    assert model_name("aion-base", "acme", "support") == "aion-base+seal-acme~support"
    assert version_name("aion-base", "acme", "support", WHEN, run_id=RUN_A) == (
        "aion-base+seal-acme~support@2026.04.01-093015-1a2b3c4d"
    )
    assert adapter_prefix("aion-base", "acme", "support", WHEN, run_id=RUN_A) == (
        "seal-adapters/aion-base+seal-acme~support/20260401T093015Z-1a2b3c4d"
    )
    assert model_name("aion-base", "acme/eu", "billing") == "aion-base+seal-acme%2Feu~billing"
