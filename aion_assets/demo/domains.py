"""The demo domains by name: ``acme/support`` (home-device support) and ``globex/billing`` (telecom billing),
and the stranger ``velocia/service`` (e-bike service desk).

Different companies go through the same generator (:mod:`aion_assets.demo.generator`), so
that "a domain it has never seen" is a real test. Adding a company is a template under
``templates/`` plus a module with its ``COMPANY`` (the code inventing its values), listed here.
``DOMAINS`` are the demo's own (what ``aion demo`` ingests, with committed scenario files);
``STRANGER_DOMAINS`` are companies the scrubber was never tuned on (issue 11), posted with
nothing configured.
"""

from __future__ import annotations

from datetime import datetime

from aion_assets.core.errors import ConfigError
from aion_assets.demo.acme import COMPANY as ACME
from aion_assets.demo.generator import Company, generate
from aion_assets.demo.globex import COMPANY as GLOBEX
from aion_assets.demo.objects import DEFAULT_EVAL_SHARE, DemoDomain
from aion_assets.demo.velocia import COMPANY as VELOCIA

COMPANIES: dict[str, Company] = {c.name: c for c in (ACME, GLOBEX, VELOCIA)}
#: The demo's own domains.
DOMAINS: tuple[str, ...] = (ACME.name, GLOBEX.name)
#: Companies the recognizers were never tuned on.
STRANGER_DOMAINS: tuple[str, ...] = (VELOCIA.name,)


def generate_domain(
    name: str = "acme/support",
    seed: int = 7,
    n_facts: int = 80,
    paraphrases_per_question: int = 6,
    eval_share: float = DEFAULT_EVAL_SHARE,
    noise_share: float = 0.05,
    start: datetime | None = None,
    uncorrected_per_question: int = 13,
) -> DemoDomain:
    """Generate one fictional domain.

    Args:
        name: ``"acme/support"`` (home-device support), ``"globex/billing"`` (telecom billing) or
            ``"velocia/service"`` (e-bike service desk, the stranger).
        seed: everything (names, values, paraphrases, ids, rewards) follows from it.
        n_facts: number of question items (each with its own key facts).
        paraphrases_per_question: interactions per question (different wordings of it).
        eval_share: share of interactions whose id hashes into the eval split (the pipeline's
            ``split_of``; the default is the pipeline's default).
        noise_share: share of edits that are low-reward or rejected (noise the curation drops).
        start: timestamp of the first interaction (default 2026-03-02 08:00 UTC).
        uncorrected_per_question: interactions nobody corrected, per question (``n_facts`` times
            this many, within the corrected traffic's span; 0: none). With the defaults a tenant
            has 480 corrected and 1,040 uncorrected interactions.

    Returns:
        A DemoDomain; identical arguments give an identical domain.

    Raises:
        ConfigError: unknown domain name, impossible sizes or shares, or a bad template (the
            message names the file and key).
    """
    company = COMPANIES.get(name)
    if company is None:
        raise ConfigError(f"unknown demo domain {name!r}; choose one of {sorted(COMPANIES)}")
    return generate(
        company,
        seed=seed,
        n_facts=n_facts,
        paraphrases_per_question=paraphrases_per_question,
        eval_share=eval_share,
        noise_share=noise_share,
        start=start,
        uncorrected_per_question=uncorrected_per_question,
    )


def generate_demo_domain(
    seed: int = 7,
    n_facts: int = 80,
    paraphrases_per_question: int = 6,
    eval_share: float = DEFAULT_EVAL_SHARE,
    noise_share: float = 0.05,
) -> DemoDomain:
    """The demo domain ``acme/support`` (see :func:`generate_domain` for the arguments)."""
    return generate_domain(
        "acme/support",
        seed=seed,
        n_facts=n_facts,
        paraphrases_per_question=paraphrases_per_question,
        eval_share=eval_share,
        noise_share=noise_share,
    )
