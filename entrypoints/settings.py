"""Settings from the environment (and an optional ``.env``), validated once at start-up."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """One line per problem, each naming the variable; never the secret values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr
    """Bot token from @BotFather."""
    telegram_api_base: str | None = None
    """Another Bot API server, e.g. a local ``telegram-bot-api`` (lifts the 50 MB limit)."""
    telegram_upload_limit_mb: int | None = Field(default=None, ge=1, le=2000)
    """Largest result file sent as a file; above it a link is sent (default 50, local 2000)."""
    telegram_download_limit_mb: int | None = Field(default=None, ge=1, le=2000)
    """Largest user file the bot can fetch via getFile (default 20, local server 2000)."""
    delivery_max_attempts: int = Field(default=3, ge=1, le=20)
    """Result download attempts before the user is told the file could not be fetched."""

    kie_mode: Literal["real", "stub"] | None = None
    """``stub`` serves placeholder media offline; unset means real when KIE_API_KEY is set."""
    kie_api_key: SecretStr | None = None
    """Kie.ai API key."""
    kie_stub_delay_seconds: float = Field(default=3.0, ge=0, le=600)
    """How long the stub pretends to generate."""

    database_url: SecretStr | None = None
    """PostgreSQL URL; unset in polling mode means the embedded server under ./var/."""

    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    """Telegram ids of the operators, comma separated (ADMIN_ID is accepted too)."""
    admin_id: int | None = None

    welcome_balance: int = Field(default=0, ge=0)
    """Minor units credited once to every new user (until top-ups exist)."""
    billing_currency: str = "RUB"
    credit_usd: Decimal = Field(default=Decimal("0.005"), gt=0)
    """US dollars per Kie.ai credit."""
    fx_rate: Decimal = Field(default=Decimal("95"), gt=0)
    """Billing-currency units per US dollar."""
    markup: Decimal = Field(default=Decimal("2"), gt=0)
    """Multiplier over cost."""

    catalog_dir: Path | None = None
    """A directory of catalog ``*.toml`` files replacing the bundled catalog."""
    hidden_models: Annotated[tuple[str, ...], NoDecode] = ()
    """Model ids to hide, comma separated."""

    reconcile_interval_seconds: float = Field(default=2.0, gt=0, le=300)
    """How often the reconciler looks for jobs to submit, poll, expire or deliver."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    port: int = Field(default=8080, ge=1, le=65535)
    """HTTP port of /health, /metrics and (webhook mode) the webhook; Render sets it."""
    host: str = "0.0.0.0"  # noqa: S104 - a container's port must be reachable from outside
    """Interface the HTTP server binds."""

    bot_mode: Literal["webhook", "polling"] = "polling"
    """What ``kiebot run`` starts (the seed's BOT_MODE)."""
    webhook_base_url: str | None = None
    """Public https base URL Telegram posts to, e.g. https://your-app.onrender.com."""
    webhook_path_secret: SecretStr | None = None
    """The secret last path segment of the webhook URL; generated and stored when unset."""
    webhook_secret_token: SecretStr | None = None
    """X-Telegram-Bot-Api-Secret-Token value; generated and stored when unset."""

    db_maxconn: int = Field(default=10, ge=2, le=200)
    """PostgreSQL pool size of each process."""
    inbox_workers: int = Field(default=4, ge=0, le=64)
    """Inbox workers per process (0: ingest only)."""
    inbox_max_attempts: int = Field(default=5, ge=1, le=100)
    """Handler attempts before an update is parked."""
    inbox_lease_seconds: float = Field(default=300.0, ge=5, le=3600)
    """How long a claimed update stays reserved for a worker that may have died."""
    inbox_retention_hours: float = Field(default=48.0, ge=1)
    """Processed updates are kept this long (duplicate deliveries stay no-ops), then purged."""
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=120)
    """How long SIGTERM waits for in-flight handlers before cancelling them."""

    lock_stale_idle_seconds: float = Field(default=120.0, gt=0)
    """A holder whose heartbeat is older than this is terminated and replaced."""
    lock_heartbeat_interval: float = Field(default=15.0, gt=0)
    """Seconds between the ACTIVE instance's heartbeats."""
    lock_retry_interval: float = Field(default=3.0, gt=0)
    """Seconds between a PASSIVE instance's attempts to take the lock."""

    kie_api_base: str = "https://api.kie.ai"
    """Kie.ai API host (point it at a test double if needed)."""
    kie_upload_base: str = "https://kieai.redpandaai.co"
    """Kie.ai file upload host (a separate host from the API)."""
    kie_webhook_hmac_key: SecretStr | None = None
    """Kie.ai's webhookHmacKey; when set, callbacks must carry a valid signature."""
    webhook_base_url: str | None = None
    """Public https base URL of this service; Kie.ai callbacks go to {it}/kie/callback/…."""
    kie_create_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    """createTask timeout; a timeout there leaves the job to the callback or the reconciler."""
    kie_query_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    """recordInfo, credits and download-url timeout."""
    kie_upload_timeout_seconds: float = Field(default=120.0, gt=0, le=600)
    """File upload timeout."""
    kie_callback_tolerance_seconds: int = Field(default=300, ge=30, le=3600)
    """How far a signed callback's X-Webhook-Timestamp may be from now."""

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("hidden_models", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def admins(self) -> frozenset[int]:
        extra = {self.admin_id} if self.admin_id else set()
        return frozenset(self.admin_ids) | extra

    @property
    def telegram_upload_limit_bytes(self) -> int:
        # Bot API limits (anchors §B.2): 50 MB up, 20 MB down; a local server lifts both.
        default = 2000 if self.telegram_api_base else 50
        return (self.telegram_upload_limit_mb or default) * 1024 * 1024

    @property
    def telegram_download_limit_bytes(self) -> int:
        default = 2000 if self.telegram_api_base else 20
        return (self.telegram_download_limit_mb or default) * 1024 * 1024

    @property
    def generation_mode(self) -> str:
        if self.kie_mode:
            return self.kie_mode
        return "real" if self.kie_api_key else "stub"


_HINTS = {
    "telegram_bot_token": "set TELEGRAM_BOT_TOKEN to the token @BotFather gave you",
}


def load_settings(**overrides: object) -> Settings:
    """Build Settings or raise ConfigError with one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = str(error["loc"][0]) if error["loc"] else "?"
            hint = _HINTS.get(field) if error["type"] == "missing" else None
            problems.append(f"{field.upper()}: {hint or error['msg']}")
        raise ConfigError(problems) from None
