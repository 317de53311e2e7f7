"""``GET /datasets/sft``: the caller's tenant's curated, scrubbed training rows, streamed as JSONL.

Same rows as the ``sft_dataset`` asset (``aion_assets.seal.datasets.curate``), produced on the fly:
edits are read from the store in batches, scrubbed in batches and written out as they come, so
memory stays flat however large the set. Scrubbing applies the tenant's policy to the stored
detections of each text (``aion_assets.memory.detections``): only texts never analysed run the NER.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from aion_assets.core.auth import ForbiddenError, Role
from aion_assets.core.http import Caller, Metrics
from aion_assets.core.telemetry import ApiMetrics
from aion_assets.memory.api import Store
from aion_assets.memory.detections import DetectionStore, StoredScrubber
from aion_assets.memory.models import Tenant, sane_utc
from aion_assets.memory.scrub.policy import scrub_policy
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.curate import curate, is_usable, scrub_examples
from aion_assets.seal.datasets.rows import dumps_row, split_of
from aion_assets.seal.datasets.tenant_config import curation_settings
from aion_assets.seal.datasets.vocabulary_live import LiveVocabularies

router = APIRouter()
NDJSON = "application/x-ndjson"
#: Examples per scrub call, and rows per chunk written to the client: the stored detections of a
#: batch's texts come in one query per pass (``memory.detections.StoredAnalysis``), so a larger
#: batch means fewer round trips; memory stays bounded by the batch, not by the history.
SCRUB_BATCH = 512
READ_PAGE = 1000  # approved edits per keyset page read from the store
IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"


def _prepare(store: MemoryStore, tenant_id: str, min_reward: float | None) -> tuple[Any, Any, Any, Any]:
    """Everything that can fail with a clear error, done before the first byte is sent."""
    from aion_assets.memory.scrub.engine import get_scrubber

    tenant = store.get_tenant(tenant_id)
    if tenant is not None and tenant.adaptation_opt_out:
        # The same rule as the pipeline's assets: an opted-out tenant's edits are never curated.
        raise ForbiddenError(
            f"tenant {tenant_id!r} opted out of adaptation: its edits are never exported as training data "
            "(`aion tenant --opt-in`, run by the operator, lifts it)"
        )
    settings = curation_settings(tenant, min_reward=min_reward)
    # Stored detections: only texts never analysed (new approvals) run the NER (memory.detections).
    scrubber = StoredScrubber(get_scrubber(), DetectionStore(store.engine), tenant_id)
    return tenant, settings, scrub_policy(tenant, _vocabulary(store, tenant)), scrubber


#: Learned vocabularies of this process, kept current by watermark (``vocabulary_live``).
VOCABULARIES = LiveVocabularies()


def _vocabulary(store: MemoryStore, tenant: Tenant | None) -> tuple[str, ...]:
    """The tenant's learned vocabulary, exactly as ``seal/tenant_vocabulary`` learns it.

    A full pass over the tenant's answers the first time; afterwards only the edits approved
    since the last call are read (``vocabulary_live``), so an export after 1,000 new approvals
    reads 1,000 answers, not the history.
    """
    if tenant is None:
        return ()
    return VOCABULARIES.terms(store, tenant)


@router.get(
    "/datasets/sft",
    summary="Stream the caller's tenant's curated, PII-scrubbed SFT rows as JSONL",
    description=(
        "Approved self-edits with `reward_score >= min_reward` (default: the tenant's curation.min_reward), one "
        "per interaction (highest reward, then latest), scrubbed of PII, as `application/x-ndjson`: one JSON "
        "object per line with `id`, `prompt`, `response`, `messages` (system/user/assistant) and `metadata` "
        "(ids, domain, reward, split). The split of an interaction is fixed by a hash of its id. Needs the "
        "reviewer role. A tenant that opted out of adaptation gets 403 (`error` `forbidden`): its edits are "
        "never training data."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {}}, "description": "JSONL rows, in interaction-id order."},
        401: {"description": "Missing, expired or forged bearer token."},
        403: {"description": "The token lacks the reviewer role, or the tenant opted out of adaptation."},
        422: {"description": "A query parameter is invalid; `field` names it."},
    },
)
async def export_sft(
    caller: Caller,
    store: Store,
    metrics: Metrics,
    min_reward: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="Lowest reward kept.")
    ] = None,
    agent_id: Annotated[str | None, Query(pattern=IDENT_PATTERN, description="Only this agent's edits.")] = None,
    since: Annotated[
        datetime | None,
        # Checked here, before the stream starts: an out-of-range `since` used to overflow inside
        # the generator, after the 200 headers had gone out (a truncated body instead of a 422).
        AfterValidator(lambda v: None if v is None else sane_utc(v)),
        Query(description="Only edits made at or after this time (ISO 8601, years 1970 to 2199)."),
    ] = None,
    split: Annotated[Literal["train", "eval"] | None, Query(description="Only this split.")] = None,
    domain: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Only this domain.")
    ] = None,
) -> StreamingResponse:
    caller.require(Role.reviewer)
    tenant, settings, policy, scrubber = await run_in_threadpool(_prepare, store, caller.tenant_id, min_reward)
    tenant_config = tenant.config if tenant is not None else {}

    def rows() -> Iterator[bytes]:
        examples = curate(
            store.iter_approved_edits(caller.tenant_id, min_reward=settings.min_reward, agent_id=agent_id, since=since,
                                      batch_size=READ_PAGE),
            tenant_config=tenant_config,
            min_reward=settings.min_reward,
            domain=domain,
        )
        if split is not None:
            examples = (ex for ex in examples if split_of(ex.interaction_id, settings.eval_share) == split)
        chunk: list[str] = []
        by_split = {"train": 0, "eval": 0}
        for ex, _counts in scrub_examples(examples, scrubber, policy, batch_size=SCRUB_BATCH):
            if not is_usable(ex):
                continue
            row_split = split_of(ex.interaction_id, settings.eval_share)
            chunk.append(dumps_row(ex.to_row(row_split)))
            by_split[row_split] += 1
            if len(chunk) >= SCRUB_BATCH:
                yield "".join(chunk).encode()
                chunk = []
                _count(metrics, by_split)
        if chunk:
            yield "".join(chunk).encode()
        _count(metrics, by_split)

    return StreamingResponse(rows(), media_type=NDJSON)


def _count(metrics: ApiMetrics, by_split: dict[str, int]) -> None:
    for name, n in by_split.items():
        if n:
            metrics.exports.labels(name).inc(n)
            by_split[name] = 0
