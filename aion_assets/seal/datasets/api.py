"""``GET /datasets/sft``: the caller's tenant's curated, scrubbed training rows, streamed as JSONL.

Same rows as the ``sft_dataset`` asset (``aion_assets.seal.datasets.curate``), produced on the fly:
edits are read from the store in batches, scrubbed in batches (``Scrubber.scrub_many``) and
written out as they come, so memory stays flat however large the set.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from aion_assets.core.auth import Principal, Role
from aion_assets.core.http import principal
from aion_assets.memory.scrub.policy import scrub_policy
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.curate import curate, is_usable, scrub_examples
from aion_assets.seal.datasets.rows import dumps_row, split_of
from aion_assets.seal.datasets.tenant_config import curation_settings

router = APIRouter()
Caller = Annotated[Principal, Depends(principal)]
NDJSON = "application/x-ndjson"
SCRUB_BATCH = 64
IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"


def _prepare(store: MemoryStore, tenant_id: str, min_reward: float | None) -> tuple[Any, Any, Any, Any]:
    """Everything that can fail with a clear error, done before the first byte is sent."""
    from aion_assets.memory.scrub.engine import get_scrubber

    tenant = store.get_tenant(tenant_id)
    settings = curation_settings(tenant, min_reward=min_reward)
    return tenant, settings, scrub_policy(tenant), get_scrubber()


@router.get(
    "/datasets/sft",
    summary="Stream the caller's tenant's curated, PII-scrubbed SFT rows as JSONL",
    description=(
        "Approved self-edits with `reward_score >= min_reward` (default: the tenant's curation.min_reward), one "
        "per interaction (highest reward, then latest), scrubbed of PII, as `application/x-ndjson`: one JSON "
        "object per line with `id`, `prompt`, `response`, `messages` (system/user/assistant) and `metadata` "
        "(ids, domain, reward, split). The split of an interaction is fixed by a hash of its id. Needs the "
        "reviewer role."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {}}, "description": "JSONL rows, in interaction-id order."},
        401: {"description": "Missing, expired or forged bearer token."},
        403: {"description": "The token lacks the reviewer role."},
        422: {"description": "A query parameter is invalid; `field` names it."},
    },
)
async def export_sft(
    request: Request,
    caller: Caller,
    min_reward: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="Lowest reward kept.")
    ] = None,
    agent_id: Annotated[str | None, Query(pattern=IDENT_PATTERN, description="Only this agent's edits.")] = None,
    since: Annotated[datetime | None, Query(description="Only edits made at or after this time (ISO 8601).")] = None,
    split: Annotated[Literal["train", "eval"] | None, Query(description="Only this split.")] = None,
    domain: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Only this domain.")
    ] = None,
) -> StreamingResponse:
    caller.require(Role.reviewer)
    store: MemoryStore = request.app.state.memory_store
    metrics = request.app.state.metrics
    tenant, settings, policy, scrubber = await run_in_threadpool(_prepare, store, caller.tenant_id, min_reward)
    tenant_config = tenant.config if tenant is not None else {}

    def rows() -> Iterator[bytes]:
        examples = curate(
            store.iter_approved_edits(caller.tenant_id, min_reward=settings.min_reward, agent_id=agent_id, since=since),
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


def _count(metrics: Any, by_split: dict[str, int]) -> None:
    for name, n in by_split.items():
        if n:
            metrics.exports.labels(name).inc(n)
            by_split[name] = 0
