"""The registry domain's Dagster definitions: the route table and its sensors (resources are bound by the root)."""

import dagster as dg

from aion_assets.registry import assets, sensors


def build_definitions() -> dg.Definitions:
    """Assets and sensors of the registry domain."""
    return dg.Definitions(assets=assets.assets, sensors=sensors.sensors)
