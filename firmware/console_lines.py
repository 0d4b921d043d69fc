"""Console input: bytes from the board into command lines.

Owns the line discipline (firmware/console.py's docstring states it): line ends \\n,
\\r\\n and \\r; at most LINE_MAX bytes; printable ASCII only (tab = space, backspace
and DEL delete, Ctrl-U the whole line); a bad byte or an over-long line poisons the
line up to its end; and Ctrl-C (0x03), which drops the line and is reported to the
console (take()), which raises it once its pass is done.

One chunk of at most _RX_CHUNK bytes is read when the last one is used up, and bytes
are taken up to the end of one line per call: a tick's work stays bounded. Reading and
taking allocate nothing (the buffers are made once); only text() makes the line's str.
"""

from micropython import const

# Bytes read per tick at most: bounds the work of one pass. Below the line's rate (64 B
# a 10 ms pass vs 115 B at 115200 baud), and no read at all while a long reply is out:
# MicroPython's stdin ring buffer on the ESP32 (260 bytes, ports/esp32/mphalport.c)
# then fills and drops what follows, silently. Safe for a client that waits for each
# reply (host_tools/console.py); a sender that streams lines unpaced can lose bytes.
_RX_CHUNK = const(64)
LINE_MAX = const(120)  # longest command line; the longest real one ("pin set ...") is ~30

# What take() found (0: no line end yet).
LINE = const(1)  # a line is complete: text() has it
TOO_LONG = const(2)  # a line ended that was longer than LINE_MAX: discarded
BAD_BYTE = const(3)  # a line ended that held a byte other than printable ASCII: discarded
INTERRUPT = const(4)  # Ctrl-C (0x03): the line so far is dropped
KILLED = const(5)  # Ctrl-U (0x15): the line so far is dropped, no reply


class LineReader:
    def __init__(self):
        self._rx = bytearray(_RX_CHUNK)
        self._rx_pos = 0
        self._rx_len = 0
        self._line = bytearray(LINE_MAX)
        self._n = 0
        self._discard = 0  # TOO_LONG or BAD_BYTE while discarding up to the line end
        self._after_cr = False

    def pending(self):
        """True while bytes already read wait to be taken."""
        return self._rx_pos < self._rx_len

    def read(self, board):
        """Read the next chunk from the board once the last one is used up."""
        if self._rx_pos >= self._rx_len:
            n = board.console_read_into(self._rx)
            if n is not None and n > 0:
                self._rx_pos = 0
                self._rx_len = n if n < _RX_CHUNK else _RX_CHUNK

    def take(self):
        """Take bytes up to the end of one line: LINE, TOO_LONG, BAD_BYTE, INTERRUPT at a
        Ctrl-C or KILLED at a Ctrl-U (either drops the line so far), or 0 when the chunk
        ran out first."""
        rx = self._rx
        line = self._line
        i = self._rx_pos
        end = self._rx_len
        while i < end:
            c = rx[i]
            i += 1
            if c == 10 or c == 13:
                if c == 10 and self._after_cr:
                    self._after_cr = False  # the \n of a \r\n
                    continue
                self._after_cr = c == 13
                if self._n or self._discard:
                    self._rx_pos = i
                    return self._discard or LINE  # one command per tick
                continue
            self._after_cr = False
            if c == 3:
                self._rx_pos = i
                self.drop()
                return INTERRUPT
            if c == 21:
                # Ctrl-U, a terminal's "kill line": a client clears a half line an
                # earlier session left (host_tools/console.py connect()), never runs it
                self._rx_pos = i
                self.drop()
                return KILLED
            if self._discard:
                continue
            if c == 8 or c == 127:
                if self._n:
                    self._n -= 1
            elif (c < 32 and c != 9) or c > 126:
                self._discard = BAD_BYTE
            elif self._n >= LINE_MAX:
                self._discard = TOO_LONG
            else:
                line[self._n] = 32 if c == 9 else c
                self._n += 1
        self._rx_pos = i
        return 0

    def text(self):
        """The line take() completed, as str; the next line starts empty."""
        n = self._n
        self.drop()
        return bytes(self._line[:n]).decode()  # printable ASCII: cannot fail

    def drop(self):
        """Forget the line being assembled (and a discard in progress)."""
        self._n = 0
        self._discard = 0
