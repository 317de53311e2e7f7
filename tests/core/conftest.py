"""Fixtures with real servers: a SeaweedFS S3 endpoint and a private PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.private_pg import PrivatePG, private_postgres
from tests.support.seaweedfs import S3Endpoint, seaweedfs_server


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """One SeaweedFS S3 server for the whole session, on free loopback ports."""
    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[PrivatePG]:
    """A PostgreSQL cluster of this test's own, which the test may stop() and start()."""
    with private_postgres(tmp_path) as pg:
        yield pg
