"""Artifacts that hold copies of purged rows, beyond the dataset versions (``aion purge``).

A purged self-edit may also sit, scrubbed, in
- the ``scrubbed_edits`` files (``scrubbed/{tenant}/{domain}/{sha}.jsonl``, one row per example,
  ``metadata.edit_id``), the input of every dataset version built since;
- the per-example results of an evaluation run (``reports/{tenant}/{domain}/{run}/examples.jsonl``,
  ``id`` = the interaction id), whose eval split held the purged interaction.

These functions find them (reading each file once, streamed) and delete whole affected objects
(``aion purge --delete-datasets``): a file is never rewritten without the rows, because its name
or the run's report refers to its exact bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aion_assets.core.artifacts import ArtifactStore, key_segment
from aion_assets.core.jsonl import stored_rows
from aion_assets.registry.evaluation import examples_key


@dataclass(frozen=True)
class AffectedFile:
    """An artifact object holding HITS rows of purged edits or interactions."""

    key: str
    uri: str
    hits: int


def scrubbed_files(
    artifacts: ArtifactStore, tenant_id: str, edit_ids: Iterable[str], *, all_edits: bool = False
) -> list[AffectedFile]:
    """The tenant's ``scrubbed_edits`` files with rows of EDIT_IDS (ALL_EDITS: every non-empty file)."""
    wanted = set(edit_ids)
    out = []
    for key in artifacts.list(f"scrubbed/{key_segment(tenant_id)}/"):
        if not key.endswith(".jsonl"):
            continue
        hits = sum(
            1 for row in stored_rows(artifacts, key)
            if all_edits or str((row.get("metadata") or {}).get("edit_id")) in wanted
        )
        if hits:
            out.append(AffectedFile(key, artifacts.uri(key), hits))
    return out


def report_examples(
    artifacts: ArtifactStore, tenant_id: str, runs: Iterable[tuple[str, str]], interaction_ids: Iterable[str],
    *, all_edits: bool = False,
) -> list[AffectedFile]:
    """Per-example files of the evaluation RUNS ((domain, run id) pairs) answering purged INTERACTION_IDS."""
    wanted = set(interaction_ids)
    out = []
    for domain, run_id in sorted(set(runs)):
        try:
            key = examples_key(tenant_id, domain, run_id)
        except ValueError:
            continue  # not a report folder: the pipeline never wrote one there
        if not artifacts.exists(key):
            continue
        hits = sum(1 for row in stored_rows(artifacts, key) if all_edits or str(row.get("id")) in wanted)
        if hits:
            out.append(AffectedFile(key, artifacts.uri(key), hits))
    return out


def delete_dataset_files(artifacts: ArtifactStore, prefixes: Sequence[str], files: Sequence[str]) -> list[str]:
    """Delete every object under each dataset PREFIX (its manifest first) and the FILES; the URIs deleted.

    The manifest goes first: a version folder without a manifest is incomplete by the artifact
    store's rule, so a delete that stops half-way never leaves a version that looks whole.
    """
    deleted: list[str] = []
    for prefix in prefixes:
        keys = list(artifacts.list(prefix))
        for key in sorted(keys, key=lambda k: not k.endswith("/manifest.json")):
            artifacts.delete(key)
            deleted.append(artifacts.uri(key))
    for key in files:
        artifacts.delete(key)
        deleted.append(artifacts.uri(key))
    return deleted


__all__ = ["AffectedFile", "delete_dataset_files", "report_examples", "scrubbed_files"]
