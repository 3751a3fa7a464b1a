"""The Checks tab of the web inbox in headless Chromium: the checks run when the tab is opened,
show each check's findings with their severity, and "Check links" probes the links."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from twisted.internet import reactor
from twisted.web import resource, server

from elektromail.testing import MailServer, call_in_reactor
from tests.browser.chrome import WIDE, Inbox

BROKEN = (
    "To: not an address\n"
    "Subject: Broken newsletter\n"
    "List-Id: <news.example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/html; charset=utf-8\n\n"
    '<div style="display:flex"><a href="{base}/missing">Read more</a></div>\n'
)


class Missing(resource.Resource):
    isLeaf = True

    def render(self, request):
        request.setResponseCode(404)
        return b"gone"


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(http_port=0) as server:
        yield server


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    port = call_in_reactor(
        lambda: reactor.listenTCP(0, server.Site(Missing()), interface="127.0.0.1")
    )
    yield f"http://127.0.0.1:{port.getHost().port}"
    call_in_reactor(port.stopListening)


def findings(inbox: Inbox, check: str) -> list[str]:
    return [
        li.get_attribute("data-id")
        for li in inbox.css(f'#checks-body section[data-check="{check}"] li.finding')
    ]


def test_the_checks_tab_shows_findings_and_checks_links_on_demand(chromium, mail, site):
    mail.reset()
    chromium.resize(*WIDE)
    mail.inject("user", BROKEN.format(base=site))
    inbox = Inbox(chromium.driver, mail.http_url).open()
    inbox.wait_subjects(["Broken newsletter"])
    inbox.open_message("Broken newsletter")
    inbox.wait_view("Broken newsletter")
    assert inbox.el("checks-body").text == ""  # nothing runs before the tab is opened
    inbox.select_tab("checks")
    inbox.wait(lambda: "error" in inbox.el("checks-summary").text, message="no summary")
    assert inbox.el("panel-checks").is_displayed()
    headers = findings(inbox, "headers")
    assert "headers.no-from" in headers and "headers.malformed-address" in headers
    assert "html.css-display-flex" in findings(inbox, "html")
    assert findings(inbox, "list-unsubscribe") == ["list-unsubscribe.missing"]
    assert findings(inbox, "links") == ["links.not-checked"]
    flex = inbox.css('li[data-id="html.css-display-flex"]')[0]
    assert "Outlook" in flex.text and "warning" in flex.text.lower()
    inbox.el("check-links").click()
    inbox.wait(lambda: "links.broken" in findings(inbox, "links"), message="links not checked")
    assert [s.text for s in inbox.css("#checks-body h3")] == [
        "Headers",
        "DKIM",
        "List-Unsubscribe",
        "HTML compatibility",
        "Links",
    ]
