"""The project's own error types; drivers' errors are translated into these."""

from __future__ import annotations


class AionError(Exception):
    """Base class of every error the project raises on purpose."""


class ConfigError(AionError):
    """A setting or configuration file is missing or invalid; the message names it."""


class NotFoundError(AionError):
    """The object does not exist (or is not visible to the caller's tenant)."""


class ConflictError(AionError):
    """The write conflicts with what is stored (e.g. an id already used differently)."""


class StoreUnavailableError(AionError):
    """The database or object store cannot be reached; the operation may be retried."""


class ArtifactError(AionError):
    """An artifact is missing, incomplete, or fails verification (checksum, decryption)."""


class SchemaNotCurrentError(AionError):
    """The database has not been migrated to the code's revision; run `aion db upgrade`."""


class ApiError(Exception):
    """An error with its HTTP status, machine code, message and (optionally) the field (answered by ``core.http``)."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.index = status, code, message, field, index
