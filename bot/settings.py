"""Settings: the only reader of the environment and `.env` (prefix WIREWATCH_).

Every field is documented in `.env.example`; a test keeps the two in step. Defaults work for
console mode on one machine; secrets are `SecretStr` and never logged.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.models import FetchPolicy, PollPolicy
from index.retrieve.embed import DEFAULT_MODEL, BackendChoice

if TYPE_CHECKING:
    from bot.core.delivery import AlertPolicy

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
USER_AGENT = "Wirewatch/0.1 (news monitoring feed reader; +https://github.com/wirewatch)"


class Settings(BaseSettings):
    """Wirewatch configuration. Build in tests with `Settings(_env_file=None, data_dir=...)`."""

    model_config = SettingsConfigDict(
        env_prefix="WIREWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("var")
    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = "plain"

    # polling
    poll_interval_s: int = Field(300, ge=60)
    scheduler_tick_s: int = Field(30, ge=1)
    max_failures: int = Field(10, ge=1)
    backoff_base_s: float = Field(60.0, gt=0)
    backoff_max_s: float = Field(21600.0, gt=0)
    max_parallel_feeds: int = Field(8, ge=1)
    max_per_host: int = Field(2, ge=1)
    max_entries_per_feed: int = Field(500, ge=1)

    # fetching
    user_agent: str = USER_AGENT
    connect_timeout_s: float = Field(10.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    fetch_timeout_s: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(10_000_000, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    allow_private_feeds: bool = False
    allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # stories and embeddings
    story_window_h: float = Field(72.0, gt=0)
    story_threshold: float = Field(0.5, gt=0, le=1)
    embed_model: str = DEFAULT_MODEL
    embed_batch_size: int = Field(32, ge=1)
    embed_backend: BackendChoice = "auto"
    model_cache_dir: Path | None = None  # exported models; default <data_dir>/models

    # engine: unset, SQLite + FTS5 + FAISS in data_dir; postgresql://...: PostgreSQL + pgvector
    database_url: SecretStr | None = None  # may carry a password
    database_pool_size: int = Field(10, ge=2, le=100)

    # vector index
    index_compress_above: int = Field(500_000, ge=0)  # IVF+SQ8 from this many vectors; 0: never
    index_min_recall: float = Field(0.95, gt=0, le=1)  # recall@10 the compressed index keeps

    # watches and alerts
    alert_digest_after: int = Field(5, ge=1)
    alert_rate_per_hour: int = Field(30, ge=1)
    alert_retry_max_s: float = Field(3600.0, gt=0)
    topic_threshold: float = Field(0.56, gt=0, lt=1)
    feed_notice_after_s: float = Field(3600.0, gt=0)  # a feed failing this long: one notice
    # questions
    llm_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(20.0, gt=0)
    # Discord
    discord_token: SecretStr | None = None  # set: `wirewatch run` serves Discord
    discord_api_base: str | None = None  # REST base URL (a rate-limit proxy, a test server)
    discord_gateway_url: str | None = None  # gateway websocket URL
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_max_rps: int = Field(40, ge=1, le=49)  # REST calls a second for all deliveries
    # 401/403/429 answers in 10 minutes that pause delivery (Discord bans at 10,000)
    discord_invalid_pause: int = Field(1000, ge=1, le=9999)
    # Sharded gateways (AutoShardedClient): this process's shard ids of shard_count shards
    shard_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    shard_count: int | None = Field(None, ge=1)
    # event metadata
    cache_dir: Path | None = None
    actor_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    place_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # operations
    metrics_port: int | None = Field(None, ge=0, le=65535)  # set: run, worker serve /healthz
    metrics_host: str = "127.0.0.1"
    health_max_poll_age_s: float = Field(900.0, gt=0)  # no good poll for longer: /healthz 503
    retention_days: float | None = Field(None, gt=0)  # unset: keep everything

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level: use one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"{net!r} is not a network in CIDR form (e.g. 10.1.2.0/24)"
                ) from exc
        return value

    @field_validator("embed_model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        if value != DEFAULT_MODEL and not (Path(value).expanduser() / "modules.json").is_file():
            raise ValueError(
                f"{value!r} is neither {DEFAULT_MODEL!r} nor a local "
                "sentence-transformers model directory (one with a modules.json)"
            )
        return value

    @field_validator("llm_api_key", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_url", mode="before")
    @classmethod
    def _check_llm_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"{value!r} is not an http(s) URL of an OpenAI-compatible server, e.g. "
                "http://127.0.0.1:11434/v1"
            )
        return value

    @field_validator("metrics_port", "retention_days", mode="before")
    @classmethod
    def _empty_number_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("cache_dir", "model_cache_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("discord_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, str) and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "the database URL must start with postgresql:// (unset: the embedded SQLite "
                "database in the data dir)"
            )
        return value

    @field_validator("discord_api_base", "discord_gateway_url", mode="before")
    @classmethod
    def _check_discord_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/") or None
        schemes = ("http://", "https://", "ws://", "wss://")
        if isinstance(value, str) and not value.startswith(schemes):
            raise ValueError(
                f"{value!r} is not a URL (http(s):// for the API, ws(s):// for the gateway)"
            )
        return value

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _split_guild_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in parts if not part.isdigit()]
            if bad:
                raise ValueError(
                    f"{bad[0]!r} is not a guild id (a number, e.g. 123456789012345678)"
                )
            return [int(part) for part in parts]
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shard_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in parts if not part.isdigit()]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a shard id (0, 1, ...: e.g. 0,1)")
            return [int(part) for part in parts]
        return value

    @field_validator("shard_count", mode="before")
    @classmethod
    def _empty_count_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_shards(self) -> Settings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("WIREWATCH_SHARD_IDS needs WIREWATCH_SHARD_COUNT (all shards)")
        too_big = [i for i in self.shard_ids if self.shard_count and i >= self.shard_count]
        if too_big:
            raise ValueError(
                f"shard id {too_big[0]} is not below WIREWATCH_SHARD_COUNT={self.shard_count}"
            )
        return self

    @field_validator("actor_files", "place_files", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part.strip()) for part in value.split(",") if part.strip()]
        return value

    def secret_values(self) -> list[str]:
        """The secrets' values, for the log formatter to redact; never for display."""
        secrets = (self.discord_token, self.llm_api_key)
        found = [s.get_secret_value() for s in secrets if s is not None]
        if self.database_url is not None:  # the password inside the URL, as written and decoded
            from index.store.pg.connect import url_secrets

            found += url_secrets(self.database_url.get_secret_value())
        return found

    @property
    def cache_path(self) -> Path:
        """Where derived, rebuildable data lives (the gazetteer): WIREWATCH_CACHE_DIR, else
        $XDG_CACHE_HOME/wirewatch, else ~/.cache/wirewatch."""
        if self.cache_dir is not None:
            return self.cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "wirewatch"

    @property
    def model_cache_path(self) -> Path:
        """Where the ONNX export of the embedding model is kept: WIREWATCH_MODEL_CACHE_DIR, else
        <data_dir>/models."""
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        return self.data_dir / "models"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "wirewatch.db"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "passages.faiss"

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            user_agent=self.user_agent,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            total_timeout_s=self.fetch_timeout_s,
            max_body_bytes=self.max_body_bytes,
            max_redirects=self.max_redirects,
            allow_private=self.allow_private_feeds,
            allowed_networks=tuple(self.allowed_networks),
        )

    def alert_policy(self) -> AlertPolicy:
        from bot.core.delivery import AlertPolicy

        return AlertPolicy(
            digest_after=self.alert_digest_after,
            rate_per_hour=self.alert_rate_per_hour,
            retry_max_s=self.alert_retry_max_s,
        )

    def poll_policy(self) -> PollPolicy:
        return PollPolicy(
            max_failures=self.max_failures,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            max_parallel_feeds=self.max_parallel_feeds,
            max_per_host=self.max_per_host,
            max_entries_per_feed=self.max_entries_per_feed,
            story_window_h=self.story_window_h,
            story_threshold=self.story_threshold,
        )
