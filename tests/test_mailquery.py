"""elektromail.mailquery: what each piece of the query language parses to, and the sentence a
malformed query gets (the HTTP routes answer it with 400)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elektromail.mailquery import MAX_LENGTH, MAX_TERMS, QueryError, Term, parse


def _utc(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("", ()),
        ("   \t ", ()),
        ("Hello", (Term("text", ("hello",)),)),
        ("a b", (Term("text", ("a",)), Term("text", ("b",)))),
        ('"Welcome aboard"', (Term("text", ("welcome aboard",)),)),
        ('-"a b"', (Term("text", ("a b",), True),)),
        ("-spam", (Term("text", ("spam",), True),)),
        ("e-mail", (Term("text", ("e-mail",)),)),
        ('say"hi there"', (Term("text", ("sayhi there",)),)),
        (r'"a \"quoted\" \\ word"', (Term("text", ('a "quoted" \\ word',)),)),
        ("STRASSE", (Term("text", ("strasse",)),)),
        ("Straße", (Term("text", ("strasse",)),)),
        ("12:30", (Term("text", ("12:30",)),)),
        ("https://x.example/a?b=c", (Term("text", ("https://x.example/a?b=c",)),)),
        ('"re: hello"', (Term("text", ("re: hello",)),)),
        ("FROM:Ann", (Term("address", ("from", "ann")),)),
        ('from:"Ann Lee"', (Term("address", ("from", "ann lee")),)),
        ("to:bob@x.example", (Term("address", ("to", "bob@x.example")),)),
        ("cc:c bcc:d", (Term("address", ("cc", "c")), Term("address", ("bcc", "d")))),
        ('subject:"Welcome aboard"', (Term("subject", ("welcome aboard",)),)),
        ("subject:a:b", (Term("subject", ("a:b",)),)),
        ("-subject:x", (Term("subject", ("x",), True),)),
        ("header:X-Mailer=Foo", (Term("header", ("x-mailer", "foo")),)),
        ('header:X-Mailer="Foo Bar"', (Term("header", ("x-mailer", "foo bar")),)),
        ('header:"List-Id=a=b"', (Term("header", ("list-id", "a=b")),)),
        ("header:List-Id", (Term("header", ("list-id", "")),)),
        ("header:List-Id:", (Term("header", ("list-id", "")),)),
        ("has:attachment", (Term("attachment", ()),)),
        ("has:Attachments", (Term("attachment", ()),)),
        ("is:unread", (Term("flag", ("\\Seen", False)),)),
        ("is:READ", (Term("flag", ("\\Seen", True)),)),
        ("-is:flagged", (Term("flag", ("\\Flagged", True), True),)),
        ("before:2026-12-07", (Term("before", (_utc("2026-12-07"),)),)),
        ("after:2026-12-07T10:30", (Term("after", (_utc("2026-12-07T10:30"),)),)),
        ("after:2026-12-07T10:30:00Z", (Term("after", (_utc("2026-12-07T10:30"),)),)),
        ("after:2026-12-07T11:30:00+01:00", (Term("after", (_utc("2026-12-07T10:30"),)),)),
        ("larger:10", (Term("larger", (10,)),)),
        ("larger:10k", (Term("larger", (10240,)),)),
        ("smaller:2M", (Term("smaller", (2 * 1024 * 1024,)),)),
        ("smaller:2mb", (Term("smaller", (2 * 1024 * 1024,)),)),
        ("larger:9999999999999999M", (Term("larger", (2**53,)),)),
    ],
)
def test_parse(query, terms):
    assert parse(query) == terms


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("re:hello", "unknown key 're:'"),
        ("Foo:bar", "unknown key 'Foo:'"),
        ('"abc', "unbalanced quote"),
        ('from:"Ann', "unbalanced quote: the one at character 6"),
        ('a "b', "never closed"),
        ('"\\"', "unbalanced quote"),
        ("from:", "from: needs a value"),
        ("subject:", "subject: needs a value"),
        ('""', "empty text"),
        ("-", "'-' must be followed"),
        ("- x", "'-' must be followed"),
        ("has:pdf", "has:pdf is not known"),
        ("is:important", "is:important is not known"),
        ("before:yesterday", "before:yesterday is not a date"),
        ("after:2026-13-01", "after:2026-13-01 is not a date"),
        ("after:2026-12-07T25:00", "is not a date"),
        ("after:12/07/2026", "is not a date"),
        ("before:", "before: needs a value"),
        ("larger:big", "larger:big is not a size"),
        ("larger:10G", "is not a size"),
        ("smaller:-1", "is not a size"),
        ("larger:1.5k", "is not a size"),
        ("larger:" + "9" * 17, "is not a size"),
        ("header:=x", "header: needs a field name"),
        ('header:"X Y=z"', "header: needs a field name"),
        ("x" * (MAX_LENGTH + 1), "query too long"),
        (" ".join(["a"] * (MAX_TERMS + 1)), "too many terms"),
    ],
)
def test_malformed_queries_say_what_is_wrong(query, says):
    with pytest.raises(QueryError) as raised:
        parse(query)
    assert says in str(raised.value)


@pytest.mark.parametrize(
    "hostile",
    ["\x00", "from:\x00", '"\x00"', "\u202e", "a" * MAX_LENGTH, '"' * 999, "\\" * 999, "-" * 999],
)
def test_hostile_queries_parse_or_fail_with_a_query_error(hostile):
    try:
        parse(hostile)
    except QueryError:
        pass


_PIECES = st.sampled_from(
    ['"', "\\", "-", ":", " ", "from:", "header:", "is:", "before:", "larger:", "=", "a", "é", "1k"]
)


@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=40).map("".join))
def test_any_text_parses_or_fails_with_a_query_error(text):
    try:
        terms = parse(text)
    except QueryError as e:
        assert str(e)
    else:
        assert all(isinstance(term, Term) for term in terms)
        assert len(terms) <= MAX_TERMS
