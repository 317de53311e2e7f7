"""Checks on memory-domain assets."""


import contextlib
import hashlib

import dagster as dg

from aion_assets.memory.assets import scrubbed_edits
from aion_assets.memory.resources import ArtifactStoreResource
from aion_assets.seal.assets import latest_metadata
from aion_assets.seal.curation import iter_lines
from aion_assets.seal.partitions import tenant_domain_partitions


@dg.asset_check(asset=scrubbed_edits, blocking=True, partitions_def=tenant_domain_partitions)
def scrubbed_file_intact(
    context: dg.AssetCheckExecutionContext, artifacts: ArtifactStoreResource
) -> dg.AssetCheckResult:
    """The stored scrubbed file reads back with the row count and sha256 recorded at materialization."""
    meta = latest_metadata(context.instance, scrubbed_edits.key, context.partition_key)
    digest, rows = hashlib.sha256(), 0
    with contextlib.closing(artifacts.get_store().open_read(meta["key"])) as stream:
        for line in iter_lines(stream):
            digest.update(line)
            rows += bool(line.strip())
    passed = digest.hexdigest() == meta["sha256"] and rows == meta["rows_out"]
    return dg.AssetCheckResult(passed=passed, metadata={"rows_read": rows, "rows_expected": meta["rows_out"]})


checks = [scrubbed_file_intact]
