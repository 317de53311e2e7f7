"""The one settings object: every ``AION_*`` environment variable is read here and only here.

Everything else receives the values it needs as arguments, so modules stay testable
without touching the environment.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aion_assets.core.errors import ConfigError

#: The shipped configuration (package data: found in a checkout and in an installed wheel alike).
CONFIG_DIR = Path(str(resources.files("aion_assets") / "config"))
#: The scenario prompts of a checkout (tests/llm_evals/<tenant>/<domain>.yaml, beside the package).
#: An installed wheel has none: set AION_SCENARIOS_DIR, or domains are evaluated without scenarios.
CHECKOUT_SCENARIOS = Path(str(resources.files("aion_assets"))).parent / "tests" / "llm_evals"


class Settings(BaseSettings):
    """Configuration of one AION SEAL deployment (environment variables ``AION_*``)."""

    model_config = SettingsConfigDict(env_prefix="AION_", extra="ignore")

    home: Path = Field(default=Path(".aion"), description="Folder for the embedded default's state.")
    database_url: str | None = Field(
        default=None, description="Application database URL; default: SQLite file in AION_HOME."
    )
    database_admin_url: str | None = Field(
        default=None, description="Owner URL used by `aion db upgrade`; default: AION_DATABASE_URL."
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 secret; generated into AION_HOME/jwt_secret when unset."
    )
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key (or @path) enabling RS256 tokens."
    )
    jwt_algorithms: list[str] = Field(default=["HS256"], description="Accepted JWT algorithms.")
    artifacts_uri: str | None = Field(
        default=None, description="file:// folder or s3://bucket/prefix; default: AION_HOME/artifacts."
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint (MinIO, SeaweedFS).")
    s3_region: str | None = Field(default=None, description="S3 region name.")
    s3_sse_kms_key_id: str | None = Field(default=None, description="KMS key id for S3 SSE.")
    adapter_key: SecretStr | None = Field(
        default=None, description="AES-256 key (base64 or hex) to encrypt adapters at rest."
    )
    max_text_chars: int = Field(default=32_000, ge=1, description="Largest accepted text field.")
    max_body_bytes: int = Field(default=16 * 2**20, ge=1024, description="Largest accepted request body.")
    max_batch: int = Field(default=1000, ge=1, description="Largest accepted batch of interactions.")
    db_pool_size: int = Field(default=10, ge=1, description="Database connection pool size per process.")
    otel_exporter: str | None = Field(
        default=None, description="OpenTelemetry exporter: 'console' or 'otlp'; unset = no tracing."
    )
    seal_config: Path = Field(
        default=CONFIG_DIR / "seal.yaml", description="SEAL hyperparameters, base models, styles."
    )
    scenarios_dir: Path = Field(
        default=CHECKOUT_SCENARIOS, description="Scenario prompts: <tenant>/<domain>.yaml."
    )

    @field_validator("database_url", "database_admin_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0]
        if not scheme.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://")
        return value

    @property
    def resolved_home(self) -> Path:
        """AION_HOME as an absolute path (created on demand by callers that write)."""
        return self.home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        """The application database URL, defaulting to the embedded SQLite file."""
        return self.database_url or f"sqlite:///{self.resolved_home / 'aion.db'}"

    @property
    def db_admin_url(self) -> str:
        """The URL migrations run as (the schema owner)."""
        return self.database_admin_url or self.db_url

    @property
    def artifacts(self) -> str:
        """The artifact store URI, defaulting to a folder in AION_HOME."""
        return self.artifacts_uri or (self.resolved_home / "artifacts").as_uri()

    def jwt_signing_secret(self) -> str:
        """Return the HS256 secret, generating and keeping one in AION_HOME on first use."""
        if self.jwt_secret is not None:
            value = self.jwt_secret.get_secret_value()
            if len(value) < 16:
                raise ConfigError("AION_JWT_SECRET is too short: use at least 16 characters")
            return value
        path = self.resolved_home / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            # link() fails if another process won the race; then its secret is the one.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text().strip()

    def jwt_verification_key(self) -> str | None:
        """The RS256 public key PEM, reading ``@path`` values from disk."""
        if not self.jwt_public_key:
            return None
        if self.jwt_public_key.startswith("@"):
            return Path(self.jwt_public_key[1:]).read_text()
        return self.jwt_public_key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(f"invalid AION_* setting: {exc}") from exc
