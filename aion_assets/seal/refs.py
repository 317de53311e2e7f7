"""Hand-offs between assets: what one materialization tells the next."""

from typing import Any

import dagster as dg

from aion_assets.core.errors import NotFoundError


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> dict[str, Any]:
    """The metadata values of KEY's latest materialization of PARTITION.

    Raises:
        NotFoundError: the partition was never materialized.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        raise NotFoundError(f"{key.to_user_string()} has no materialization of partition {partition!r}; materialize it")
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}

