"""Console output: the replies, alerts and lines the console writes, and the queue they
wait in.

Owns the reply format (firmware/console.py's docstring states it): one reply per
command, human text or one JSON object per line; a tagged request (`#<n>`) is answered
in JSON whatever the mode, one tagged for a person (`%<n>`) in human text whatever the
mode, closed by an end line {"ok": true|false, "id": n}: a client then shows people the
firmware's own words and still knows where the reply ends and whether it failed. A
reply's head is queued at once and its fields and rows a few per tick (more()), only
while less than TX_HIGH bytes wait, so a long listing never stretches a tick or grows
the queue past about 1 KB. An alert raised while a reply line is open waits for its end.
drain() writes at most TX_CHUNK bytes per tick; a port that takes less keeps the rest
for later, a port that is gone drops it. Nothing allocates while the queue is empty and
no reply is open.
"""

import json

from console_text import human
from micropython import const

# Output written per tick at most: 9.6 KB/s at 100 Hz, below the 11.5 KB/s of 115200
# baud, so a write never waits for the UART and a long reply never stretches a tick.
TX_CHUNK = const(96)
# A reply's fields and rows are formatted this many per tick (a JSON row or an event
# text costs the ESP32 about as much as the rest of the console's tick), and only
# while less than TX_HIGH bytes wait to be written; a new line is taken only then
# too. So a tick's console work and the output queue (about 1 KB) stay bounded, and a
# long reply (log, help) makes later commands wait for it (under a second), never drop.
_ITEMS_PER_TICK = const(2)
TX_HIGH = const(512)


class Output:
    def __init__(self, board):
        self.board = board
        self.json = False  # JSON mode (`json on`)
        self.req_id = None  # of the command being answered
        self.person = False  # its reply is for a person (`%<n>`): text, then the end line
        self._end = None  # that end line (bytes), queued once the reply is complete
        # pieces of lines (bytes; telemetry's bytearrays: queue()), written TX_CHUNK
        # bytes per tick
        self.tx = []
        self._tx_off = 0
        self.pending = 0  # bytes queued and not yet written
        # the reply being formatted: its pairs and rows, a few per tick (see more())
        self.busy = False
        self._js = False  # the reply being formatted is JSON
        self._pairs = ()
        self._rows = ()
        self._i = 0
        self._key = None
        self._open = False
        self._row = None
        self._alerts = []  # alerts raised while a reply line was open
        self._scratch = bytearray(TX_CHUNK)  # _part()

    def answer(self, req_id, person=False):
        """The replies from now on answer the request req_id (None: untagged); person:
        it was tagged `%<n>`."""
        self.req_id = req_id
        self.person = person

    def js(self):
        """True if the reply about to start is JSON. A request tagged with an id comes
        from a machine client: answered in JSON whatever the mode, so a restarted board
        (back in human mode) stays readable; one tagged for a person gets the text."""
        return (self.json or self.req_id is not None) and not self.person

    def queue(self, data):
        """data: bytes, or a bytearray that its owner fills again once it left tx
        (console_telemetry.py): written from where it is, never sliced (drain())."""
        tx = self.tx
        # small pieces join the last one (not the one half written): fewer writes per tick;
        # never a bytearray, which its owner reuses
        if (tx and type(tx[-1]) is bytes and len(tx[-1]) + len(data) <= TX_CHUNK
                and (len(tx) > 1 or not self._tx_off)):
            tx[-1] += data
        else:
            tx.append(data)
        self.pending += len(data)

    def reply(self, text, obj, pairs=(), key=None, rows=(), row=None):
        """Start one reply. Human mode: text (a str or a list of lines, may be None),
        then a "label: value" line per pair and row(item, False) per row. JSON mode: obj,
        the pairs as more fields and row(item, True) for each row in a list under key, all
        on one line. The head goes out now; the pairs and rows a few per tick."""
        if self.busy:
            # a handler that failed after its reply began: the line must stay whole
            self.alert(text if type(text) is str else "internal error")
            return
        if self.req_id is not None:
            obj["id"] = self.req_id
        js = self._js = self.js()
        self._end = None
        if self.person:
            self._end = ('{"ok": %s, "id": %d}\n' % ("true" if obj["ok"] else "false",
                                                     self.req_id)).encode()
        if js:
            self.queue(json.dumps(obj)[:-1].encode())  # '{"ok": ...' - closed by more()
        elif text is not None:
            for line in [text] if type(text) is str else text:
                self.queue((line + "\n").encode())
        self.busy = True
        self._pairs = pairs
        self._rows = rows
        self._i = 0
        self._key = key
        self._open = False  # the JSON list under key has been opened
        self._row = row
        self.more()  # a short reply is complete at once

    def more(self):
        """Format the next pairs and rows of the reply; close it after the last one."""
        np = len(self._pairs)
        total = np + len(self._rows)
        n = _ITEMS_PER_TICK
        while self._i < total:
            if n == 0 or self.pending > TX_HIGH:
                return
            n -= 1
            try:
                piece = self._next_item(np)
            except Exception as e:  # a bad item is left out; the reply line stays whole
                self.alert("internal error: %s %s" % (type(e).__name__, e))
                continue
            self.queue(piece.encode())
        if self._js:
            if self._key is None:
                self.queue(b"}\n")
            elif self._open:
                self.queue(b"]}\n")
            else:
                self.queue((', "%s": []}\n' % self._key).encode())
        elif self._end is not None:
            self.queue(self._end)
            self._end = None
        self.busy = False
        self._pairs = self._rows = ()
        self._row = None
        for a in self._alerts:
            self.queue(a)
        self._alerts = []

    def _next_item(self, np):
        # the text of the reply's next item (pairs first, then rows), moving past it
        # first: an item that cannot be shown is left out, not tried again
        i = self._i
        self._i = i + 1
        js = self._js
        if i < np:
            pair = self._pairs[i]
            k = pair[0]
            v = pair[1]
            if js:
                return ', "%s": %s' % (k, json.dumps(v))
            return "%s: %s\n" % human(k, v)
        row = self._row
        assert row is not None  # a reply with rows has its formatter
        if js:
            piece = json.dumps(row(self._rows[i - np], True))
            piece = (", " if self._open else ', "%s": [' % self._key) + piece
            self._open = True
            return piece
        return row(self._rows[i - np], False) + "\n"

    def ok(self, text, obj=None, **more):
        if obj is None:
            obj = {}
        obj["ok"] = True
        self.reply(text, obj, **more)

    def error(self, msg, obj=None):
        if obj is None:
            obj = {}
        obj["ok"] = False
        obj["error"] = msg
        self.reply("error: " + msg, obj)

    def alert(self, msg):
        if self.json:
            data = (json.dumps({"alert": msg}) + "\n").encode()
        else:
            data = ("alert: " + msg + "\n").encode()
        if self.busy:
            self._alerts.append(data)  # never inside an open reply line
        else:
            self.queue(data)

    def drain(self):
        budget = TX_CHUNK
        tx = self.tx
        while budget > 0 and tx:
            first = tx[0]
            off = self._tx_off
            n = len(first) - off
            if n > budget:
                n = budget
            if type(first) is bytearray:  # its written bytes are cut off: off stays 0
                chunk = first if n == len(first) else self._part(first, n)
            else:
                chunk = first if off == 0 and n == len(first) else first[off:off + n]
            try:
                w = self.board.console_write(chunk)
            except OSError:
                # port gone (USB unplugged): drop what waits, the next reply starts clean
                self.tx = []
                self._tx_off = self.pending = 0
                return
            if w is None:
                w = n  # a board whose write takes everything
            elif w <= 0:
                return  # port full: the rest waits for the next tick
            elif w > n:
                w = n
            off += w
            budget -= w
            self.pending -= w
            if off >= len(first):
                tx.pop(0)
                off = 0
            elif type(first) is bytearray:
                first[0:off] = b""  # in place: a slice of the rest would allocate
                off = 0
            self._tx_off = off

    def _part(self, buf, n):
        # buf's first n bytes in the reused scratch buffer, copied byte by byte: a slice
        # would allocate in a moving pass (console_telemetry.py)
        part = self._scratch
        part[0:] = b""
        for i in range(n):
            part.append(buf[i])
        return part
