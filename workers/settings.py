"""Process settings, read once from the environment (docs/contract.md, "Connection")."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from models.delivery import RoutesError, RouteTable, default_routes, parse_routes
from models.operator_text import DEFAULT_LANGUAGE, Language
from workers.codec import KeyRing, PayloadKeyError, local_key_ring, local_secret

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# Which task queues a worker process polls: the dossiers' (their workflows, the register's
# activities, the scheduled runs), the documents' (deliveries and the letters they lay
# out), or both (the default, one process for everything).
WorkerQueues = Literal["dossiers", "documents", "both"]


# Never repeated in a message or a log line: a URL carries its password.
SECRETS = frozenset(
    {
        "database_url",
        "migration_database_url",
        "payload_keys",
        "codec_auth",
        "document_secret",
        "notify_webhook_secret",
        "smtp_url",
        "person_search_key",
    }
)


class SettingsError(ValueError):
    """An environment variable holds a value the process cannot run with."""


class Settings(BaseModel):
    """Where the worker finds Temporal, the register and its reference data.

    Each field is read from the environment variable of the same name in upper case.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "integration"
    temporal_documents_task_queue: str | None = None
    """The task queue of the deliveries and the documents they lay out; None means
    `{temporal_task_queue}-documents`. Apart, a burst of letters never delays a dossier's
    answer to an update."""
    worker_queues: WorkerQueues = "both"
    """Which task queues this worker polls (`dossiers`, `documents` or `both`)."""
    document_renderers: int = Field(default=1, ge=1, le=64)
    """Processes laying out the PDFs of a worker that polls the documents' queue."""
    database_url: str | None = None
    """None means an embedded PostgreSQL under `data_dir / "postgres"`. Its role needs only
    the privileges of `register_writer` when `migration_database_url` is set."""
    migration_database_url: SecretStr | None = None
    """The schema owner's URL, for migrations and retention; None means `database_url`'s
    role owns the schema and migrates it itself."""
    data_dir: Path = Path(".data")
    reference_data_path: Path | None = None
    """A JSON file that replaces the packaged reference data (consulates, barèmes…)."""
    log_level: LogLevel = "INFO"
    reports_dir: Path | None = None
    """Where the weekly ministry report writes its CSV files; None means `data_dir / "reports"`."""
    payload_keys: SecretStr | None = None
    """`key_id:base64,…` AES-256-GCM keys, the first encrypting; None means the key generated
    once into `data_dir / "keys"`, allowed only with the embedded register (`make run`)."""
    clear_payloads_until: AwareDatetime | None = None
    """A migration window: until this instant the worker still accepts payloads in clear
    from clients (and replays histories recorded in clear); None refuses them all. Close it
    only once no dossier started in clear is still open."""
    codec_server_address: str = "127.0.0.1:8234"
    codec_auth: SecretStr | None = None
    """`none` (loopback only), `token:<secret>` or `oidc:<https issuer URL> <audience>`;
    None means `none` with the embedded register, and is refused elsewhere."""
    codec_read_roles: str = "dossiers-read"
    """With `oidc:`, the roles (comma-separated) of which a token must hold one to decode."""
    codec_write_roles: str = "dossiers-write"
    """With `oidc:`, the roles (comma-separated) that may seal inputs through `/encode`
    (an upstream system's or an operator's who sends events with the `temporal` CLI)."""
    codec_role_claim: str = "roles"
    """With `oidc:`, the token's claim listing its roles, as a dotted path
    (`realm_access.roles` for Keycloak, `groups` for Okta)."""
    retention_days: int = 1095
    """How long after closing a dossier keeps its personal data in the register."""
    retention_max_open_days: int = 1825
    """How long after its last activity a dossier never closed (terminated, failed,
    abandoned) keeps its personal data; then it is erased as if closed."""
    codec_cors_origins: str = "http://localhost:8233"
    """The Web UI origins allowed to call the codec server (comma-separated)."""
    worker_activity_slots: int = Field(default=16, ge=1, le=500)
    """Activities (and as many local activities) a worker runs at once; the register's pool
    holds one connection per slot, so no activity ever waits for a connection."""
    worker_cache_size: int = Field(default=250, ge=0, le=100_000)
    """Workflows a worker keeps in memory between their tasks (the sticky cache)."""
    database_command_timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds a register statement may take before it fails (and its activity retries)."""
    notify_webhook_url: str | None = None
    notify_webhook_secret: SecretStr | None = None
    """The key of `NOTIFY_WEBHOOK_URL`'s `X-Dossiers-Signature` header, which the
    recipient checks; required for a webhook outside loopback."""
    """Where every notification to an authority is POSTed (docs/contract.md, delivery)."""
    smtp_url: str | None = None
    """`smtp://host:port`: where letters to the applicant are mailed, to `delivery_mail_to`."""
    delivery_mail_to: str | None = None
    """The mailbox of `smtp_url` that takes the applicant's letters (the mail room)."""
    delivery_mail_from: str = "notifications@dossiers.invalid"
    delivery_routes_path: Path | None = None
    """A JSON file of routes per recipient, kind and addressee, before the two above."""
    delivery_outbox_dir: Path | None = None
    """A directory that takes, as files, every notification no webhook or mail routes (a
    workstation's outbox: `make run` sets DATA_DIR/outbox); the embedded register implies it."""
    metrics_address: str | None = None
    """`host:port` where the worker serves the SDK's metrics for Prometheus (`/metrics`)."""
    metrics_interval: float = Field(default=30.0, ge=1, le=3600)
    """Seconds between two readings of the register for the business metrics, by each
    worker, when `metrics_address` is set."""
    document_secret: SecretStr | None = None
    """The key of the documents' verification codes; None derives it from the first payload
    key (set it to keep codes verifiable across a rotation of PAYLOAD_KEYS)."""
    delivery_lease_seconds: int = Field(default=60, ge=2, le=3600)
    """How long a postman holds a notification it delivers (renewed every third of it): a
    dead worker's notifications are taken again by another postman this long after."""
    delivery_alert_hours: int = Field(default=48, ge=1, le=24 * 90)
    """An undelivered notification older than this is alerted in the daily sweep."""
    person_search_key: SecretStr | None = None
    """The key of the `PersonKeys` hashes (`dossiers find`), shared by the workers and the
    operators' command; None means the key generated once into `data_dir / "person-search-key"`,
    allowed only with the embedded register (`make run`). Changing it leaves the dossiers
    opened before unfindable by person."""
    temporal_ui_url: str = "http://localhost:8233"
    """The Web UI's address, for the links `dossiers find` prints."""
    operator_language: Language = DEFAULT_LANGUAGE
    """`fr` or `en`: the language of what operators read (Web UI details and summaries,
    the CLI's tables); the stored and queried values stay the contract's codes."""

    def key_ring(self, *, generate: bool = False) -> KeyRing:
        """The payload keys (docs/contract.md, "Sealed payloads"). Only `make run` generates
        the local key (`generate`); every other process reads it or fails."""
        if self.payload_keys is not None:
            return KeyRing.parse(self.payload_keys.get_secret_value())
        if self.database_url is None:
            return local_key_ring(self.data_dir, generate=generate)
        raise PayloadKeyError("PAYLOAD_KEYS is required outside `make run` (DATABASE_URL is set)")

    def person_search_secret(self, *, generate: bool = False) -> bytes:
        """The key of the person search hashes (`person_search_key`); only `make run`
        generates the local one (`generate`), every other process reads it or fails."""
        if self.person_search_key is not None:
            return self.person_search_key.get_secret_value().encode()
        if self.database_url is None:
            return local_secret(self.data_dir / "person-search-key", generate=generate)
        raise PayloadKeyError(
            "PERSON_SEARCH_KEY is required outside `make run` (DATABASE_URL is set)"
        )

    @property
    def database_pool_size(self) -> int:
        """One connection per activity slot, normal and local (docs/production.md, "Sizing")."""
        return 2 * self.worker_activity_slots

    def document_verification_secret(self) -> bytes:
        """The documents' verification key (`document_secret`, or derived)."""
        if self.document_secret is not None:
            return self.document_secret.get_secret_value().encode()
        _, first_key = self.key_ring().keys[0]
        return hmac.new(first_key, b"document verification codes", hashlib.sha256).digest()

    def delivery_routes(self) -> RouteTable:
        """The routes of the notifications; under `make run` (no webhook, no mail
        configured, the embedded register) an outbox directory. Raises `RoutesError` naming
        the file and the line of a route that does not hold."""
        outbox = None
        if self.delivery_outbox_dir is not None:
            outbox = self.delivery_outbox_dir.resolve().as_uri()
        elif self.database_url is None and not (self.notify_webhook_url or self.smtp_url):
            outbox = (self.data_dir / "outbox").resolve().as_uri()
        try:
            fallback = default_routes(
                self.notify_webhook_url,
                self.smtp_url,
                self.delivery_mail_to,
                outbox,
                self.notify_webhook_secret,
            )
        except ValidationError as error:
            raise RoutesError(
                f"NOTIFY_WEBHOOK_URL, NOTIFY_WEBHOOK_SECRET or SMTP_URL: {error.errors()[0]['msg']}"
            ) from None
        if self.delivery_routes_path is None:
            return fallback
        text = self.delivery_routes_path.read_text(encoding="utf-8")
        return parse_routes(text, str(self.delivery_routes_path), fallback)

    @property
    def documents_task_queue(self) -> str:
        """Where deliveries run and letters are laid out (`temporal_documents_task_queue`)."""
        if self.temporal_documents_task_queue is not None:
            return self.temporal_documents_task_queue
        return f"{self.temporal_task_queue}-documents"

    @property
    def polls_dossiers(self) -> bool:
        return self.worker_queues != "documents"

    @property
    def polls_documents(self) -> bool:
        return self.worker_queues != "dossiers"

    @property
    def reports_path(self) -> Path:
        return self.reports_dir if self.reports_dir is not None else self.data_dir / "reports"

    @field_validator("temporal_address", "codec_server_address", "metrics_address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, got {value!r}")
        return value

    @field_validator("temporal_namespace", "temporal_task_queue", "temporal_documents_task_queue")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a postgresql:// URL")
        return value

    @field_validator("reference_data_path", "delivery_routes_path")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("operator_language", "worker_queues", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def __repr_args__(self) -> Any:
        """Never a secret in a repr, a log line or a traceback: a URL carries its password."""
        for name, value in super().__repr_args__():
            yield name, ("**********" if name in SECRETS and value is not None else value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default: `os.environ`). An empty variable counts as unset.

        Raises `SettingsError` naming every variable that holds an invalid value.
        """
        env = os.environ if environ is None else environ
        values = {
            name: env[name.upper()]
            for name in cls.model_fields
            if env.get(name.upper(), "").strip()
        }
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = []
            for detail in error.errors():
                name = str(detail["loc"][0]) if detail["loc"] else "?"
                shown = "(hidden)" if name in SECRETS else repr(values.get(name, ""))
                problems.append(f"{name.upper()}={shown}: {detail['msg']}")
            raise SettingsError("invalid environment: " + "; ".join(problems)) from None
