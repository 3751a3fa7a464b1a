"""The web inbox's namespace picker. A server without namespaces answers GET /namespaces with an
empty list: the picker stays hidden and no call names a namespace. For the picker's own rules
(options, the URL, the confirmations, the header's room), a script that the browser runs before
the page's own (Page.addScriptToEvaluateOnNewDocument) answers /namespaces with a fixed list of
namespaces that the test also makes on the server, and records the URL of every fetch() and
EventSource, so that each call can be checked for ?namespace=. The last test runs against the
server's own list, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from selenium.webdriver.support.select import Select

from elektromail.testing import MailServer
from tests.browser.chrome import NARROW, WIDE, Inbox

USERS = "user:user@example.com:pass,alice:alice@example.org:wonder"
NAMESPACES = [{"name": "team-a", "created": "2026-12-07T16:00:00Z"}, {"name": "ci-42"}]

# `ANSWER` is what /namespaces answers (JSON), or undefined: the real server answers.
STUB = """
(() => {
  const answer = ANSWER;
  const calls = [];
  window.__calls = calls;
  const realFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    calls.push(url.href);
    if (answer !== undefined && url.pathname.endsWith("/namespaces")) {
      const headers = { "Content-Type": "application/json" };
      return Promise.resolve(new Response(JSON.stringify(answer), { status: 200, headers }));
    }
    return realFetch(input, init);
  };
  const RealEventSource = window.EventSource;
  window.EventSource = class extends RealEventSource {
    constructor(url, options) {
      super(url, options);
      calls.push(new URL(url, location.href).href);
    }
  };
})();
"""


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, http_port=0) as server:
        yield server


@pytest.fixture
def inbox(chromium, mail) -> Iterator[Inbox]:
    mail.reset()
    chromium.resize(*WIDE)
    yield Inbox(chromium.driver, mail.http_url)


def _call(mail: MailServer, method: str, path: str, body=None) -> None:
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        mail.http_url + path, data, {"Content-Type": "application/json"}, method=method
    )
    urllib.request.urlopen(request, timeout=10).close()


def deliver_to(mail: MailServer, namespace: str, subject: str) -> None:
    """A message to user bob of `namespace`, over SMTP by its domain."""
    import smtplib

    to = f"bob@{namespace}.ns.localhost"
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("ann@example.com", [to], plain(subject, "bob").encode())


@pytest.fixture
def known(mail) -> Iterator[None]:
    """The namespaces NAMESPACES names, made on the server for the test: the stub lists them,
    the server answers for them."""
    for item in NAMESPACES:
        _call(mail, "POST", "/namespaces", {"name": item["name"]})
    yield
    for item in NAMESPACES:
        _call(mail, "DELETE", f"/namespaces/{item['name']}")


@pytest.fixture
def stub(chromium) -> Iterator:
    """stub(answer=...): from the next page load on, /namespaces answers `answer` (omitted:
    the real server answers) and every call is recorded."""
    scripts = []

    def install(**kwargs) -> None:
        answer = json.dumps(kwargs["answer"]) if "answer" in kwargs else "undefined"
        added = chromium.driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": STUB.replace("ANSWER", answer)},
        )
        scripts.append(added["identifier"])

    yield install
    for identifier in scripts:
        chromium.driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": identifier}
        )


def calls(inbox: Inbox) -> list[str]:
    return inbox.js("return window.__calls.slice()")


def forget_calls(inbox: Inbox) -> None:
    inbox.js("window.__calls.length = 0")


def namespace_of(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("namespace")
    return values[0] if values else None


def path_of(url: str) -> str:
    return urlsplit(url).path


def plain(subject: str, to: str = "user") -> str:
    return f"From: ann@example.com\nTo: {to}@example.com\nSubject: {subject}\n\nHello.\n"


def picker_shown(inbox: Inbox) -> bool:
    return inbox.el("namespace-picker").is_displayed()


def options(inbox: Inbox) -> list[tuple[str, str]]:
    return [(o.get_attribute("value"), o.text) for o in Select(inbox.el("namespace")).options]


def test_hidden_when_the_server_has_no_namespaces(inbox, mail, stub):
    stub()  # the real server, with no namespace: GET /namespaces answers []
    mail.inject("user", plain("On main"))
    inbox.open()
    inbox.wait_subjects(["On main"])
    made = calls(inbox)
    inbox.wait(lambda: any(path_of(c) == "/namespaces" for c in calls(inbox)))
    assert not picker_shown(inbox)
    assert [c for c in made if namespace_of(c) is not None] == []
    assert "namespace" not in inbox.driver.current_url
    # Coming back to the tab asks for new namespaces, but not of a server that has none.
    inbox.js("document.dispatchEvent(new Event('visibilitychange'))")
    inbox.open_message("On main")  # calls made after it
    assert [path_of(c) for c in calls(inbox)].count("/namespaces") <= 2


def test_hidden_when_the_list_is_empty(inbox, mail, stub):
    stub(answer=[])
    mail.inject("user", plain("Nothing to pick"))
    inbox.open()
    inbox.wait_subjects(["Nothing to pick"])
    inbox.wait(lambda: any(path_of(c) == "/namespaces" for c in calls(inbox)))
    assert not picker_shown(inbox)
    assert [c for c in calls(inbox) if namespace_of(c) is not None] == []


def test_choosing_a_namespace_scopes_every_call_and_the_event_stream(inbox, mail, stub, known):
    stub(answer=NAMESPACES)
    mail.inject("user", plain("Anywhere"))
    deliver_to(mail, "team-a", "Anywhere")  # the same subject in the namespace
    inbox.open()
    inbox.wait(lambda: picker_shown(inbox), message="the namespace picker")
    assert options(inbox) == [("", "Default"), ("team-a", "team-a"), ("ci-42", "ci-42")]
    assert Select(inbox.el("namespace")).first_selected_option.get_attribute("value") == ""
    assert [c for c in calls(inbox) if namespace_of(c) is not None] == []
    inbox.wait_subjects(["Anywhere"])

    forget_calls(inbox)
    Select(inbox.el("namespace")).select_by_value("team-a")
    inbox.wait(lambda: "?namespace=team-a" in inbox.driver.current_url)
    inbox.wait(lambda: inbox.live_state() == "live", message="the event stream")
    # (team-a has its own message of that subject)
    inbox.wait_subjects(["Anywhere"])
    inbox.open_message("Anywhere")
    inbox.wait(lambda: "Namespace: team-a" == inbox.el("namespace").get_attribute("title"))
    made = calls(inbox)
    paths = {path_of(c) for c in made}
    assert {"/users", "/mailboxes", "/messages", "/events"} <= paths, paths
    assert any(p.startswith("/messages/") for p in paths), paths
    assert [c for c in made if namespace_of(c) != "team-a"] == []
    assert namespace_of(inbox.el("raw-link").get_attribute("href")) == "team-a"
    assert inbox.driver.title.endswith("team-a · elektromail")

    # A reload (or a link) opens the same namespace; the message too.
    inbox.driver.refresh()
    inbox.wait(lambda: inbox.js("return document.documentElement.dataset.ready") == "true")
    inbox.wait_view("Anywhere")
    inbox.wait(lambda: picker_shown(inbox))
    assert Select(inbox.el("namespace")).first_selected_option.text == "team-a"
    inbox.wait(lambda: any(path_of(c) == "/events" for c in calls(inbox)))
    made = [c for c in calls(inbox) if path_of(c) != "/namespaces"]
    assert made and [c for c in made if namespace_of(c) != "team-a"] == []
    assert [namespace_of(c) for c in calls(inbox) if path_of(c) == "/namespaces"] == [None]

    # Back to the default namespace: no parameter any more, and the message is closed.
    forget_calls(inbox)
    Select(inbox.el("namespace")).select_by_value("")
    inbox.wait(lambda: "namespace" not in inbox.driver.current_url)
    inbox.wait(lambda: not inbox.view_open())
    inbox.wait(lambda: any(path_of(c) == "/events" for c in calls(inbox)))
    inbox.wait_subjects(["Anywhere"])
    assert [c for c in calls(inbox) if namespace_of(c) is not None] == []


def test_a_link_to_a_namespace_the_list_does_not_name_still_opens_it(inbox, mail, stub):
    # (a namespace's own token cannot list namespaces: its link must still open it)
    _call(mail, "POST", "/namespaces", {"name": "gone-7"})
    request_cleanup = lambda: _call(mail, "DELETE", "/namespaces/gone-7")  # noqa: E731
    stub(answer=NAMESPACES)
    try:
        _open_unlisted(inbox)
    finally:
        request_cleanup()


def _open_unlisted(inbox: Inbox) -> None:
    inbox.open("?namespace=gone-7")
    inbox.wait(lambda: picker_shown(inbox))
    assert options(inbox)[-1] == ("gone-7", "gone-7")
    assert Select(inbox.el("namespace")).first_selected_option.text == "gone-7"
    inbox.wait(lambda: any(path_of(c) == "/messages" for c in calls(inbox)))
    assert {namespace_of(c) for c in calls(inbox) if path_of(c) != "/namespaces"} == {"gone-7"}


def test_the_purge_and_reset_confirmations_name_the_namespace(inbox, mail, stub, known):
    stub(answer=NAMESPACES)
    inbox.open("?namespace=ci-42")
    inbox.el("purge").click()
    inbox.wait(lambda: inbox.dialog_open("confirm-dialog"))
    assert "in namespace ci-42" in inbox.el("confirm-text").text
    inbox.answer_confirm(False)
    inbox.el("reset").click()
    inbox.wait(lambda: inbox.dialog_open("confirm-dialog"))
    assert inbox.el("confirm-title").text == "Reset namespace ci-42?"
    inbox.answer_confirm(False)


SIZES = [(1366, 768), (1280, 900), (800, 600), (1920, 1080), NARROW]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_picker_fits_the_header(inbox, mail, stub, known, chromium, tmp_path, size):
    stub(answer=[*NAMESPACES, {"name": "a-rather-long-namespace-name-for-ci-job-1234"}])
    chromium.resize(*size)
    deliver_to(mail, "team-a", "Fits")
    inbox.open("?namespace=team-a")
    inbox.wait(lambda: picker_shown(inbox))
    inbox.wait_subjects(["Fits"])
    shot = str(tmp_path / "header.png")
    inbox.driver.save_screenshot(shot)
    assert not inbox.js("return document.documentElement.scrollWidth > innerWidth"), shot
    header = inbox.driver.find_element("css selector", ".topbar").rect
    for element_id in ("namespace", "search", "purge", "reset"):
        rect = inbox.el(element_id).rect
        assert rect["height"] >= 24, (element_id, rect, shot)
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= size[0], (element_id, rect, shot)
        assert header["y"] <= rect["y"] <= header["y"] + header["height"], (element_id, shot)


def test_end_to_end_the_picker_shows_each_namespace_s_own_mail(inbox, mail, stub):
    # issue 17: against the real /namespaces routes. Mail of the default namespace and of a
    # namespace made by the API: each is listed in its own namespace only.
    import smtplib
    import urllib.request

    stub()  # the real server answers; calls are recorded
    request = urllib.request.Request(
        mail.http_url + "/namespaces",
        json.dumps({"name": "team-e2e"}).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        made = json.loads(answer.read())
    try:
        mail.inject("user", plain("Default only"))
        with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
            smtp.sendmail(
                "app@example.com",
                [f"bob@{made['domain']}"],
                b"Subject: Team mail\r\nTo: bob@" + made["domain"].encode() + b"\r\n\r\nhi\r\n",
            )
        inbox.open()
        inbox.wait_subjects(["Default only"])
        inbox.wait(lambda: picker_shown(inbox), message="the namespace picker")
        assert ("team-e2e", "team-e2e") in options(inbox)
        forget_calls(inbox)
        Select(inbox.el("namespace")).select_by_value("team-e2e")
        inbox.wait(lambda: "?namespace=team-e2e" in inbox.driver.current_url)
        inbox.wait_subjects(["Team mail"])
        inbox.open_message("Team mail")
        assert [
            c for c in calls(inbox) if path_of(c) != "/namespaces" and namespace_of(c) != "team-e2e"
        ] == []
        Select(inbox.el("namespace")).select_by_value("")
        inbox.wait_subjects(["Default only"])
    finally:
        delete = urllib.request.Request(mail.http_url + "/namespaces/team-e2e", method="DELETE")
        urllib.request.urlopen(delete, timeout=10).close()
