"""firmware/console_lines.py by hand: the console's own queue of lines, what happens
when it is full, and a read that may have missed bytes in the board's ring.

Runs on CPython (pytest) and the MicroPython unix port. The board is a byte source
that hands over at most len(buf) bytes a call, as board_esp32.console_read_into does
(stopping after a Ctrl-C).
"""

from console_lines import INTERRUPT, KILLED, LINE, OVERFLOW, LineReader


class Source:
    def __init__(self, data=b""):
        self.data = bytearray(data)

    def console_read_into(self, buf):
        n = min(len(buf), len(self.data))
        i = self.data.find(b"\x03", 0, n)
        if i >= 0:
            n = i + 1
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


def _all(lr):
    got = []
    while True:
        c = lr.take()
        if not c:
            return got
        got.append(lr.text() if c == LINE else c)


def test_lines_of_one_read_come_out_one_a_take_in_order():
    lr = LineReader()
    lr.read(Source(b"status\r\ngoto 20\rhelp\n\npartial"))
    assert lr.pending()
    assert lr.take() == LINE and lr.text() == "status"
    assert lr.take() == LINE and lr.text() == "goto 20"
    assert lr.take() == LINE and lr.text() == "help"
    assert lr.take() == 0 and not lr.pending()  # "partial" waits for its end
    lr.read(Source(b"ly\n"))
    assert _all(lr) == ["partially"]


def test_ctrl_c_and_ctrl_u_drop_their_line_and_keep_their_place():
    lr = LineReader()
    lr.read(Source(b"goto 2\x03stop\nret\x15return\n"))
    assert _all(lr) == [INTERRUPT, "stop", KILLED, "return"]


def test_a_full_queue_drops_whole_lines_and_says_so_once_each():
    """40 lines of 11 bytes (440) against a 256-byte queue, none taken: the first 23
    fit (253 bytes with one kept free for the overflow entry), the other 17 are
    answered 'input overflow' one by one; no text is ever part of two lines."""
    sent = ["#%02d status" % k for k in range(40)]
    src = Source("".join(x + "\n" for x in sent).encode())
    lr = LineReader()
    lr.read(src)
    lr.read(src)
    got = _all(lr)
    texts = [g for g in got if type(g) is str]
    assert texts == sent[:len(texts)] and len(texts) == 23
    assert got[len(texts):] == [OVERFLOW] * (40 - len(texts))
    lr.read(Source(b"estop\n"))  # room again once the queue is taken
    assert _all(lr) == ["estop"]


def test_a_line_cut_by_a_full_queue_never_joins_the_next():
    """121 + 121 + 9 bytes queued: `goto 2` finds no room after `got` (one byte for
    its end and one for an overflow entry stay free). A line taken makes room before
    the rest comes: the rest still must not complete the cut line."""
    lr = LineReader()
    lr.read(Source(b"x" * 120 + b"\n" + b"y" * 120 + b"\n" + b"z" * 8 + b"\ngoto 2"))
    assert lr.take() == LINE and lr.text() == "x" * 120
    lr.read(Source(b"0\nstop\n"))
    got = _all(lr)
    assert got == ["y" * 120, "z" * 8, OVERFLOW, "stop"], got


def test_a_read_of_a_whole_ring_drops_the_line_it_ends_in():
    """The ESP32's ring (259 bytes) drops what comes while full: a read of 259 bytes
    may have a gap after it. `goto 2` + [lost] + `0` must not run as `goto 20`."""
    data = b"\n" * 253 + b"goto 2"  # 259 bytes
    lr = LineReader(259)
    lr.read(Source(data))
    lr.read(Source(b"0\nstop\n"))
    assert _all(lr) == [OVERFLOW, "stop"]
    lr = LineReader()  # a board without such a ring: nothing was lost, the line runs
    lr.read(Source(data))
    lr.read(Source(b"0\n"))
    assert _all(lr) == ["goto 20"]


def test_a_read_short_of_the_ring_loses_nothing():
    lr = LineReader(259)
    lr.read(Source(b"\n" * 252 + b"goto 2"))  # 258: the ring was never full
    lr.read(Source(b"0\n"))
    assert _all(lr) == ["goto 20"]


def test_a_ctrl_c_flood_is_one_entry_until_something_else_comes():
    lr = LineReader()
    lr.read(Source(b"goto 2" + b"\x03" * 200 + b"stop\n" + b"\x03" * 3))
    assert _all(lr) == [INTERRUPT, "stop", INTERRUPT]
