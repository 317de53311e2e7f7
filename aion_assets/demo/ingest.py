"""Posting a demo sample through the memory API over HTTP, as a gateway would.

``ingest_sample`` serves the FastAPI app in-process on a free loopback port, configures each
demo tenant as a real one is configured (its two agents' domain and system prompt, its company
name on the scrub allow-list, a scrub pattern for its customer references; its catalogue is
learned from its answers) and sends the domain's traffic (some of it quoting customers' details:
the corrected interactions, then the larger share nobody corrected) in batches and the self-edits
by human, model and rule editors through ``MemoryClient``; a scripted reviewer then decides them
with the console's own ``decide``.
Re-running it is safe: every interaction and edit has a fixed id (the API's idempotency key), so
the second run stores nothing new and decides nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aion_assets.app import app_from_settings
from aion_assets.core.auth import mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.errors import AionError
from aion_assets.core.serve import serve_in_thread
from aion_assets.core.settings import Settings
from aion_assets.demo.domains import DOMAINS, generate_domain
from aion_assets.demo.objects import DemoDomain
from aion_assets.memory.client import MemoryClient
from aion_assets.memory.models import EditStatus
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.tenant_config import validate_tenant_config

#: What ``aion demo`` ingests: both demo domains.
DEMO_DOMAINS = DOMAINS
_BATCH = 100
#: The fields of a self-edit the API accepts (the rest - status, reviewer, tenant - come from the review).
_EDIT_FIELDS = (
    "id",
    "interaction_id",
    "editor_type",
    "original_output",
    "edited_output",
    "reason_code",
    "reward_score",
    "timestamp",
    "metadata",
)


def configure_demo_tenant(store: MemoryStore, domain: DemoDomain) -> None:
    """Give a demo tenant what a real one configures: its agents' domain and system prompt (so the
    route table routes each of them), its company name on the scrub allow-list (the rest of its
    catalogue is learned from its answers) and a scrub pattern for its customer references.

    STORE must connect as the schema owner on PostgreSQL (the application role may not change
    tenant settings).

    Raises:
        ConfigError: the resulting tenant config is invalid (a bug in the template data).
    """
    spec = domain.spec
    config = validate_tenant_config(
        spec.tenant_id,
        {
            "agents": domain.agents_config(),
            "scrub": domain.scrub_config(),
            "curation": {"min_reward": 0.5},
        },
    )
    store.configure_tenant(spec.tenant_id, config=config)


def ingest_sample(
    settings: Settings,
    *,
    domains: tuple[str, ...] = DEMO_DOMAINS,
    echo: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Serve the API in-process and push the demo domains' traffic, then their reviews, through it.

    First every domain's interactions and self-edits are posted (all pending), then a scripted
    reviewer decides each pending edit as the sample says, through the same client the console
    uses (``MemoryClient.review``).

    Args:
        settings: where the database and artifacts are (the schema must be migrated).
        domains: demo domain names (``generate_domain`` with its defaults for each).
        echo: where the stage lines go (the API's address, each stage).

    Returns:
        Per tenant: the store's counts after ingestion, its ``domain`` and ``reviewed_now`` (the
        decisions this call made: ``approved``, ``rejected``; zeros when everything was reviewed
        already); ``_seconds``: the wall time.

    Raises:
        ConfigError: an unknown domain name or a bad template.
        AionError: the API refused a request (the client translates HTTP errors).
    """
    secret = settings.jwt_signing_secret()
    summary: dict[str, Any] = {}
    app = app_from_settings(settings)
    # Tenant settings are changed as the schema owner, as `aion tenant` does.
    owner_engine = make_engine(settings.db_admin_url, pool_size=1)
    owner_store = MemoryStore(owner_engine)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.callback(owner_engine.dispose)
        base = stack.enter_context(serve_in_thread(app))
        echo(f"API serving on {base} (OpenAPI at {base}/docs)")
        generated = [generate_domain(name) for name in domains]
        tokens = {
            d.spec.tenant_id: mint_token(
                secret, tenant_id=d.spec.tenant_id, roles=["writer", "reviewer"],
                subject=f"demo-reviewer@{d.spec.tenant_id}",
            )
            for d in generated
        }
        for domain in generated:
            configure_demo_tenant(owner_store, domain)
            echo(f"posting {domain.spec.tenant_id}'s traffic and self-edits ({sample_profile(domain)})")
            with MemoryClient(base, tokens[domain.spec.tenant_id]) as client:
                post_domain(client, domain, review=False)
        for name, domain in zip(domains, generated, strict=True):
            tenant = domain.spec.tenant_id
            with MemoryClient(base, tokens[tenant]) as client:
                reviewed = review_domain(client, domain, reviewer=f"demo-reviewer@{tenant}")
            echo(
                f"scripted reviewer ({tenant}, through the console's decide()): approved {reviewed['approved']}, "
                f"rejected {reviewed['rejected']}" + ("" if any(reviewed.values()) else " (nothing left to review)")
            )
            summary[tenant] = MemoryStore(app.state.engine).counts(tenant) | {"domain": name, "reviewed_now": reviewed}
    summary["_seconds"] = time.perf_counter() - started
    return summary


def post_domain(client: MemoryClient, domain: DemoDomain, *, review: bool = True) -> None:
    """Send DOMAIN's interactions (corrected and uncorrected) in batches, then each edit, reviewed as its
    reviewer decided unless not REVIEW.

    The tenant is the client token's (the token needs the writer and reviewer roles); edits
    already stored are not reviewed again, so posting twice stores nothing new.

    Raises:
        AionError: the API refused a request (the client translates HTTP errors).
    """
    interactions = domain.interactions()
    for start in range(0, len(interactions), _BATCH):
        # The tenant comes from the token, never from the body.
        client.add_interactions(
            [{k: v for k, v in row.items() if k != "tenant_id"} for row in interactions[start : start + _BATCH]]
        )
    for edit in domain.self_edits():
        decision = edit["status"]
        stored = client.add_self_edit({k: edit[k] for k in _EDIT_FIELDS})
        if review and decision in ("approved", "rejected") and stored.status.value == "pending":
            client.review(stored.id, decision, note=rejection_note(edit))


def rejection_note(edit: dict[str, Any]) -> str | None:
    """The reason the scripted reviewer gives when it rejects EDIT (the console requires one); None otherwise."""
    if edit["status"] != "rejected":
        return None
    return (
        f"not usable for training: {edit['reason_code']} edit by {edit['editor_type']}, "
        f"reward {edit['reward_score']:.2f}"
    )


def review_domain(client: MemoryClient, domain: DemoDomain, *, reviewer: str) -> dict[str, int]:
    """The scripted reviewer: decide each of DOMAIN's pending edits as the sample says (some stay pending).

    Decisions go through the console's own function (``review_app.services.decide``), under its
    policy: a rejection carries its reason (the edit's reason code and reward), an approval none.

    Args:
        reviewer: the client token's subject (the console tells its own decisions from earlier ones by it).

    Returns:
        How many edits this call ``approved`` and ``rejected`` (zeros on a second call).

    Raises:
        AionError: the API refused a decision (the console's message), or the API was unreachable.
    """
    from review_app.services import decide

    edits = {str(e["id"]): e for e in domain.self_edits()}
    counts = {"approved": 0, "rejected": 0}
    pending = [e.id for e in client.iter_self_edits(status="pending", limit=200)]
    for edit_id in pending:
        edit = edits.get(str(edit_id))
        if edit is None or edit["status"] not in counts:
            continue
        decision = EditStatus(edit["status"])
        outcome = decide(client, edit_id, decision, reviewer, note=rejection_note(edit))
        if outcome.kind == "failed":
            raise AionError(f"the scripted reviewer could not decide edit {edit_id}: {outcome.message}")
        counts[decision.value] += outcome.kind == "done"
    return counts


def sample_profile(domain: DemoDomain) -> str:
    """One line on DOMAIN's sample: interactions (corrected, uncorrected) per agent, edits per editor type,
    questions quoting PII."""
    agents = Counter(i["agent_id"] for i in domain.interactions())
    editors = Counter(e.self_edit["editor_type"] for e in domain.examples)
    with_pii = sum(1 for e in domain.examples if e.pii) + sum(1 for u in domain.uncorrected if u.pii)
    return (
        f"{len(domain.examples) + len(domain.uncorrected)} interactions, {len(domain.examples)} corrected and "
        f"{len(domain.uncorrected)} not: agents " + ", ".join(f"{a} {n}" for a, n in agents.items())
        + "; self-edits by " + ", ".join(f"{k} {editors[k]}" for k in ("human", "model", "rule") if editors[k])
        + f"; {with_pii} questions quote a customer's details (PII)"
    )
