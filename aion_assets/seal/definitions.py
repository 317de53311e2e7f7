"""The seal domain's Dagster definitions: the dataset room (assets, checks, sensor), the learning and promotion
assets, and the regression sensor."""

import dagster as dg

from aion_assets.seal import assets, promotion_assets, sensors
from aion_assets.seal.datasets import assets as dataset_assets
from aion_assets.seal.datasets import checks as dataset_checks
from aion_assets.seal.datasets import sensors as dataset_sensors


def build_definitions() -> dg.Definitions:
    """Assets, checks, sensors and jobs of the seal domain (resources are bound by the root)."""
    return dg.Definitions(
        assets=[*dataset_assets.assets, *assets.assets, *promotion_assets.assets],
        asset_checks=dataset_checks.checks,
        sensors=[*dataset_sensors.sensors, *sensors.sensors],
        jobs=dataset_sensors.jobs,
    )
