"""Settings: CLI > env var > default, every invalid value refused with the setting's name."""

from __future__ import annotations

import dataclasses
import re

import pytest

from elektromail import config
from elektromail.config import ConfigError, Settings, UserSpec, parse_users, resolve


def test_defaults_match_the_original_except_the_bind_address():
    settings = resolve({}, {})
    assert settings == Settings()
    assert (settings.smtp_port, settings.imap_port, settings.http_port) == (2525, 1143, None)
    assert settings.bind == "127.0.0.1"
    assert settings.users == (UserSpec("user", "pass"),)
    assert settings.storage == "memory"
    assert not settings.auth_disabled


def test_env_vars_are_read():
    env = {
        "SMTP_PORT": "3025",
        "IMAP_PORT": "3143",
        "HTTP_PORT": "8080",
        "BIND_ADDR": "0.0.0.0",
        "ELEKTROMAIL_USERS": "a:1,b:b@example.com:2",
        "ELEKTROMAIL_AUTH_DISABLED": "yes",
        "ELEKTROMAIL_DB": "/tmp/x.db",
    }
    s = resolve({}, env)
    assert (s.smtp_port, s.imap_port, s.http_port, s.bind) == (3025, 3143, 8080, "0.0.0.0")
    assert s.users == (UserSpec("a", "1"), UserSpec("b", "2", "b@example.com"))
    assert s.auth_disabled
    assert s.db == "/tmp/x.db" and s.storage == "sqlite"


def test_cli_wins_over_env():
    s = resolve(
        {"smtp-port": "4025", "users": "x:y"}, {"SMTP_PORT": "3025", "ELEKTROMAIL_USERS": "a:b"}
    )
    assert s.smtp_port == 4025
    assert s.users == (UserSpec("x", "y"),)


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "Yes"])
def test_auth_disabled_accepts_the_originals_spellings(value):
    assert resolve({}, {"ELEKTROMAIL_AUTH_DISABLED": value}).auth_disabled


def test_auth_disabled_switch_on_the_command_line():
    assert resolve({"auth-disabled": True}, {}).auth_disabled


@pytest.mark.parametrize(
    ("value", "expected"), [("0", 0), ("off", None), ("OFF", None), ("65535", 65535)]
)
def test_port_zero_means_any_and_off_disables(value, expected):
    assert resolve({}, {"IMAP_PORT": value}).imap_port == expected


@pytest.mark.parametrize(
    ("cli", "env", "named"),
    [
        ({}, {"SMTP_PORT": "abc"}, "SMTP_PORT='abc'"),
        ({}, {"IMAP_PORT": "70000"}, "IMAP_PORT='70000'"),
        ({"smtp-port": "-1"}, {}, "--smtp-port='-1'"),
        ({}, {"HTTP_PORT": "http"}, "HTTP_PORT='http'"),
        ({}, {"BIND_ADDR": "not an address"}, "BIND_ADDR='not an address'"),
        ({}, {"ELEKTROMAIL_AUTH_DISABLED": "maybe"}, "ELEKTROMAIL_AUTH_DISABLED='maybe'"),
        ({}, {"ELEKTROMAIL_USERS": "nopassword"}, "ELEKTROMAIL_USERS"),
        ({}, {"ELEKTROMAIL_USERS": "a:b,a:c"}, "duplicate user 'a'"),
        ({}, {"ELEKTROMAIL_USERS": "A:b,a:c"}, "duplicate user"),
        ({}, {"ELEKTROMAIL_USERS": "a:not-an-email:c"}, "invalid email"),
        ({}, {"ELEKTROMAIL_USERS": "a:"}, "empty password"),
        ({}, {"ELEKTROMAIL_USERS": "a:b:c:d"}, "not name:pass"),
        ({}, {"ELEKTROMAIL_DB": "/nonexistent/dir/mail.db"}, "ELEKTROMAIL_DB"),
        ({"tls-cert": "/nonexistent.pem"}, {}, "--tls-cert"),
    ],
)
def test_invalid_settings_name_the_setting(cli, env, named):
    with pytest.raises(ConfigError) as info:
        resolve(cli, env)
    assert named in str(info.value)


def test_user_passwords_are_not_echoed_in_errors():
    with pytest.raises(ConfigError) as info:
        resolve({}, {"ELEKTROMAIL_USERS": "secret:pw1,secret:pw2"})
    assert "pw1" not in str(info.value) and "pw2" not in str(info.value)


def test_user_specs_with_and_without_email():
    users = parse_users(" alice:alice@example.org:wonder , bob:builder ")
    assert users == (UserSpec("alice", "wonder", "alice@example.org"), UserSpec("bob", "builder"))


def test_features_not_built_yet_are_listed(monkeypatch):
    unbuilt = tuple(
        dataclasses.replace(s, implemented=False) if s.attr == "http_port" else s
        for s in config.SETTINGS
    )
    monkeypatch.setattr(config, "SETTINGS", unbuilt)
    s = resolve({}, {"HTTP_PORT": "8080", "ELEKTROMAIL_PRELOAD_DIR": "/tmp"})
    assert s.not_implemented == ("--http-port",)


def test_every_setting_is_built():
    env = {"HTTP_PORT": "8080", "ELEKTROMAIL_HTTP_TOKEN": "t", "ELEKTROMAIL_PRELOAD_DIR": "/tmp"}
    assert resolve({}, env).not_implemented == ()


def test_strict_utf8_append_is_off_by_default_and_on_by_switch_or_env_var():
    assert not resolve({}, {}).strict_utf8_append
    assert resolve({"strict-utf8-append": True}, {}).strict_utf8_append
    assert resolve({}, {"ELEKTROMAIL_STRICT_UTF8_APPEND": "yes"}).strict_utf8_append
    with pytest.raises(ConfigError, match="ELEKTROMAIL_STRICT_UTF8_APPEND='sometimes'"):
        resolve({}, {"ELEKTROMAIL_STRICT_UTF8_APPEND": "sometimes"})


def test_pop3_ports():
    """POP3 on 1110 by default (`off` disables, 0 any free port); POP3S off unless given."""
    assert (Settings().pop3_port, Settings().pop3s_port) == (1110, None)
    assert resolve({}, {"POP3_PORT": "off"}).pop3_port is None
    assert resolve({}, {"POP3_PORT": "0"}).pop3_port == 0
    assert resolve({"pop3-port": "1995"}, {"POP3_PORT": "off"}).pop3_port == 1995
    assert resolve({}, {"ELEKTROMAIL_POP3S_PORT": "1995"}).pop3s_port == 1995
    assert resolve({"pop3s-port": "off"}, {}).pop3s_port is None
    for bad in ("x", "70000", "-1"):
        with pytest.raises(ConfigError, match="POP3_PORT"):
            resolve({}, {"POP3_PORT": bad})


def test_relay_settings_from_options_and_env_vars():
    s = resolve({}, {})
    assert (s.relay_host, s.relay_port, s.relay_tls, s.relay_tls_verify) == (
        None,
        None,
        "starttls",
        True,
    )
    assert (s.relay_user, s.relay_password, s.relay_allow, s.relay_timeout) == (None, None, (), 30)
    s = resolve(
        {"relay-host": "smtp.example.com", "relay-tls": "TLS", "relay-allow": "*@a.test, *.b"},
        {
            "ELEKTROMAIL_RELAY_PORT": "2465",
            "ELEKTROMAIL_RELAY_TLS": "none",
            "ELEKTROMAIL_RELAY_TLS_VERIFY": "no",
            "ELEKTROMAIL_RELAY_USER": "me",
            "ELEKTROMAIL_RELAY_PASSWORD": "pw",
            "ELEKTROMAIL_RELAY_TIMEOUT": "5",
        },
    )
    assert (s.relay_host, s.relay_port, s.relay_tls, s.relay_tls_verify) == (
        "smtp.example.com",
        2465,
        "tls",
        False,
    )
    assert (s.relay_user, s.relay_password, s.relay_allow, s.relay_timeout) == (
        "me",
        "pw",
        ("*@a.test", "*.b"),
        5,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ELEKTROMAIL_RELAY_TLS": "ssl"}, "ELEKTROMAIL_RELAY_TLS"),
        ({"ELEKTROMAIL_RELAY_HOST": "smtp example.com"}, "ELEKTROMAIL_RELAY_HOST"),
        ({"ELEKTROMAIL_RELAY_HOST": "a\r\nb"}, "ELEKTROMAIL_RELAY_HOST"),
        ({"ELEKTROMAIL_RELAY_PORT": "70000"}, "ELEKTROMAIL_RELAY_PORT"),
        ({"ELEKTROMAIL_RELAY_TIMEOUT": "0"}, "ELEKTROMAIL_RELAY_TIMEOUT"),
        ({"ELEKTROMAIL_RELAY_ALLOW": "*@b\u00e4d.test"}, "ELEKTROMAIL_RELAY_ALLOW"),
        ({"ELEKTROMAIL_RELAY_USER": "me"}, "--relay-user/--relay-password"),
        ({"ELEKTROMAIL_RELAY_PASSWORD": "pw"}, "--relay-user/--relay-password"),
    ],
    ids=["tls", "space", "crlf", "port", "timeout", "allow", "user-only", "password-only"],
)
def test_invalid_relay_settings_name_the_setting(env, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        resolve({}, env)


def test_workers_default_to_one_and_are_read_from_option_and_env_var():
    assert resolve({}, {}).workers == 1
    shared = "postgresql://u:p@db/mail"
    env = {"ELEKTROMAIL_WORKERS": "3", config.TEST_UNSHARED_WORKERS_ENV: "1"}
    assert resolve({}, env).workers == 3
    assert resolve({"workers": "2"}, env).workers == 2  # CLI > env
    assert config.is_shared_database(shared)


@pytest.mark.parametrize("value", ["0", "-1", "1000", "65", "x", "", "2.5", "٣"])
def test_bad_worker_counts_are_refused(value):
    with pytest.raises(ConfigError, match=r"ELEKTROMAIL_WORKERS=.*1 to 64"):
        resolve({}, {"ELEKTROMAIL_WORKERS": value, config.TEST_UNSHARED_WORKERS_ENV: "1"})


@pytest.mark.parametrize("db", [None, "/tmp/mail.db"], ids=["memory", "sqlite-file"])
def test_more_than_one_worker_needs_a_shared_database(db):
    cli = {"workers": "2", "db": db}
    with pytest.raises(ConfigError) as raised:
        resolve(cli, {})
    message = str(raised.value)
    assert "--workers=2" in message and "PostgreSQL" in message and "\n" not in message


@pytest.mark.parametrize(
    ("db", "shared"),
    [
        ("postgresql://u:p@db:5432/mail", True),
        ("postgres://db/mail", True),
        ("postgresql:///mail?host=/run/postgresql", True),
        (None, False),
        ("", False),
        ("/var/lib/elektromail/mail.db", False),
        ("postgresql.db", False),
        ("mysql://db/mail", False),
    ],
)
def test_is_shared_database_is_true_for_postgresql_urls_only(db, shared):
    assert config.is_shared_database(db) is shared
