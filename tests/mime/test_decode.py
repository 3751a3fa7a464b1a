"""Decoding for SEARCH and the HTTP API (mime/decode.py): header words, addresses, bodies."""

from __future__ import annotations

import time

import pytest

from elektromail.mime import (
    decode_body,
    decode_header,
    decoded_addresses,
    filter_header_fields,
    param_value,
    parse_addresses,
)
from tests.mime.messages import (
    QUADRATIC_GUARD,
    N,
)


@pytest.mark.parametrize(
    ("params", "name", "value"),
    [
        ((("name*", "utf-8''%E2%82%AC.pdf"),), "name", "€.pdf"),
        ((("name*", "iso-8859-1'de'gr%FC%DFe.txt"),), "NAME", "grüße.txt"),
        ((("name*", "x-bogus''%41"),), "name", "A"),
        ((("name*", "%41%42"),), "name", "AB"),
        ((("name", "=?utf-8?q?caf=C3=A9.txt?="),), "name", "café.txt"),
        ((("name", "plain.txt"), ("name*", "utf-8''better.txt")), "name", "better.txt"),
        ((("other", "x"),), "name", None),
    ],
)
def test_param_value_decodes_rfc2231_and_rfc2047(params, name, value):
    assert param_value(params, name) == value


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ("plain", "plain"),
        ("=?utf-8?q?caf=C3=A9?=", "café"),
        ("=?UTF-8?Q?a_b=5Fc?=", "a b_c"),
        ("=?utf-8?b?w6k=?=", "é"),
        ("=?utf-8?b?w6k?=", "é"),
        ("=?iso-8859-1?q?gr=FC=DFe?=", "grüße"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?=\t  =?iso-8859-1?q?b?=", "ab"),
        ("=?utf-8?q?=E2=82?= =?utf-8?q?=AC?=", "€"),
        ("=?utf-8?q?a?= and =?utf-8?q?b?=", "a and b"),
        ("Re: =?utf-8?q?x?= end", "Re: x end"),
        ("=?x-unknown?q?a?= =?utf-8?q?b?=", "=?x-unknown?q?a?= b"),
        ("=?base64?q?a?=", "=?base64?q?a?="),
        ("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="),
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ("=?utf-8?q?no end", "=?utf-8?q?no end"),
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        ("=?utf-8?q?=FF?=", "\ufffd"),
        ("caf\udce9", "café"),
        ("Grüße", "Grüße"),
    ],
)
def test_decode_header(value, decoded):
    assert decode_header(value) == decoded


def test_decoded_addresses_for_the_api():
    addresses = parse_addresses(
        '=?utf-8?q?Jos=C3=A9?= <j@x>, plain@y, Team: "Q" <q@z>, r@z;, Empty:;, bare'
    )
    assert decoded_addresses(addresses) == "José <j@x>, plain@y, Team: Q <q@z>, r@z;, Empty:;, bare"
    assert decoded_addresses(None) == ""
    assert decoded_addresses(parse_addresses("bare, x@y")) == "bare, x@y"


@pytest.mark.parametrize(
    ("data", "encoding", "decoded"),
    [
        (b"caf\xc3\xa9", "8bit", b"caf\xc3\xa9"),
        (b"abc", "7BIT", b"abc"),
        (b"\x00\xff", "binary", b"\x00\xff"),
        (b"abc", "", b"abc"),
        (b"aGVsbG8gd29ybGQ=\r\n", "base64", b"hello world"),
        (b"aGVsbG8g\r\nd29y\r\nbGQ=", "Base64", b"hello world"),
        (b"aGVsbG8gd29ybGQ", "base64", b"hello world"),
        (b"aGVs bG8g!!d29y\r\n--!!--\r\nbGQ=", "base64", b"hello world"),
        (b"aGVsbG8gd29ybGQ=x", "base64", b"hello world"),
        (b"YWJj\r\nZA", "base64", b"abcd"),
        (b"YWJjZ", "base64", b"abc"),
        (b"", "base64", b""),
        (b"a=3Db=\r\nc =E2=82=AC", "quoted-printable", "a=bc €".encode()),
        (b"soft=\nbreak", "quoted-printable", b"softbreak"),
        (b"trailing   \r\nspace", "quoted-printable", b"trailing\r\nspace"),
        (b"bad =ZZ", "quoted-printable", b"bad =ZZ"),
        (b"begin 644 x", "x-uuencode", None),
    ],
)
def test_decode_body(data, encoding, decoded):
    assert decode_body(data, encoding) == decoded


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (decode_header, "=?utf-8?q?a?=x" * N),
        (decode_header, "=?" * N),
        (lambda data: decode_body(data, "quoted-printable"), b" " * N * 4 + b"x"),
        (lambda data: decode_body(data, "base64"), b"!" * N * 4),
        (lambda data: filter_header_fields(data, ["a"], False), b"a" * N * 20 + b"\r\n\r\n"),
    ],
    ids=["encoded-words", "word-starts", "qp-spaces", "base64-junk", "huge-header-line"],
)
def test_hostile_decoding_input_in_linear_time(call, argument):
    started = time.perf_counter()
    call(argument)
    assert time.perf_counter() - started < QUADRATIC_GUARD
