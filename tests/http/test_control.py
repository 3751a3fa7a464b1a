"""POST /reset and /purge, GET /config, GET /healthz, GET and PUT /rules."""

from __future__ import annotations

import imaplib
import smtplib

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api

# --- reset and purge ---------------------------------------------------------------------------


def test_reset_returns_to_the_seed_users_and_no_mail(api, mail):
    api.post("/users", {"user": "carol", "password": "pw"})
    api.inject("Subject: a\r\n\r\n", mailbox="Archive")
    api.inject("Subject: b\r\n\r\n", user="carol")
    answer = api.post("/reset")
    assert (answer.status, answer.json()) == (200, {"ok": True})
    assert api.get("/users").json() == [{"user": "user"}, {"user": "alice"}, {"user": "bob"}]
    assert api.get("/messages").json()["count"] == 0
    assert api.inject("Subject: c\r\n\r\n") == 1  # UIDs start again


def test_reset_ends_logged_in_imap_sessions(api, mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    client.select("INBOX")
    api.post("/reset")
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        client.noop()
        client.noop()


def test_purge_deletes_every_message_and_keeps_mailboxes_and_uid_counting(api, mail):
    api.inject("Subject: a\r\n\r\n", mailbox="Archive")
    api.inject("Subject: b\r\n\r\n", user="alice")
    answer = api.post("/purge")
    assert (answer.status, answer.json()) == (200, {"ok": True, "deleted": 2})
    assert api.get("/messages").json()["count"] == 0
    assert api.inject("Subject: c\r\n\r\n", mailbox="Archive") == 2
    assert len(api.get("/users").json()) == 3


def test_purge_sends_expunges_to_a_selected_session(api, mail):
    api.inject("Subject: a\r\n\r\n")
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    client.select("INBOX")
    api.post("/purge")
    client.noop()
    assert client.response("EXPUNGE") == ("EXPUNGE", [b"1"])
    client.logout()


def test_reset_and_purge_ignore_a_body(api):
    assert api.post("/purge", {"whatever": 1}).status == 200
    assert api.request("POST", "/reset", data=b"not json").status == 200


# --- config ------------------------------------------------------------------------------------


def test_config_reports_the_bound_ports(api, mail):
    api.post("/users", {"user": "carol", "password": "pw"})
    answer = api.get("/config")
    assert answer.status == 200
    host = mail.host
    assert answer.json() == {
        "smtp_addr": f"{host}:{mail.smtp_port}",
        "imap_addr": f"{host}:{mail.imap_port}",
        "http_addr": f"{host}:{mail.http_port}",
        "pop3_addr": f"{host}:{mail.pop3_port}",
        "smtp_port": mail.smtp_port,
        "imap_port": mail.imap_port,
        "http_port": mail.http_port,
        "pop3_port": mail.pop3_port,
        "smtp_enabled": True,
        "imap_enabled": True,
        "http_enabled": True,
        "pop3_enabled": True,
        "smtp_starttls": True,
        "imap_starttls": True,
        "pop3s_port": None,
        "storage": "memory",
        "storage_path": None,
        "http_token_required": False,
        "auth_disabled": False,
        "user_count": 4,
        "oauth": "off",
        "webhook_urls": [],
        "webhook_signed": False,
        "webhook_timeout": 10,
        "webhook_queue": 1000,
        "relay_host": None,  # releasing is off
        "relay_port": None,
        "relay_tls": "starttls",
        "relay_tls_verify": True,
        "relay_user": None,
        "relay_password_set": False,
        "relay_allow": [],
        "relay_timeout": 30,
        "max_messages": None,
        "max_age": None,
        "workers": 1,
    }


def test_config_with_smtp_off_a_database_file_and_a_token(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(http_port=0, smtp_port=None, db=db, http_token="t", auth_disabled=True) as mail:
        config = Api(mail, "t").get("/config").json()
    assert (config["smtp_addr"], config["smtp_port"]) == (None, None)
    assert (config["smtp_enabled"], config["smtp_starttls"]) == (False, False)
    assert config["imap_enabled"] and config["http_enabled"]
    assert (config["storage"], config["storage_path"]) == ("sqlite", db)
    assert config["http_token_required"] is True
    assert config["auth_disabled"] is True
    assert config["user_count"] == 1


# --- health ------------------------------------------------------------------------------------


def test_healthz_is_200_and_says_nothing_else(api):
    answer = api.get("/healthz")
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


def test_healthz_with_smtp_off_is_still_healthy():
    with MailServer(http_port=0, smtp_port=None) as mail:
        assert Api(mail).get("/healthz").status == 200


def test_healthz_is_503_when_imap_stops_answering(api, mail):
    assert api.get("/healthz").status == 200
    mail.call(mail.server.ports["imap"].stopListening)
    answer = api.get("/healthz")
    assert answer.status == 503
    assert answer.error == "unhealthy"


# --- rules -------------------------------------------------------------------------------------

REJECT = {
    "recipient": "reject@example.com",
    "action": "reject",
    "code": 550,
    "status": "5.1.1",
    "diagnostic": "User unknown",
}


def test_rules_start_empty_and_put_replaces_them(api, mail):
    assert api.get("/rules").json() == []
    answer = api.put("/rules", [REJECT, {"recipient": "later@*", "action": "tempfail"}])
    assert answer.status == 200
    rules = answer.json()
    assert rules[0] == {**REJECT, "stage": "rcpt"}
    assert rules[1]["code"] == 451
    assert api.get("/rules").json() == rules
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("a@b.test", ["reject@example.com"], b"Subject: x\r\n\r\n")
    assert refused.value.recipients["reject@example.com"][0] == 550


def test_null_fields_mean_the_defaults(api):
    rules = api.put("/rules", [{"recipient": "x@y", "action": "reject", "code": None}]).json()
    assert rules[0]["code"] == 550


def test_rules_from_the_environment_are_shown_as_given():
    with MailServer(http_port=0, dsn_rules=[REJECT]) as mail:
        assert Api(mail).get("/rules").json() == [{**REJECT, "stage": "rcpt"}]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([REJECT, {"action": "reject", "code": 250}], ("rule 2", "'code'")),
        ([{"action": "explode"}], ("rule 1", "'action'")),
        ([{"action": "delay"}], ("rule 1", "'delay_ms'")),
        ([{"action": "accept", "colour": "red"}], ("rule 1", "'colour'")),
        ([5], ("rule 1",)),
        ({"action": "reject"}, ("list",)),
    ],
)
def test_invalid_rules_are_400_naming_rule_and_field_and_change_nothing(api, body, words):
    api.put("/rules", [REJECT])
    answer = api.put("/rules", body)
    assert answer.status == 400
    for word in words:
        assert word in answer.error
    assert api.get("/rules").json() == [{**REJECT, "stage": "rcpt"}]


@pytest.mark.parametrize("data", [b"", b"[", b"[NaN]", b"\xff"])
def test_malformed_rules_json_is_400(api, data):
    answer = api.request("PUT", "/rules", data=data)
    assert answer.status == 400
    assert "body" in answer.error
