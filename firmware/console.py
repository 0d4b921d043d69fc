"""The serial console: line assembly, running parsed commands, and replies (human or JSON).

Owns the console protocol. The app calls `service(now_ms)` once per tick after the
core's tick; it reads at most 64 bytes (`board.console_read_into`), runs at most one
complete command line, formats at most two fields or rows of a long reply, writes at
most 96 bytes (`board.console_write`) and, when streaming, queues one telemetry line
per period. A new line is taken only once the previous reply is formatted and less
than 512 bytes wait, so a tick's work and the output queue stay small; nothing is
ever dropped. When no byte arrived and nothing is pending it allocates nothing.

The grammar (the command table, arguments, strict numbers) is firmware/cmdparse.py:
a line runs only once all of it parsed, and each handler checks the table's state and
the access rights before it changes anything, so an error reply means nothing
changed - except that a wrong PIN counts toward the lockout and ends an open
therapist session (firmware/auth.py), as it should.

Access: the console is the only way in. The board layer never imports `network` or
`bluetooth`, so Wi-Fi and Bluetooth stay off. Anyone at the console may move the table
(always through `core.command()`, so the clamp, the e-stop latch and faults apply
exactly as for the buttons; there is no jog: hold-to-run needs a held button, which a
serial line cannot prove). Changing limits (`config set`, `profile set`) and turning
the child lock off need a therapist session opened with the PIN (firmware/auth.py:
salted sha256, 5 wrong PINs lock out, the lockout survives a reset). A new device has
no PIN: `pin set <new>` sets the first one without an old PIN; until then no one can
log in, so no limit can be changed. The PIN does not protect against someone with the
USB cable and a flasher: that needs the enclosure.

Lines
- End with \\n, \\r\\n or \\r. At most 120 bytes: a longer line is discarded up to its
  end and answered with an error. Only printable ASCII (tab = space; backspace and DEL
  delete the previous byte); a line with any other byte (NUL, control bytes, invalid
  UTF-8, binary noise) is discarded and answered with an error.
- Byte 0x03 (Ctrl-C) raises KeyboardInterrupt out of service(), between ticks, never
  inside one: the boards turn MicroPython's own keyboard interrupt off
  (micropython.kbd_intr(-1)) and the unix-port virtual device's pty is raw, so the
  byte arrives here. The app leaves its loop only with the table at the loading stop
  and the driver off (else it calls refuse_interrupt(), answered with an alert); this
  is how mpremote takes over for deploy.
- Words are separated by spaces; the line is case-insensitive. A first word `#<n>`
  (0-999999999) is a request id, echoed as "id" in JSON replies.

Replies: exactly one per non-empty line. Human mode (the default): text; errors start
with "error: ". `json on`: every reply is one JSON object on one line, {"ok": true,
...} or {"ok": false, "error": "..."}; a core refusal adds "reason" (states.R_*).
Values carry their unit in the key (angle_mdeg, hold_ms); human mode shows deg and s.
Lines the console sends by itself: telemetry (`stream`), {"tel": {...}} in JSON mode,
"tel ..." in human mode; alerts {"alert": "..."} / "alert: ..."; the start-up banner
(human text, before anyone could ask for JSON).
"""

import json
import sys

import events
import faults
import names
import profiles
import programs
import states
import store
from auth import Auth, AuthError
from cmdparse import (
    ParseError,
    command,
    command_at,
    command_count,
    commands,
    fmt_milli,
    is_fixed,
    parse,
    split,
)
from config import ConfigError, field, field_at, field_count
from micropython import const
from ticks import ticks_add, ticks_diff

# The state, command and event numbers are read as states.X / events.X (not imported
# one by one): each imported name would cost this module's globals a heap slot.
PROTOCOL = const(1)  # bumped when a reply's shape changes incompatibly

_RX_CHUNK = const(64)  # bytes read per tick at most: bounds the work of one pass
_LINE_MAX = const(120)  # longest command line; the longest real one ("pin set ...") is ~30
# Output written per tick at most: 9.6 KB/s at 100 Hz, below the 11.5 KB/s of 115200
# baud, so a write never waits for the UART and a long reply never stretches a tick.
_TX_CHUNK = const(96)
# A reply's fields and rows are formatted this many per tick (a JSON row or an event
# text costs the ESP32 about as much as the rest of the console's tick), and only
# while less than _TX_HIGH bytes wait to be written; a new line is taken only then
# too. So a tick's console work and the output queue (about 1 KB) stay bounded, and a
# long reply (log, help) makes later commands wait for it (under a second), never drop.
_ITEMS_PER_TICK = const(2)
_TX_HIGH = const(512)
_TEL_BACKLOG = const(256)  # telemetry is skipped (not queued) while this much waits
_AUTH_POLL_MS = const(1000)  # auth.is_authorised() now and then ends an idle session
_LOG_DEFAULT = const(20)
_HISTORY_DEFAULT = const(10)

# Why a line is being discarded up to its end.
_D_NONE = const(0)
_D_LONG = const(1)
_D_BYTE = const(2)

# Commands that are one core command without arguments.
CORE_COMMANDS = {
    "stop": states.C_STOP,
    "return": states.C_RETURN,
    "estop": states.C_ESTOP,
    "ack": states.C_ACK,
    "discomfort": states.C_DISCOMFORT,
    "home": states.C_HOME,
}

# names.py text tables. machine.reset_cause() numbers (the same on the ESP32 and the
# simulated board); how an e-stop was seen (events.E_ESTOP); which cap (events.E_CAP).
_RESETS = "\n1 power-on\n2 hard\n3 watchdog\n4 deep-sleep\n5 soft\n"
_ESTOP_SOURCES = "\n1 circuit open\n2 irq edge\n3 console\n"
_CAP_KINDS = "\n1 hold cap\n2 session cap\n"

_TEL_JSON = (
    '{"tel": {"t_ms": %d, "state": "%s", "angle_mdeg": %d, "target_mdeg": %d, '
    '"rate_mdeg_s": %d, "fault": "%s"}}\n'
)
_TEL_TEXT = "tel t=%s s state=%s angle=%s target=%s rate=%s fault=%s\n"


def _name(table, i):
    """The name of i in a tuple, a dict or a names.py text table; else i as text."""
    if type(table) is str:
        n = names.text(table, i)
        return n if n is not None else str(i)
    if type(table) is dict:
        return table.get(i, str(i))
    return table[i] if 0 <= i < len(table) else str(i)


def __getattr__(attr):
    # console.COMMANDS (cmdparse.commands()) for the host tools and tests.
    if attr == "COMMANDS":
        return commands()
    raise AttributeError(attr)


def _human(key, v):
    """(label, text) of one reply field: the unit from the key's suffix, mdeg/ms as deg/s."""
    label = key
    if type(v) is bool:
        text = "yes" if v else "no"
    elif v is None:
        text = "-"
    elif type(v) is int:
        text = str(v)
        if key.endswith("_mdeg_s"):
            label, text = key[:-7], fmt_milli(v) + " deg/s"
        elif key.endswith("_mdeg"):
            label, text = key[:-5], fmt_milli(v) + " deg"
        elif key.endswith("_ms"):
            label, text = key[:-3], fmt_milli(v) + " s"
    elif type(v) is list:
        text = ", ".join([str(x) for x in v]) if v else "none"
    else:
        text = str(v)
    return label.replace("_", " "), text


def event_text(code, a, b):
    """One event log record (code, a, b) in words, with names from states/faults/events."""
    e = events
    names_ = states.STATE_NAMES
    if code == e.E_STATE:
        return "%s -> %s" % (_name(names_, a), _name(names_, b))
    if code == e.E_FAULT:
        return "%s in %s" % (faults.name(a), _name(names_, b))
    if code == e.E_COMMAND:
        return "%s: %s" % (_name(states.COMMAND_NAMES, a), states.reason_name(b))
    if code == e.E_BOOT:
        return "reset cause %s" % _name(_RESETS, a)
    if code == e.E_ESTOP:
        return _name(_ESTOP_SOURCES, a)
    if code == e.E_ACK:
        return "in %s" % _name(names_, a)
    if code == e.E_SESSION_START:
        return "program %d" % a
    if code == e.E_SESSION_END:
        return "%s, deepest %s deg" % (profiles.ended_name(a), fmt_milli(b))
    if code == e.E_CLAMPED:
        return "%s -> %s deg" % (fmt_milli(a), fmt_milli(b))
    if code == e.E_CAP:
        return _name(_CAP_KINDS, a)
    if code == e.E_HOMED:
        return "switch at count %d" % a
    if code == e.E_STUCK_BUTTON:
        return "buttons 0x%x" % a
    if code == e.E_CALIBRATED or code == e.E_RECOVERY:
        return "%s deg" % fmt_milli(a)
    if code == e.E_SEGMENT:
        return "segment %d to %s deg" % (a, fmt_milli(b))
    if code == e.E_OVERRUN:
        return "%d in a row" % a
    if code == e.E_CONSENT:
        return "contraindications acknowledged"
    if a == 0 and b == 0:
        return ""
    return "a=%d b=%d" % (a, b)


# Row formatters of the listing replies: row(item, js) is the JSON value of one item
# (js True) or its line of text (js False).


def _help_row(c, js):
    if type(c) is int:
        c = command_at(c)
    assert c is not None
    if js:
        return {"name": c[0], "usage": c[1], "help": c[2]}
    return "%-40s %s" % (c[1], c[2])


def _fault_row(e, js):
    if js:
        return {"fault": faults.name(e[0]), "code": e[0], "boot": e[1], "session": e[2]}
    return "  %s (code %d) in boot %d, after session %d" % (faults.name(e[0]), e[0], e[1], e[2])


def _session_row(e, js):
    if js:
        return {"session": e[0], "program": _name(programs.NAMES, e[1]), "level": e[2],
                "deepest_mdeg": e[3], "head_down_ms": e[4],
                "ended": profiles.ended_name(e[5])}
    return "#%d %s level %d: deepest %s deg, head-down %s s, %s" % (
        e[0], _name(programs.NAMES, e[1]), e[2], fmt_milli(e[3]), fmt_milli(e[4]),
        profiles.ended_name(e[5]))


class Console:
    def __init__(self, app):
        self.app = app
        self.board = app.board
        self.now_ms = 0
        self.json = False
        # input: one chunk read per tick, consumed up to one complete line per tick
        self._rx = bytearray(_RX_CHUNK)
        self._rx_pos = 0
        self._rx_len = 0
        self._line = bytearray(_LINE_MAX)
        self._n = 0
        self._discard = _D_NONE
        self._after_cr = False
        # output: pieces of lines (bytes), written _TX_CHUNK bytes per tick
        self._tx = []
        self._tx_off = 0
        self._tx_bytes = 0
        self.tel_dropped = 0  # telemetry lines skipped while output was backed up
        # the reply being formatted: its pairs and rows, a few per tick (see _more)
        self._busy = False
        self._g_pairs = ()
        self._g_rows = ()
        self._g_i = 0
        self._g_key = None
        self._g_open = False
        self._g_row = None
        self._alerts = []  # alerts raised while a reply line was open
        # telemetry
        self.stream_hz = 0
        self._stream_ms = 0
        self._stream_next = 0
        self._tel_have = False
        self._tel_t = 0
        self._tel_angle = 0
        self._req_id = None  # of the command being run
        self._g_js = False  # the reply being written is JSON
        self._consent_shown = False  # `consent yes` only right after the list was shown
        self._action = None  # (board method, name) to call once the reply is out
        self._auth_ms = 0
        self.selftest = None  # the boot self-test's fault code (0 passed) once known
        auth = getattr(app, "auth", None)
        if auth is None:
            # An app that does not keep the access state: keep it here, and give the
            # core the child lock as stored (it survives a reset).
            auth = Auth(app.fs)
            if auth.child_locked:
                app.core.command(states.C_CHILD_LOCK, 1)
        self.auth = auth
        self._queue(("inversion table console, protocol %d: 'help' lists the commands\n"
                     % PROTOCOL).encode())
        for e in app.startup_errors:
            self._queue(("startup error: %s\n" % e).encode())

    # ------------------------------------------------------------------ per tick

    def service(self, now_ms):
        """One tick of console work. Never blocks; allocates nothing when idle."""
        self.now_ms = now_ms
        if self._action is not None and not self._tx:
            self._run_action()  # its reply went out last tick; nothing new ran since
        if self._busy:
            self._more()
        elif self._tx_bytes <= _TX_HIGH:
            if self._rx_pos >= self._rx_len:
                n = self.board.console_read_into(self._rx)
                if n is not None and n > 0:
                    self._rx_pos = 0
                    self._rx_len = n if n < _RX_CHUNK else _RX_CHUNK
            if self._rx_pos < self._rx_len:
                self._take_bytes()
        if self.selftest is None:
            self._note_selftest()
        if self._stream_ms:
            self._stream(now_ms)
        if self._tx:
            self._drain()
        d = ticks_diff(now_ms, self._auth_ms)
        if d >= _AUTH_POLL_MS or d < 0:
            self._auth_ms = now_ms
            self.auth.is_authorised(now_ms, False)  # ends a session idle for too long

    def internal_error(self, exc):
        """Report an exception from service() or a crashed tick (the app calls this)."""
        try:
            self._n = 0
            self._discard = _D_NONE
            self._req_id = None
            self._alert("internal error: %s %s" % (type(exc).__name__, exc))
        except Exception:  # reporting must never raise into the loop
            pass

    def refuse_interrupt(self):
        """Ctrl-C arrived while leaving the loop is unsafe (the app calls this)."""
        self._alert("Ctrl-C refused: only at the loading stop with the driver off")

    def pending_output(self):
        """Bytes queued but not yet written."""
        return self._tx_bytes

    def busy(self):
        """True while input waits, a reply is being formatted or written, or a restart
        waits for its reply to go out."""
        return (self._busy or self._tx_bytes > 0 or self._rx_pos < self._rx_len
                or self._action is not None)

    # ------------------------------------------------------------ line assembly

    def _take_bytes(self):
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
                    self._end_line()
                    return  # one command per tick
                continue
            self._after_cr = False
            if c == 3:
                self._rx_pos = i
                self._n = 0
                self._discard = _D_NONE
                raise KeyboardInterrupt
            if self._discard:
                continue
            if c == 8 or c == 127:
                if self._n:
                    self._n -= 1
            elif (c < 32 and c != 9) or c > 126:
                self._discard = _D_BYTE
            elif self._n >= _LINE_MAX:
                self._discard = _D_LONG
            else:
                line[self._n] = 32 if c == 9 else c
                self._n += 1
        self._rx_pos = i

    def _end_line(self):
        why = self._discard
        n = self._n
        self._n = 0
        self._discard = _D_NONE
        self._req_id = None
        if why == _D_LONG:
            self._error("line too long (at most %d bytes)" % _LINE_MAX)
        elif why == _D_BYTE:
            self._error("line discarded: a byte that is not printable ASCII")
        else:
            self._execute(bytes(self._line[:n]).decode())  # printable ASCII: cannot fail

    def _execute(self, text):
        try:
            self._req_id, words = split(text)
            if not words:
                return
            if words[0] != "consent":
                self._consent_shown = False
            name, values = parse(words)
            cmd = CORE_COMMANDS.get(name)
            if cmd is not None:
                if self._core(cmd):
                    self._moved(name)
            else:
                getattr(self, "_c_" + name)(*values)
        except ParseError as e:
            self._error(str(e))
        except Exception as e:  # one bad command must not stop the console
            self._error("internal error: %s %s" % (type(e).__name__, e))

    # ------------------------------------------------------------------ output

    def _queue(self, data):
        tx = self._tx
        # small pieces join the last one (not the one half written): fewer writes per tick
        if tx and len(tx[-1]) + len(data) <= _TX_CHUNK and (len(tx) > 1 or not self._tx_off):
            tx[-1] += data
        else:
            tx.append(data)
        self._tx_bytes += len(data)

    def _reply(self, text, obj, pairs=(), key=None, rows=(), row=None):
        """Start one reply. Human mode: text (a str or a list of lines, may be None),
        then a "label: value" line per pair and row(item, False) per row. JSON mode: obj,
        the pairs as more fields and row(item, True) for each row in a list under key, all
        on one line. The head goes out now; the pairs and rows a few per tick."""
        if self._busy:
            # a handler that failed after its reply began: the line must stay whole
            self._alert(text if type(text) is str else "internal error")
            return
        if self._req_id is not None:
            obj["id"] = self._req_id
        # A request tagged with an id comes from a machine client: answer it in JSON
        # whatever the mode, so a restarted board (back in human mode) stays readable.
        js = self._g_js = self.json or self._req_id is not None
        if js:
            self._queue(json.dumps(obj)[:-1].encode())  # '{"ok": ...' - closed by _more
        elif text is not None:
            for line in [text] if type(text) is str else text:
                self._queue((line + "\n").encode())
        self._busy = True
        self._g_pairs = pairs
        self._g_rows = rows
        self._g_i = 0
        self._g_key = key
        self._g_open = False  # the JSON list under key has been opened
        self._g_row = row
        self._more()  # a short reply is complete at once

    def _more(self):
        """Format the next pairs and rows of the reply; close it after the last one."""
        pairs = self._g_pairs
        rows = self._g_rows
        np = len(pairs)
        total = np + len(rows)
        n = _ITEMS_PER_TICK
        js = self._g_js
        while self._g_i < total:
            if n == 0 or self._tx_bytes > _TX_HIGH:
                return
            n -= 1
            i = self._g_i
            self._g_i = i + 1
            try:
                if i < np:
                    pair = pairs[i]
                    k = pair[0]
                    v = pair[1]
                    if js:
                        piece = ', "%s": %s' % (k, json.dumps(v))
                    else:
                        piece = "%s: %s\n" % _human(k, v)
                elif js:
                    row = self._g_row
                    assert row is not None  # a reply with rows has its formatter
                    piece = json.dumps(row(rows[i - np], True))
                    piece = (", " if self._g_open else ', "%s": [' % self._g_key) + piece
                    self._g_open = True
                else:
                    row = self._g_row
                    assert row is not None
                    piece = row(rows[i - np], False) + "\n"
            except Exception as e:  # a bad item is left out; the reply line stays whole
                self._alert("internal error: %s %s" % (type(e).__name__, e))
                continue
            self._queue(piece.encode())
        if js:
            if self._g_key is None:
                self._queue(b"}\n")
            elif self._g_open:
                self._queue(b"]}\n")
            else:
                self._queue((', "%s": []}\n' % self._g_key).encode())
        self._busy = False
        self._g_pairs = self._g_rows = ()
        self._g_row = None
        for a in self._alerts:
            self._queue(a)
        self._alerts = []

    def _ok(self, text, obj=None, **more):
        if obj is None:
            obj = {}
        obj["ok"] = True
        self._reply(text, obj, **more)

    def _error(self, msg, obj=None):
        if obj is None:
            obj = {}
        obj["ok"] = False
        obj["error"] = msg
        self._reply("error: " + msg, obj)

    def _alert(self, msg):
        if self.json:
            data = (json.dumps({"alert": msg}) + "\n").encode()
        else:
            data = ("alert: " + msg + "\n").encode()
        if self._busy:
            self._alerts.append(data)  # never inside an open reply line
        else:
            self._queue(data)

    def _drain(self):
        budget = _TX_CHUNK
        tx = self._tx
        while budget > 0 and tx:
            first = tx[0]
            off = self._tx_off
            n = len(first) - off
            if n > budget:
                n = budget
            chunk = first if off == 0 and n == len(first) else first[off:off + n]
            try:
                w = self.board.console_write(chunk)
            except OSError:
                # port gone (USB unplugged): drop what waits, the next reply starts clean
                self._tx = []
                self._tx_off = self._tx_bytes = 0
                return
            if w is None:
                w = n  # a board whose write takes everything
            elif w <= 0:
                return  # port full: the rest waits for the next tick
            elif w > n:
                w = n
            off += w
            budget -= w
            self._tx_bytes -= w
            if off >= len(first):
                tx.pop(0)
                off = 0
            self._tx_off = off

    # ---------------------------------------------------------------- telemetry

    def _stream(self, now):
        if ticks_diff(now, self._stream_next) < 0:
            return
        period = self._stream_ms
        nxt = ticks_add(self._stream_next, period)
        if ticks_diff(now, nxt) >= 0:
            nxt = ticks_add(now, period)  # fell behind (a long tick): no burst of lines
        self._stream_next = nxt
        core = self.app.core
        angle = core.angle_mdeg
        rate = 0  # from the last two samples: cheap, and what a plot of them shows
        if self._tel_have:
            dt = ticks_diff(now, self._tel_t)
            if dt > 0:
                rate = (angle - self._tel_angle) * 1000 // dt
        self._tel_have = True
        self._tel_t = now
        self._tel_angle = angle
        if self._tx_bytes > _TEL_BACKLOG or self._busy:
            self.tel_dropped += 1
            return
        state = _name(states.STATE_NAMES, core.state)
        fault = faults.name(core.fault)
        if self.json:
            line = _TEL_JSON % (now, state, angle, core.target_mdeg, rate, fault)
        else:
            line = _TEL_TEXT % (fmt_milli(now), state, fmt_milli(angle),
                                fmt_milli(core.target_mdeg), fmt_milli(rate), fault)
        self._queue(line.encode())

    # ------------------------------------------------------------ small helpers

    def _note_selftest(self):
        core = self.app.core
        if core.state == states.BOOT:
            return
        if core.state == states.FAULT and getattr(core, "fault_at_boot", False):
            self.selftest = core.fault
        else:
            self.selftest = 0

    def _run_action(self):
        act = self._action
        self._action = None
        if act is None:
            return
        method, what = act
        if self.app.core.state != states.READY:
            self._alert("%s cancelled: the table left READY" % what)
            return
        getattr(self.board, method)()

    def _need_therapist(self):
        if not self.auth.is_authorised(self.now_ms, True):
            raise ParseError("needs a therapist session: login <pin>")

    def _need_ready(self, what):
        st = self.app.core.state
        if st != states.READY:
            raise ParseError("%s only in READY (now %s)" % (what, _name(states.STATE_NAMES, st)))

    def _save(self):
        """Persist profiles and settings; a warning text, or '' when stored (or unknown)."""
        st = self.app.save_profiles_and_settings()
        if st is not None and st != store.OK:
            return "not stored (%s): lost at the next reset" % store.status_name(st)
        return ""

    def _core(self, cmd, a=0, b=0):
        """core.command(); on a refusal, reply with the reason and return False."""
        r = self.app.core.command(cmd, a, b)
        if r == states.OK:
            return True
        self._error("refused: " + states.reason_name(r), {"reason": r})
        return False

    def _moved(self, what, requested=None):
        """The reply to an accepted motion command: where the core is going now."""
        core = self.app.core
        state = _name(states.STATE_NAMES, core.state)
        obj = {"state": state, "target_mdeg": core.target_mdeg}
        note = ""
        if core.state == states.HOMING and what != "home":
            note = "homing first, then the %s runs" % what
        elif requested is not None and core.target_mdeg != requested:
            note = "clamped to the profile and table limits"
        text = "ok %s: %s, target %s deg" % (what, state, fmt_milli(core.target_mdeg))
        if note:
            obj["note"] = note
            text += " (" + note + ")"
        self._ok(text, obj)

    def _login(self, pin):
        """Open a therapist session or raise ParseError saying why not."""
        auth = self.auth
        now = self.now_ms
        if auth.pin_damaged:
            raise ParseError("the stored PIN is damaged: clear it at the table")
        if not auth.has_pin:
            raise ParseError("no PIN is set: pin set <new>")
        left = auth.lockout_remaining_ms(now)
        if left <= 0:
            if auth.login(pin, now):
                return
            left = auth.lockout_remaining_ms(now)
            if left <= 0:
                raise ParseError("wrong PIN")
            raise ParseError("wrong PIN; locked out for %d s" % ((left + 999) // 1000))
        raise ParseError("locked out for %d s" % ((left + 999) // 1000))

    def _lock_reply(self, status):
        on = bool(self.app.core.child_lock)
        warn = None
        text = "ok child lock: %s" % ("on" if on else "off")
        if status != store.OK:
            warn = "not stored (%s): lost at the next reset" % store.status_name(status)
            text += "; " + warn
        self._ok(text, {"child_lock": on, "warning": warn})

    # ------------------------------------------------------------------ commands
    # One handler per command that is not in CORE_COMMANDS; the arguments arrive
    # parsed (cmdparse.parse). Checks first, then changes.

    def _c_help(self, name):
        # all: rows are command numbers, each read from the table when its turn comes
        rows = range(command_count()) if name is None else [command(name)]
        self._ok(None, key="commands", rows=rows, row=_help_row)

    def _c_status(self):
        app = self.app
        core = app.core
        p = core.profile
        ph = core.phase
        self._ok(None, pairs=(
            ("state", _name(states.STATE_NAMES, core.state)),
            ("phase", states.phase_name(ph)),
            ("angle_mdeg", core.angle_mdeg),
            ("target_mdeg", core.target_mdeg),
            ("fault", faults.name(core.fault)),
            ("est_valid", bool(core.est.valid)),
            ("homed", bool(core.homed)),
            ("estop_open", bool(getattr(core, "estop_open", False))),
            ("timer_ms", core.timer_ms),
            ("head_down_ms", core.head_down_ms),
            ("session_cap_ms", p.session_cap_ms),
            ("deepest_mdeg", core.deepest_mdeg),
            ("program", _name(programs.NAMES, core.program_id)),
            ("profile", p.name),
            ("max_mdeg", p.max_mdeg),
            ("level", p.level),
            ("consent", bool(p.consent)),
            ("child_lock", bool(core.child_lock)),
            ("therapist", self.auth.is_authorised(self.now_ms, False)),
            ("startup_errors", list(app.startup_errors)),
        ))

    def _c_goto(self, a):
        if self._core(states.C_GOTO, a):
            self._moved("goto", a)

    def _c_hold(self, ms):
        if self._core(states.C_HOLD, ms):
            self._ok("ok hold: %s s (capped by the profile)" % fmt_milli(ms), {"hold_ms": ms})

    def _c_program(self, pid):
        core = self.app.core
        if pid is not None and not self._core(states.C_PROGRAM, pid):
            return
        cur = _name(programs.NAMES, core.program_id)
        names = [programs.NAMES[k] for k in sorted(programs.NAMES)]
        self._ok("ok program: %s (programs: %s)" % (cur, " ".join(names)),
                 {"program": cur, "programs": names})

    def _c_start(self, a, b):
        if not self._core(states.C_START, a, b):
            return
        core = self.app.core
        runner = getattr(core, "runner", None)
        plan = [[t, h] for t, h in runner.plan()] if runner is not None else []
        prog = _name(programs.NAMES, core.program_id)
        state = _name(states.STATE_NAMES, core.state)
        steps = ", ".join(["%s deg for %s s" % (fmt_milli(t), fmt_milli(h)) for t, h in plan])
        self._ok("ok start %s: %s, target %s deg; plan %s"
                 % (prog, state, fmt_milli(core.target_mdeg), steps or "-"),
                 {"program": prog, "state": state, "target_mdeg": core.target_mdeg,
                  "plan": plan})

    def _c_consent(self, yes):
        p = self.app.core.profile
        if yes is None:
            self._consent_shown = True
            items = profiles.contraindications()
            lines = ["Inversion is not for anyone with:"]
            for c in items:
                lines.append("  - " + c)
            lines.append("profile '%s' consent: %s" % (p.name, "yes" if p.consent else "no"))
            lines.append("If none of these applies, type: consent yes")
            self._ok(lines, {"contraindications": items,
                                        "profile": p.name, "consent": bool(p.consent),
                                        "confirm": "consent yes"})
            return
        if not self._consent_shown:
            raise ParseError("read the list first: consent, then consent yes")
        self._consent_shown = False
        if self._core(states.C_CONSENT):
            self._ok("ok consent: recorded for profile '%s'" % p.name,
                     {"profile": p.name, "consent": bool(p.consent)})

    def _c_calibrate(self, a):
        if a is None:
            if self.app.core.state != states.READY:
                raise ParseError("give the angle the table stands at: calibrate <deg>")
            a = 0  # READY: the core takes the loading switch as the reference
        if self._core(states.C_CALIBRATE, a):
            z = self.app.cfg.imu_zero_mdeg
            self._ok("ok calibrate: IMU zero %s deg" % fmt_milli(z), {"imu_zero_mdeg": z})

    def _c_faults(self):
        core = self.app.core
        fl = self.app.faultlog
        latched = faults.name(core.fault)
        text = ["latched: %s (state %s)" % (latched, _name(states.STATE_NAMES, core.state)),
                "boot %d; fault history, oldest first:%s" % (fl.boot,
                                                             "" if fl.entries else " none")]
        self._ok(text, {"latched": latched, "boot": fl.boot}, key="history",
                 rows=list(fl.entries), row=_fault_row)

    def _c_log(self, n):
        log = self.app.core.log
        start = log.seq - (_LOG_DEFAULT if n is None else n)
        if start < log.oldest_seq():
            start = log.oldest_seq()
        # rows are sequence numbers: each event is read and worded only when its turn
        # comes (a few per tick), not all at once
        self._ok(None if start < log.seq else "no events",
                 {"fields": ["t_ms", "event", "a", "b", "text"]}, key="events",
                 rows=range(start, log.seq), row=self._event_row)

    def _event_row(self, seq, js):
        ev = self.app.core.log.get(seq)
        if ev is None:  # overwritten meanwhile (the ring wrapped): say so
            t, name, a, b, text = 0, "lost", 0, 0, "overwritten while listing"
        else:
            t, code, a, b = ev
            name = events.name(code)
            if name is None:
                name = str(code)
            text = event_text(code, a, b)
        if js:
            return [t, name, a, b, text]
        return "%s %s %s" % (fmt_milli(t), name, text)

    def _c_history(self, n):
        hist = self.app.history
        rows = hist.last(_HISTORY_DEFAULT if n is None else n)
        self._ok(None if rows else "no sessions yet", {"total": hist.count}, key="sessions",
                 rows=rows, row=_session_row)

    def _c_config(self, op, name, value):
        app = self.app
        cfg = app.cfg
        if op == "get":
            if name is None:
                # rows are field numbers: each is read and formatted when its turn comes
                self._ok(None, {"fields": ["name", "value", "min", "max", "fixed"]},
                         key="config", rows=range(field_count()), row=self._setting_row)
                return
            f = field(name)
            if f is not None:
                r = self._setting_row(f, True)
                self._ok(self._setting_row(f, False), {"name": r[0], "value": r[1],
                                                       "min": r[2], "max": r[3], "fixed": r[4]})
            return
        self._need_therapist()
        self._need_ready("config set")
        old = cfg.get(name)
        try:
            cfg.set(name, value)
        except ConfigError as e:
            raise ParseError(str(e))
        for p in app.profiles:
            try:
                p.check(cfg)
            except profiles.ProfileError as e:
                cfg.set(name, old)
                raise ParseError("refused: profile '%s' would be invalid: %s" % (p.name, e))
        warn = self._save()
        apply = getattr(app.core, "apply_config", None)
        if apply is not None:
            apply()
        text = "ok config: %s = %d (was %d)" % (name, value, old)
        self._ok(text + ("; " + warn if warn else ""),
                 {"name": name, "value": value, "old": old, "warning": warn or None})

    def _setting_row(self, f, js):
        """A field (config.field(), or its number f) as [name, value, min, max, fixed]."""
        if type(f) is int:
            f = field_at(f)
        assert f is not None
        name = f[0]
        v = self.app.cfg.get(name)
        fixed = is_fixed(name)
        if js:
            return [name, v, f[2], f[3], fixed]
        return "%s = %d  [%d, %d]%s" % (name, v, f[2], f[3], "  (fixed)" if fixed else "")

    def _c_profile(self, setting, value):
        p = self.app.core.profile
        if setting is None:
            lvl = p.level
            self._ok(None, pairs=(
                ("name", p.name),
                ("max_mdeg", p.max_mdeg),
                ("hold_max_ms", p.hold_max_ms),
                ("session_cap_ms", p.session_cap_ms),
                ("level", lvl),
                ("level_angle_mdeg", profiles.LEVEL_ANGLE_MDEG[lvl]),
                ("level_hold_ms", profiles.LEVEL_HOLD_MS[lvl]),
                ("sessions_at_level", p.sessions_at_level),
                ("advance_after", p.advance_after),
                ("consent", bool(p.consent)),
            ))
            return
        name, field, milli = setting
        self._need_therapist()
        self._need_ready("profile set")
        old = getattr(p, field)
        try:
            p.set(field, value, self.app.cfg)
        except profiles.ProfileError as e:
            raise ParseError(str(e))
        warn = self._save()
        shown = fmt_milli if milli else str
        text = "ok profile '%s': %s = %s (was %s)" % (p.name, name, shown(value), shown(old))
        self._ok(text + ("; " + warn if warn else ""),
                 {"profile": p.name, "field": field, "value": value, "old": old,
                  "level": p.level, "warning": warn or None})

    def _c_selftest(self):
        app = self.app
        core = app.core
        est = core.est
        if self.selftest is None:
            result = "running"
        elif self.selftest == 0:
            result = "passed"
        else:
            result = "failed: %s" % faults.name(self.selftest)
        buttons = getattr(core, "buttons", None)
        self._ok(None, pairs=(
            ("selftest", result),
            ("reset_cause", _name(_RESETS, app.board.reset_cause())),
            ("estop_open", getattr(core, "estop_open", None)),
            ("imu_valid", bool(est.valid)),
            ("imu_fault", faults.name(est.fault)),
            ("imu_angle_mdeg", est.angle_mdeg),
            ("home_switch", getattr(core, "home", None)),
            ("overtravel_switch", getattr(core, "overtravel", None)),
            ("homed", bool(core.homed)),
            ("steps_trusted", getattr(core, "steps_trusted", None)),
            ("imu_trusted", getattr(core, "imu_trusted", None)),
            ("stuck_buttons", buttons.stuck if buttons is not None else None),
            ("overruns_total", getattr(app, "overruns_total", None)),
            ("config_fault", faults.name(getattr(app, "config_fault", 0))),
            ("startup_errors", list(app.startup_errors)),
        ))

    def _c_stream(self, hz):
        self.stream_hz = hz
        self._stream_ms = 1000 // hz if hz else 0
        self._stream_next = self.now_ms
        self._tel_have = False
        self._ok("ok stream: %s" % (("%d Hz" % hz) if hz else "off"), {"stream_hz": hz})

    def _c_json(self, onoff):
        on = self.json if onoff is None else onoff == "on"
        # The reply to `json on` and to `json off` is JSON: whoever switches expects it.
        self.json = self.json or on
        self._ok("ok json: %s" % ("on" if on else "off"), {"json": on})
        self.json = on

    def _c_version(self):
        impl = sys.implementation
        v = impl.version
        self._ok(None, pairs=(
            ("firmware", getattr(self.app, "version", "dev")),
            ("protocol", PROTOCOL),
            ("platform", sys.platform),
            ("python", "%s %d.%d.%d" % (impl.name, v[0], v[1], v[2])),
        ))

    def _c_login(self, pin):
        self._login(pin)
        self._ok("ok login: therapist session open (ends on logout, 5 min idle or a reset)",
                 {"therapist": True})

    def _c_logout(self):
        self.auth.logout()
        self._ok("ok logout", {"therapist": False})

    def _c_pin(self, old, new):
        auth = self.auth
        if old is None and (auth.has_pin or auth.pin_damaged):
            raise ParseError("a PIN is set: pin set <old> <new>")
        try:
            auth.set_pin(old, new, self.now_ms)
        except AuthError as e:
            raise ParseError(str(e))
        self._ok("ok pin: set", {"pin": True})

    def _c_lock(self):
        status = self.auth.set_child_lock(True, self.now_ms)
        self.app.core.command(states.C_CHILD_LOCK, 1)
        self._lock_reply(status)

    def _c_unlock(self, pin):
        if pin is not None:
            self._login(pin)
        try:
            status = self.auth.set_child_lock(False, self.now_ms)
        except AuthError as e:
            raise ParseError(str(e))
        self.app.core.command(states.C_CHILD_LOCK, 0)
        self._lock_reply(status)

    def _c_reboot(self):
        self._restart("reset", "reboot")

    def _c_maintenance(self):
        self._restart("enter_maintenance", "maintenance")

    def _restart(self, method, what):
        self._need_ready(what)
        if not hasattr(self.board, method):
            raise ParseError("this board cannot %s" % what)
        self._action = (method, what)  # called once this reply has been written out
        self._ok("ok %s: restarting" % what, {"restarting": True})

