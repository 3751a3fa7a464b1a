"""HTML compatibility against the vendored caniemail.com data: elements, attributes, image
formats and CSS in style attributes and <style> blocks, with malformed CSS read leniently."""

from __future__ import annotations

from collections import Counter

import pytest

from elektromail.checks import caniemail, css, html
from elektromail.checks.message import Message
from tests.checks.conftest import message

HTML_HEADER = b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"


def html_findings(markup: str):
    return html.check(Message(message(HTML_HEADER, markup.encode())))


def used(markup: str) -> set[str]:
    return set(html.features_used(markup, caniemail.load().slugs)[0])


def test_the_vendored_data_is_dated_and_complete():
    data = caniemail.load()
    assert len(data.features) > 250 and data.date.startswith("20")
    assert "css-display-flex" in data.features and "Outlook" in data.families.values()
    assert caniemail.DATA.with_name("LICENSE").read_text().count("\nMIT License\n") == 2


def test_display_flex_names_the_clients_that_lack_it():
    found = {f.id: f for f in html_findings('<div style="display: flex">x</div>')}
    flex = found["html.css-display-flex"]
    assert flex.severity == "warning"
    assert flex.message.startswith("display:flex: not supported in")
    assert "Outlook (Windows" in flex.message
    assert "Outlook" in flex.details["clients"]
    assert flex.where == {"part": "1", "line": 1}
    clients = found["html.clients"]
    assert "Outlook" in clients.details["families"]


def test_plain_well_supported_html_has_only_the_summary():
    found = html_findings("<p>Hello <strong>Bob</strong></p>")
    assert [f.id for f in found if f.severity != "info"] == []
    assert found[-1].id == "html.clients" and "supported everywhere" in found[-1].message


def test_no_html_part_says_so():
    assert [f.id for f in html.check(Message(message()))] == ["html.no-html"]


@pytest.mark.parametrize(
    ("markup", "slug"),
    [
        ("<style>.a:hover { color: red }</style>", "css-pseudo-class-hover"),
        (
            "<style>@media (prefers-color-scheme: dark) { a { color: red } }</style>",
            "css-at-media-prefers-color-scheme",
        ),
        ("<style>@font-face { font-family: X; src: url(x.woff) }</style>", "css-at-font-face"),
        ("<div style='background-image: linear-gradient(red, blue)'>", "css-linear-gradient"),
        ("<div style='width: calc(100% - 2px)'>", "css-unit-calc"),
        ("<div style='color: var(--x)'>", "css-variables"),
        ("<div style='margin-top: 2rem'>", "css-unit-rem"),
        ("<div style='margin-top: 2px'>", "css-margin"),
        ("<div style='color: red !important'>", "css-important"),
        ("<div style='display:grid'>", "css-display-grid"),
        ("<img src='https://x.test/a.webp'>", "image-webp"),
        ("<img src='data:image/png;base64,AAAA'>", "image-base64"),
        ("<svg></svg>", "html-svg"),
        ("<video src='x.mp4'></video>", "html-video"),
        ("<form><input type='checkbox'></form>", "html-input-checkbox"),
        ("<table cellpadding='0'>", "html-cellpadding"),
        ("<section>x</section>", "html-semantics"),
        ("<ul><li>x</li></ul>", "html-lists"),
        ("<h2>x</h2>", "html-h1-h6"),
        ("<a href='#top'>top</a>", "html-anchor-links"),
        ("<!DOCTYPE html><p>x", "html-doctype"),
    ],
)
def test_each_kind_of_feature_is_seen(markup, slug):
    assert slug in used(markup)


@pytest.mark.parametrize(
    "sheet",
    [
        "a { color: red",
        "}}}} a { color: red }",
        "a { color: red; } /* unclosed comment",
        "@media { { { display: flex",
        "a { content: 'unclosed string }",
        ";;;:::{{{}}}@@@",
        "\x00\x01 a{b:c}",
    ],
)
def test_malformed_css_is_read_without_failing(sheet):
    found: Counter = Counter()
    css.style_sheet(sheet, caniemail.load().slugs, found)
    assert all(isinstance(v, int) for v in found.values())


def test_css_in_an_unclosed_style_block_counts():
    assert "css-display-flex" in used("<style>div { display: flex }")


def test_a_big_html_part_warns_of_gmail_clipping():
    """Gmail clips messages over about 102 KB."""
    found = html_findings("<p>" + "x" * 110_000 + "</p>")
    assert "html.gmail-clip" in [f.id for f in found]
    assert "html.gmail-clip" not in [f.id for f in html_findings("<p>small</p>")]
