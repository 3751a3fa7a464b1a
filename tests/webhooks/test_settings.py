"""The webhook settings: --webhook-url (repeatable; the env var lists URLs with commas),
--webhook-secret, --webhook-timeout, --webhook-queue; a malformed URL stops start-up with one
line naming the setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from elektromail.config import ConfigError, Settings, resolve
from elektromail.tap import Options


def parsed(argv: list[str]) -> Settings:
    options = Options()
    options.parseOptions(argv)
    return options.settings


def test_off_by_default():
    s = resolve({}, {})
    assert (s.webhook_urls, s.webhook_secret, s.webhook_timeout, s.webhook_queue) == (
        (),
        None,
        10,
        1000,
    )


def test_the_env_var_lists_urls_separated_by_commas():
    env = {"ELEKTROMAIL_WEBHOOK_URL": " http://a.test/hook , https://b.test:8443/x?k=v,"}
    assert resolve({}, env).webhook_urls == ("http://a.test/hook", "https://b.test:8443/x?k=v")
    assert resolve({}, {"ELEKTROMAIL_WEBHOOK_URL": ""}).webhook_urls == ()


def test_the_option_is_repeatable_and_wins_over_the_env_var(monkeypatch):
    monkeypatch.setenv("ELEKTROMAIL_WEBHOOK_URL", "http://env.test/")
    s = parsed(["--webhook-url", "http://a.test/1", "--webhook-url=http://b.test/2"])
    assert s.webhook_urls == ("http://a.test/1", "http://b.test/2")
    assert parsed([]).webhook_urls == ("http://env.test/",)


def test_secret_timeout_and_queue():
    env = {
        "ELEKTROMAIL_WEBHOOK_SECRET": "k3y",
        "ELEKTROMAIL_WEBHOOK_TIMEOUT": "3",
        "ELEKTROMAIL_WEBHOOK_QUEUE": "5",
    }
    s = resolve({}, env)
    assert (s.webhook_secret, s.webhook_timeout, s.webhook_queue) == ("k3y", 3, 5)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://files.test/x", "expected an http:// or https:// URL"),
        ("files.test/hook", "expected an http:// or https:// URL"),
        ("http://", "no host"),
        ("http:///path", "no host"),
        ("http://host.test:99999/", "not a URL"),
        ("http://host.test:port/", "not a URL"),
        ("http://[::1/", "not a URL"),
        ("http://user:pw@host.test/", "credentials in the URL are not sent"),
        ("http://h\u00f6st.test/", "expected an ASCII URL"),
        ("http://a.test/,http://a.test/", "given twice"),
    ],
)
def test_a_malformed_url_is_a_configuration_error(url, said):
    with pytest.raises(ConfigError) as info:
        resolve({}, {"ELEKTROMAIL_WEBHOOK_URL": url})
    assert str(info.value).startswith("invalid ELEKTROMAIL_WEBHOOK_URL=")
    assert said in str(info.value)
    assert "pw@" not in str(info.value)  # credentials are not echoed


@pytest.mark.parametrize(("name", "value"), [("TIMEOUT", "0"), ("TIMEOUT", "x"), ("QUEUE", "0")])
def test_timeout_and_queue_must_be_positive(name, value):
    with pytest.raises(ConfigError) as info:
        resolve({}, {f"ELEKTROMAIL_WEBHOOK_{name}": value})
    assert f"ELEKTROMAIL_WEBHOOK_{name}" in str(info.value)


def test_a_malformed_url_stops_start_up_with_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "elektromail", "--webhook-url", "htp://oops", "--smtp-port=0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "elektromail: invalid --webhook-url='htp://oops': 'htp://oops': expected an http:// or"
        " https:// URL"
    ]
    assert "Traceback" not in result.stderr
