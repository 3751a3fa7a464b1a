"""elektromail.extract: the links and codes of a corpus of real-shaped sign-up, password-reset
and magic-link mails (tests/extract_corpus: text, HTML and both; 7bit, 8bit, quoted-printable
and base64; English, German, French, Spanish, Japanese), what must not be taken for a code,
and the guards on a caller's own pattern."""

from __future__ import annotations

import pathlib
import time

import pytest

from elektromail import mime
from elektromail.extract import (
    MAX_LINKS,
    MAX_PATTERN,
    PatternError,
    compile_pattern,
    extract,
    extract_message,
)

CORPUS = pathlib.Path(__file__).parent / "extract_corpus"

# file -> (codes best first, links as (url, anchor text))
EXPECTED = {
    "en_signup_text.eml": (
        ["482913", "Zk9xT2hQ3vL8"],
        [("https://acme.example/confirm?token=Zk9xT2hQ3vL8&utm_source=email", None)],
    ),
    "en_reset_html_qp.eml": (
        ["a1B2c3D4e5F6g7H8"],
        [
            (
                "https://acme.example/reset-password?reset_token=a1B2c3D4e5F6g7H8&uid=991",
                "Choose a new password",
            ),
            ("https://acme.example/help", "Contact support"),
        ],
    ),
    "de_magic_alternative_b64.eml": (
        ["739201", "eyJhbGciOiJIUzI1NiJ9.abc.def"],
        [
            (
                "https://beispiel.example/login/magic?token=eyJhbGciOiJIUzI1NiJ9.abc.def",
                "Jetzt anmelden",
            )
        ],
    ),
    "fr_signup_alternative_qp.eml": (
        ["918273"],
        [("https://exemple.example/confirmer?code=918273&lang=fr", "Confirmer mon adresse")],
    ),
    "es_reset_text_latin1.eml": (
        ["5821", "XyZ789abc"],
        [("https://ejemplo.example/restablecer?token=XyZ789abc", None)],
    ),
    "ja_signup_text_b64.eml": (
        ["123456", "JaP4nT0k3n"],
        [("https://rei.example/verify?token=JaP4nT0k3n", None)],
    ),
    "en_magic_html.eml": ([], [("https://acme.example/magic/3f9a7c2e1b", "Sign in to Acme")]),
    "en_newsletter_no_code.eml": ([], []),
}


def test_the_corpus_is_all_there():
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_mail_gives_its_links_and_codes(name):
    raw = (CORPUS / name).read_bytes()
    found = extract_message(raw, mime.parse(raw))
    codes, links = EXPECTED[name]
    assert [c.value for c in found.codes] == codes
    assert [(link.url, link.text) for link in found.links] == links
    assert found.code == (codes[0] if codes else None)


def test_mailto_links_only_when_asked():
    raw = (CORPUS / "en_reset_html_qp.eml").read_bytes()
    found = extract_message(raw, mime.parse(raw), mailto=True)
    assert ("mailto:help@acme.example", "help@acme.example") in [
        (link.url, link.text) for link in found.links
    ]


def codes(text: str) -> list[str]:
    return [c.value for c in extract(None, text, None).codes]


@pytest.mark.parametrize(
    "text",
    [
        "Your code: call +1 (555) 123-4567 or 555-0199.",
        "Verification: call 030 1234567 or +44 20 7946 0958.",
        "Code sent on 2026-12-07, 07.12.2026 or 12/07/2026.",
        "Your code expires at 12:30:45.",
        "Verification fee $1234, 1234 EUR, 1.234,56 €, 1234.50, €2500 or 3000円.",
        "Your code for order #12345678 and order 87654321.",
        "Verification of invoice 55667788 and Bestellung Nr. 11223344.",
        "Code valid until 2026. Copyright 2024 Acme, since 1998.",
        "Code: use colour #FF5733 or #123456 or color: #1234.",
        "Your zip code 90210, postal code 10115, promo code 4444.",
        "Code postal 75001 et código postal 28013.",
        "Verification: 1,299 users and 25% off, 5000% more, 1234x faster.",
        "Your code is A12345 or 12345B or v2026.",
        "Verification at https://x.example/p/12345678 and x.example/123456.",
        "Tracking code 1Z999AA10123456784; code 123456789 is too long; code 123 too short.",
        "Security: 0900-1700 and 1234-5678-9012.",
    ],
)
def test_numbers_that_are_not_codes(text):
    assert codes(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your verification code is 482913.", ["482913"]),
        ("482913 is your Acme code", ["482913"]),
        ("PIN: 2019", ["2019"]),
        ("Your one-time passcode: 123 456", ["123456"]),
        ("OTP 123-456", ["123456"]),
        ("OTP 1234 5678", ["12345678"]),
        ("Ihr Sicherheitscode: 55 66 -- 837261", ["837261"]),
        ("Votre code de vérification est 271828.", ["271828"]),
        ("Tu código es 3141.", ["3141"]),
        ("验证码\uff1a884422\uff0c5分钟内有效。", ["884422"]),
        ("認証番号は 246810 です", ["246810"]),
        ("Your code for order 55555555 is 482913", ["482913"]),
        ("Code 111111 — or, if that fails, your backup code 222222", ["111111", "222222"]),
    ],
)
def test_codes_by_their_keyword(text, expected):
    assert codes(text) == expected


def test_the_nearest_keyword_wins():
    text = "Verification. Ignore 777777 here. Your code is 123456"
    assert codes(text)[0] == "123456"


def test_a_code_in_the_subject_counts():
    found = extract("918273 is your verification code", "Welcome!", None)
    assert [(c.value, c.source) for c in found.codes] == [("918273", "subject")]


def test_html_links_keep_the_anchor_text_and_text_links_add_the_rest():
    html = '<p><a href="https://a.example/x?token=abcd">Go <b>now</b></a></p>'
    text = "Go now: https://a.example/x?token=abcd. Or https://b.example/(y)."
    found = extract(None, text, html)
    assert [(link.url, link.text, link.source) for link in found.links] == [
        ("https://a.example/x?token=abcd", "Go now", "html"),
        ("https://b.example/(y)", None, "text"),
    ]


def test_script_style_and_non_web_links_are_left_out():
    html = (
        "<style>a{color:#123456}</style><script>var code = 123456;</script>"
        '<a href="javascript:alert(1)">x</a><a href="#top">top</a><a href="/rel">r</a>'
        '<a href="cid:logo">c</a><a href="data:text/html,hi">d</a><a>no href</a>'
        '<a href="  https://ok.example/  ">ok</a>'
    )
    found = extract(None, None, html)
    assert [(link.url, link.text) for link in found.links] == [("https://ok.example/", "ok")]
    assert found.codes == ()


def test_utm_parameters_are_not_tokens_but_named_ones_are():
    found = extract(
        None,
        "https://x.example/a?utm_campaign=abcdef&session_token=s3cr3t&api_key=kkkk&page=2",
        None,
    )
    assert [(c.value, c.param) for c in found.codes] == [
        ("s3cr3t", "session_token"),
        ("kkkk", "api_key"),
    ]


def test_links_are_bounded():
    html = "".join(f'<a href="https://x.example/{i}">{i}</a>' for i in range(MAX_LINKS + 50))
    assert len(extract(None, None, html).links) == MAX_LINKS


@pytest.mark.parametrize(
    "markup",
    [
        "<a href='https://x.example/",
        "<<<<a" * 10000,
        "<a href=" + "x" * 100000,
        "</a>" * 1000,
        "<!--",
    ],
)
def test_broken_markup_gives_what_it_can(markup):
    extract(None, None, markup)


# --- a caller's pattern ---------------------------------------------------------------------


def test_a_callers_pattern_comes_first_with_its_group():
    pattern = compile_pattern(r"ref-([A-Z0-9]{4})")
    found = extract(None, "Your code is 482913, ref-AB12.", None, pattern=pattern)
    assert [(c.value, c.kind) for c in found.codes] == [("AB12", "pattern"), ("482913", "keyword")]
    whole = compile_pattern(r"[A-Z]{3}-\d{3}")
    assert extract(None, "token XYZ-123 here", None, pattern=whole).code == "XYZ-123"


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("", "empty"),
        ("x" * (MAX_PATTERN + 1), "characters long"),
        ("(abc", "not a regular expression"),
        ("[", "not a regular expression"),
        ("a{2,1}", "not a regular expression"),
        ("(a+)+b", "repeats a part that repeats"),
        (r"(\d*)*", "repeats a part that repeats"),
        (r"(?:x|y+){2,}", "repeats a part that repeats"),
        (r"((ab)*c)+", "repeats a part that repeats"),
        (r"(?=(a+)+)", "repeats a part that repeats"),
    ],
)
def test_refused_patterns(pattern, says):
    with pytest.raises(PatternError) as raised:
        compile_pattern(pattern)
    assert says in str(raised.value)


def test_a_slow_pattern_is_stopped_by_its_time_limit():
    pattern = compile_pattern(r"\d*\d*\d*\d*\d*\d*!a")  # polynomial, not nested: allowed
    started = time.monotonic()
    with pytest.raises(PatternError, match="took over"):
        extract(None, "1" * 3000 + "a!a", None, pattern=pattern)
    assert time.monotonic() - started < 5
