"""Process settings from the environment; secrets are `SecretStr` so they never print.

| Variable                       | Field           | Default |
|--------------------------------|-----------------|---------|
| CONDUCTOR_BOT_CLUSTERS         | clusters        | None (the CLI's --clusters overrides it) |
| CONDUCTOR_BOT_RPC_TIMEOUT      | rpc_timeout     | 2.0 s   |
| CONDUCTOR_BOT_POLL_INTERVAL    | poll_interval   | 2.0 s   |
| CONDUCTOR_BOT_HTTP_PORT        | http_port       | 3000    |
| CONDUCTOR_BOT_STATE_DIR        | state_dir       | .state  |
| CONDUCTOR_BOT_KEY_PREFIX       | key_prefix      | cb      |
| CONDUCTOR_BOT_POLL_CONCURRENCY | poll_concurrency | 128 networks polled at once by the watcher |
| CONDUCTOR_BOT_SNAPSHOT_MAX_AGE | snapshot_max_age | 0 s (shares a poll in flight; >0: one that recent) |
| CONDUCTOR_BOT_LEADER_FLAP_WINDOW | leader_flap_window | 300 s: leader changes this close edit one message |
| CONDUCTOR_BOT_REDIS_MAX_CONNECTIONS | redis_max_connections | 128 (blocking pool: callers wait) |
| CONDUCTOR_BOT_REDIS_POOL_TIMEOUT | redis_pool_timeout | 10.0 s (longest wait for a free connection) |
| CONDUCTOR_BOT_SLACK_CHANNEL_RATE | slack_channel_rate | 1.0 posts/s per Slack channel (0: not paced) |
| REDIS_URL                      | redis_url       | None (secret: a URL may hold a password) |
| SLACK_BOT_TOKEN                | slack_bot_token | None (secret) |
| SLACK_APP_TOKEN                | slack_app_token | None (secret; Socket Mode) |
| SLACK_SIGNING_SECRET           | slack_signing_secret | None (secret; HTTP mode) |
| SLACK_API_URL                  | slack_api_url   | None (Slack's default Web API) |
| CONDUCTOR_BOT_LOG_LEVEL        | log_level       | INFO (DEBUG also lets httpx/APScheduler speak) |
| CONDUCTOR_BOT_LOG_FORMAT       | log_format      | text (key=value lines; `json`: one object a line) |
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the process reads from its environment."""

    # Only the documented variable names are read (populate_by_name would also read e.g. STATE_DIR);
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True)

    clusters: Path | None = Field(default=None, validation_alias="CONDUCTOR_BOT_CLUSTERS")
    rpc_timeout: float = Field(default=2.0, gt=0, validation_alias="CONDUCTOR_BOT_RPC_TIMEOUT")
    poll_interval: float = Field(default=2.0, gt=0, validation_alias="CONDUCTOR_BOT_POLL_INTERVAL")
    http_port: int = Field(default=3000, ge=0, le=65535, validation_alias="CONDUCTOR_BOT_HTTP_PORT")
    state_dir: Path = Field(default=Path(".state"), validation_alias="CONDUCTOR_BOT_STATE_DIR")
    key_prefix: str = Field(default="cb", min_length=1, validation_alias="CONDUCTOR_BOT_KEY_PREFIX")
    # Networks polled at once by one replica's watcher. A tick holds a Redis connection only for each
    # round trip (most of its time is the poll), and the blocking pool makes the rest wait, so this
    # may exceed redis_max_connections; it bounds the HTTP requests in flight (2 per node).
    poll_concurrency: int = Field(default=128, ge=1, validation_alias="CONDUCTOR_BOT_POLL_CONCURRENCY")
    # 0: concurrent status requests share a poll in flight, but none is answered from an older one (an
    # operator checking right after a change must see the change).
    snapshot_max_age: float = Field(default=0.0, ge=0, validation_alias="CONDUCTOR_BOT_SNAPSHOT_MAX_AGE")
    # Leader changes within this many seconds of the previous one edit one event message.
    leader_flap_window: float = Field(
        default=300.0, ge=0, validation_alias="CONDUCTOR_BOT_LEADER_FLAP_WINDOW"
    )
    redis_max_connections: int = Field(
        default=128, ge=2, validation_alias="CONDUCTOR_BOT_REDIS_MAX_CONNECTIONS"
    )
    redis_pool_timeout: float = Field(default=10.0, gt=0, validation_alias="CONDUCTOR_BOT_REDIS_POOL_TIMEOUT")
    # Slack allows about one message a second per channel, across every replica (shared in Redis).
    slack_channel_rate: float = Field(default=1.0, ge=0, validation_alias="CONDUCTOR_BOT_SLACK_CHANNEL_RATE")
    redis_url: SecretStr | None = Field(default=None, validation_alias="REDIS_URL")
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_api_url: str | None = Field(default=None, validation_alias="SLACK_API_URL")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias="CONDUCTOR_BOT_LOG_LEVEL"
    )
    log_format: Literal["text", "json"] = Field(default="text", validation_alias="CONDUCTOR_BOT_LOG_FORMAT")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return (
            value.upper()
            if value.lower() in ("debug", "info", "warning", "error", "critical")
            else value.lower()
        )

    def secrets(self) -> list[str]:
        """Every secret value the process holds, for the log redactor."""
        held = (self.slack_bot_token, self.slack_app_token, self.slack_signing_secret, self.redis_url)
        return [s.get_secret_value() for s in held if s is not None]


def load_settings(clusters: Path | None = None) -> Settings:
    """Settings from the environment; `clusters` (the CLI's --clusters) wins over CONDUCTOR_BOT_CLUSTERS."""
    settings = Settings()
    return settings if clusters is None else settings.model_copy(update={"clusters": clusters})
