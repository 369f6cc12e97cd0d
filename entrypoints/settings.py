"""Settings from the environment (and an optional ``.env``), validated once at start-up."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.ports.lock import LockConfigError, LockTimings


class ConfigError(Exception):
    """One line per problem, each naming the variable; never the secret values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # ``KIE_API_KEY=`` must mean "no key", not an empty key that selects the real client.
        env_ignore_empty=True,
    )

    telegram_bot_token: SecretStr | None = None
    """Bot token from @BotFather; only the bot commands need it (see ``require_for``)."""
    telegram_api_base: str | None = None
    """Another Bot API server, e.g. a local ``telegram-bot-api`` (lifts the 50 MB limit)."""
    telegram_upload_limit_mb: int | None = Field(default=None, ge=1, le=2000)
    """Largest result file sent as a file; above it a link is sent (default 50, local 2000)."""
    telegram_download_limit_mb: int | None = Field(default=None, ge=1, le=2000)
    """Largest user file the bot can fetch via getFile (default 20, local server 2000)."""
    delivery_max_attempts: int = Field(default=3, ge=1, le=20)
    """Result download attempts before the user is told the file could not be fetched."""
    progress_edit_gap_seconds: float = Field(default=3.0, ge=0, le=30)
    """Least time between two edits of a chat's progress message; a step that comes sooner
    waits, and only the latest waiting one is shown."""

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
    referral_bonus_inviter: int = Field(default=2000, ge=0)
    """Minor units credited to a user for each new user who joins through their invite link."""
    referral_bonus_invitee: int = Field(default=1000, ge=0)
    """Minor units credited once to a new user who joins through someone's invite link."""
    free_daily_quota: int = Field(default=3, ge=0, le=1000)
    """Free generations per user and UTC day on the catalog's ``free = true`` SKUs (0: none);
    one that fails is given back, the quota refills at 00:00 UTC."""
    stars_rate_minor: int = Field(default=180, ge=1)
    """Balance minor units credited per Telegram Star (fixed on each purchase when made)."""
    stars_presets: Annotated[tuple[Annotated[int, Field(ge=1)], ...], NoDecode] = (
        50,
        100,
        250,
        500,
        1000,
    )
    """The Stars amounts offered as buttons, comma separated; each within STARS_MIN..STARS_MAX."""
    stars_min: int = Field(default=1, ge=1)
    """Fewest Stars one top-up may buy."""
    stars_max: int = Field(default=10_000, ge=1)
    """Most Stars one top-up may buy."""
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
    """How often the lock holder applies stored callbacks, polls Kie.ai for unfinished jobs and
    expires the stuck ones (the job runner submits and delivers)."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    port: int = Field(default=8080, ge=1, le=65535)
    """HTTP port of /health, /metrics and (webhook mode) the webhook; Render sets it."""
    host: str = "0.0.0.0"  # noqa: S104 - a container's port must be reachable from outside
    """Interface the HTTP server binds."""

    bot_mode: Literal["webhook", "polling"] = "polling"
    """What ``kiebot run`` starts: ``webhook`` in production, ``polling`` locally."""
    webhook_base_url: str | None = None
    """Public http(s) base URL of this service, e.g. https://your-app.onrender.com.

    Webhook mode registers ``{it}/webhook/<path secret>`` with Telegram (so it is required
    there); in both modes Kie.ai callbacks go to ``{it}/kie/callback/…`` when it is set."""
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
    inbox_lease_seconds: float = Field(default=60.0, ge=5, le=3600)
    """How long a claim outlives its claimer's last renewal (renewed every third of it): a hung
    process loses its updates after this; a process that dies frees them at once."""
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

    @field_validator("stars_presets", mode="before")
    @classmethod
    def _split_stars(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
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

    @field_validator("webhook_base_url", mode="before")
    @classmethod
    def _http_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            return None
        # The value itself is never echoed: a URL can carry credentials.
        try:
            parts = urlsplit(value)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises for a port that is not a number up to 65535
        except ValueError:  # a malformed port or IPv6 literal
            ok = False
        if not ok:
            raise PydanticCustomError(
                "http_url", "must be an http(s) URL such as https://your-app.onrender.com"
            )
        if parts.query or parts.fragment:
            raise PydanticCustomError("http_url", "a base URL has no ?query or #fragment")
        return value

    @model_validator(mode="after")
    def _lock_timings_are_safe(self) -> Settings:
        # Checked here so that a bad combination is a config line at start-up instead of an
        # exception from deep inside the runtime once the port is already bound.
        try:
            self.lock_timings  # noqa: B018 - building it is the check
        except LockConfigError as exc:
            raise PydanticCustomError("lock_timings", "{problem}", {"problem": str(exc)}) from None
        return self

    @model_validator(mode="after")
    def _stars_offer_is_consistent(self) -> Settings:
        # A preset outside the bounds would be a button that every press is refused for.
        if self.stars_min > self.stars_max:
            raise PydanticCustomError("stars_bounds", "STARS_MIN must not exceed STARS_MAX")
        outside = [p for p in self.stars_presets if not self.stars_min <= p <= self.stars_max]
        if outside:
            raise PydanticCustomError(
                "stars_presets",
                "STARS_PRESETS {outside} are outside STARS_MIN..STARS_MAX",
                {"outside": ", ".join(map(str, outside))},
            )
        return self

    @property
    def lock_timings(self) -> LockTimings:
        return LockTimings(
            heartbeat_interval=self.lock_heartbeat_interval,
            stale_idle_seconds=self.lock_stale_idle_seconds,
            retry_interval=self.lock_retry_interval,
        )

    @property
    def admins(self) -> frozenset[int]:
        extra = {self.admin_id} if self.admin_id else set()
        return frozenset(self.admin_ids) | extra

    @property
    def telegram_upload_limit_bytes(self) -> int:
        # The public Bot API sends up to 50 MB and fetches up to 20 MB; a local server
        # lifts both.
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
    """Build Settings or raise ConfigError with one line per problem.

    Only the values are checked here; what a command needs on top of that is
    ``require_for``'s business, so ``kiebot migrate`` works with DATABASE_URL alone.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            if not error["loc"]:
                # A check across fields: its message names the variables itself.
                problems.append(error["msg"])
                continue
            field = str(error["loc"][0])
            hint = _HINTS.get(field) if error["type"] == "missing" else None
            problems.append(f"{field.upper()}: {hint or error['msg']}")
        raise ConfigError(problems) from None


def require_for(settings: Settings, command: str) -> list[str]:
    """What ``command`` needs beyond well-formed values: one line per missing piece.

    ``command`` is webhook, polling, run (checked as the mode BOT_MODE names), migrate or
    inbox. The CLI calls this before anything heavy is imported or any connection is
    opened, so a refusal changes nothing.
    """
    mode = settings.bot_mode if command == "run" else command
    if mode in ("migrate", "inbox"):
        return []  # DATABASE_URL, or the embedded server when it is unset
    if mode not in ("webhook", "polling"):
        raise ValueError(f"no requirements known for {command!r}")
    problems = []
    if settings.telegram_bot_token is None:
        problems.append(f"TELEGRAM_BOT_TOKEN: {_HINTS['telegram_bot_token']}")
    if settings.kie_api_key is None:
        if settings.kie_mode == "real":
            problems.append("KIE_API_KEY: required when KIE_MODE=real")
        elif mode == "webhook" and settings.kie_mode is None:
            # Without a key the stub would answer real users with placeholder media and
            # still charge their balances.
            problems.append(
                "KIE_API_KEY: webhook mode serves real users and needs the Kie.ai key; "
                "set KIE_API_KEY, or set KIE_MODE=stub explicitly"
            )
    if mode == "webhook":
        if settings.database_url is None:
            problems.append("DATABASE_URL: webhook mode needs PostgreSQL; set DATABASE_URL")
        if settings.webhook_base_url is None:
            problems.append(
                "WEBHOOK_BASE_URL: webhook mode needs the public https URL Telegram posts "
                "updates to (without it no webhook is registered); set it, "
                "e.g. https://your-app.onrender.com"
            )
    return problems
