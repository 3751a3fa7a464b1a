"""GET /messages/{uid}/checks and /dkim/keys over a real socket: the answer's shape, a message
signed here verified with a key given by API and by setting, links probed only when asked, and
malformed, oversized and hostile requests answered with a JSON error and nothing changed."""

from __future__ import annotations

import json

import pytest
from twisted.internet import reactor
from twisted.web import resource, server

from elektromail.checks import CHECK_NAMES
from elektromail.service import StartupError
from elektromail.testing import MailServer, call_in_reactor
from tests.checks.conftest import message, rsa_key, sign
from tests.http.client import Api
from tests.http.conftest import TOKEN
from tests.smtp.wire import Wire

COVERED = (b"from", b"to", b"subject", b"date", b"list-unsubscribe", b"list-unsubscribe-post")
BULK = (
    b"List-Id: <news.example.com>\r\n"
    b"List-Unsubscribe: <https://example.com/u/1>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
)


def by_check(answer) -> dict[str, list[str]]:
    data = answer.json()
    assert [c["check"] for c in data["checks"]] == list(CHECK_NAMES)
    return {c["check"]: [f["id"] for f in c["findings"]] for c in data["checks"]}


def test_a_clean_message_has_no_errors_or_warnings(api, mail):
    uid = mail.inject("user", message())
    answer = api.get(f"/messages/{uid}/checks?user=user")
    assert answer.status == 200
    data = answer.json()
    assert data["summary"] == {"errors": 0, "warnings": 0, "infos": 4}
    assert (data["uid"], data["user"], data["mailbox"]) == (uid, "user", "INBOX")


def test_a_broken_message_names_each_problem(api, mail):
    raw = b"To: not an address\r\nBcc: x@example.org\r\nContent-Type: text/html\r\n\r\n"
    raw += b'<div style="display:flex">' + b"x" * 1000 + b"</div>\r\n"
    uid = mail.inject("user", raw)
    found = by_check(api.get(f"/messages/{uid}/checks"))
    assert {
        "headers.no-date",
        "headers.no-from",
        "headers.malformed-address",
        "headers.bcc-present",
        "headers.no-mime-version",
        "headers.line-too-long",
    } <= set(found["headers"])
    assert "html.css-display-flex" in found["html"]


def test_dkim_keys_given_by_api_verify_a_message_signed_here(api, mail):
    uid = mail.inject("user", sign(message(BULK), headers=COVERED))
    assert by_check(api.get(f"/messages/{uid}/checks"))["dkim"] == ["dkim.no-key"]
    put = api.put(
        "/dkim/keys", {"selector": "sel", "domain": "example.com", "record": rsa_key()[1]}
    )
    assert put.status == 200 and put.json()[0]["name"] == "sel._domainkey.example.com"
    found = by_check(api.get(f"/messages/{uid}/checks"))
    assert found["dkim"] == ["dkim.pass"]
    assert "list-unsubscribe.one-click" in found["list-unsubscribe"]
    assert [k["source"] for k in api.get("/dkim/keys").json()] == ["api"]
    tampered = mail.inject(
        "user", sign(message(BULK), headers=COVERED).replace(b"Hello Bob", b"Hi")
    )
    assert by_check(api.get(f"/messages/{tampered}/checks"))["dkim"] == ["dkim.fail"]
    assert api.delete("/dkim/keys?domain=example.com").json() == {"ok": True, "deleted": 1}
    assert api.get("/dkim/keys").json() == []


def test_a_pem_key_and_a_list_of_keys(api):
    answer = api.put(
        "/dkim/keys",
        [
            {"selector": "a", "domain": "example.com", "public_key": rsa_key()[2]},
            {"selector": "b", "domain": "example.com", "record": rsa_key()[1]},
        ],
    )
    assert [k["name"] for k in answer.json()] == [
        "a._domainkey.example.com",
        "b._domainkey.example.com",
    ]
    assert answer.json()[0]["record"] == rsa_key()[1]


def test_keys_from_the_setting_are_used_and_a_bad_file_stops_start_up(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"sel._domainkey.example.com {rsa_key()[1]}\n")
    with MailServer(http_port=0, dkim_keys=str(keys)) as mail:
        uid = mail.inject("user", sign(message()))
        assert by_check(Api(mail).get(f"/messages/{uid}/checks"))["dkim"] == ["dkim.pass"]
        assert mail.dkim_keys()[0]["source"] == "setting"
        assert mail.checks(uid)["checks"][1]["findings"][0]["id"] == "dkim.pass"
    keys.write_text("sel._domainkey.example.com v=DKIM1; p=!!!\n")
    with pytest.raises(StartupError, match="ELEKTROMAIL_DKIM_KEYS"):
        MailServer(http_port=0, dkim_keys=str(keys)).start()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"selector": "sel", "domain": "example.com"}, "give one of"),
        ({"selector": "sel", "domain": "example.com", "record": "v=DKIM1; p=!!"}, "not a DKIM key"),
        ({"selector": "", "domain": "example.com", "record": "x"}, "selector"),
        ({"selector": "s", "domain": "a b", "record": rsa_key()[1]}, "not a DNS name"),
        ({"selector": "s", "domain": "x.com", "record": 5}, "expected a string"),
        ({"selector": "s", "domain": "x.com", "record": "x", "extra": 1}, "unknown field"),
        ([], "non-empty"),
        ("text", "expected a JSON object"),
        (
            [{"selector": "ok", "domain": "x.com", "record": rsa_key()[1]}, {"selector": "b"}],
            "item 1",
        ),
    ],
)
def test_a_bad_key_is_refused_and_nothing_is_stored(api, body, message):
    answer = api.put("/dkim/keys", body)
    assert answer.status == 400 and message in answer.error
    assert api.get("/dkim/keys").json() == []


def test_malformed_json_and_oversized_key_lists(api):
    answer = api.request(
        "PUT", "/dkim/keys", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    many = [{"selector": f"s{i}", "domain": "x.com", "record": "x"} for i in range(1001)]
    assert "at most 1000" in api.put("/dkim/keys", many).error
    assert api.delete("/dkim/keys?selector=a%20b").status == 400
    assert "parameter 'domain'" in api.delete("/dkim/keys?domain=").error


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/messages/999/checks?user=user", 404),
        ("/messages/abc/checks?user=user", 400),
        ("/messages/0/checks?user=user", 400),
        ("/messages/1/checks?user=nobody", 404),
        ("/messages/1/checks?user=user&mailbox=Nope", 404),
        ("/messages/1/checks?user=user&links=maybe", 400),
    ],
)
def test_bad_addresses_are_json_errors(api, mail, path, status):
    mail.inject("user", message())
    answer = api.get(path)
    assert answer.status == status, answer.body
    assert answer.error


def test_the_routes_want_the_token_when_one_is_set(guarded):
    uid = guarded.inject("user", message())
    assert Api(guarded).get(f"/messages/{uid}/checks").status == 401
    assert Api(guarded).get("/dkim/keys").status == 401
    assert Api(guarded, TOKEN).get(f"/messages/{uid}/checks").status == 200


class Ok(resource.Resource):
    isLeaf = True

    def render(self, request):
        if request.path == b"/missing":
            request.setResponseCode(404)
        return b"ok"


def test_links_are_probed_only_when_asked(api, mail):
    factory = server.Site(Ok())
    port = call_in_reactor(lambda: reactor.listenTCP(0, factory, interface="127.0.0.1"))
    try:
        base = f"http://127.0.0.1:{port.getHost().port}"
        uid = mail.inject("user", message(body=f"{base}/ok and {base}/missing\r\n".encode()))
        assert by_check(api.get(f"/messages/{uid}/checks"))["links"] == ["links.not-checked"]
        found = by_check(api.get(f"/messages/{uid}/checks?links=1"))["links"]
        assert found == ["links.broken", "links.summary"]
        in_python = mail.checks(uid, user="user", links=True)
        assert [f["id"] for f in in_python["checks"][-1]["findings"]] == found
    finally:
        call_in_reactor(port.stopListening)


def test_python_checks_name_a_missing_message(mail):
    with pytest.raises(LookupError):
        mail.checks(5, user="user")
    uid = mail.inject("user", message())
    assert json.dumps(mail.checks(uid))  # JSON like the route's answer


def test_reset_keeps_only_the_setting_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"sel._domainkey.example.com {rsa_key()[1]}\n")
    with MailServer(http_port=0, dkim_keys=str(keys)) as mail:
        api = Api(mail)
        api.put("/dkim/keys", {"selector": "x", "domain": "example.org", "record": rsa_key()[1]})
        api.delete("/dkim/keys?selector=sel")
        assert [k["selector"] for k in api.get("/dkim/keys").json()] == ["x"]
        assert api.post("/reset").status == 200
        assert [k["selector"] for k in api.get("/dkim/keys").json()] == ["sel"]
        mail.add_dkim_key("y", "example.org", rsa_key()[2])
        mail.reset()
        assert [k["selector"] for k in mail.dkim_keys()] == ["sel"]


@pytest.mark.parametrize(
    ("mail_from", "flagged"),
    [
        (b"MAIL FROM:<a@example.com>", True),
        (b"MAIL FROM:<a@example.com> BODY=8BITMIME", True),  # 8BITMIME is not BINARYMIME
        (b"MAIL FROM:<a@example.com> BODY=BINARYMIME", False),
    ],
)
def test_a_binary_part_is_judged_by_what_mail_from_said(api, mail, mail_from, flagged):
    # RFC 3030 §3: Content-Transfer-Encoding binary over SMTP needs BODY=BINARYMIME (and BDAT)
    raw = (
        b"From: a@example.com\r\nTo: user@example.com\r\nSubject: bin\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\x01\xff\rcr\nlf\r\n"
    )
    mail.purge()
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client")
    wire.send(mail_from + b"\r\nRCPT TO:<user@example.com>\r\nBDAT %d LAST\r\n" % len(raw) + raw)
    assert wire.replies(3)[2] == b"250 2.0.0 Message accepted\r\n"
    wire.close()
    [stored] = mail.wait_for_messages(1, user="user")
    found = by_check(api.get(f"/messages/{stored['uid']}/checks?user=user"))["headers"]
    assert ("headers.binary-without-binarymime" in found) is flagged
    assert "headers.8bit-undeclared" not in found


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], "headers.8bit-without-8bitmime"),  # RFC 6152 §3: 8-bit data needs BODY=8BITMIME
        (["BODY=8BITMIME"], "headers.8bit-undeclared"),  # allowed; only its CTE is not 8bit
    ],
)
def test_8bit_data_is_judged_by_what_mail_from_said(api, mail, options, expected):
    # The SMTP transcript kept with the message says what MAIL FROM gave (issue 17 item 4).
    import smtplib

    raw = b"From: a@example.com\r\nTo: user@example.com\r\nSubject: x\r\n\r\ncaf\xc3\xa9\r\n"
    mail.purge()
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@example.com", ["user@example.com"], raw, mail_options=options)
    [stored] = mail.wait_for_messages(1, user="user")
    found = by_check(api.get(f"/messages/{stored['uid']}/checks?user=user"))["headers"]
    assert expected in found
    (other,) = {"headers.8bit-without-8bitmime", "headers.8bit-undeclared"} - {expected}
    assert other not in found
