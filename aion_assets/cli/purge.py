"""`aion purge`: delete a user's or a tenant's interactions and edits, and say what was built from them.

Order, so that a failure leaves nothing half-known: the rows are read first (a dry run of the
delete) and the impact is computed from the artifact store and the registry (an unreachable store
stops the command before anything is deleted); then the rows are deleted in one transaction
(``memory.purge``); then, only when asked, the affected dataset files are deleted and affected
versions that serve no route are retired or rejected. Routes are never changed here: moving
traffic is the operator's decision (docs/operations.md, "Purging a user's or a tenant's edits").
"""

from __future__ import annotations

from typing import Any

import click


def _archive_days(artifacts: Any, tenant_id: str) -> list[str]:
    from aion_assets.memory.archive_format import is_manifest, tenant_prefix

    prefix = tenant_prefix(tenant_id)
    return sorted({k[len(prefix):].split("/", 1)[0] for k in artifacts.list(prefix) if is_manifest(k)})


def _retire(store: Any, impact: Any, actor: str, reason: str, dry_run: bool) -> list[dict[str, str]]:
    """Retire promoted, reject undecided affected versions that serve no route; what was (or would be) done."""
    from aion_assets.registry.models import ModelStatus

    done = []
    for item in impact.versions:
        v = item.version
        if item.routed:
            continue
        target = {
            ModelStatus.promoted: ModelStatus.retired,
            ModelStatus.candidate: ModelStatus.rejected,
            ModelStatus.pending_approval: ModelStatus.rejected,
        }.get(v.status)
        if target is None:
            continue
        if not dry_run:
            store.transition(v.tenant_id, v.id, target, actor, reason=reason)
        done.append({"id": str(v.id), "name": v.name, "from": v.status.value, "to": target.value})
    return done


@click.command("purge")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--user", "user_id", default=None, help="End user (interactions' user_id) whose rows to delete.")
@click.option("--all", "all_users", is_flag=True, help="Delete every interaction and edit of the tenant.")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted and what is affected.")
@click.option(
    "--delete-datasets",
    is_flag=True,
    help="Also delete the affected dataset versions' files, scrubbed_edits files and evaluation examples.",
)
@click.option("--retire", is_flag=True, help="Retire (promoted) or reject (undecided) affected versions no route uses.")
@click.option("--actor", default=None, help="Who purges (registry audit log); default: cli:<login name>.")
def purge(
    tenant: str, user_id: str | None, all_users: bool, dry_run: bool, delete_datasets: bool, retire: bool,
    actor: str | None,
) -> None:
    """Delete a user's (--user) or the whole tenant's (--all) interactions, self-edits and stored detections.

    Prints JSON: what was (or, with --dry-run, would be) deleted, the dataset versions and model
    versions built from the deleted edits (found through the dataset manifests' source_edit_ids),
    whether each version is routed, what to do about it, and the tenant's retention archive days.
    """
    import getpass
    import json

    from aion_assets.cli.pipeline import _artifacts
    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.purge import purge as purge_rows
    from aion_assets.registry.purge_impact import impact_of
    from aion_assets.registry.sql_store import SqlRegistryStore
    from aion_assets.seal.datasets.purge_files import delete_dataset_files, report_examples, scrubbed_files

    if (user_id is None) == (not all_users):
        raise click.UsageError("give exactly one of --user U and --all")
    for name, value in (("--tenant", tenant), ("--user", user_id)):
        if value is not None and (not value or len(value) > 128 or "\x00" in value):
            raise click.BadParameter("must be 1 to 128 characters", param_hint=name)
    settings = get_settings()
    who = actor or f"cli:{getpass.getuser()}"
    artifacts = _artifacts(settings)
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        registry = SqlRegistryStore(engine)

        def assess(rows: Any) -> tuple[Any, list[Any], list[Any]]:
            impact = impact_of(registry, artifacts, tenant, rows.edit_ids, all_edits=all_users)
            scrubbed = scrubbed_files(artifacts, tenant, rows.edit_ids, all_edits=all_users)
            runs = [(v.version.domain, v.version.evaluation_run_id) for v in impact.versions
                    if v.version.evaluation_run_id]
            examples = report_examples(artifacts, tenant, runs, rows.interaction_ids, all_edits=all_users)
            return impact, scrubbed, examples

        preview = purge_rows(engine, tenant, user_id=user_id, dry_run=True)
        impact, scrubbed, examples = assess(preview)  # before deleting: an unreachable store stops here
        result = preview
        if not dry_run:
            result = purge_rows(engine, tenant, user_id=user_id)
            if not set(result.edit_ids) <= set(preview.edit_ids):  # rows arrived in between
                impact, scrubbed, examples = assess(result)
        deleted: list[str] = []
        files = [f.key for f in (*scrubbed, *examples)]
        if delete_datasets:
            if dry_run:
                deleted = [d.uri for d in impact.datasets] + [artifacts.uri(k) for k in files]
            else:
                deleted = delete_dataset_files(artifacts, [d.prefix for d in impact.datasets], files)
        scope = f"user {user_id}" if user_id is not None else "all users"
        retired = (
            _retire(registry, impact, who, f"purge of tenant {tenant}'s edits ({scope}) by {who}", dry_run)
            if retire else []
        )
        days = _archive_days(artifacts, tenant)
    finally:
        engine.dispose()
    click.echo(json.dumps({
        "memory": result.to_dict(),
        "datasets": [d.to_dict() for d in impact.datasets],
        "unreadable_manifests": impact.unreadable,
        "scrubbed_files": [{"uri": f.uri, "rows": f.hits} for f in scrubbed],
        "evaluation_examples": [{"uri": f.uri, "rows": f.hits} for f in examples],
        "model_versions": [v.to_dict() for v in impact.versions],
        "artifacts_deleted" if not dry_run else "artifacts_to_delete": deleted,
        "versions_retired" if not dry_run else "versions_to_retire": retired,
        "archive_days": days,
        "next_steps": _next_steps(tenant, impact, scrubbed, delete_datasets, days),
    }, indent=2))


def _next_steps(tenant: str, impact: Any, scrubbed: list[Any], deleted: bool, days: list[str]) -> list[str]:
    steps = []
    for v in impact.versions:
        if v.routed or v.version.status.value in ("promoted", "candidate", "pending_approval"):
            steps.append(f"{v.version.name}: {v.recommendation()}")
    domains = sorted({d.domain for d in impact.datasets})
    if domains:
        steps.append(
            "retrain without the purged edits: materialize seal/sft_dataset (and downstream) for "
            + ", ".join(f"{tenant}/{d}" for d in domains)
        )
        if not deleted:
            steps.append("the affected dataset files still hold the purged rows: run again with --delete-datasets")
    elif scrubbed and not deleted:
        steps.append("scrubbed_edits files still hold the purged rows: run again with --delete-datasets")
    if impact.unreadable:
        steps.append("some dataset manifests could not be read (unreadable_manifests): check those versions by hand")
    if days:
        steps.append(
            f"retention archives of {len(days)} day(s) may hold the purged rows; `aion archive restore` would bring "
            "them back: purge again after any restore (docs/operations.md)"
        )
    return steps
