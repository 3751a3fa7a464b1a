"""A message a test waited for (`MailServer.wait_for`): its fields, text and HTML bodies, bytes,
links, one-time codes and attachments, built from the JSON of GET /messages/wait's `message`
(elektromail.http.waiting.found_json) and the message's bytes. In-process and remote clients
build it the same way: `Message.from_json(answer["message"], raw, answer["cursor"])`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elektromail.extract import Code, Link

__all__ = ["Attachment", "Code", "Link", "Message"]


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int
    filename: str | None
    content_type: str
    size: int
    url: str  # its download path on the control API
    data: bytes | None = None  # the decoded bytes (in-process; a remote client fetches `url`)


@dataclass(frozen=True, slots=True)
class Message:
    uid: int
    user: str
    mailbox: str
    subject: str | None
    sender: str | None  # the From header, decoded
    to: str | None
    cc: str | None
    flags: tuple[str, ...]
    text: str | None
    html: str | None
    raw: bytes
    links: tuple[Link, ...]
    codes: tuple[Code, ...]
    attachments: tuple[Attachment, ...]
    cursor: int  # its arrival number: wait_for(after=message.cursor) finds the next one
    headers: dict[str, list[str]] = field(default_factory=dict, compare=False)
    # the MailServer or RemoteMailServer it came from, for `checks()`
    server: Any = field(default=None, compare=False, repr=False)

    def checks(self, links: bool = False) -> dict:
        """The message checks of this message (GET /messages/{uid}/checks): header lint,
        DKIM, List-Unsubscribe, HTML compatibility, and its links probed when `links`."""
        if self.server is None:
            raise RuntimeError("this Message knows no server to ask")
        return self.server.checks(self.uid, user=self.user, mailbox=self.mailbox, links=links)

    @property
    def code(self) -> str | None:
        """The best code found (the first of `codes`), or None."""
        return self.codes[0].value if self.codes else None

    @property
    def link(self) -> str | None:
        """The first link's URL, or None."""
        return self.links[0].url if self.links else None

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        raw: bytes,
        cursor: int,
        contents: dict[int, bytes] | None = None,
        server: Any = None,
    ) -> Message:
        """From GET /messages/wait's `message` and `cursor`, with the message's bytes and, when
        at hand, the attachments' bytes by index."""
        contents = contents or {}
        return cls(
            uid=data["uid"],
            user=data["user"],
            mailbox=data["mailbox"],
            subject=data["subject"],
            sender=data["from"],
            to=data["to"],
            cc=data["cc"],
            flags=tuple(data["flags"]),
            text=data["text"],
            html=data["html"],
            raw=raw,
            links=tuple(Link(x["url"], x["text"], x["source"]) for x in data["links"]),
            codes=tuple(
                Code(c["value"], c["kind"], c["source"], c["context"], c["param"])
                for c in data["codes"]
            ),
            attachments=tuple(
                Attachment(
                    a["index"],
                    a["filename"],
                    a["content_type"],
                    a["size"],
                    a["url"],
                    contents.get(a["index"]),
                )
                for a in data["attachments"]
            ),
            cursor=cursor,
            headers=data["headers"],
            server=server,
        )
