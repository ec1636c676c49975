"""The web server's settings: one base URL, the old webhook names as aliases, a strong secret."""

from __future__ import annotations

import pytest

from bot.cli import EXIT_CONFIG, main
from bot.settings import SettingsError, load_settings

SECRET = "s" * 32


def test_no_public_url_means_no_server() -> None:
    settings = load_settings(_env_file=None)
    assert not settings.web_enabled and settings.base_url is None
    assert settings.listen_address == "0.0.0.0" and settings.port == 8080


def test_public_base_url_derives_the_webhook_url() -> None:
    settings = load_settings(
        _env_file=None, PUBLIC_BASE_URL="https://dondoc.example.vn/", WEB_SECRET=SECRET
    )
    assert settings.web_enabled
    assert settings.base_url == "https://dondoc.example.vn"
    assert settings.telegram_webhook_url == "https://dondoc.example.vn/telegram"


@pytest.mark.parametrize(
    ("webhook_url", "base_url"),
    [
        ("https://a.example.vn/bot/telegram", "https://a.example.vn/bot"),
        ("https://a.example.vn/other-path", "https://a.example.vn"),
    ],
)
def test_webhook_url_alone_still_works(webhook_url: str, base_url: str) -> None:
    settings = load_settings(_env_file=None, WEBHOOK_URL=webhook_url, WEB_SECRET=SECRET)
    assert settings.web_enabled and settings.base_url == base_url
    assert settings.telegram_webhook_url == webhook_url


def test_webhook_listen_is_an_alias_of_web_listen() -> None:
    settings = load_settings(_env_file=None, WEBHOOK_LISTEN="127.0.0.1")
    assert settings.listen_address == "127.0.0.1"
    same = load_settings(_env_file=None, WEBHOOK_LISTEN="127.0.0.1", WEB_LISTEN="127.0.0.1")
    assert same.listen_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("values", "names"),
    [
        (
            {"PUBLIC_BASE_URL": "https://a.example.vn", "WEBHOOK_URL": "https://b.example.vn/t"},
            ("WEBHOOK_URL", "PUBLIC_BASE_URL"),
        ),
        (
            {"WEB_LISTEN": "127.0.0.1", "WEBHOOK_LISTEN": "0.0.0.0"},
            ("WEB_LISTEN", "WEBHOOK_LISTEN"),
        ),
    ],
)
def test_contradictory_settings_stop_naming_both(values: dict[str, str], names: tuple[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, WEB_SECRET=SECRET, **values)
    assert all(name in str(caught.value) for name in names)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PUBLIC_BASE_URL": "https://a.example.vn"}, "WEB_SECRET must be set"),
        ({"WEBHOOK_URL": "https://a.example.vn/telegram"}, "WEB_SECRET must be set"),
        ({"PUBLIC_BASE_URL": "https://a.example.vn", "WEB_SECRET": "x" * 31}, "at least 32"),
        ({"PUBLIC_BASE_URL": "http://a.example.vn", "WEB_SECRET": SECRET}, "https://"),
    ],
)
def test_the_server_refuses_to_start_without_a_strong_secret(
    values: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **values)
    message = str(caught.value)
    assert expected in message
    assert "x" * 31 not in message  # a secret is never repeated back


def test_each_channel_gets_its_own_derived_webhook_secret() -> None:
    settings = load_settings(
        _env_file=None, PUBLIC_BASE_URL="https://a.example.vn", WEB_SECRET=SECRET
    )
    telegram, zalo = settings.webhook_secret_for("telegram"), settings.webhook_secret_for("zalo")
    assert telegram != zalo and SECRET not in telegram + zalo
    assert len(telegram) == 64 and telegram.isalnum()
    explicit = load_settings(
        _env_file=None,
        PUBLIC_BASE_URL="https://a.example.vn",
        WEB_SECRET=SECRET,
        WEBHOOK_SECRET="telegram-secret-0123456789",
    )
    assert explicit.webhook_secret_for("telegram") == "telegram-secret-0123456789"


def test_every_web_secret_is_masked_in_logs() -> None:
    settings = load_settings(
        _env_file=None,
        PUBLIC_BASE_URL="https://a.example.vn",
        WEB_SECRET=SECRET,
        TELEGRAM_BOT_TOKEN="123:abc",
    )
    assert set(settings.secret_values()) == {
        "123:abc",
        SECRET,
        settings.webhook_secret_for("telegram"),  # PTB logs setWebhook's parameters at DEBUG
        settings.webhook_secret_for("zalo"),  # Zalo's webhook secret, too
    }


def test_run_refuses_to_start_the_server_without_web_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://a.example.vn")
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "PUBLIC_BASE_URL turns the web server on, so WEB_SECRET must be set" in err
