"""The fuzz targets of fuzz/targets.py in the suite: each runs clean on its seed corpus (the
suite's own messages and commands), and every input the fuzzer found a bug with is replayed
here, with the behaviour the fix gave it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from elektromail import mime
from elektromail.imap.search import MessageInfo, SearchContext, bind, parse_search
from elektromail.imap.tokens import Atom

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", FUZZ / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


targets = load("targets")
seeds = load("seeds")
SEEDS = seeds.collect()


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_target_runs_clean_on_its_seeds(target: str) -> None:
    assert len(SEEDS[target]) >= 20
    for seed in sorted(SEEDS[target]):
        targets.TARGETS[target](seed)


# -- inputs the fuzzer found bugs with ------------------------------------------------------------

ENCODED_WORD_NUL_CHARSET = (
    b"From: a@b\r\nSubject: =?utf-8?B?w6k=?= =?ISO-8859\x00\x00-1?Q?=E9?=\r\n"
    b"Content-Type: text/plain; name*=a\x00b''%41\r\n\r\nbody"
)


def test_charset_name_with_a_nul_is_not_a_charset() -> None:
    """`codecs.lookup` raises ValueError (not LookupError) for a name holding NUL: the
    encoded-word stays as it stands (RFC 2047 §6.2, an unknown charset) and an RFC 2231
    value falls back to UTF-8, instead of an exception in SEARCH or the HTTP API."""
    targets.mime_message(ENCODED_WORD_NUL_CHARSET)
    parsed = mime.parse(ENCODED_WORD_NUL_CHARSET)
    assert mime.decode_header(parsed.envelope.subject) == "é =?ISO-8859\x00\x00-1?Q?=E9?="
    assert mime.param_value(parsed.body.params, "name") == "A"
    message = MessageInfo(1, (), 0.0, 0, 10, None, ENCODED_WORD_NUL_CHARSET)
    program = parse_search([Atom("SUBJECT"), Atom("ISO")], rev2=False, utf8=False)
    assert bind(program, SearchContext([1]))(message)
