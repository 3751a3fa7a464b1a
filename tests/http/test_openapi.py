"""The OpenAPI document and the docs routes: the spec is valid OpenAPI 3.1, names every route of
the running app and the fields DESIGN.md promises, real answers match it, and /docs loads
Swagger UI from the server itself (with the token when opened with ?token=)."""

from __future__ import annotations

import base64
import configparser
import fnmatch
import hashlib
import http.client
import json
import re
import shutil
import subprocess
import tomllib
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from klein import Klein
from openapi_spec_validator import validate
from twisted.web.server import Site

from elektromail import rules
from elektromail.http import docs, openapi, ui
from elektromail.testing import MailServer, call_in_reactor
from tests.http.openapi_check import DOCUMENT, check_response, validator
from tests.test_names import MAILBOX_NAME_CASES

TOKEN = "s3cret-token"
SCHEMAS = DOCUMENT["components"]["schemas"]
METHODS = ("get", "put", "post", "delete", "patch")
QUERY_TOKEN_ROUTES = {"/docs", "/openapi.json", "/events"}
OPEN_ROUTES = {"/healthz", "/docs/static/{asset}"}


def request(
    port: int, method: str, target: str, body: bytes | None = None, headers=None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the document ----------------------------------------------------------------------------


def operations() -> Iterator[tuple[str, str, dict]]:
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_document_is_valid_openapi_3_1():
    validate(openapi.document())
    assert DOCUMENT["openapi"].startswith("3.1.")


def test_served_json_is_the_document():
    assert json.loads(openapi.document_json()) == DOCUMENT


def test_operation_ids_are_unique():
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in operations()])
def test_security_and_401_agree(path, method):
    op = DOCUMENT["paths"][path][method]
    security = op.get("security", DOCUMENT["security"])
    if path in OPEN_ROUTES:
        assert security == [] and "401" not in op["responses"]
        return
    assert "401" in op["responses"]
    assert {"bearerAuth": []} in security and {} in security
    assert ({"queryToken": []} in security) == (path in QUERY_TOKEN_ROUTES)


def test_401_documents_www_authenticate():
    header = DOCUMENT["components"]["responses"]["Unauthorized"]["headers"]["WWW-Authenticate"]
    assert header["required"] is True


def test_every_error_is_the_error_object():
    for name, response in DOCUMENT["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }, name


def test_config_has_the_compatibility_fields():
    fields = (
        "smtp_addr imap_addr http_addr pop3_addr smtp_port imap_port http_port pop3_port "
        "smtp_enabled imap_enabled http_enabled pop3_enabled smtp_starttls imap_starttls "
        "pop3s_port storage storage_path http_token_required auth_disabled user_count"
    ).split()
    # the original's fields first, then those of later features (oauth: issue 18)
    assert list(SCHEMAS["Config"]["properties"])[: len(fields)] == fields
    assert SCHEMAS["Config"]["required"][: len(fields)] == fields
    assert "oauth" in SCHEMAS["Config"]["required"]
    for later in ("max_messages", "max_age"):  # retention: issue 19
        assert later in SCHEMAS["Config"]["required"]


def test_message_fields_are_the_issue_lists():
    # modseq: issue 16 (CONDSTORE's mod-sequence, RFC 7162)
    summary = (
        "uid user mailbox flags modseq internal_date size subject from to cc date message_id "
        "attachment_count preview"
    ).split()
    assert list(SCHEMAS["MessageSummary"]["properties"]) == summary
    detail = set(SCHEMAS["Message"]["properties"]) - set(summary)
    # links, codes, code: issue 17 (what GET /messages/wait extracts)
    assert detail == {
        "headers",
        "text",
        "html",
        "attachments",
        "raw",
        "raw_base64",
        "links",
        "codes",
        "code",
    }
    assert set(SCHEMAS["Attachment"]["properties"]) == {
        "index",
        "filename",
        "content_type",
        "size",
        "content_id",
    }
    assert set(SCHEMAS["MessageList"]["properties"]) == {
        "messages",
        "count",
        "total",
        "timed_out",
        "cursor",  # issue 17: the arrival cursor to wait after
    }


def test_request_bodies_have_the_compatibility_fields():
    assert set(SCHEMAS["Inject"]["properties"]) == {
        "user",
        "mailbox",
        "raw",
        "raw_base64",
        "flags",
        "internal_date",
    }
    assert SCHEMAS["Inject"]["properties"]["mailbox"]["default"] == "INBOX"
    assert set(SCHEMAS["NewUser"]["properties"]) == {"user", "password", "email"}
    assert SCHEMAS["NewUser"]["required"] == ["user", "password"]


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"user": "bob", "raw": "Subject: x\n\nhi\n"}, True),
        ({"user": "bob", "raw_base64": "U3ViamVjdDogeA0KDQo="}, True),
        ({"user": "bob", "raw": "x", "flags": ["\\Seen", "$Label1"]}, True),
        ({"user": "bob", "raw": "x", "internal_date": "01-Jan-2024 00:00:00 +0000"}, True),
        ({"user": "bob"}, False),
        ({"user": "bob", "raw": "x", "raw_base64": "eA=="}, False),
        ({"user": "bob", "raw": "x", "flags": ["two words"]}, False),
    ],
)
def test_inject_schema(body, valid):
    assert validator("/components/schemas/Inject").is_valid(body) is valid


@pytest.mark.parametrize(
    ("name", "problem"), MAILBOX_NAME_CASES, ids=range(len(MAILBOX_NAME_CASES))
)
def test_inject_schema_and_the_mailbox_name_rule_agree(name, problem):
    """Every case of the one rule (tests/test_names.py) the schema can say: a name the rule
    refuses is invalid in the schema too, except for what only bytes can measure."""
    if (
        name == ""
        or "bytes" in (problem or "")
        or any(unicodedata.category(c) == "Cs" for c in name)
    ):
        return  # no JSON text: "", lone surrogates; byte lengths are not JSON Schema's
    valid = validator("/components/schemas/Inject").is_valid(
        {"user": "bob", "raw": "x", "mailbox": name}
    )
    assert valid is (problem is None), (name, problem)


# --- the rule schema against the rule parser ---------------------------------------------------


def test_rule_schema_names_the_parsers_fields_actions_and_stages():
    rule = SCHEMAS["Rule"]
    assert set(rule["properties"]) == rules.FIELDS
    assert set(rule["properties"]["action"]["enum"]) == {a.value for a in rules.Action}
    assert set(rule["properties"]["stage"]["enum"]) == {s.value for s in rules.Stage} | {None}
    assert rule["properties"]["delay_ms"]["maximum"] == rules.MAX_DELAY_MS


def _parser_accepts(rule: dict) -> bool:
    """Whether PUT /rules takes `rule`: the route reads a null field as one left out."""
    try:
        rules.parse([{key: value for key, value in rule.items() if value is not None}])
    except rules.RuleError:
        return False
    return True


def _rule_cases() -> Iterator[dict]:
    """Every action at every stage, with and without each optional field."""
    extras = [
        {},
        {"code": 550},
        {"code": 451},
        {"status": "5.7.1"},
        {"status": "4.7.1"},
        {"diagnostic": "Go away"},
        {"delay_ms": 10},
        {"recipient": "bob@*"},
        {"sender": "*@example.com"},
        {"sender": ""},
        {"probability": 0.5},
        {"code": 550, "status": "4.1.1"},
        {"code": 250},
        {"diagnostic": "two\nlines"},
        {"probability": 2},
        {"recipient": None, "stage": None},
        {"code": None},
        {"status": None, "diagnostic": None},
        {"delay_ms": None},
        {"probability": None, "sender": None},
    ]
    for action in rules.Action:
        for stage in [None, *rules.Stage]:
            for extra in extras:
                rule = {"action": action.value, **extra}
                if stage is not None:
                    rule.setdefault("stage", stage.value)
                yield rule


def test_rule_schema_and_parser_agree_on_every_action_stage_and_field():
    schema = validator("/components/schemas/Rule")
    disagreements = [
        (rule, _parser_accepts(rule))
        for rule in _rule_cases()
        if schema.is_valid(rule) != _parser_accepts(rule)
    ]
    assert not disagreements, disagreements[:5]


def test_rules_given_back_by_the_parser_match_the_schema():
    given = [
        {"recipient": "reject@example.com", "action": "reject"},
        {"recipient": "bounce@*", "action": "bounce", "status": "5.1.1"},
        {"action": "tempfail", "stage": "data", "code": 421, "status": "4.3.2"},
        {"action": "delay", "stage": "connect", "delay_ms": 250, "probability": 0.1},
        {"action": "disconnect", "stage": "mail", "sender": "spam@*"},
        {"action": "accept", "recipient": "*"},
    ]
    back = rules.parse(given).to_json()
    errors = list(validator("/components/schemas/Rules").iter_errors(back))
    assert not errors, errors


# --- the docs routes on a bare Klein app, with a token check that returns a bool -----------


class _Fetcher:
    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, target: str, headers=None):
        return request(self.port, "GET", target, headers=headers)


def _serve(app: Klein) -> tuple[int, object]:
    from twisted.internet import reactor

    port = call_in_reactor(
        lambda: reactor.listenTCP(0, Site(app.resource()), interface="127.0.0.1")
    )
    return port.getHost().port, port


@pytest.fixture(scope="module")
def bare_docs() -> Iterator[_Fetcher]:
    """Only the docs routes, with a token check that returns a bool."""

    def check_token(request, allow_query=False) -> bool:
        header = request.getHeader(b"authorization")
        if header == f"Bearer {TOKEN}".encode():
            return True
        return allow_query and request.args.get(b"token") == [TOKEN.encode()]

    app = Klein()
    docs.add_docs_routes(app, check_token)
    number, port = _serve(app)
    yield _Fetcher(number)
    call_in_reactor(port.stopListening)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)


def page_links(html: bytes) -> list[str]:
    parser = _Links()
    parser.feed(html.decode("utf-8"))
    return parser.urls


def test_docs_page_refers_only_to_its_own_server(bare_docs):
    status, headers, html = bare_docs.get(f"/docs?token={TOKEN}")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    links = page_links(html)
    assert links
    for link in links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, link
    assert b"http:" not in html and b"https:" not in html and b"//" not in html
    csp = headers["Content-Security-Policy"]
    assert "http" not in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp


def test_every_asset_of_the_docs_page_loads_from_the_server(bare_docs):
    """As a browser would: each src/href resolved against /docs, fetched without a token."""
    _, _, html = bare_docs.get(f"/docs?token={TOKEN}")
    base = f"http://127.0.0.1:{bare_docs.port}/docs?token={TOKEN}"
    loaded = set()
    for link in page_links(html):
        url = urlsplit(urljoin(base, link))
        assert url.netloc == f"127.0.0.1:{bare_docs.port}"
        status, headers, body = bare_docs.get(url.path + (f"?{url.query}" if url.query else ""))
        name = url.path.removeprefix(docs.STATIC_PREFIX)
        assert status == 200, url.path
        assert headers["Content-Type"] == docs.ASSETS[name].content_type
        assert body == docs.asset_bytes(name) and body
        loaded.add(name)
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "docs.js"} <= loaded


def test_assets_are_revalidated_by_etag(bare_docs):
    _, headers, _ = bare_docs.get("/docs/static/swagger-ui.css")
    status, _, body = bare_docs.get(
        "/docs/static/swagger-ui.css", {"If-None-Match": headers["ETag"]}
    )
    assert (status, body) == (304, b"")


@pytest.mark.parametrize("name", ["nope.js", "..", "swagger-ui", "README.md", "LICENSE"])
def test_unknown_asset_is_a_json_404(bare_docs, name):
    status, headers, body = bare_docs.get(docs.STATIC_PREFIX + name)
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert "error" in json.loads(body)


@pytest.mark.parametrize(
    "name", ["%2e%2e%2fdocs.py", "../docs.py", "swagger-ui/LICENSE", "%2e%2e/openapi.py"]
)
def test_no_file_beside_the_assets_is_served(open_server, name):
    status, headers, body = request(http_port(open_server), "GET", docs.STATIC_PREFIX + name)
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]


@pytest.mark.parametrize("target", ["/docs", "/openapi.json"])
@pytest.mark.parametrize(
    ("suffix", "headers", "status"),
    [
        ("", {}, 401),
        ("?token=wrong", {}, 401),
        ("", bearer("wrong"), 401),
        (f"?token={TOKEN}", {}, 200),
        ("", bearer(), 200),
    ],
)
def test_docs_routes_take_the_token_in_header_or_query(bare_docs, target, suffix, headers, status):
    got, answer_headers, body = bare_docs.get(target + suffix, headers)
    assert got == status
    if status == 401:
        assert answer_headers["WWW-Authenticate"].startswith("Bearer")
        assert answer_headers["Content-Type"] == "application/json"
        assert json.loads(body)["error"]


def test_openapi_json_is_served(bare_docs):
    status, headers, body = bare_docs.get("/openapi.json", bearer())
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body == openapi.document_json()


# --- the packaged copy ------------------------------------------------------------------------

STATIC = Path(docs.__file__).parent / "static"
ROOT = Path(__file__).resolve().parents[2]


def test_vendored_swagger_ui_is_the_recorded_release():
    readme = (STATIC / "swagger-ui" / "README.md").read_text()
    assert f"swagger-ui-dist` {docs.SWAGGER_UI_VERSION}" in readme
    recorded = dict(
        (name, digest) for digest, name in re.findall(r"^ +([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    assert recorded.keys() >= {a.path[-1] for a in docs.ASSETS.values() if a.path[0] != "docs.js"}
    for name, digest in recorded.items():
        assert hashlib.sha256((STATIC / "swagger-ui" / name).read_bytes()).hexdigest() == digest


def _package_data_globs() -> list[str]:
    """elektromail.http's package data, from setup.cfg or pyproject.toml."""
    globs: list[str] = []
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    if cfg.has_option("options.package_data", "elektromail.http"):
        value = cfg.get("options.package_data", "elektromail.http")
        globs += [g.strip() for g in re.split(r"[,\n]", value) if g.strip()]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = pyproject.get("tool", {}).get("setuptools", {}).get("package-data", {})
    return globs + list(package_data.get("elektromail.http", []))


def test_every_static_file_is_declared_package_data():
    """Else a wheel ships /docs without Swagger UI (setuptools includes no data by itself)."""
    globs = _package_data_globs()
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert not missing, f"not in package data {globs}: {missing}"


# --- docs.js: the page sends the token itself --------------------------------------------------

NODE_HARNESS = r"""
const fs = require("fs");
let config = null;
let preauthorized = null;
global.window = { location: { search: process.argv[1] } };
global.SwaggerUIBundle = function (c) {
  config = c;
  return { preauthorizeApiKey: (name, value) => { preauthorized = [name, value]; } };
};
SwaggerUIBundle.presets = { apis: {} };
eval(fs.readFileSync(0, "utf8"));
config.onComplete();
const plain = config.requestInterceptor({ url: "openapi.json", headers: {} });
const mine = { Authorization: "Bearer mine" };
const own = config.requestInterceptor({ url: "/config", headers: mine });
console.log(JSON.stringify({
  url: config.url, validatorUrl: config.validatorUrl, sent: plain.headers.Authorization || null,
  own: own.headers.Authorization, preauthorized,
}));
"""


def run_docs_js(search: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, "-e", NODE_HARNESS, search],
        input=docs.asset_bytes("docs.js"),
        capture_output=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def test_docs_js_sends_the_query_token_as_bearer_header():
    seen = run_docs_js("?token=a%2Bb")
    assert seen["sent"] == "Bearer a+b"
    assert seen["own"] == "Bearer mine"  # a token the user authorized with wins
    assert seen["preauthorized"] == ["bearerAuth", "a+b"]
    assert seen["url"] == "openapi.json" and seen["validatorUrl"] is None


def test_docs_js_without_token_sends_no_header():
    seen = run_docs_js("")
    assert seen["sent"] is None and seen["preauthorized"] is None


# --- the running server ------------------------------------------------------------------------

RAW = "From: Ann <ann@example.com>\nTo: user@example.com\nSubject: Hello\n\nBody\n"
MULTIPART = (
    "From: ann@example.com\r\nTo: user@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    "--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"
    '--b\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
)


@pytest.fixture(scope="module")
def open_server() -> Iterator[MailServer]:
    with MailServer(http_port=0, users="user:pass,alice:alice@example.org:wonder") as mail:
        yield mail


@pytest.fixture(scope="module")
def token_server() -> Iterator[MailServer]:
    with MailServer(http_port=0, http_token=TOKEN) as mail:
        yield mail


def http_port(mail: MailServer) -> int:
    port = mail.server.port("http")
    assert port is not None, "the HTTP listener did not start"
    return port


def klein_app(mail: MailServer) -> Klein:
    """The Klein app as the server builds it, over this server's post office."""
    from elektromail.http.app import ControlAPI

    return ControlAPI(mail.server.postoffice, mail.settings, mail.server.port).app


def app_routes(app: Klein) -> set[tuple[str, str]]:
    """(OpenAPI path template, method) of every werkzeug rule: `/m/<int:uid>` -> `/m/{uid}`."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ui.ENDPOINTS:  # the web inbox page and its files, not the API
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((path, method.lower()))
    return routes


def test_every_route_of_the_app_is_in_the_document_and_back(open_server):
    served = app_routes(klein_app(open_server))
    documented = {(path, method) for path, method, _ in operations()}
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented routes the app does not have"


def call(mail: MailServer, method: str, target: str, body=None, headers=None):
    """One request, its answer checked against the document; returns (status, JSON or bytes)."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    status, answer_headers, raw = request(http_port(mail), method, target, data, headers)
    value = check_response(method, target, status, answer_headers, raw)
    return status, raw if value is None else value


def test_live_document_is_served(open_server):
    status, body = call(open_server, "GET", "/openapi.json")
    assert status == 200 and body == DOCUMENT


def test_answers_match_the_document_for_a_whole_session(open_server):
    mail = open_server
    assert call(mail, "POST", "/reset")[0] == 200
    status, injected = call(mail, "POST", "/inject", {"user": "user", "raw": RAW})
    assert status == 201
    uid = injected["uid"]
    raw_b64 = base64.b64encode(MULTIPART.encode()).decode()
    body = {"user": "user", "raw_base64": raw_b64, "flags": ["\\Seen"], "mailbox": "Archive"}
    status, archived = call(mail, "POST", "/inject", body)
    assert status == 201
    not_utf8 = base64.b64encode(b"Subject: \xff\n\n\xfe\n").decode()
    status, binary = call(mail, "POST", "/inject", {"user": "user", "raw_base64": not_utf8})
    assert "raw_base64" in call(mail, "GET", f"/messages/{binary['uid']}?user=user")[1]
    status, listed = call(mail, "GET", "/messages?user=user")
    assert status == 200 and listed["count"] == 3
    assert call(mail, "GET", "/messages?user=user&wait=0.01&count=5")[1]["timed_out"] is True
    assert call(mail, "GET", f"/messages/{uid}?user=user")[0] == 200
    archived_uid = archived["uid"]
    assert call(mail, "GET", f"/messages/{archived_uid}?user=user&mailbox=Archive")[1]["html"]
    assert call(mail, "GET", f"/messages/{uid}/raw?user=user")[0] == 200
    assert call(mail, "GET", "/messages/9999?user=user")[0] == 404
    assert call(mail, "GET", "/messages/0?user=user")[0] == 400
    assert call(mail, "GET", "/users?include_email=true")[0] == 200
    new_user = {"user": "carol", "password": "pw", "email": "carol@example.com"}
    assert call(mail, "POST", "/users", new_user)[0] == 201
    assert call(mail, "POST", "/users", new_user)[0] == 409
    assert call(mail, "DELETE", "/users/carol")[0] == 200
    assert call(mail, "DELETE", "/users/carol")[0] == 404
    assert call(mail, "GET", "/config")[0] == 200
    assert call(mail, "PUT", "/rules", [{"action": "reject", "recipient": "x@*"}])[0] == 200
    assert call(mail, "GET", "/rules")[1] == [
        {
            "action": "reject",
            "stage": "rcpt",
            "recipient": "x@*",
            "code": 550,
            "status": "5.1.1",
            "diagnostic": "User unknown",
        }
    ]
    assert call(mail, "PUT", "/rules", [{"action": "reject", "code": 250}])[0] == 400
    assert call(mail, "PUT", "/rules", [])[0] == 200
    assert call(mail, "POST", "/inject", b"{not json")[0] == 400
    assert call(mail, "POST", "/inject", {"user": "nobody", "raw": RAW})[0] == 404
    assert call(mail, "GET", "/healthz")[0] == 200
    assert call(mail, "POST", "/purge")[1]["deleted"] == 3
    assert call(mail, "POST", "/reset")[0] == 200


def test_message_without_user_is_400_when_several_users_have_mail(open_server):
    mail = open_server
    call(mail, "POST", "/reset")
    call(mail, "POST", "/inject", {"user": "user", "raw": RAW})
    call(mail, "POST", "/inject", {"user": "alice", "raw": RAW})
    status, body = call(mail, "GET", "/messages/1")
    assert status == 400 and "user" in body["error"]


def protected_operations() -> list[tuple[str, str]]:
    return [(p, m) for p, m, _ in operations() if p not in OPEN_ROUTES]


def concrete(path: str) -> str:
    return path.replace("{uid}", "1").replace("{user}", "user").replace("{asset}", "docs.js")


@pytest.mark.parametrize(("path", "method"), protected_operations())
def test_protected_routes_answer_401_without_the_token(token_server, path, method):
    target = concrete(path)
    body = b"{}" if method in ("post", "put") else None
    status, answer = call(token_server, method.upper(), target, body)
    assert status == 401 and answer["error"]
    assert call(token_server, method.upper(), f"{target}?token=wrong", body)[0] == 401
    assert call(token_server, method.upper(), target, body, bearer("wrong"))[0] == 401


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, m in protected_operations() if p != "/events"]
)
def test_query_token_works_only_where_documented(token_server, path, method):
    """(/events, an endless stream, has its own test below.)"""
    target = f"{concrete(path)}?token={TOKEN}"
    body = b"{}" if method in ("post", "put") else None
    status, _ = call(token_server, method.upper(), target, body)
    assert (status != 401) == (path in QUERY_TOKEN_ROUTES), status


@pytest.mark.parametrize("path", sorted(OPEN_ROUTES))
def test_open_routes_need_no_token(token_server, path):
    assert call(token_server, "GET", concrete(path))[0] == 200


def test_events_answers_an_event_stream_with_the_query_token(token_server):
    conn = http.client.HTTPConnection("127.0.0.1", http_port(token_server), timeout=10)
    try:
        conn.request("GET", f"/events?token={TOKEN}")
        response = conn.getresponse()
        assert response.status == 200
        media_type = response.getheader("Content-Type").split(";")[0]
        assert media_type in DOCUMENT["paths"]["/events"]["get"]["responses"]["200"]["content"]
    finally:
        conn.close()
