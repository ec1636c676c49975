"""All configuration, in one pydantic-settings class read from the environment and `.env`."""

from __future__ import annotations

import hashlib
import hmac
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
TELEGRAM_WEBHOOK_PATH = "telegram"  # the Telegram webhook is PUBLIC_BASE_URL + "/telegram"
ZALO_WEBHOOK_PATH = "zalo"  # the Zalo webhook is PUBLIC_BASE_URL + "/zalo"
MIN_WEB_SECRET = 32
DEFAULT_LISTEN = "0.0.0.0"


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
    telegram_bot_username: str | None = Field(default=None, alias="TELEGRAM_BOT_USERNAME")
    telegram_file_base_url: str = Field(
        default="https://api.telegram.org/file/bot", alias="TELEGRAM_FILE_BASE_URL"
    )
    zalo_bot_token: SecretStr | None = Field(default=None, alias="ZALO_BOT_TOKEN")
    zalo_api_base_url: str = Field(
        default="https://bot-api.zaloplatforms.com/bot", alias="ZALO_API_BASE_URL"
    )
    # Zalo publishes no rate limit: a conservative budget for the whole bot, every process.
    zalo_messages_per_second: float = Field(
        default=5.0, alias="ZALO_MESSAGES_PER_SECOND", gt=0, le=30
    )
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, alias="ADMIN_TELEGRAM_IDS"
    )
    # Admins on any channel, as channel:id pairs ("telegram:123,zalo:abc"); together with
    # ADMIN_TELEGRAM_IDS (see admin_accounts).
    admins: Annotated[list[tuple[str, str]], NoDecode] = Field(default_factory=list, alias="ADMINS")
    reminder_time: str = Field(default="07:30", alias="REMINDER_TIME")
    summary_cron: str = Field(default="0 16 * * fri", alias="SUMMARY_CRON")
    claim_timeout_seconds: int = Field(default=300, alias="CLAIM_TIMEOUT_SECONDS", ge=0, le=86400)
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    web_secret: SecretStr | None = Field(default=None, alias="WEB_SECRET")
    web_listen: str | None = Field(default=None, alias="WEB_LISTEN")
    port: int = Field(default=8080, alias="PORT", ge=1, le=65535)
    # Before the web server, the Telegram webhook had settings of its own; they still work.
    webhook_url: str | None = Field(default=None, alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    webhook_listen: str | None = Field(default=None, alias="WEBHOOK_LISTEN")

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

    @field_validator(
        "webhook_url",
        "webhook_secret",
        "webhook_listen",
        "public_base_url",
        "web_secret",
        "web_listen",
        "telegram_bot_username",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("telegram_bot_username")
    @classmethod
    def _bot_username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip().removeprefix("@")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", name):
            raise ValueError("must be the bot's username from @BotFather, e.g. dondoc_bot")
        return name

    @field_validator("webhook_url", "public_base_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        # Telegram only calls HTTPS webhooks, and a link read on a phone must not travel in clear.
        if value is not None and not re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an https:// URL without ?query or #fragment")
        return value.rstrip("/") if value is not None else None

    @field_validator("web_secret")
    @classmethod
    def _long_web_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_WEB_SECRET:
            raise ValueError(
                f"must be at least {MIN_WEB_SECRET} characters (it signs the file links)"
            )
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
    def _web_server_consistent(self) -> Settings:
        if (
            self.public_base_url
            and self.webhook_url
            and self.webhook_url != f"{self.public_base_url}/{TELEGRAM_WEBHOOK_PATH}"
        ):
            raise ValueError(
                "WEBHOOK_URL and PUBLIC_BASE_URL disagree: WEBHOOK_URL must be PUBLIC_BASE_URL"
                f" + /{TELEGRAM_WEBHOOK_PATH}; set PUBLIC_BASE_URL only"
            )
        if self.web_listen and self.webhook_listen and self.web_listen != self.webhook_listen:
            raise ValueError("WEB_LISTEN and WEBHOOK_LISTEN disagree: set WEB_LISTEN only")
        if self.web_enabled and self.web_secret is None:
            setting = "PUBLIC_BASE_URL" if self.public_base_url else "WEBHOOK_URL"
            raise ValueError(
                f"{setting} turns the web server on, so WEB_SECRET must be set: at least"
                f" {MIN_WEB_SECRET} random characters that sign the file links"
            )
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

    @field_validator("telegram_api_base_url", "telegram_file_base_url", "zalo_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("telegram_bot_token", "zalo_bot_token", mode="before")
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

    @field_validator("admins", mode="before")
    @classmethod
    def _channel_accounts(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        accounts = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            channel, colon, account = part.partition(":")
            if not colon or not channel.strip().isalpha() or not account.strip():
                raise ValueError("must be channel:id pairs separated by commas, e.g. telegram:123")
            channel, account = channel.strip().lower(), account.strip()
            if channel == "telegram" and not account.isdigit():
                raise ValueError(f"a Telegram account is a number: {part}")
            accounts.append((channel, account))
        return accounts

    @property
    def admin_accounts(self) -> frozenset[tuple[str, str]]:
        """Every configured admin as (channel, account id): ADMINS and ADMIN_TELEGRAM_IDS."""
        telegram = {("telegram", str(user)) for user in self.admin_telegram_ids}
        return frozenset({*self.admins, *telegram})

    @property
    def telegram_admin_ids(self) -> list[int]:
        """The configured admins' Telegram user ids, from either setting."""
        ids = {
            int(a) for c, a in self.admin_accounts if c == "telegram" and a.lstrip("-").isdigit()
        }
        return sorted(ids)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def web_enabled(self) -> bool:
        """The web server runs (and Telegram uses its webhook) when a public URL is set."""
        return bool(self.public_base_url or self.webhook_url)

    @property
    def base_url(self) -> str | None:
        """The public https URL of the web server, without a trailing slash.

        From WEBHOOK_URL alone: that URL without its "/telegram" end, or else
        its origin (before the web server, a proxy may have mapped any path
        to the webhook; the links then live at the origin).
        """
        if self.public_base_url or not self.webhook_url:
            return self.public_base_url
        suffix = f"/{TELEGRAM_WEBHOOK_PATH}"
        if self.webhook_url.endswith(suffix):
            return self.webhook_url.removesuffix(suffix)
        scheme, _, rest = self.webhook_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    @property
    def listen_address(self) -> str:
        return self.web_listen or self.webhook_listen or DEFAULT_LISTEN

    @property
    def telegram_webhook_url(self) -> str | None:
        if self.webhook_url or not self.public_base_url:
            return self.webhook_url
        return f"{self.public_base_url}/{TELEGRAM_WEBHOOK_PATH}"

    @property
    def zalo_webhook_url(self) -> str | None:
        return None if self.base_url is None else f"{self.base_url}/{ZALO_WEBHOOK_PATH}"

    def secret_values(self) -> list[str]:
        """Every secret string the logs must never show (the log filter masks them)."""
        found = [
            value.get_secret_value()
            for value in (
                self.telegram_bot_token,
                self.zalo_bot_token,
                self.web_secret,
                self.webhook_secret,
            )
            if value is not None
        ]
        if self.web_secret is not None:
            found.append(self.webhook_secret_for(TELEGRAM_WEBHOOK_PATH))
            found.append(self.webhook_secret_for(ZALO_WEBHOOK_PATH))
        return found

    def webhook_secret_for(self, channel: str) -> str:
        """The secret a channel's webhook requests must carry in their header.

        Telegram's is WEBHOOK_SECRET when set (as before the web server);
        otherwise each channel's is derived from WEB_SECRET, so one secret is
        enough to configure. Hex digits suit every platform's alphabet.
        """
        if channel == TELEGRAM_WEBHOOK_PATH and self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        if self.web_secret is None:
            raise ValueError("WEB_SECRET is not set")
        key = self.web_secret.get_secret_value().encode()
        return hmac.new(key, f"webhook:{channel}".encode(), hashlib.sha256).hexdigest()


def _setting_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return ""  # a check across several settings: its message names them
    field_name = str(loc[0])
    field = Settings.model_fields.get(field_name)
    return (field.alias if field and field.alias else field_name).upper()


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    name = _setting_name(loc)
    if not name:
        return message.removeprefix("Value error, ")
    return f"{name}: {message}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's error into one that names each bad setting.

    Input values are left out of the message on purpose: one of them may be the token.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_problem(error["loc"], error["msg"]) for error in exc.errors())
        raise SettingsError(f"Cấu hình không hợp lệ / invalid setting — {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
