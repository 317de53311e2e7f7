"""The one settings object: every ``AION_*`` environment variable is read here and only here.

Everything else receives the values it needs as arguments, so modules stay testable
without touching the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aion_assets.core.errors import ConfigError

if TYPE_CHECKING:
    from aion_assets.core.auth import TokenVerifier

#: The shipped configuration (package data: found in a checkout and in an installed wheel alike).
CONFIG_DIR = Path(str(resources.files("aion_assets") / "config"))
#: The scenario prompts of a checkout (tests/llm_evals/<tenant>/<domain>.yaml, beside the package).
#: An installed wheel has none: set AION_SCENARIOS_DIR, or domains are evaluated without scenarios.
CHECKOUT_SCENARIOS = Path(str(resources.files("aion_assets"))).parent / "tests" / "llm_evals"


class Settings(BaseSettings):
    """Configuration of one AION SEAL deployment (environment variables ``AION_*``)."""

    # hide_input_in_errors: a rejected value (a database URL with its password, a secret) is never echoed.
    model_config = SettingsConfigDict(env_prefix="AION_", extra="ignore", hide_input_in_errors=True)

    home: Path = Field(default=Path(".aion"), description="Folder for the embedded default's state.")
    database_url: str | None = Field(
        default=None, description="Application database URL; default: SQLite file in AION_HOME."
    )
    database_admin_url: str | None = Field(
        default=None, description="Owner URL used by `aion db upgrade`; default: AION_DATABASE_URL."
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret (at least 32 bytes); generated into AION_HOME/jwt_secret when HS256 is the only "
        "algorithm and no secret is set.",
    )
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key (or @path) enabling RS256 tokens."
    )
    jwt_algorithms: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Accepted JWT algorithms, comma-separated (HS256, RS256); default: RS256 when a public key "
        "is set, plus HS256 when a secret is set; HS256 alone otherwise.",
    )
    jwt_issuer: str | None = Field(default=None, description="When set, tokens must carry this `iss`.")
    jwt_audience: str | None = Field(default=None, description="When set, tokens must name this `aud`.")
    jwt_max_ttl_seconds: int = Field(
        default=24 * 3600, ge=0, description="Longest accepted token lifetime (exp - iat); 0 = no cap."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="When set, GET /metrics needs `Authorization: Bearer <this token>`."
    )
    artifacts_uri: str | None = Field(
        default=None, description="file:// folder or s3://bucket/prefix; default: AION_HOME/artifacts."
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint (MinIO, SeaweedFS).")
    s3_region: str | None = Field(default=None, description="S3 region name.")
    s3_sse_kms_key_id: str | None = Field(default=None, description="KMS key id for S3 SSE.")
    adapter_key: SecretStr | None = Field(
        default=None, description="AES-256 key (base64 or hex) to encrypt adapters at rest."
    )
    archive_key: SecretStr | None = Field(
        default=None,
        description="AES-256 key (base64 or hex) encrypting and signing retention archives; default: AION_ADAPTER_KEY.",
    )
    max_text_chars: int = Field(default=32_000, ge=1, description="Largest accepted text field.")
    max_body_bytes: int = Field(default=16 * 2**20, ge=1024, description="Largest accepted request body.")
    max_batch: int = Field(default=1000, ge=1, description="Largest accepted batch of interactions.")
    max_json_values: int = Field(
        default=100_000,
        ge=1000,
        description="Most JSON values (the document and every element or member of its arrays and objects) in one "
        "request body; counted before the body is parsed.",
    )
    db_pool_size: int = Field(default=10, ge=1, description="Database connection pool size per process.")
    allow_rls_bypass: bool = Field(
        default=False,
        description="Let the API run as a PostgreSQL role that escapes row-level security (superuser, "
        "BYPASSRLS or table owner); by default it refuses to start.",
    )
    registry_four_eyes: bool = Field(
        default=True,
        description="Registry four-eyes rule: who registered a version or asked for its approval cannot approve "
        "it, and the API refuses to register a version as promoted.",
    )
    route_read_cache: bool = Field(
        default=True,
        description="Answer GET /routes/{agent_id} from a per-worker cache that PostgreSQL's NOTIFY keeps true "
        "(PostgreSQL only; another worker or process sees a route change a few milliseconds after its commit).",
    )
    route_read_cache_max_routes: int = Field(
        default=200_000, ge=1, description="Most routes the route read cache holds per API worker."
    )
    executor: Literal["in_process", "multiprocess", "celery"] = Field(
        default="in_process",
        description="How a pipeline run executes its steps: in one process (the embedded default), one "
        "process per step, or as Celery tasks on workers (the production profile; training steps go to "
        "the `gpu` queue).",
    )
    celery_broker: str = Field(
        default="redis://127.0.0.1:6379/0", description="Celery broker URL of the production profile."
    )
    celery_backend: str = Field(
        default="redis://127.0.0.1:6379/1", description="Celery result backend URL of the production profile."
    )
    otel_exporter: str | None = Field(
        default=None, description="OpenTelemetry exporter: 'console' or 'otlp'; unset = no tracing."
    )
    alert_webhook_url: str | None = Field(
        default=None,
        description="Where promotion alerts go (Alertmanager webhook JSON, POST); unset = no alerts are sent.",
    )
    deploy_webhook_url: str | None = Field(
        default=None, description="Where route changes are posted as deployment triggers (JSON); unset = none."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing every webhook (header X-Aion-Signature-256)."
    )
    seal_config: Path = Field(
        default=CONFIG_DIR / "seal.yaml", description="SEAL hyperparameters, base models, styles."
    )
    scenarios_dir: Path = Field(
        default=CHECKOUT_SCENARIOS, description="Scenario prompts: <tenant>/<domain>.yaml."
    )
    api_url: str = Field(
        default="http://127.0.0.1:8080", description="Base URL of the API the reviewer console calls."
    )
    scrub_workers: int = Field(
        default=1, ge=1, le=64,
        description="Processes that share a large PII analysis (a backfill, a first export, a dataset build), "
        "this one included; each loads its own spaCy model (~200 MB). 1: the calling process alone. A daemonic "
        "process (a Celery prefork child) cannot start them and analyses alone.",
    )
    console_users: Path | None = Field(
        default=None,
        description="YAML of console users (hashed passwords, tenants, roles); default: AION_HOME/console_users.yaml.",
    )

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: Any) -> Any:
        # The environment gives "RS256" or "HS256,RS256"; a JSON list is accepted too.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip().upper() for part in text.split(",") if part.strip()]
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("AION_METRICS_TOKEN is too short: use at least 16 characters")
        return value

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
    def db_url_display(self) -> str:
        """The application database URL with its password masked (for consoles and logs)."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.db_url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL is shown as its scheme only
            return self.db_url.split(":", 1)[0] + "://***"

    @property
    def db_admin_url(self) -> str:
        """The URL migrations run as (the schema owner)."""
        return self.database_admin_url or self.db_url

    @property
    def artifacts(self) -> str:
        """The artifact store URI, defaulting to a folder in AION_HOME."""
        return self.artifacts_uri or (self.resolved_home / "artifacts").as_uri()

    def jwt_accepted_algorithms(self) -> list[str]:
        """AION_JWT_ALGORITHMS, or by default the algorithms whose key is configured (HS256 alone if none)."""
        if self.jwt_algorithms is not None:
            return list(self.jwt_algorithms)
        derived = []
        if self.jwt_secret is not None:
            derived.append("HS256")
        if self.jwt_public_key:
            derived.append("RS256")
        return derived or ["HS256"]

    def jwt_signing_secret(self) -> str:
        """Return the HS256 secret, generating and keeping one in AION_HOME on first use.

        A secret is generated only when HS256 is the sole accepted algorithm: a deployment that
        trusts an external issuer never gets a local signing key as a side effect, and replicas
        that accept both must share an explicit AION_JWT_SECRET.

        Raises:
            ConfigError: HS256 is not accepted, the secret is shorter than 32 bytes, or HS256 is
                accepted beside RS256 without an explicit secret.
        """
        from aion_assets.core.auth import MIN_HS_SECRET_BYTES

        algorithms = self.jwt_accepted_algorithms()
        if "HS256" not in algorithms:
            raise ConfigError(
                f"HS256 is not among the accepted JWT algorithms ({', '.join(algorithms)}): "
                "there is no local signing secret; add HS256 to AION_JWT_ALGORITHMS to use one"
            )
        if self.jwt_secret is not None:
            value = self.jwt_secret.get_secret_value()
            if len(value.encode()) < MIN_HS_SECRET_BYTES:
                raise ConfigError(f"AION_JWT_SECRET is too short: use at least {MIN_HS_SECRET_BYTES} bytes")
            return value
        if algorithms != ["HS256"] or self.jwt_public_key:
            raise ConfigError(
                "HS256 is accepted beside RS256 (or a public key is set): set AION_JWT_SECRET explicitly "
                "(no secret is generated then), or drop HS256 from AION_JWT_ALGORITHMS"
            )
        path = self.resolved_home / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        from aion_assets.core.files import make_private_dir

        make_private_dir(path.parent)  # AION_HOME is created 0700: it holds the database and adapters too
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
            try:
                return Path(self.jwt_public_key[1:]).read_text()
            except OSError as exc:
                path = self.jwt_public_key[1:]
                raise ConfigError(f"AION_JWT_PUBLIC_KEY: cannot read {path}: {exc.strerror}") from exc
        return self.jwt_public_key

    def token_verifier(self) -> TokenVerifier:
        """The verifier of bearer tokens, as configured by the AION_JWT_* settings.

        Raises:
            ConfigError: the configured algorithms and keys disagree (an algorithm without
                its key, a key no listed algorithm uses, a secret shorter than 32 bytes).
        """
        from aion_assets.core.auth import TokenVerifier

        algorithms = self.jwt_accepted_algorithms()
        public_key = self.jwt_verification_key()
        if self.jwt_secret is not None:
            secret: str | None = self.jwt_secret.get_secret_value()
        elif algorithms == ["HS256"] and not public_key:
            secret = self.jwt_signing_secret()  # the embedded default: generated once, kept in AION_HOME
        else:
            secret = None  # never generated beside RS256; TokenVerifier names what is missing
        return TokenVerifier(
            secret,
            public_key,
            algorithms=algorithms,
            issuer=self.jwt_issuer,
            audience=self.jwt_audience,
            max_ttl_seconds=self.jwt_max_ttl_seconds or None,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(f"invalid AION_* setting: {exc}") from exc
