"""One flag rule (elektromail.flags) at every door: IMAP STORE and APPEND, POST /inject,
MailServer.inject, fixture sidecars and the OpenAPI schema accept and refuse the same flags,
and store them spelled the same.

RFC 9051 §9:
    flag           = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" /
                     flag-keyword / flag-extension      ; Does not include "\\Recent"
    flag-keyword   = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" / "$Phishing" / atom
    atom           = 1*ATOM-CHAR
    ATOM-CHAR      = <any CHAR except atom-specials>
    atom-specials  = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
                     resp-specials
    list-wildcards = "%" / "*"
    quoted-specials = DQUOTE / "\\"
    resp-specials  = "]"
and note 1 of §9: "all alphabetic characters are case insensitive" (so `\\seen` is `\\Seen`).
Where the grammar leaves room, Dovecot 2.3 was asked: it stores `a[b`, `a}b` and `[`, and
refuses `a]b`, `a%b`, `a*b`, `a\\b`, `\\Recent` and `\\Foo`, as the table says.
"""

from __future__ import annotations

import imaplib
import json
import re
from collections.abc import Iterator

import pytest

from elektromail import flags, preload
from elektromail.store import InvalidInput
from elektromail.testing import MailServer
from tests.http.client import Api
from tests.http.openapi_check import validator

MESSAGE = "Subject: flags\r\n\r\nbody\r\n"

# (flag as a client writes it, what is stored: None when every door refuses it)
FLAG_CASES = [
    pytest.param("$Label1", ("$Label1",), id="plain-keyword"),
    pytest.param("$MDNSent", ("$MDNSent",), id="named-keyword"),
    pytest.param("a[b", ("a[b",), id="open-bracket-is-no-special"),
    pytest.param("[", ("[",), id="open-bracket-alone"),
    pytest.param("a}b", ("a}b",), id="close-brace-is-no-special"),
    pytest.param("~!#&'+,-./:;<=>?@^_`|", ("~!#&'+,-./:;<=>?@^_`|",), id="other-atom-chars"),
    pytest.param("\\Seen", ("\\Seen",), id="system-flag"),
    pytest.param("\\sEEN", ("\\Seen",), id="system-flag-any-case"),
    pytest.param("\\draft", ("\\Draft",), id="draft-any-case"),
    pytest.param("a]b", None, id="resp-special"),
    pytest.param("a]", None, id="resp-special-last"),
    pytest.param("a%b", None, id="list-wildcard-percent"),
    pytest.param("a*b", None, id="list-wildcard-star"),
    pytest.param("a\\b", None, id="quoted-special-backslash"),
    pytest.param('a"b', None, id="quoted-special-dquote"),
    pytest.param("a(b", None, id="open-paren"),
    pytest.param("a{b", None, id="open-brace"),
    pytest.param("a\x01b", None, id="ctl"),
    pytest.param("a\x7fb", None, id="del-is-ctl"),
    pytest.param("a\u00e9b", None, id="8-bit"),
    pytest.param("\\Recent", None, id="recent"),
    pytest.param("\\Foo", None, id="unknown-system-flag"),
    pytest.param("\\*", None, id="flag-perm-star"),
]
# Not one flag on the IMAP wire: "two words" are two flags there, "" none.
NOT_ONE_IMAP_FLAG = [
    pytest.param("two words", None, id="space"),
    pytest.param("", None, id="empty"),
]


# --- the rule itself -----------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "stored"), FLAG_CASES + NOT_ONE_IMAP_FLAG)
def test_check_flag(flag: str, stored: tuple[str, ...] | None) -> None:
    if stored is None:
        with pytest.raises(flags.InvalidFlag) as info:
            flags.check_flag(flag)
        assert info.value.flag == flag
        assert repr(flag) in str(info.value)
    else:
        assert (flags.check_flag(flag),) == stored


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["\\seen", "work", "\\SEEN", "Work"], ("\\Seen", "work")),
        (["$b", "$a", "\\flagged"], ("$b", "$a", "\\Flagged")),
        ([], ()),
    ],
    ids=["case-folded-duplicates", "order-kept", "none"],
)
def test_check_flags_normalizes(given: list[str], expected: tuple[str, ...]) -> None:
    assert flags.check_flags(given) == expected
    assert flags.normalize_flags(given) == expected


def test_check_flags_names_the_first_it_refuses() -> None:
    with pytest.raises(flags.InvalidFlag) as info:
        flags.check_flags(["ok", "a]b", "\\Recent"])
    assert info.value.flag == "a]b"


@pytest.mark.parametrize("given", ["\\Seen", b"\\Seen"], ids=["str", "bytes"])
def test_one_string_is_not_a_list_of_flags(given: object) -> None:
    with pytest.raises(flags.InvalidFlag, match="must be a list"):
        flags.check_flags(given)  # type: ignore[arg-type]


def test_a_non_string_flag_is_refused() -> None:
    with pytest.raises(flags.InvalidFlag, match="not a string"):
        flags.check_flags([7])  # type: ignore[list-item]


def test_system_flags_in_the_order_of_a_flags_response() -> None:
    assert flags.SYSTEM_FLAGS == ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


def test_the_keyword_rule_is_the_atom_of_rfc_9051() -> None:
    """Every 7-bit character: a keyword char exactly when it is no atom-special."""
    specials = set('(){ %*"\\]') | {chr(c) for c in range(0x20)} | {"\x7f"}
    for code in range(0x80):
        char = chr(code)
        assert flags.is_keyword("a" + char) is (char not in specials), repr(char)


# --- every door ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    with MailServer(http_port=0) as mail:
        yield mail


def _imap(mail: MailServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    client.enable("UTF8=ACCEPT")  # so that 8-bit text can be sent at all
    client.select("INBOX")
    return client


def _flags_of(response: bytes) -> tuple[str, ...]:
    """The stored flags a FETCH shows: without \\Recent, the session's own (RFC 3501 §2.3.2)."""
    flags = (f.decode("utf-8") for f in imaplib.ParseFlags(response))
    return tuple(flag for flag in flags if flag != "\\Recent")


def imap_store(mail: MailServer, flag: str) -> tuple[str, ...] | None:
    mail.inject("user", MESSAGE)
    client = _imap(mail)
    try:
        client.store("*", "FLAGS", f"({flag})")
    except imaplib.IMAP4.error:
        return None
    else:
        return _flags_of(client.fetch("*", "(FLAGS)")[1][0])
    finally:
        client.logout()


def imap_append(mail: MailServer, flag: str) -> tuple[str, ...] | None:
    client = _imap(mail)
    try:
        _, data = client.append("INBOX", f"({flag})", None, MESSAGE.encode())
    except imaplib.IMAP4.error:
        return None
    else:
        uid = re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode()
        return _flags_of(client.uid("FETCH", uid, "(FLAGS)")[1][0])
    finally:
        client.logout()


def http_inject(mail: MailServer, flag: str) -> tuple[str, ...] | None:
    api = Api(mail)
    answer = api.post("/inject", {"user": "user", "raw": MESSAGE, "flags": [flag]})
    if answer.status == 400:
        assert "'flags'" in answer.error
        return None
    assert answer.status == 201, answer.body
    uid = answer.json()["uid"]
    return tuple(api.get(f"/messages/{uid}?user=user").json()["flags"])


def python_inject(mail: MailServer, flag: str) -> tuple[str, ...] | None:
    try:
        uid = mail.inject("user", MESSAGE, flags=[flag])
    except InvalidInput:
        return None
    [message] = [m for m in mail.messages("user") if m["uid"] == uid]
    return tuple(message["flags"])


def fixture_sidecar(tmp_path, flag: str) -> tuple[str, ...] | None:
    path = tmp_path / "m.eml.meta.json"
    path.write_text(json.dumps({"flags": [flag]}), encoding="utf-8")
    try:
        return preload.read_sidecar(str(path))["flags"]
    except preload.BadFixture as e:
        assert "invalid flag" in e.reason
        return None


IMAP_CANNOT_SAY = {case.values[0] for case in NOT_ONE_IMAP_FLAG}  # asked of the other doors


@pytest.mark.parametrize(("flag", "stored"), FLAG_CASES + NOT_ONE_IMAP_FLAG)
def test_every_door_takes_and_refuses_the_same_flags(server, tmp_path, flag, stored) -> None:
    doors = {
        "POST /inject": http_inject(server, flag),
        "MailServer.inject": python_inject(server, flag),
        "fixture sidecar": fixture_sidecar(tmp_path, flag),
    }
    if flag not in IMAP_CANNOT_SAY:
        doors["IMAP STORE"] = imap_store(server, flag)
        doors["IMAP APPEND"] = imap_append(server, flag)
    assert doors == dict.fromkeys(doors, stored)


# The schema lists system flags in their canonical spelling only.
SCHEMA_CASES = [
    case for case in FLAG_CASES + NOT_ONE_IMAP_FLAG if case.values[1] in (None, (case.values[0],))
]


@pytest.mark.parametrize(("flag", "stored"), SCHEMA_CASES)
def test_the_openapi_schema_says_the_same(flag: str, stored: tuple[str, ...] | None) -> None:
    body = {"user": "user", "raw": MESSAGE, "flags": [flag]}
    assert validator("/components/schemas/Inject").is_valid(body) is (stored is not None)
