"""DKIM signature verification (RFC 6376) with dkimpy, the field's library, against the keys of
a KeyRing only: the DNS function handed to dkimpy answers from the ring and never asks DNS."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from elektromail.checks.findings import Finding, error, info, warning
from elektromail.checks.keys import KeyRing
from elektromail.checks.message import Message

MAX_SIGNATURES = 20  # DKIM-Signature fields verified; the rest are reported as skipped
_log = logging.getLogger("elektromail.checks.dkim")


@dataclass(frozen=True, slots=True)
class Signature:
    """One DKIM-Signature's verdict: "pass", "fail", "no-key" or "invalid" (unreadable)."""

    index: int
    result: str
    reason: str
    domain: str | None = None
    selector: str | None = None
    signed_headers: tuple[str, ...] = ()  # lower-case names in h=

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "result": self.result,
            "reason": self.reason,
            "domain": self.domain,
            "selector": self.selector,
            "signed_headers": list(self.signed_headers),
        }


def verify(message: Message, ring: KeyRing) -> list[Signature]:
    """The verdict of each DKIM-Signature field, topmost first (RFC 6376 §6.1)."""
    import dkim as dkimpy

    count = len(message.get_all("DKIM-Signature"))
    out = []

    def dnsfunc(name, timeout=5):
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        record = ring.txt(text)
        return None if record is None else record.encode("ascii")

    for index in range(min(count, MAX_SIGNATURES)):
        verifier = dkimpy.DKIM(message.raw, logger=_log, timeout=1)
        try:
            prep = verifier.verify_headerprep(index)
        except dkimpy.DKIMException as e:
            out.append(Signature(index, "invalid", f"unreadable signature: {e}"))
            continue
        except Exception as e:  # dkimpy's parser on junk: anything but a verdict is "invalid"
            out.append(Signature(index, "invalid", f"unreadable signature: {type(e).__name__}"))
            continue
        if not prep:
            out.append(Signature(index, "invalid", "unreadable signature"))
            continue
        sig, include, _ = prep
        domain = sig[b"d"].decode("ascii", "replace")
        selector = sig[b"s"].decode("ascii", "replace")
        signed = tuple(h.decode("ascii", "replace") for h in include)
        if ring.lookup(selector, domain) is None:
            out.append(
                Signature(
                    index,
                    "no-key",
                    f"no key for {selector}._domainkey.{domain}: give one with --dkim-keys or"
                    " PUT /dkim/keys",
                    domain,
                    selector,
                    signed,
                )
            )
            continue
        try:
            ok = verifier.verify(index, dnsfunc=dnsfunc)
        except dkimpy.DKIMException as e:
            reason = str(e)
            kind = "body hash mismatch" if "body hash mismatch" in reason else reason
            out.append(Signature(index, "fail", kind, domain, selector, signed))
            continue
        except Exception as e:
            out.append(Signature(index, "fail", f"{type(e).__name__}", domain, selector, signed))
            continue
        if ok:
            out.append(Signature(index, "pass", "signature verified", domain, selector, signed))
        else:
            out.append(
                Signature(
                    index,
                    "fail",
                    "signature mismatch: the signed header fields changed, or another key"
                    " signed it",
                    domain,
                    selector,
                    signed,
                )
            )
    return out


def check(
    message: Message, ring: KeyRing, signatures: list[Signature] | None = None
) -> list[Finding]:
    """Findings for the DKIM verdicts: RFC 6376 §6.1 (verification), §3.5 (the tags)."""
    if signatures is None:
        signatures = verify(message, ring)
    count = len(message.get_all("DKIM-Signature"))
    if count == 0:
        return [info("dkim.no-signature", "the message has no DKIM-Signature (RFC 6376)")]
    found: list[Finding] = []
    for sig in signatures:
        where = {"signature": sig.index, "header": "DKIM-Signature"}
        name = f"d={sig.domain} s={sig.selector}" if sig.domain else f"signature {sig.index}"
        if sig.result == "pass":
            f = info("dkim.pass", f"{name}: pass", **where)
        elif sig.result == "no-key":
            f = warning("dkim.no-key", f"{name}: {sig.reason}", **where)
        elif sig.result == "invalid":
            f = error("dkim.invalid", f"{name}: {sig.reason} (RFC 6376 §3.5)", **where)
        else:
            f = error("dkim.fail", f"{name}: fail, {_short(sig.reason)} (RFC 6376 §6.1)", **where)
        found.append(Finding(f.id, f.severity, f.message, f.where, sig.to_json()))
    if count > len(signatures):
        found.append(
            info("dkim.skipped", f"{count - len(signatures)} more signatures not verified")
        )
    return found


def _short(reason: str) -> str:
    return re.sub(r"\(got .*\)", "", reason).strip()[:200]
