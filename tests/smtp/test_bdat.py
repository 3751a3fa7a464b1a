"""BDAT (RFC 3030 CHUNKING) and BODY=BINARYMIME over raw sockets: exact exchanges."""

from __future__ import annotations

from tests.smtp.wire import Wire, mailbox

ENVELOPE = b"MAIL FROM:<a@example.com>\r\nRCPT TO:<user@example.com>\r\n"
OK2 = [b"250 2.1.0 Sender OK\r\n", b"250 2.1.5 Recipient OK\r\n"]


def test_rfc3030_4_1_simple_chunking(mail, wire: Wire) -> None:
    # RFC 3030 §4.1: one BDAT LAST with the whole message; §2: stored as received
    body = b"To: user@example.com\r\nSubject: chunk\r\n\r\nHi.\r\n"
    wire.send(ENVELOPE + b"BDAT %d LAST\r\n" % len(body) + body)
    assert wire.replies(3) == [*OK2, b"250 2.0.0 Message accepted\r\n"]
    assert mailbox(mail, "user") == [body]


def test_pipelined_binary_chunks_are_stored_byte_for_byte(mail, wire: Wire) -> None:
    # RFC 3030 §2/§3: chunk data is any octets, no dot-unstuffing, CRLF.CRLF and NUL included
    parts = [b"Subject: bin\r\n\r\n.\r\n", b"\x00\xff\r\n.\r\n..x\r", b"\nend"]
    wire.send(
        b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\nRCPT TO:<user@example.com>\r\n"
        + b"".join(
            b"BDAT %d%s\r\n" % (len(p), b" LAST" if i == len(parts) - 1 else b"") + p
            for i, p in enumerate(parts)
        )
    )
    got = wire.replies(5)
    assert got[2:] == [
        b"250 2.0.0 %d octets received\r\n" % len(parts[0]),
        b"250 2.0.0 %d octets received\r\n" % len(parts[1]),
        b"250 2.0.0 Message accepted\r\n",
    ]
    assert mailbox(mail, "user") == [b"".join(parts)]


def test_bdat_without_mail_is_refused_and_its_chunk_consumed(mail, wire: Wire) -> None:
    wire.send(b"BDAT 6 LAST\r\nNOOP\r\n")
    assert wire.reply() == b"503 5.5.1 Need MAIL before BDAT\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


def test_data_after_bdat_and_data_with_binarymime_are_refused(mail, wire: Wire) -> None:
    wire.send(ENVELOPE + b"BDAT 3\r\nabcDATA\r\n")
    assert wire.replies(4)[2:] == [
        b"250 2.0.0 3 octets received\r\n",
        b"503 5.5.1 DATA after BDAT in one transaction\r\n",
    ]
    assert wire.command(b"RSET") == b"250 2.0.0 Reset OK\r\n"
    wire.send(b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<user@example.com>\r\nDATA\r\n")
    assert wire.replies(3)[2] == b"503 5.5.1 BODY=BINARYMIME needs BDAT, not DATA\r\n"


def test_oversized_chunk_is_discarded_then_session_goes_on(start_mail) -> None:
    mail = start_mail(max_message_size=10)
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO x")
    wire.send(ENVELOPE + b"BDAT 8\r\n12345678BDAT 8 LAST\r\n12345678")
    assert wire.replies(4)[2:] == [
        b"250 2.0.0 8 octets received\r\n",
        b"552 5.3.4 Message too big\r\n",
    ]
    body = b"S: x\r\n\r\nok"
    wire.send(ENVELOPE + b"BDAT %d LAST\r\n" % len(body) + body)
    assert wire.replies(3)[2] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [body]
    wire.close()


def test_malformed_bdat_is_501_and_next_transaction_works(mail, wire: Wire) -> None:
    for bad in (b"BDAT", b"BDAT -1", b"BDAT abc", b"BDAT 99999999999999999999"):
        assert wire.command(bad) == b"501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n"
    wire.send(b"BDAT 5 LAST extra\r\nhello")  # a size is known: the chunk is consumed
    assert wire.reply() == b"501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n"
    body = b"S: y\r\n\r\n"
    wire.send(ENVELOPE + b"BDAT %d LAST\r\n" % len(body) + body)
    assert wire.replies(3)[2] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [body]


def test_rset_mid_sequence_discards_chunks_and_bdat_0_last(mail, wire: Wire) -> None:
    wire.send(ENVELOPE + b"BDAT 4\r\nlostRSET\r\n")
    assert wire.replies(4)[3] == b"250 2.0.0 Reset OK\r\n"
    wire.send(ENVELOPE + b"BDAT 4\r\nkeptBDAT 0 LAST\r\n")
    assert wire.replies(4)[3] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [b"kept"]


def test_a_non_final_bdat_0_fails_the_transaction_as_postfix_does(mail, wire: Wire) -> None:
    # RFC 3030 §2: "The last BDAT command MAY have a byte-count of zero"; only the last. A
    # non-final BDAT 0 moves nothing (a client could send it for ever): Postfix 3.7 answers
    # "551 5.7.1 Null BDAT request" and fails the transaction, discarding the chunks after it
    # until BDAT LAST (§2: "MUST accept and discard the associated message data"). Same here.
    wire.send(ENVELOPE + b"BDAT 4\r\nabcdBDAT 0\r\nBDAT 3\r\nxyzBDAT 0 LAST\r\nNOOP\r\n")
    assert wire.replies(7)[2:] == [
        b"250 2.0.0 4 octets received\r\n",
        b"551 5.7.1 Null BDAT request\r\n",
        b"503 5.5.1 Chunk discarded: the transaction failed earlier\r\n",
        b"503 5.5.1 Chunk discarded: the transaction failed earlier\r\n",
        b"250 2.0.0 OK\r\n",
    ]
    assert mailbox(mail, "user") == []
    # the failed transaction ended at BDAT LAST: a new one works
    body = b"S: z\r\n\r\nok"
    wire.send(ENVELOPE + b"BDAT %d LAST\r\n" % len(body) + body)
    assert wire.replies(3)[2] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [body]


def test_a_non_final_bdat_0_outside_a_transaction_is_also_a_null_request(mail, wire: Wire) -> None:
    # Postfix checks for the null request before the transaction's state
    assert wire.command(b"BDAT 0") == b"551 5.7.1 Null BDAT request\r\n"
    assert wire.command(b"BDAT 00") == b"551 5.7.1 Null BDAT request\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    # BDAT 0 LAST is the RFC's own construct (§4.2's example) and stays allowed
    wire.send(ENVELOPE + b"BDAT 0 LAST\r\n")
    assert wire.replies(3)[2] == b"250 2.0.0 Message accepted\r\n"
