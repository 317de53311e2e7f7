"""``python -m aion_assets.cli``."""

from aion_assets.cli import run

run()
