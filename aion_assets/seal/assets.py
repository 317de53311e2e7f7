"""The learning half of the loop as assets: ``seal/lora_adapter`` and ``seal/evaluation_report``.

Both are partitioned like ``seal/sft_dataset`` (one partition per ``tenant/domain``). The
training op carries the tags that send it to GPU run workers in production (concurrency pool
``gpu``, a Kubernetes GPU request, the Celery queue ``gpu``) and runs in-process on the
embedded default; the runs that include it carry the run tag ``aion/queue: gpu`` (set by their
launchers, see ``seal.partitions.run_tags``), which the run queue limits. The adapter records
an :class:`~aion_assets.seal.refs.AdapterRef` naming the dataset version it was trained on, and
the evaluation report reads only that ref: it evaluates on the eval split the adapter was
trained beside, never on a newer dataset, and only the package whose manifest hashes to the
``manifest_sha256`` recorded at training (``seal.pinning``): a package replaced since is refused.
The evaluation report carries a blocking check: a candidate that is worse than the serving
baseline never reaches anything downstream of it.
"""

import json
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from aion_assets.core.artifacts import key_segment
from aion_assets.core.errors import ArtifactError, ConfigError
from aion_assets.core.jsonl import stored_rows
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.models import EvaluationIn
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.registry.naming import family_name
from aion_assets.registry.resources import RegistryResource
from aion_assets.seal.datasets.assets import sft_dataset
from aion_assets.seal.evaluation.generation import GENERATION_BATCH_SIZE
from aion_assets.seal.evaluation.report import report_prefix as evaluation_report_prefix
from aion_assets.seal.partitions import GPU_QUEUE, QUEUE_TAG, split_partition_key, tenant_domain_partitions
from aion_assets.seal.pinning import check_pinned, pinned_adapter
from aion_assets.seal.promotion import agents_of, serving_version
from aion_assets.seal.refs import AdapterRef, DatasetRef, latest
from aion_assets.seal.resources import SealResource
from aion_assets.seal.serving_baseline import serving_adapter

GROUP = "seal"
PREFIX = ["seal"]
CHECK_NAME = "candidate_not_worse_than_baseline"

#: Production routing of the training step: GPU pool, GPU node, GPU Celery queue.
GPU_OP_TAGS: dict[str, Any] = {
    "dagster-celery/queue": "gpu",
    QUEUE_TAG: GPU_QUEUE,
    "dagster-k8s/config": {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}},
        "pod_spec_config": {"node_selector": {"nvidia.com/gpu.present": "true"}},  # as deploy/k8s's gpu worker
    },
}



def _run_suffix(run_id: str) -> str:
    suffix = key_segment(run_id)[:8]
    if not suffix:
        raise ValueError("run_id must be non-empty: it keeps runs started in the same second apart")
    return suffix


def _eval_row_budget(seal: SealResource, from_run: int | None, tenant_id: str, domain: str) -> int | None:
    """Held-out rows the training's eval loss and the evaluation read at most: the run's config
    (FROM_RUN) wins; runs the sensors launch have none, so seal.yaml's evaluation budget applies."""
    return from_run or seal.load_config().evaluation_for(tenant_id, domain).max_eval_rows


def _held_out_rows(store: Any, dataset: DatasetRef, budget: int | None) -> list[dict[str, Any]]:
    """The first BUDGET held-out rows of DATASET (all of them with None), as both assets read them."""
    return list(stored_rows(store, dataset.eval_key))[:budget]


def model_name(base: str, tenant_id: str, domain: str) -> str:
    """The adapter family name, e.g. ``aion-base+seal-acme~support``.

    ``~`` separates tenant and domain and is quoted inside both (as ``%7E``, like ``/``), so
    tenant ``acme-support`` with domain ``x`` and tenant ``acme`` with domain ``support-x``
    never share a name (``...+seal-acme-support~x`` vs ``...+seal-acme~support-x``).
    """
    return family_name(base, tenant_id, domain)


def version_name(base: str, tenant_id: str, domain: str, when: datetime, *, run_id: str) -> str:
    """A version name like ``aion-base+seal-acme~support@2026.04.01-093015-1a2b3c4d``.

    The suffix is the start of RUN_ID: two runs started in the same second get two versions.
    """
    return f"{model_name(base, tenant_id, domain)}@{when:%Y.%m.%d-%H%M%S}-{_run_suffix(run_id)}"


def adapter_prefix(base: str, tenant_id: str, domain: str, when: datetime, *, run_id: str) -> str:
    """The store prefix of one run's package.

    E.g. ``seal-adapters/aion-base+seal-acme~support/20260401T093015Z-1a2b3c4d``. Unique per
    (base, tenant, domain) and per run, so no two runs ever write into one prefix.
    """
    return f"seal-adapters/{model_name(base, tenant_id, domain)}/{when:%Y%m%dT%H%M%SZ}-{_run_suffix(run_id)}"


def _run_cancelled(context: dg.AssetExecutionContext) -> bool:
    run = context.instance.get_run_by_id(context.run_id)
    return run is not None and run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)


class LoraAdapterConfig(dg.Config):
    """Run configuration of ``seal/lora_adapter``; unset fields come from config/seal.yaml."""

    max_steps: int | None = Field(default=None, ge=1, description="Override: optimizer steps at most.")
    max_train_minutes: float | None = Field(default=None, gt=0, description="Override: training time budget.")
    seed: int | None = Field(default=None, ge=0, description="Override: training seed.")
    max_eval_rows: int | None = Field(
        default=None, ge=1,
        description="Held-out rows the training's eval loss reads at most (the first ones, as the evaluation "
                    "does); default: seal.yaml's evaluation.max_eval_rows (all).",
    )


@dg.asset(
    key_prefix=PREFIX,
    group_name=GROUP,
    deps=[sft_dataset],
    partitions_def=tenant_domain_partitions,
    kinds={"pytorch", "peft"},
    pool="gpu",
    op_tags=GPU_OP_TAGS,
)
def lora_adapter(
    context: dg.AssetExecutionContext,
    config: LoraAdapterConfig,
    artifacts: ArtifactStoreResource,
    seal: SealResource,
) -> dg.MaterializeResult:
    """LoRA adapter of one tenant/domain trained on its SFT dataset, stored under seal-adapters/."""
    from aion_assets.seal.training.manifest import AdapterBinding
    from aion_assets.seal.training.packaging import package_adapter, upload_adapter
    from aion_assets.seal.training.progress import TrainingLog, loss_curve_markdown
    from aion_assets.seal.training.train import TrainingCancelledError, train_lora

    partition = context.partition_key
    tenant_id, domain = split_partition_key(partition)
    dataset = latest(context.instance, sft_dataset.key, partition, DatasetRef)
    settings = seal.settings_for(tenant_id, domain)
    overrides = {k: v for k, v in config.model_dump(exclude={"max_eval_rows"}).items() if v is not None}
    hp = settings.hyperparameters.model_copy(update=overrides)
    base = seal.base_model(settings.base_model)
    store = artifacts.get_store()
    train_rows = list(stored_rows(store, dataset.train_key))
    # The eval loss is a forward pass over held-out rows after training (minutes on a CPU for a few
    # hundred): it reads the rows the evaluation will judge, within the same budget.
    eval_rows = _held_out_rows(store, dataset, _eval_row_budget(seal, config.max_eval_rows, tenant_id, domain))
    if not train_rows:
        raise ConfigError(f"{partition}: the dataset version {dataset.version} has no training rows")
    context.log.info(
        f"training {partition} on {len(train_rows)} rows (dataset {dataset.version}), base {base.name}, "
        f"r={hp.r} alpha={hp.alpha} lr={hp.learning_rate} steps<={hp.max_steps} minutes<={hp.max_train_minutes}"
    )

    last_check = [time.monotonic()]

    def should_stop() -> bool:
        # Asking the instance costs a query; a few seconds of latency to cancel is plenty.
        if time.monotonic() - last_check[0] < 5:
            return False
        last_check[0] = time.monotonic()
        return _run_cancelled(context)

    # A log line every N steps (~25 lines a run), every step to a progress bar if one listens.
    progress = TrainingLog(context.log.info)

    key = seal.encryption_key()
    started = datetime.now(UTC)
    name = model_name(base.name, tenant_id, domain)
    version = version_name(base.name, tenant_id, domain, started, run_id=context.run.run_id)
    prefix = adapter_prefix(base.name, tenant_id, domain, started, run_id=context.run.run_id)
    with tempfile.TemporaryDirectory(prefix="aion-lora-") as tmp:
        try:
            result = train_lora(
                base.path,
                train_rows,
                eval_rows,
                hp,
                Path(tmp) / "adapter",
                progress_callback=progress,
                progress_begin=progress.begin,
                should_stop=should_stop,
            )
        except TrainingCancelledError:
            progress.end(progress.last_step, "cancelled")
            raise
        progress.end(result.steps, result.stopped_by, result.tokens_per_s)
        package = package_adapter(
            result.adapter_dir,
            Path(tmp) / "package",
            base_model_info=base,
            binding=AdapterBinding(tenant_id, domain, version),
            dataset_version=dataset.version,
            dataset_hash=dataset.content_hash,
            config={"hyperparameters": hp.model_dump(mode="json"), "partition": partition},
            loss_curve=[list(p) for p in result.loss_curve],
            seed=hp.seed,
            key=key,
            extra={"train": result.as_dict() | {"adapter_dir": None}, "dataset_uri": dataset.uri},
        )
        upload = upload_adapter(store, prefix, package, key=key)
    ref = AdapterRef(
        version=version,
        prefix=prefix,
        uri=store.uri(prefix),
        base=base.name,
        base_sha256=base.sha256,
        dataset=dataset,
    )
    context.log.info(f"adapter {ref.version}: {result.steps} steps in {result.train_seconds:.0f}s -> {ref.uri}")
    return dg.MaterializeResult(
        metadata={
            **ref.to_metadata(),
            "model_name": name,
            "files": len(upload.keys),
            "manifest_sha256": upload.manifest_sha256,
            "steps": result.steps,
            "stopped_by": result.stopped_by,
            "tokens": result.tokens,
            "train_seconds": round(result.train_seconds, 1),
            "tokens_per_s": round(result.tokens_per_s, 1),
            "precision": result.precision,
            # Rows whose frozen blocks were read rather than computed (docs/learning.md), or why not.
            "frozen_cache": dg.MetadataValue.json(result.extra.get("frozen_cache") or {}),
            "final_loss": result.loss_curve[-1][1] if result.loss_curve else float("nan"),
            "eval_loss": result.eval_loss if result.eval_loss is not None else float("nan"),
            "eval_loss_rows": len(eval_rows),
            "loss_curve": dg.MetadataValue.md(loss_curve_markdown(result.loss_curve)),
            "loss_curve_points": dg.MetadataValue.json([[s, round(v, 4)] for s, v in result.loss_curve]),
            "logged_steps": dg.MetadataValue.json([s for s, _ in progress.logged]),
            "encrypted": key is not None,
        }
    )


class EvaluationReportConfig(dg.Config):
    """Run configuration of ``seal/evaluation_report``."""

    tolerance: float = Field(
        default=0.02, ge=0, le=1, description="Largest allowed drop of any metric (on its 0-1 scale) vs the baseline."
    )
    require_beats_control: list[str] = Field(
        default_factory=list,
        description="Metrics on which the candidate must also beat the style-only control (e.g. rougeL_body).",
    )
    max_new_tokens: int | None = Field(
        default=None, ge=8, le=2048,
        description="Generation length per answer, exactly (for quick runs); default: seal.yaml's "
        "evaluation.max_new_tokens (160), raised where the longest held-out reference needs more.",
    )
    batch_size: int = Field(
        default=GENERATION_BATCH_SIZE, ge=1, le=256,
        description="Prompts generated together, at most, in balanced batches (see generation.GENERATION_BATCH_SIZE).",
    )
    max_eval_rows: int | None = Field(
        default=None, ge=1,
        description="Evaluate at most this many eval rows; default: seal.yaml's evaluation.max_eval_rows (all).",
    )
    consistency: str = Field(default="minilm", description="'minilm' (embeddings), 'bow', or 'none'.")
    n_resamples: int = Field(default=1000, ge=100, description="Paired bootstrap resamples.")
    seed: int = Field(default=0, ge=0, description="Generation and bootstrap seed.")


@dg.asset(
    key_prefix=PREFIX,
    group_name=GROUP,
    # Only the adapter: its ref names the dataset version to evaluate on (see the module docstring).
    deps=[lora_adapter],
    partitions_def=tenant_domain_partitions,
    kinds={"pytorch", "postgres"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=dg.AssetKey([*PREFIX, "evaluation_report"]),
            blocking=True,
            description="Candidate not worse than the serving baseline beyond the tolerance "
            "on any metric, and the scenario pass rate does not drop.",
        )
    ],
)
def evaluation_report(
    context: dg.AssetExecutionContext,
    config: EvaluationReportConfig,
    memory: MemoryStoreResource,
    artifacts: ArtifactStoreResource,
    seal: SealResource,
    registry: RegistryResource,
) -> Iterator[Any]:
    """Candidate adapter vs serving baseline vs style-only control on held-out data and scenarios."""
    from aion_assets.seal.evaluation.evaluate import evaluate_candidate, gate
    from aion_assets.seal.training.adapters import plain_peft_folder
    from aion_assets.seal.training.manifest import AdapterBinding
    from aion_assets.seal.training.packaging import download_adapter

    partition = context.partition_key
    tenant_id, domain = split_partition_key(partition)
    # The ref and the content address recorded at training (see seal.pinning): only that package is evaluated.
    pinned = pinned_adapter(context.instance, lora_adapter.key, partition)
    adapter = pinned.ref
    # The dataset the adapter was trained on, not the partition's latest one: a newer version
    # may have been built since, and its eval split can overlap this adapter's training split.
    dataset = adapter.dataset
    settings = seal.settings_for(tenant_id, domain)
    base = seal.base_model(adapter.base)
    if base.sha256 != adapter.base_sha256:
        raise ArtifactError(
            f"base model {base.name!r} is not the one adapter {adapter.version} was trained on "
            f"(weights sha256 {base.sha256[:12]} != {adapter.base_sha256[:12]}); train the adapter again"
        )
    store = artifacts.get_store()
    # The run's config wins; runs the sensors launch have none, so seal.yaml's evaluation budget applies.
    budget = seal.load_config().evaluation_for(tenant_id, domain)
    max_eval_rows = _eval_row_budget(seal, config.max_eval_rows, tenant_id, domain)
    max_new_tokens = config.max_new_tokens or budget.max_new_tokens
    eval_rows = _held_out_rows(store, dataset, max_eval_rows)
    scenarios = seal.scenarios_for(tenant_id, domain)
    style = settings.style
    if style.is_empty and scenarios is not None and scenarios.style is not None:
        style = scenarios.style  # the scenario file documents the house style when seal.yaml does not
    # The candidate is compared with what serves the route today (the registry), else the base.
    tenant = memory.get_store().get_tenant(tenant_id)
    serving = serving_version(
        registry.get_store(), tenant_id, domain, agents_of(tenant.config if tenant is not None else None, domain)
    )
    baseline_version = serving.name if serving is not None else base.name
    with tempfile.TemporaryDirectory(prefix="aion-eval-") as tmp:
        # The binding comes from the run's metadata, never from the store: a package copied
        # under this prefix from another tenant, domain or version is refused.
        expected = AdapterBinding(tenant_id, domain, adapter.version)
        key = seal.encryption_key()
        check_pinned(store, pinned)  # before any download: a replaced package fails naming both hashes
        package = download_adapter(
            store, adapter.prefix, Path(tmp) / "package", expected=expected, key=key,
            manifest_sha256=pinned.manifest_sha256,  # and again on the bytes downloaded
        )
        plain = plain_peft_folder(package, key, Path(tmp) / "plain", expected=expected)
        baseline_dir = None
        if serving is not None:
            baseline_dir = serving_adapter(store, serving, tenant_id, domain, key, Path(tmp) / "serving")
        report = evaluate_candidate(
            base.path,
            plain,
            baseline_dir,
            eval_rows,
            scenarios,
            style,
            model_version=adapter.version,
            baseline_version=baseline_version,
            dataset_id=f"{partition}@{dataset.version}",
            max_new_tokens=max_new_tokens,
            # seal.yaml's length is a floor that long references raise; a run's own is exact.
            fit_to_references=config.max_new_tokens is None,
            batch_size=config.batch_size,
            seed=config.seed,
            n_resamples=config.n_resamples,
            consistency=None if config.consistency == "none" else config.consistency,
            progress=context.log.info,
        )
        examples_path = report.write_examples_jsonl(Path(tmp) / "examples.jsonl")
        report_prefix = evaluation_report_prefix(tenant_id, domain, context.run_id)
        store.put_file(f"{report_prefix}/examples.jsonl", examples_path)
        store.put_bytes(
            f"{report_prefix}/report.json",
            json.dumps(report.summary(), indent=1, sort_keys=True, default=str).encode(),
        )
    rows = [EvaluationIn(**row) for row in report.to_rows(run_id=context.run_id)]
    memory.get_store().add_evaluations(tenant_id, rows)
    verdict = gate(report, tolerance=config.tolerance, require_beats_control=config.require_beats_control)
    markdown = report.to_markdown()
    context.log.info("evaluation of %s:\n%s", adapter.version, markdown)
    summary = report.summary()
    yield dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(markdown),
            "candidate": adapter.version,
            "manifest_sha256": pinned.manifest_sha256,
            "baseline": baseline_version,
            "dataset_version": dataset.version,
            "dataset_eval_key": dataset.eval_key,
            "eval_rows": len(eval_rows),
            "scenarios": len(scenarios.scenarios) if scenarios is not None else 0,
            "examples_uri": store.uri(f"{report_prefix}/examples.jsonl"),
            "report_uri": store.uri(f"{report_prefix}/report.json"),
            "evaluation_rows_written": len(rows),
            "summary": dg.MetadataValue.json(json.loads(json.dumps(summary, default=str))),
            "gate_passed": verdict.passed,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_NAME,
                passed=verdict.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in verdict.reasons) or "none"),
                    "tolerance": config.tolerance,
                },
            )
        ],
    )


assets = [lora_adapter, evaluation_report]
