"""What a test wants out of a sign-up, password-reset or magic-link mail: its links (with their
anchor text) and its one-time codes and verification tokens, found by the documented rules
below; and a caller's own code pattern, run with a size and time limit.

Pure code over a message's decoded subject, text and HTML bodies (mailtext.contents). The rules:

Links: every `<a href>` of the HTML body (html.parser; the anchor's text, white space collapsed)
and every `https?://` URL of the text body (LINK_RE, trailing punctuation dropped); only http
and https (mailto: too when asked); each URL once, the HTML anchor's text kept. At most
MAX_LINKS.

Codes, best first:
1. matches of the caller's pattern (group 1 when it has a group, else the whole match);
2. numbers of 4 to 8 digits (or 3 + 3 split by a space or hyphen, 4 + 4 by a space: "123 456")
   within KEYWORD_BEFORE characters after, or KEYWORD_AFTER before, a keyword such as code,
   PIN, OTP, verification, Bestätigungscode, code de vérification, código, 確認コード, 验证码
   (KEYWORDS), the nearest first; not a number that is part of a phone number, date, time,
   price, percentage, decimal or longer digit group, that follows #, a currency or a word like
   order, invoice or Bestellung (an order number), nor a year (1900-2099) unless the keyword is
   right before it; and never a keyword like zip code or promo code;
3. the values of link query parameters named like token, code, otp or key (TOKEN_PARAMS).
"""

from __future__ import annotations

import html.parser
import re
import urllib.parse
from dataclasses import dataclass

import regex

from elektromail import mailtext, mime
from elektromail.mailtext import html_to_text

__all__ = [
    "Code",
    "CodePattern",
    "Extracted",
    "Link",
    "PatternError",
    "compile_pattern",
    "extract",
    "extract_message",
    "find_codes",
    "find_links",
]

MAX_LINKS = 200
MAX_CODES = 20
SOURCE_LIMIT = 256 * 1024  # characters of each body read
MAX_PATTERN = 200  # characters of a caller's pattern
PATTERN_TIMEOUT = 0.05  # seconds a caller's pattern may run on one text
KEYWORD_BEFORE = 60
KEYWORD_AFTER = 30

LINK_RE = re.compile(r"https?://[^\s<>\"'`{}|\\^\[\]]+", re.I)
_TRAILING = ".,;:!?'\")]}>»\u203a。、"

# Casefolded. Latin words match as whole words; CJK ones anywhere.
KEYWORDS = (
    # English
    "code",
    "codes",
    "pin",
    "otp",
    "passcode",
    "one-time",
    "one time",
    "verification",
    "verify",
    "confirmation",
    "security code",
    "2fa",
    "token",
    # German
    "bestätigungscode",
    "sicherheitscode",
    "einmalcode",
    "verifizierungscode",
    "anmeldecode",
    "einmalpasswort",
    "bestätigung",
    "tan",
    # French
    "vérification",
    "confirmation",
    # Spanish, Portuguese, Italian, Dutch, Polish, Russian
    "código",
    "codigo",
    "verificación",
    "verificacion",
    "clave",
    "codice",
    "verificatiecode",
    "kod",
    "код",
    # Japanese, Chinese, Korean
    "コード",
    "認証番号",
    "確認番号",
    "暗証番号",
    "パスコード",
    "ワンタイムパスワード",
    "验证码",
    "驗證碼",
    "校验码",
    "인증번호",
    "인증 코드",
)
# "code" that names something else: zip code, promo code, code postal...
_NOT_CODE_BEFORE = (
    "zip",
    "postal",
    "post",
    "area",
    "country",
    "dial",
    "promo",
    "promotion",
    "discount",
    "coupon",
    "voucher",
    "gift",
    "referral",
    "source",
    "qr",
    "bar",
    "html",
    "status",
    "error",
    "color",
    "colour",
)
_NOT_CODE_AFTER = ("postal", "promo")
# words right before a number that make it an order or account number, not a code
_NUMBER_NAMES = (
    "order",
    "invoice",
    "account",
    "customer",
    "reference",
    "ref",
    "ticket",
    "tracking",
    "booking",
    "case",
    "phone",
    "tel",
    "telephone",
    "fax",
    "call",
    "mobile",
    "bestellung",
    "bestellnummer",
    "rechnung",
    "kundennummer",
    "auftrag",
    "commande",
    "facture",
    "pedido",
    "factura",
    "注文番号",
    "注文",
    # codes that are not one-time codes
    "zip",
    "postal",
    "postleitzahl",
    "plz",
    "promo",
    "coupon",
    "voucher",
    "discount",
    "gutschein",
    "area",
)
_CURRENCIES = ("$", "€", "£", "¥", "₹", "usd", "eur", "gbp", "chf", "jpy", "円", "元")
TOKEN_PARAMS = frozenset(
    {
        "token",
        "code",
        "otp",
        "pin",
        "key",
        "auth",
        "confirm",
        "confirmation",
        "verify",
        "verification",
        "magic",
        "ticket",
        "nonce",
        "signature",
        "sig",
    }
)


def _keyword_re() -> re.Pattern[str]:
    latin = sorted((k for k in KEYWORDS if k.isascii() or _latin(k)), key=len, reverse=True)
    other = sorted((k for k in KEYWORDS if not (k.isascii() or _latin(k))), key=len, reverse=True)
    words = "|".join(re.escape(k) for k in latin)
    return re.compile(
        rf"(?<![^\W\d_])(?:{words})(?![^\W\d_])|{'|'.join(re.escape(k) for k in other)}"
    )


def _latin(word: str) -> bool:
    return all(c.isascii() or "\u00c0" <= c <= "\u024f" or "\u0400" <= c <= "\u04ff" for c in word)


_KEYWORD_RE = _keyword_re()
# A run of digits, with - or . between groups (dates, phones, prices: rejected as a whole).
_NUMBER_RE = re.compile(r"\d+(?:[-.]\d+)*")
_SPLIT_RE = re.compile(r"(\d{3})[ -](\d{3})(?!\d)|(\d{4}) (\d{4})(?!\d)")
_NUMBER_NAME_RE = re.compile(
    r"(?<![a-z])(?:" + "|".join(map(re.escape, _NUMBER_NAMES)) + r")(?:[\s-]*code)?\s*"
    r"(?:#|no\.?|nr\.?|number|nummer|n°|n\.|:|\uff1a|-)?\s*$",
    re.I,
)
_NOT_CODE_BEFORE_RE = re.compile(
    r"(?:" + "|".join(map(re.escape, _NOT_CODE_BEFORE)) + r")[\s-]*$", re.I
)
_NOT_CODE_AFTER_RE = re.compile(r"^\s*(?:" + "|".join(map(re.escape, _NOT_CODE_AFTER)) + ")")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    text: str | None  # the HTML anchor's text; None for a URL of the text body
    source: str  # "html" or "text"


@dataclass(frozen=True, slots=True)
class Code:
    value: str
    kind: str  # "pattern", "keyword" or "link"
    source: str  # "subject", "text", "html" or "link"
    context: str  # the text around it (or the link it came from)
    param: str | None = None  # the link's query parameter, for kind "link"


@dataclass(frozen=True, slots=True)
class Extracted:
    links: tuple[Link, ...]
    codes: tuple[Code, ...]

    @property
    def code(self) -> str | None:
        """The best code: the first."""
        return self.codes[0].value if self.codes else None


class PatternError(ValueError):
    """A caller's code pattern that is refused; the message says why."""


@dataclass(frozen=True, slots=True)
class CodePattern:
    source: str
    compiled: regex.Pattern


def compile_pattern(pattern: str) -> CodePattern:
    """A caller's regular expression, checked: at most MAX_PATTERN characters, valid, and no
    quantifier applied to something that repeats already (`(a+)+`, `(\\d*)*`), the shape of
    catastrophic backtracking; it also runs with a time limit (PATTERN_TIMEOUT per text)."""
    if not pattern:
        raise PatternError("code_pattern is empty")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(
            f"code_pattern is {len(pattern)} characters long (at most {MAX_PATTERN})"
        )
    try:
        tree = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except (re.error, RecursionError, OverflowError) as e:
        raise PatternError(f"code_pattern is not a regular expression: {e}") from None
    if _nested_repeat(tree, False):
        raise PatternError(
            "code_pattern repeats a part that repeats already (as in (a+)+): that can take "
            "exponential time; write it without the nested quantifier"
        )
    try:
        compiled = regex.compile(pattern, regex.V0)
    except (regex.error, RecursionError, OverflowError) as e:
        raise PatternError(f"code_pattern is not a regular expression: {e}") from None
    return CodePattern(pattern, compiled)


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _nested_repeat(tree, inside: bool) -> bool:
    for op, av in tree:
        name = str(op)
        if name in _REPEATS:
            _low, high, sub = av
            repeats = high is not None and (high > 1 or str(high) == "MAXREPEAT")
            if repeats and inside:
                return True
            if _nested_repeat(sub, inside or repeats):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(av[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(branch, inside) for branch in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _nested_repeat(av[1], inside):
                return True
        elif name == "ATOMIC_GROUP":
            if _nested_repeat(av, inside):
                return True
    return False


def extract(
    subject: str | None,
    text: str | None,
    html_body: str | None,
    *,
    pattern: CodePattern | None = None,
    mailto: bool = False,
) -> Extracted:
    """The links and codes of a message (see the module for the rules). PatternError when the
    caller's pattern runs out of time on this message."""
    links = find_links(text, html_body, mailto=mailto)
    codes = find_codes(subject, text, html_body, links, pattern)
    return Extracted(tuple(links), tuple(codes))


def extract_message(
    raw: bytes,
    parsed: mime.ParsedMessage,
    *,
    pattern: CodePattern | None = None,
    mailto: bool = False,
) -> Extracted:
    """`extract` over a stored message: its decoded Subject and first text and HTML bodies."""
    found = mailtext.contents(raw, parsed.body)
    subject = parsed.envelope.subject
    subject = None if subject is None else mime.decode_header(subject)
    return extract(subject, found.text, found.html, pattern=pattern, mailto=mailto)


# --- links -------------------------------------------------------------------------------------


class _Anchors(html.parser.HTMLParser):
    """(href, text) of each <a> with an href, in order; script and style content skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._open: list[list] = []  # [href, text parts] of the anchors open
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            self._open.append([href, []])
        elif tag == "img" and self._open:  # an image link's alt text is its anchor text
            alt = dict(attrs).get("alt")
            if alt:
                self._open[-1][1].append(alt)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag == "a" and self._open:
            self._close()

    def handle_data(self, data):
        if self._open and not self._hidden:
            self._open[-1][1].append(data)

    def close(self):
        super().close()
        while self._open:
            self._close()

    def _close(self):
        href, parts = self._open.pop()
        if href is not None and len(self.found) < MAX_LINKS:
            self.found.append((href.strip(), _SPACE_RE.sub(" ", "".join(parts)).strip()))


def find_links(text: str | None, html_body: str | None, *, mailto: bool = False) -> list[Link]:
    """The message's links, each URL once: the HTML anchors first, then the text body's URLs."""
    out: list[Link] = []
    seen: set[str] = set()

    def add(url: str, label: str | None, source: str) -> None:
        if url in seen or len(out) >= MAX_LINKS or not _wanted(url, mailto):
            return
        seen.add(url)
        out.append(Link(url, label, source))

    if html_body:
        parser = _Anchors()
        try:
            parser.feed(html_body[:SOURCE_LIMIT])
            parser.close()
        except (
            AssertionError,
            ValueError,
        ):  # html.parser gives up on some markup: keep what it found
            pass
        for url, label in parser.found:
            add(url, label or None, "html")
    if text:
        for m in LINK_RE.finditer(text[:SOURCE_LIMIT]):
            add(_trim(m.group()), None, "text")
    return out


def _wanted(url: str, mailto: bool) -> bool:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in ("http", "https"):
        return "://" in url and len(url) > len(scheme) + 3
    return mailto and scheme == "mailto" and len(url) > 7


def _trim(url: str) -> str:
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break  # a URL's own parenthesis (Wikipedia style)
        url = url[:-1]
    return url


# --- codes -------------------------------------------------------------------------------------


def find_codes(
    subject: str | None,
    text: str | None,
    html_body: str | None,
    links: list[Link],
    pattern: CodePattern | None = None,
) -> list[Code]:
    """The message's codes, best first, each value once."""
    sources = [("subject", subject or ""), ("text", (text or "")[:SOURCE_LIMIT])]
    if html_body:
        sources.append(("html", html_to_text(html_body[:SOURCE_LIMIT])))
    found: list[Code] = []
    if pattern is not None:
        for source, body in sources:
            found.extend(_pattern_codes(pattern, source, body))
    ranked: list[tuple[int, int, Code]] = []
    for order, (source, body) in enumerate(sources):
        for score, code in _keyword_codes(source, body):
            ranked.append((score, order, code))
    ranked.sort(key=lambda r: (r[0], r[1]))
    found.extend(code for _, _, code in ranked)
    found.extend(_link_codes(links))
    out, seen = [], set()
    for code in found:
        if code.value not in seen and len(out) < MAX_CODES:
            seen.add(code.value)
            out.append(code)
    return out


def _pattern_codes(pattern: CodePattern, source: str, body: str) -> list[Code]:
    out = []
    try:
        for m in pattern.compiled.finditer(body, timeout=PATTERN_TIMEOUT):
            value = m.group(1) if pattern.compiled.groups else m.group()
            if value:
                out.append(Code(value, "pattern", source, _context(body, m.start(), m.end())))
            if len(out) >= MAX_CODES:
                break
    except TimeoutError:
        raise PatternError(
            f"code_pattern took over {PATTERN_TIMEOUT * 1000:g} ms on this message; make it "
            "simpler (anchor it to a word, avoid .* next to other repeats)"
        ) from None
    return out


def _keyword_codes(source: str, body: str) -> list[tuple[int, Code]]:
    folded = body.casefold() if body.isascii() else _fold_same_length(body)
    keywords = [m.span() for m in _KEYWORD_RE.finditer(folded) if _is_code_word(folded, *m.span())]
    if not keywords:
        return []
    out = []
    for start, end, value in _numbers(body):
        score = _nearest(keywords, start, end)
        if score is None:
            continue
        if len(value) == 4 and _YEAR_RE.fullmatch(value) and score > 3:
            continue
        out.append((score, Code(value, "keyword", source, _context(body, start, end))))
    return out


def _fold_same_length(text: str) -> str:
    """Lower case, character for character (casefold may change lengths: ß -> ss)."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _is_code_word(folded: str, start: int, end: int) -> bool:
    if _NOT_CODE_BEFORE_RE.search(folded[max(0, start - 20) : start]):
        return False
    return not _NOT_CODE_AFTER_RE.match(folded[end : end + 12])


def _nearest(keywords: list[tuple[int, int]], start: int, end: int) -> int | None:
    best = None
    for k_start, k_end in keywords:
        if k_end <= start and start - k_end <= KEYWORD_BEFORE:
            score = start - k_end
        elif k_start >= end and k_start - end <= KEYWORD_AFTER:
            score = k_start - end + 10  # "123456 is your code": a little less sure
        else:
            continue
        if best is None or score < best:
            best = score
    return best


def _numbers(body: str):
    """(start, end, digits) of each number that may be a code (see the module)."""
    for m in _SPLIT_RE.finditer(body):
        start, end = m.span()
        if _free(body, start, end) and not _in_split(body, start, end):
            yield start, end, "".join(g for g in m.groups() if g)
    for m in _NUMBER_RE.finditer(body):
        start, end = m.span()
        value = m.group()
        if not value.isdigit() or not 4 <= len(value) <= 8:
            continue
        if not _free(body, start, end) or _in_split(body, start, end):
            continue
        yield start, end, value


def _in_split(body: str, start: int, end: int) -> bool:
    """Part of a "123 456" code (reported whole) or of a space-separated digit group (a phone
    number such as 030 1234567)."""
    before, after = body[max(0, start - 2) : start], body[end : end + 2]
    return (len(before) == 2 and before[1] in " -" and before[0].isdigit()) or (
        len(after) == 2 and after[0] in " -" and after[1].isdigit()
    )


def _free(body: str, start: int, end: int) -> bool:
    """Not glued to letters, signs or other digits, nor named an order number or a price."""
    before = body[start - 1] if start else ""
    after = body[end] if end < len(body) else ""
    if before and (
        (before.isascii() and (before.isalnum() or before in "#$+-/.,:_@&=")) or before in "€£¥₹№"
    ):
        return False
    if after and (
        (after.isascii() and (after.isalnum() or after in "%$/:_@-")) or after in "€£¥₹%円元"
    ):
        return False
    if after in ".," and end + 1 < len(body) and body[end + 1].isdigit():
        return False  # a decimal: 1234.50, 1.234,56
    head = body[max(0, start - 24) : start]
    if _NUMBER_NAME_RE.search(head):
        return False
    near_before = head[-5:].casefold().strip()
    near_after = body[end : end + 5].casefold().strip()
    return not any(near_before.endswith(c) or near_after.startswith(c) for c in _CURRENCIES)


def _link_codes(links: list[Link]) -> list[Code]:
    out = []
    for link in links:
        parsed = urllib.parse.urlsplit(link.url)
        params = urllib.parse.parse_qsl(parsed.query, keep_blank_values=False)
        if "=" in parsed.fragment:
            params += urllib.parse.parse_qsl(parsed.fragment, keep_blank_values=False)
        for name, value in params:
            if _token_param(name) and 4 <= len(value) <= 512:
                out.append(Code(value, "link", "link", link.url, param=name))
    return out


def _token_param(name: str) -> bool:
    lower = name.lower()
    if lower.startswith("utm_"):
        return False
    if lower in TOKEN_PARAMS:
        return True
    return lower.endswith(("token", "_code", "-code", "_key", "otp"))


def _context(body: str, start: int, end: int, width: int = 40) -> str:
    left = max(0, start - width)
    return _SPACE_RE.sub(" ", body[left : end + width]).strip()
