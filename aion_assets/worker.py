"""The Celery app of the production profile's step workers (entry point: ``celery -A aion_assets.worker``).

With ``AION_EXECUTOR=celery`` every step of a pipeline run is a Celery task (``dagster-celery``):
the run worker submits it to a queue, a worker process started with this app executes it against
the same Dagster instance (``DAGSTER_HOME``) and code location (``aion_assets.definitions``).
Steps tagged ``dagster-celery/queue: gpu`` (training, ``seal/lora_adapter``) go to the ``gpu``
queue; everything else to ``dagster``. Start one worker per queue::

    celery -A aion_assets.worker worker -Q dagster -n default@%h --concurrency 2
    celery -A aion_assets.worker worker -Q gpu -n gpu@%h --concurrency 1   # on the GPU node

Broker and result backend come from the same settings as the executor's (``AION_CELERY_BROKER``,
``AION_CELERY_BACKEND``), so the two sides cannot disagree. ``deploy/compose.yaml`` and
``deploy/k8s/`` run exactly these commands.
"""

from __future__ import annotations

from typing import Any

from aion_assets.core.settings import Settings, get_settings

#: The queue of the steps that train (the ``dagster-celery/queue`` tag of ``seal/lora_adapter``).
GPU_QUEUE = "gpu"
#: Every other step (dagster-celery's default queue).
DEFAULT_QUEUE = "dagster"


def celery_config(settings: Settings) -> dict[str, Any]:
    """The executor config of ``dagster_celery.celery_executor`` for SETTINGS.

    The broker and backend are given as ``{"env": ...}`` when they came from the environment,
    so a password in their URL never shows in the Dagster UI's run config.
    """
    import os

    def source(env_name: str, value: str) -> Any:
        return {"env": env_name} if os.environ.get(env_name) == value else value

    return {
        "broker": source("AION_CELERY_BROKER", settings.celery_broker),
        "backend": source("AION_CELERY_BACKEND", settings.celery_backend),
        # One step at a time per worker slot: a training step holds its device for minutes.
        "config_source": {"worker_prefetch_multiplier": 1, "task_acks_late": True},
    }


def make_worker_app(settings: Settings | None = None) -> Any:
    """A Celery app with dagster-celery's step task, on the broker of SETTINGS."""
    from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    settings = settings or get_settings()
    options = dict(DEFAULT_CONFIG, worker_prefetch_multiplier=1, task_acks_late=True)
    app = make_app({"broker": settings.celery_broker, "backend": settings.celery_backend,
                    "config_source": dict_wrapper(options)})
    create_task(app)
    return app


app = make_worker_app()
