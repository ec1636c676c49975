"""All configuration, in one pydantic-settings class read from the environment and `.env`."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.reminder_rules import PolicyError, parse_clock

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/dondoc.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class SettingsError(Exception):
    """A setting has a bad value. The message names the setting, never a secret."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", alias="TIMEZONE")
    evidence_dir: Path = Field(default=Path("./data/evidence"), alias="EVIDENCE_DIR")
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL"
    )
    telegram_file_base_url: str = Field(
        default="https://api.telegram.org/file/bot", alias="TELEGRAM_FILE_BASE_URL"
    )
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="ADMIN_TELEGRAM_IDS"
    )
    reminder_time: str = Field(default="07:30", alias="REMINDER_TIME")
    summary_cron: str = Field(default="0 16 * * fri", alias="SUMMARY_CRON")
    claim_timeout_seconds: int = Field(default=300, alias="CLAIM_TIMEOUT_SECONDS", ge=0, le=86400)
    webhook_url: str | None = Field(default=None, alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    webhook_listen: str = Field(default="0.0.0.0", alias="WEBHOOK_LISTEN")
    port: int = Field(default=8080, alias="PORT", ge=1, le=65535)

    @field_validator("reminder_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            return parse_clock(value).strftime("%H:%M")
        except PolicyError as exc:
            raise ValueError("must be a time of day such as 07:30") from exc

    @field_validator("summary_cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(
                "must be a crontab line 'minute hour day month weekday', e.g. '0 16 * * fri'"
            ) from exc
        return value

    @field_validator("webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL (Telegram only calls HTTPS webhooks)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret_alphabet(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters from A-Z, a-z, 0-9, _ and - only.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()
        ):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ or -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_URL is set, so WEBHOOK_SECRET must be set too")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(tuple(f"{driver}://" for driver in SUPPORTED_DRIVERS)):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        try:  # a port that is not a number fails only when the URL is parsed, deep inside
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("is not a valid URL (check the port and the punctuation)") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _real_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            try:
                return [int(part) for part in parts]
            except ValueError as exc:
                raise ValueError("must be Telegram user ids separated by commas") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _setting_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "WEBHOOK_URL/WEBHOOK_SECRET"  # the only check across several settings
    field_name = str(loc[0])
    field = Settings.model_fields.get(field_name)
    return (field.alias if field and field.alias else field_name).upper()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's error into one that names each bad setting.

    Input values are left out of the message on purpose: one of them may be the token.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{_setting_name(error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise SettingsError(f"Cấu hình không hợp lệ / invalid setting — {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
