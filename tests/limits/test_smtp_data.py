"""The cost of reading DATA: each received byte is searched a bounded number of times, however
long its line. Counted, not timed: the buffer is swapped for one that counts the bytes its
searches cover."""

from __future__ import annotations

from elektromail.smtp.session import DataReader, LineBuffer


class CountingBuffer(bytearray):
    """A bytearray that adds up how many bytes find() and rfind() look at."""

    scanned = 0

    def find(self, sub, start=0, end=None):  # type: ignore[override]
        self.scanned += (len(self) if end is None else end) - max(start, 0)
        return super().find(sub, start, len(self) if end is None else end)

    def rfind(self, sub, start=0, end=None):  # type: ignore[override]
        self.scanned += (len(self) if end is None else end) - max(start, 0)
        return super().rfind(sub, start, len(self) if end is None else end)


def test_a_long_message_line_is_searched_in_linear_time() -> None:
    """RFC 5321 §4.5.3.1.6 lets a server take text lines longer than 1000 octets, and this one
    takes any line up to the message size: reading one must not cost its length squared."""
    buffer = LineBuffer()
    buffer._data = counting = CountingBuffer()
    reader = DataReader(50 << 20)
    data = b"X-Long: " + b"a" * (1 << 20) + b"\r\n\r\nbody\r\n.\r\n"
    done = False
    for start in range(0, len(data), 16384):
        buffer.feed(data[start : start + 16384])
        done = reader.take(buffer)
    assert done and reader.message() == data[: -len(b".\r\n")]
    assert counting.scanned < 4 * len(data), counting.scanned / len(data)
