"""Console input: bytes from the board into command lines, and the queue of them.

Owns the line discipline (firmware/console.py's docstring states it): line ends \\n,
\\r\\n and \\r; at most LINE_MAX bytes; printable ASCII only (tab = space, backspace
and DEL delete, Ctrl-U the whole line); a bad byte or an over-long line poisons the
line up to its end; and Ctrl-C (0x03), which drops the line and is reported to the
console (take()), which raises it once its pass is done.

Owns also the console's own input buffer, and the rule that no byte is lost silently.
The ESP32's stdin ring holds 259 bytes (MicroPython ports/esp32/mphalport.c,
stdin_ringbuf_array[260]) and its UART ISR drops what comes while it is full, telling
no one (ports/esp32/uart.c; host_tools/chip/stdio.py models it): at 115200 baud that
is 22 ms of bytes. So read() drains the board every pass, whatever the output's state,
and runs the discipline on the bytes at once: what comes out is a queue of entries in
_q (a line's text and its end, or the code of a discarded one), taken one a pass by
take() at the pace the console answers. When the queue has no room, the line being
read is discarded up to its end and an OVERFLOW entry takes its place ("input
overflow: line dropped"): two pieces of lines never join into one command. A read that
took a full ring's worth may have missed bytes after it (the ring was full); the line
it ends in is discarded the same way.

Reading and taking allocate nothing (the buffers are made once); only text() makes the
line's str.
"""

from micropython import const

# Bytes read per pass at most: all the ESP32's stdin ring holds (259), so that a pass
# drains it. The line brings 115 bytes a 10 ms pass at 115200 baud.
_RX_MAX = const(259)
# The console's own queue of lines read and not yet taken. Its size bounds how long a
# line waits behind others: one is taken a pass, and the shortest entry is 1 byte
# (Ctrl-U), a short line 2 ("x\n"): at most 256 passes (2.6 s) behind a flood.
_Q_SIZE = const(256)
LINE_MAX = const(120)  # longest command line; the longest real one ("pin set ...") is ~30

# What take() found (0: nothing waiting). In the queue these are the entries' bytes,
# below any text byte (32-126); a line's text ends with _END; OVERFLOW is _OVER + the
# number of lines dropped in a row less one (up to 128: more are counted as 128).
LINE = const(1)  # a line is complete: text() has it
TOO_LONG = const(2)  # a line ended that was longer than LINE_MAX: discarded
BAD_BYTE = const(3)  # a line ended that held a byte other than printable ASCII: discarded
INTERRUPT = const(4)  # Ctrl-C (0x03): the line so far is dropped
KILLED = const(5)  # Ctrl-U (0x15): the line so far is dropped, no reply
OVERFLOW = const(6)  # the queue was full (or the board's ring may have been): dropped
_END = const(10)
_OVER = const(128)


class LineReader:
    def __init__(self, ring=0):
        self._rx = bytearray(_RX_MAX)
        # the board's stdin ring (bytes), if it drops what comes while full: a read of
        # that many may have missed some after it
        self._ring = ring
        self._q = bytearray(_Q_SIZE)
        self._head = 0  # the first byte of the first entry
        self._used = 0  # bytes of whole entries
        self._n = 0  # bytes of the line being read, after them
        self._discard = 0  # TOO_LONG, BAD_BYTE or OVERFLOW while discarding to the end
        self._after_cr = False
        self._line = bytearray(LINE_MAX)
        self._len = 0  # the taken line's length

    def pending(self):
        """True while entries wait to be taken."""
        return self._used > 0

    def read(self, board):
        """Drain the board: up to a ring's worth, more only after a Ctrl-C, at which
        board_esp32.console_read_into stops to hand it over."""
        rx = self._rx
        total = 0
        while total < _RX_MAX:
            n = board.console_read_into(rx)
            if n is None or n <= 0:
                break
            if n > _RX_MAX:
                n = _RX_MAX
            total += n
            if n == 1 and rx[0] == 3 and self._after_interrupt():
                continue  # a Ctrl-C flood: one entry, at the cost of the board's read
            self._feed(n)
            if rx[n - 1] != 3:
                break
        if self._ring and total >= self._ring:
            self._overflow()

    def _after_interrupt(self):
        """True when the last entry is a Ctrl-C's and nothing came since: another one
        would drop nothing more (the console refuses each the same way)."""
        used = self._used
        return (not self._n and not self._discard and used > 0
                and self._q[(self._head + used - 1) % _Q_SIZE] == INTERRUPT)

    def _feed(self, n):
        # Text and line ends keep the state in locals (a per-byte attribute access costs
        # most on the ESP32: 259 bytes a pass at worst); other bytes go to _other().
        rx = self._rx
        q = self._q
        k = self._n
        d = self._discard
        cr = self._after_cr
        room = _Q_SIZE - self._used - k
        w = (self._head + self._used + k) % _Q_SIZE
        i = 0
        while i < n:
            c = rx[i]
            i += 1
            if 32 <= c <= 126 or c == 9:
                cr = False
                if d:
                    continue
                if k >= LINE_MAX:
                    d = TOO_LONG
                elif room < 3:
                    # no room for it, its line's end and one more entry
                    room += k
                    k = 0
                    d = OVERFLOW
                else:
                    q[w] = 32 if c == 9 else c
                    w += 1
                    if w == _Q_SIZE:
                        w = 0
                    k += 1
                    room -= 1
                continue
            if c == 10 and cr:
                cr = False  # the \n of a \r\n
                continue
            cr = c == 13
            if (c == 10 or cr) and not d:
                if k and room >= 2:  # the line is an entry; a byte stays for OVERFLOW
                    q[w] = _END
                    w += 1
                    if w == _Q_SIZE:
                        w = 0
                    self._used += k + 1
                    k = 0
                    room -= 1
                    continue
                if not k:
                    continue  # an empty line: nothing asked
            self._n = k
            self._discard = d
            self._other(c)
            k = self._n
            d = self._discard
            room = _Q_SIZE - self._used - k
            w = (self._head + self._used + k) % _Q_SIZE
        self._n = k
        self._discard = d
        self._after_cr = cr

    def _other(self, c):
        """A byte other than the line's text: a line end or a control byte."""
        if c == 10 or c == 13:
            if self._discard:
                self._put(self._discard)
            elif self._n:
                self._put(_END)
        elif c == 3 or c == 21:
            # Ctrl-U, a terminal's "kill line": a client clears a half line an
            # earlier session left (host_tools/console.py connect()), never runs it
            self.drop()
            self._put(INTERRUPT if c == 3 else KILLED)
        elif self._discard:
            pass
        elif c == 8 or c == 127:
            if self._n:
                self._n -= 1
        else:
            self._discard = BAD_BYTE

    def _overflow(self):
        self._n = 0
        self._discard = OVERFLOW

    def _put(self, code):
        """End the line being read with code (_END: its text is an entry)."""
        q = self._q
        n = self._n if code == _END else 0
        self._n = 0
        self._discard = 0
        if code != OVERFLOW and _Q_SIZE - self._used - n < 2:
            code = OVERFLOW  # one byte stays free for an OVERFLOW entry
            n = 0
        if code == OVERFLOW and self._used:
            last = (self._head + self._used - 1) % _Q_SIZE
            if q[last] >= _OVER:
                if q[last] < 255:
                    q[last] += 1  # one more line dropped in a row
                return
            code = _OVER
        elif code == OVERFLOW:
            code = _OVER
        self._used += n
        q[(self._head + self._used) % _Q_SIZE] = code
        self._used += 1

    def take(self):
        """Take the first entry: LINE (text() has it), TOO_LONG, BAD_BYTE, OVERFLOW,
        INTERRUPT at a Ctrl-C or KILLED at a Ctrl-U, or 0 when none waits."""
        if not self._used:
            return 0
        q = self._q
        h = self._head
        c = q[h]
        if c >= _OVER:
            if c > _OVER:
                q[h] = c - 1  # the next pass answers the next dropped line
            else:
                self._pop(1)
            return OVERFLOW
        if c < 32:
            self._pop(1)
            return c
        line = self._line
        n = 0
        while c != _END:
            line[n] = c
            n += 1
            h += 1
            if h == _Q_SIZE:
                h = 0
            c = q[h]
        self._len = n
        self._pop(n + 1)
        return LINE

    def _pop(self, n):
        self._head = (self._head + n) % _Q_SIZE
        self._used -= n

    def text(self):
        """The line take() found, as str."""
        return bytes(self._line[:self._len]).decode()  # printable ASCII: cannot fail

    def drop(self):
        """Forget the line being read (and a discard in progress)."""
        self._n = 0
        self._discard = 0
