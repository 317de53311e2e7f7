"""The memory domain's Dagster definitions: the source observation, retention archive and its schedule."""

import dagster as dg

from aion_assets.memory import assets, schedules


def build_definitions() -> dg.Definitions:
    """Assets, jobs and schedules of the memory domain (resources are bound by the root)."""
    return dg.Definitions(assets=assets.assets, schedules=schedules.schedules, jobs=schedules.jobs)
