"""One settings class, read from the environment (PLAN_TRACKER_*) or a `.env` file, cached."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ReportFormat = Literal["html", "md", "xlsx", "json"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLAN_TRACKER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset means an embedded SQLite file in data_dir"
    )
    data_dir: Path = Field(default=Path("var"), description="where the SQLite file, outbox and inbox live")
    outbox_dir: Path | None = Field(default=None, description="file outbox folder (default data_dir/outbox)")
    inbox_dir: Path | None = Field(default=None, description="inbox folder (default data_dir/inbox)")
    reports_dir: Path | None = Field(default=None, description="nightly report files (default data_dir/reports)")
    portal_url: str | None = Field(default=None, description="portal address printed in every reminder")
    locale: Literal["zh", "en"] = Field(
        default="zh", description="language of messages when no plan is known yet (each plan's own `locale` wins)")
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "plan-tracker@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    # A hung mail server must cost seconds, not minutes (issue 18 finding 7): one timeout
    # per stage a peer can hang at, and a circuit breaker per channel per delivery run.
    smtp_connect_timeout_s: float = Field(default=10, gt=0, description="TCP connect (and TLS handshake for smtp_ssl)")
    smtp_greeting_timeout_s: float = Field(default=10, gt=0, description="wait for the server's 220 greeting")
    smtp_command_timeout_s: float = Field(default=30, gt=0, description="each SMTP command after the greeting, DATA included")
    smtp_breaker_threshold: int = Field(
        default=3, ge=1,
        description="unreachable failures in a row after which a delivery run stops trying SMTP; "
                    "the rest wait for the next run without using an attempt",
    )
    reply_address: str | None = Field(
        default=None, description="Reply-To of every reminder to a unit contact: the mailbox `mail fetch` reads")
    imap_url: SecretStr | None = Field(
        default=None, description="imaps://user:password@host[:993]/INBOX (imap:// only with ?starttls or "
                                  "?plain on localhost); unset: `mail fetch` reads nothing")
    imap_done_folder: str = Field(default="plan-tracker-done", description="where handled replies are moved")
    robots: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='named robots/webhooks: {"name": {"kind": "dingtalk", "url": "...", "secret": "..."}}',
    )
    delivery_max_attempts: int = Field(
        default=12, ge=1,
        description="attempts before a delivery is dead: with the backoff (5 min doubling, capped at 6 h) and "
                    "office-hours delivery runs, a peer down for about three working days loses nothing (README)")
    delivery_workers: int | None = Field(
        default=None, ge=1,
        description="processes that deliver a night of many messages to the file outbox or SMTP at once "
                    "(unset: one per CPU core, at most 4; robots always keep one, for their rate limits)")
    delivery_split_from: int = Field(
        default=200, ge=1,
        description="recipients due from which a delivery run is split between processes (a process's start "
                    "costs about a second: fewer messages go faster in one)")
    evaluation_batch: int = Field(
        default=50_000, ge=1, description="obligations evaluated per transaction by the nightly run"
    )
    evaluation_workers: int = Field(
        default=2, ge=1,
        description="connections evaluating a night's batches at once (each batch written in its own "
                    "transaction; on PostgreSQL set it to the database server's free cores). SQLite writes one "
                    "batch at a time and decides the next one meanwhile")
    # NoDecode: the environment gives a comma-separated list (`html,json`), not JSON
    nightly_formats: Annotated[tuple[ReportFormat, ...], NoDecode] = Field(
        default=("html", "xlsx", "json"),
        description="formats of the day's report files the nightly run writes (comma-separated: html, md, xlsx, "
                    "json; empty: none). Each is rendered once from the night's report, after the reminders went out",
    )
    shard_deployment: str = Field(
        default="evaluate-shard/evaluate-shard",
        description="the Prefect deployment ('flow/deployment') that runs one unit shard of a split night",
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for tokens and forms (at least 32 characters); unset: generated into "
                    "data_dir/token-secret on first use (see plan_tracker.token_secret)",
    )
    auth_max_failures: int = Field(
        default=10, ge=1, description="failed authentications per client within the window before 429"
    )
    auth_failure_window_s: int = Field(
        default=60, ge=1, description="rate-limit window for failed authentications, in seconds"
    )
    session_max_age_s: int = Field(
        default=12 * 3600, ge=60, description="lifetime of a portal session, in seconds"
    )
    insecure_http: bool = Field(
        default=False,
        description="plain-HTTP development only: cookies without Secure, no HSTS (never in production)",
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="comma-separated reverse proxies whose X-Forwarded-* headers `serve` trusts; default none",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest request body the API reads (413 above it)"
    )

    def secure_cookies(self) -> bool:
        """The portal's cookies are Secure unless the plain-HTTP development switch is on."""
        return not self.insecure_http

    @field_validator("nightly_formats", mode="before")
    @classmethod
    def _split_formats(cls, value: Any) -> Any:
        """`html, json` → ("html", "json"), each once, in the order given."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(dict.fromkeys(value)) if isinstance(value, list | tuple) else value

    def has_mailbox(self) -> bool:
        """Whether a reply mailbox is configured (PLAN_TRACKER_IMAP_URL set and not empty)."""
        return self.imap_url is not None and bool(self.imap_url.get_secret_value())

    def sends_hsts(self) -> bool:
        """HSTS is sent when the portal's address is https (and not in plain-HTTP development)."""
        return not self.insecure_http and (self.portal_url or "").lower().startswith("https://")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'plan-tracker.sqlite3').resolve()}"

    def folder(self, name: str) -> Path:
        explicit: Path | None = getattr(self, f"{name}_dir")
        return explicit if explicit is not None else self.data_dir / name


@lru_cache
def get_settings() -> Settings:
    return Settings()
