"""Schedules of the memory domain: daily retention."""


import dagster as dg

from aion_assets.memory.assets import interaction_archive

retention_job = dg.define_asset_job(
    "retention_job",
    selection=dg.AssetSelection.assets(interaction_archive),
    description="Archive interactions older than each tenant's retention to the artifact store, verify, delete.",
)

retention_schedule = dg.ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 02:30 UTC: apply each tenant's retention_days.",
)

schedules = [retention_schedule]
jobs = [retention_job]
