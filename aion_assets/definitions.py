"""The one Dagster code location of AION SEAL: every domain's definitions merged, plus the shared parts.

Loaded by ``workspace.yaml`` / ``dagster dev -m aion_assets.definitions``. Building it connects
to nothing: the resources read the settings (``AION_*``) and open the database, the artifact
store and the scrubber's model on first use inside a run or sensor tick.

Executor: in-process by default (one run = one process, cheapest on a laptop); choose the
multiprocess executor per run with ``execution: {config: {multiprocess: {max_concurrent: 4}}}``.
"""


import dagster as dg
from dagster._core.definitions.executor_definition import (  # the stock selector's parts, reused
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    multi_or_in_process_executor,
)

from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory import assets as memory_assets
from aion_assets.memory import schedules as memory_schedules
from aion_assets.memory.resources import MemoryStoreResource, ScrubberResource
from aion_assets.seal import assets as learning_assets
from aion_assets.seal.datasets import assets as seal_assets
from aion_assets.seal.datasets import checks as memory_checks
from aion_assets.seal.datasets import checks as seal_checks
from aion_assets.seal.datasets import sensors as memory_sensors
from aion_assets.seal.resources import SealResource

#: ``multi_or_in_process_executor`` with in-process as the default instead of multiprocess.
aion_executor = dg.ExecutorDefinition(
    name="aion_executor",
    config_schema=dg.Field(
        dg.Selector({"in_process": IN_PROC_CONFIG, "multiprocess": MULTI_PROC_CONFIG}),
        default_value={"in_process": {}},
    ),
    executor_creation_fn=multi_or_in_process_executor.executor_creation_fn,
    requirements=multi_or_in_process_executor.get_requirements,
    description="In-process by default; multiprocess when configured.",
)


def default_resources() -> dict[str, object]:
    """The resources of the embedded default and of production alike: everything comes from AION_* settings."""
    return {
        "memory": MemoryStoreResource(),
        "artifacts": ArtifactStoreResource(),
        "scrubber": ScrubberResource(),
        "seal": SealResource(),
    }


def build_definitions() -> dg.Definitions:
    """Merge each domain's definitions and the shared parts (executor, resources, automation sensor)."""
    memory = dg.Definitions(
        assets=memory_assets.assets,
        asset_checks=memory_checks.checks,
        sensors=memory_sensors.sensors,
        schedules=memory_schedules.schedules,
        jobs=[*memory_sensors.jobs, *memory_schedules.jobs],
    )
    seal = dg.Definitions(
        assets=[*seal_assets.assets, *learning_assets.assets], asset_checks=seal_checks.checks
    )
    shared = dg.Definitions(
        resources=default_resources(),
        executor=aion_executor,
        sensors=[
            dg.AutomationConditionSensorDefinition(
                "aion_automation",
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                description="Evaluates the assets' automation conditions (the interactions observation).",
            )
        ],
    )
    return dg.Definitions.merge(memory, seal, shared)


# The only Definitions object at module scope: Dagster's loaders require exactly one.
defs = build_definitions()
