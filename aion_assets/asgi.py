"""ASGI factory for servers: ``uvicorn --factory aion_assets.asgi:create``."""

from __future__ import annotations

from fastapi import FastAPI

from aion_assets.app import app_from_settings
from aion_assets.core.settings import get_settings


def create() -> FastAPI:
    """Build the API app from the environment's settings."""
    return app_from_settings(get_settings())
