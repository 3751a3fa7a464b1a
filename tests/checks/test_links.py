"""Link extraction (pure), and probing with Twisted's Agent against a local HTTP server on
port 0 that answers 200, 404, 405 to HEAD, redirects (to http and to file:), and never."""

from __future__ import annotations

import pytest
from twisted.internet import defer, reactor
from twisted.web import resource, server

from elektromail.checks import links
from elektromail.checks.message import Message
from elektromail.http import linkcheck
from elektromail.testing import call_in_reactor
from tests.checks.conftest import message

HTML_HEADER = b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"


def test_links_are_collected_from_html_and_text_once_each():
    multi = (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nGo to https://x.test/a, or https://x.test/b.\r\n"
        b'--b\r\nContent-Type: text/html\r\n\r\n<a href="https://x.test/a">a</a>'
        b'<a href="mailto:x@x.test">m</a><a href=" ">blank</a>\r\n--b--\r\n',
    )
    found, more = links.extract(Message(message(*multi)))
    assert [link.url for link in found] == [
        "https://x.test/a",
        "mailto:x@x.test",
        "https://x.test/b",
    ]
    assert more == 0


def test_without_probing_the_links_are_only_counted():
    msg = Message(message(body=b"see https://x.test/a\r\n"))
    [finding] = links.not_checked(*links.extract(msg))
    assert finding.id == "links.not-checked" and "?links=1" in finding.message


class Hang(resource.Resource):
    isLeaf = True

    def render(self, request):
        return server.NOT_DONE_YET  # never answers


class NoHead(resource.Resource):
    isLeaf = True

    def render_HEAD(self, request):
        request.setResponseCode(405)
        return b""

    def render_GET(self, request):
        return b"fine"


class Redirect(resource.Resource):
    isLeaf = True

    def __init__(self, to: bytes) -> None:
        super().__init__()
        self.to = to

    def render(self, request):
        request.setResponseCode(302)
        request.setHeader(b"Location", self.to)
        return b""


class Ok(resource.Resource):
    isLeaf = True

    def render(self, request):
        return b"ok"


@pytest.fixture(scope="module")
def site():
    root = resource.Resource()
    root.putChild(b"ok", Ok())
    root.putChild(b"nohead", NoHead())
    root.putChild(b"hang", Hang())
    root.putChild(b"to-ok", Redirect(b"/ok"))
    root.putChild(b"to-file", Redirect(b"file:///etc/passwd"))
    root.putChild(b"loop", Redirect(b"/loop"))
    factory = server.Site(root)
    port = call_in_reactor(lambda: reactor.listenTCP(0, factory, interface="127.0.0.1"))
    yield f"http://127.0.0.1:{port.getHost().port}"
    call_in_reactor(port.stopListening)


def probe(urls: list[str], timeout: float = 2, cap: int = 50) -> dict[str, links.Probe]:
    found = [links.Link(u, "1") for u in urls]

    async def go():
        return await linkcheck.probe_all(reactor, found, timeout, cap)

    return {p.url: p for p in call_in_reactor(go)}


def test_probes_tell_ok_broken_redirected_and_refused(site):
    got = probe(
        [
            f"{site}/ok",
            f"{site}/missing",
            f"{site}/nohead",
            f"{site}/to-ok",
            f"{site}/to-file",
            f"{site}/loop",
        ]
    )
    assert got[f"{site}/ok"].status == 200 and got[f"{site}/ok"].method == "HEAD"
    assert got[f"{site}/missing"].status == 404
    assert (got[f"{site}/nohead"].status, got[f"{site}/nohead"].method) == (200, "GET")
    assert got[f"{site}/to-ok"].status == 200 and got[f"{site}/to-ok"].redirects == (f"{site}/ok",)
    refused = got[f"{site}/to-file"]
    assert refused.error == "redirect to a file: URL, not followed" and refused.status == 302
    assert "more than" in got[f"{site}/loop"].error


def test_a_link_that_never_answers_times_out(site):
    [hung] = probe([f"{site}/hang"], timeout=0.5).values()
    assert hung.status is None and hung.error.startswith("timeout")


def test_only_web_links_are_probed_and_at_most_the_cap(site):
    urls = ["file:///etc/passwd", "mailto:x@x.test", "javascript:alert(1)"]
    urls += [f"{site}/ok?{i}" for i in range(10)]
    got = probe(urls, cap=3)
    assert sorted(got) == [f"{site}/ok?{i}" for i in range(3)]


def test_findings_of_probes(site):
    found = [links.Link(f"{site}/{p}", "1") for p in ("ok", "missing", "hang", "to-ok")]
    probes = list(probe([link.url for link in found], timeout=0.5).values())
    result = {f.where.get("url"): f for f in links.findings(found, probes, 2, 0)}
    assert result[f"{site}/missing"].id == "links.broken"
    assert result[f"{site}/missing"].severity == "error"
    assert result[f"{site}/hang"].id == "links.unreachable"
    assert result[f"{site}/to-ok"].id == "links.redirected"
    assert f"{site}/ok" not in result
    assert "2 more not checked" in result[None].message


def test_an_unresolvable_url_is_a_finding_not_a_crash():
    got = probe(["http://[::1:bad/x", "http://127.0.0.1:1/refused"], timeout=1)
    assert all(p.error for p in got.values())


def teardown_module():
    defer.setDebugging(False)
