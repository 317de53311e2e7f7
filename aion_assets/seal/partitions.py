"""The dynamic partitions of the SEAL pipeline: one per ``tenant/domain``.

Tenant ids may themselves contain ``/`` (see ``memory.models.Ident``) while domain names never do
(``curation.normalize_domain``), so a key is split at its last ``/``.
"""


import dagster as dg

#: Name of the dynamic partitions set in the Dagster instance.
TENANT_DOMAINS = "tenant_domains"

tenant_domain_partitions = dg.DynamicPartitionsDefinition(name=TENANT_DOMAINS)


def partition_key(tenant_id: str, domain: str) -> str:
    """The partition key of TENANT_ID's DOMAIN."""
    if "/" in domain or not domain:
        raise ValueError(f"domain {domain!r} must be non-empty and contain no '/'")
    return f"{tenant_id}/{domain}"


def split_partition_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`partition_key`; ValueError for a key without a ``/``."""
    tenant_id, sep, domain = key.rpartition("/")
    if not sep or not tenant_id or not domain:
        raise ValueError(f"partition key {key!r} is not 'tenant/domain'")
    return tenant_id, domain


# Run tags the run queue limits (dagster.yaml and the embedded instance, see aion_assets.runs):
# one run per partition at a time, and one run at a time in the GPU queue.
#: Run tag naming the ``tenant/domain`` partition a run works on.
PARTITION_TAG = "aion/partition"
#: Run tag of the queue a run waits in; runs that train an adapter wait in :data:`GPU_QUEUE`.
QUEUE_TAG = "aion/queue"
GPU_QUEUE = "gpu"


def run_tags(key: str, *, gpu: bool) -> dict[str, str]:
    """The run tags of a run on partition KEY; GPU: the run trains an adapter.

    Raises:
        ValueError: KEY is not a ``tenant/domain`` key.
    """
    tenant_id, _ = split_partition_key(key)
    tags = {PARTITION_TAG: key, "aion/tenant": tenant_id}
    if gpu:
        tags[QUEUE_TAG] = GPU_QUEUE
    return tags
