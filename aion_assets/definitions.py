"""The one Dagster code location of AION SEAL: every domain's definitions merged, plus the shared parts.

Loaded by ``workspace.yaml`` / ``dagster dev -m aion_assets.definitions``. Building it connects
to nothing: the settings object (``AION_*``) is read once here and the resources are built from
it; they open the database, the artifact store and the scrubber's model on first use inside a run
or sensor tick. Secrets reach the resources as ``dg.EnvVar`` so they never appear in the UI.

Executor (``AION_EXECUTOR``): in-process by default (one run = one process, cheapest on a laptop:
the base model is loaded once); ``multiprocess`` (or per run:
``execution: {config: {multiprocess: {max_concurrent: 4}}}``); ``celery`` for the production
profile, where each step is a Celery task and training steps go to the ``gpu`` queue
(``aion_assets/worker.py`` is the workers' app).
"""

import os

import dagster as dg
from dagster_aws.s3 import S3Resource

from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.core.settings import Settings, get_settings
from aion_assets.memory import definitions as memory_definitions
from aion_assets.memory.resources import MemoryStoreResource, ScrubberResource
from aion_assets.registry import definitions as registry_definitions
from aion_assets.registry.resources import RegistryResource
from aion_assets.seal import definitions as seal_definitions
from aion_assets.seal.resources import SealResource

#: Dagster's multi-or-in-process selector, with in-process as the default instead of multiprocess.
aion_executor = dg.ExecutorDefinition(
    name="aion_executor",
    config_schema=dg.Field(
        dg.Selector(
            {
                "in_process": dg.in_process_executor.config_schema.as_field(),
                "multiprocess": dg.multiprocess_executor.config_schema.as_field(),
            }
        ),
        default_value={"in_process": {}},
    ),
    executor_creation_fn=dg.multi_or_in_process_executor.executor_creation_fn,
    requirements=dg.multi_or_in_process_executor.get_requirements,
    description="In-process by default; multiprocess when configured.",
)


def executor_from_settings(settings: Settings) -> dg.ExecutorDefinition:
    """The runs' executor: :data:`aion_executor` (in-process or multiprocess) or dagster-celery's."""
    if settings.executor == "celery":
        from dagster_celery import celery_executor

        from aion_assets.worker import celery_config

        return celery_executor.configured(celery_config(settings), name="aion_celery_executor")
    if settings.executor == "multiprocess":
        return aion_executor.configured({"multiprocess": {}}, name="aion_multiprocess_executor")
    return aion_executor


def _secret(env_name: str, value: str) -> str:
    """VALUE as a ``dg.EnvVar`` (a str) when it came from the environment variable ENV_NAME (kept out of the UI)."""
    return dg.EnvVar(env_name) if os.environ.get(env_name) == value else value


def resources_from_settings(settings: Settings, *, model_home: str | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources of the embedded default and of production alike, every value taken from SETTINGS.

    Args:
        model_home: where converted base models are cached (default: AION_HOME); tests share one cache.
    """
    s3 = None
    if settings.artifacts.strip().lower().startswith("s3://"):
        s3 = S3Resource(endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
    adapter_key = settings.adapter_key.get_secret_value() if settings.adapter_key is not None else None
    # Retention archives: their own key when set, else the adapters' (two subkeys are derived from it).
    archive_secret = settings.archive_key or settings.adapter_key
    archive_key = archive_secret.get_secret_value() if archive_secret is not None else None
    webhook_secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret is not None else None
    return {
        "memory": MemoryStoreResource(
            database_url=_secret("AION_DATABASE_URL", settings.db_url),
            archive_key=_secret("AION_ARCHIVE_KEY" if settings.archive_key else "AION_ADAPTER_KEY", archive_key)
            if archive_key else None,
        ),
        "artifacts": ArtifactStoreResource(
            uri=settings.artifacts, s3=s3, sse_kms_key_id=settings.s3_sse_kms_key_id
        ),
        "scrubber": ScrubberResource(),
        "seal": SealResource(
            config_path=str(settings.seal_config),
            home=model_home or str(settings.resolved_home),
            scenarios_dir=str(settings.scenarios_dir),
            adapter_key=_secret("AION_ADAPTER_KEY", adapter_key) if adapter_key else None,
        ),
        "registry": RegistryResource(
            database_url=_secret("AION_DATABASE_URL", settings.db_url),
            alert_webhook_url=settings.alert_webhook_url,
            deploy_webhook_url=settings.deploy_webhook_url,
            webhook_secret=_secret("AION_WEBHOOK_SECRET", webhook_secret) if webhook_secret else None,
        ),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Merge each domain's definitions and add the shared parts (executor, resources, automation sensor)."""
    settings = settings or get_settings()
    shared = dg.Definitions(
        resources=resources_from_settings(settings),
        executor=executor_from_settings(settings),
        sensors=[
            dg.AutomationConditionSensorDefinition(
                "aion_automation",
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                description="Evaluates the assets' automation conditions (the interactions observation).",
            )
        ],
    )
    return dg.Definitions.merge(
        memory_definitions.build_definitions(),
        seal_definitions.build_definitions(),
        registry_definitions.build_definitions(),
        shared,
    )


# The only Definitions object at module scope: Dagster's loaders require exactly one.
defs = build_definitions()
