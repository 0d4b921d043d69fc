"""The serial console: line assembly, command dispatch and replies, human or JSON.

Owns the console protocol. The app calls `service(now_ms)` once per tick after the
core's tick; it reads at most 64 bytes (`board.console_read_into`), runs at most one
complete command line, writes at most 96 bytes of pending output
(`board.console_write`) and, when streaming, queues one telemetry line per period.
When no byte arrived and nothing is pending it allocates nothing.

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
- Byte 0x03 (Ctrl-C) raises KeyboardInterrupt out of service(); the app leaves its loop
  (the table is safe: the core's outputs stop with it) and the REPL takes over. On the
  ESP32 MicroPython's own keyboard interrupt does this before the byte reaches us; on
  the unix-port virtual device the pty is raw, so this is how mpremote interrupts it.
- Words are separated by spaces; the line is case-insensitive. A first word `#<n>`
  (0-999999999) is a request id, echoed as "id" in JSON replies.
- Numbers are strict (firmware/cmdparse.py): degrees and seconds take up to 3
  decimals and become mdeg and ms; anything malformed is an error that changes nothing.

Replies: exactly one per non-empty line. Human mode (the default): text, errors start
with "error: ". `json on`: every reply is one JSON object on one line, {"ok": true,
...} or {"ok": false, "error": "..."}; a core refusal adds "reason" (states.R_*).
Lines the console sends by itself: telemetry (`stream`), {"tel": {...}} in JSON mode,
"tel ..." in human mode; alerts {"alert": "..."} / "alert: ..."; the start-up banner
(human text, before anyone could ask for JSON).
"""

import json
import sys

from micropython import const

import faults
import profiles
import programs
import states
import store
from auth import Auth, AuthError, valid_pin
from cmdparse import ParseError, fmt_milli, parse_int, parse_milli
from config import FIELDS as CONFIG_FIELDS
from config import ConfigError
from events import (
    E_ACK,
    E_BOOT,
    E_CALIBRATED,
    E_CAP,
    E_CLAMPED,
    E_COMMAND,
    E_ESTOP,
    E_FAULT,
    E_HOMED,
    E_OVERRUN,
    E_RECOVERY,
    E_SEGMENT,
    E_SESSION_END,
    E_SESSION_START,
    E_STATE,
    E_STUCK_BUTTON,
    EVENT_NAMES,
)
from states import (
    BOOT,
    C_ACK,
    C_CALIBRATE,
    C_CONSENT,
    C_DISCOMFORT,
    C_ESTOP,
    C_GOTO,
    C_HOLD,
    C_HOME,
    C_PROGRAM,
    C_RETURN,
    C_START,
    C_STOP,
    COMMAND_NAMES,
    FAULT,
    HOMING,
    OK,
    READY,
    REASON_NAMES,
    STATE_NAMES,
)
from ticks import ticks_add, ticks_diff

PROTOCOL = const(1)  # bumped when a reply's shape changes incompatibly

_RX_CHUNK = const(64)  # bytes read per tick at most: bounds the work of one pass
_LINE_MAX = const(120)  # longest command line; the longest real one ("pin set ...") is ~30
# Output written per tick at most: 9.6 KB/s at 100 Hz, below the 11.5 KB/s of 115200
# baud, so a write never waits for the UART and a long reply never stretches a tick.
_TX_CHUNK = const(96)
_TX_MAX = const(8192)  # pending output bound: the largest reply (log 96, JSON: 7.8 KB) fits
_TX_RESERVE = const(128)  # kept free so a "reply dropped" error always fits
_TEL_BACKLOG = const(256)  # telemetry is skipped (not queued) while this much waits
_AUTH_POLL_MS = const(1000)  # auth.is_authorised() now and then ends an idle session
_MAX_ARG_MDEG = const(180000)  # the core refuses angles beyond +-180 deg; so do we
_MAX_HOLD_MS = const(3600000)  # the core refuses holds over an hour; so do we
_LOG_DEFAULT = const(20)
_HISTORY_DEFAULT = const(10)
_STREAM_MAX_HZ = const(50)  # 20 ms: two ticks per line at most
_REQ_ID_MAX = const(999999999)

# Why a line is being discarded up to its end.
_D_NONE = const(0)
_D_LONG = const(1)
_D_BYTE = const(2)

# Deferred actions, run once the reply has been written.
_A_NONE = const(0)
_A_RESET = const(1)
_A_MAINTENANCE = const(2)

# (name, usage, what it does): drives dispatch, `help` and the host's completion.
COMMANDS = (
    ("help", "help [command]", "list the commands, or one command's usage"),
    ("status", "status", "state, angle, target, fault, session, profile, access"),
    ("goto", "goto <deg>", "move to an angle (clamped to the profile max and soft max)"),
    ("hold", "hold <s>", "hold time at the target (capped by the profile)"),
    ("program", "program [name|id]", "show or select: beginner progression interval custom"),
    ("start", "start [<deg> <s>]", "start the selected program (custom/interval: angle, hold)"),
    ("stop", "stop", "decelerate and hold here"),
    ("return", "return", "normal return: rest at horizontal, then the loading position"),
    ("estop", "estop", "emergency return, latched until 'ack'"),
    ("ack", "ack", "acknowledge the emergency latch or a fault (never moves by itself)"),
    ("discomfort", "discomfort", "the person feels unwell: return at once"),
    ("consent", "consent [yes]", "show the contraindications; 'consent yes' confirms none apply"),
    ("home", "home", "find the loading switch and set the step reference"),
    ("calibrate", "calibrate [<deg>]", "take the IMU zero (READY: at the loading switch)"),
    ("faults", "faults", "the latched fault and the fault history kept across resets"),
    ("log", "log [n]", "the last n events (default 20)"),
    ("history", "history [n]", "the last n sessions (default 10)"),
    ("config", "config get [name] | config set <name> <value>", "settings (set: login, READY)"),
    ("profile", "profile [set <field> <value>]",
     "the active profile; set (login, READY): max_deg hold_s cap_s advance_after"),
    ("selftest", "selftest", "boot self-test result, reset cause and the live checks"),
    ("stream", "stream <hz>|off", "telemetry lines at 1-50 Hz"),
    ("json", "json [on|off]", "machine mode: every reply one JSON object per line"),
    ("version", "version", "firmware and protocol version"),
    ("login", "login <pin>", "open a therapist session (5 wrong PINs lock out)"),
    ("logout", "logout", "close the therapist session"),
    ("pin", "pin set [<old>] <new>", "set the therapist PIN, 4-8 digits (first one: no old)"),
    ("lock", "lock", "child lock on: table buttons off, the e-stop still works"),
    ("unlock", "unlock [<pin>]", "child lock off (therapist PIN)"),
    ("reboot", "reboot", "reset the controller (READY only)"),
    ("maintenance", "maintenance", "restart into maintenance mode for deploy (READY only)"),
)
_USAGE = {}
for _c in COMMANDS:
    _USAGE[_c[0]] = _c[1]

# Settings `config set` refuses. The frame, drive and IMU mounting numbers come from
# the hardware file (one source of truth: deploy a new file to change them); the
# kinematics, loop period and watchdog are taken once at boot.
FIXED_SETTINGS = (
    "loading_angle_mdeg",
    "home_switch_mdeg",
    "soft_max_mdeg",
    "overtravel_mdeg",
    "motor_steps_per_rev",
    "microsteps",
    "gear_ratio",
    "backlash_mdeg",
    "kinematics",
    "screw_lead_um",
    "screw_frame_mm",
    "screw_table_mm",
    "screw_offset_mdeg",
    "imu_axis",
    "imu_sign",
    "tick_ms",
    "wdt_timeout_ms",
)

# `profile set` fields: (console name, Profile field, decimal thousandths?).
PROFILE_SETTINGS = (
    ("max_deg", "max_mdeg", True),
    ("hold_s", "hold_max_ms", True),
    ("cap_s", "session_cap_ms", True),
    ("advance_after", "advance_after", False),
)

# machine.reset_cause() numbers (the same on the ESP32 and the simulated board).
_RESET_NAMES = {1: "power-on", 2: "hard", 3: "watchdog", 4: "deep-sleep", 5: "soft"}
_ESTOP_SOURCES = {1: "circuit open", 2: "irq edge", 3: "console"}
_CAP_KINDS = {1: "hold cap", 2: "session cap"}
# Names of the core's sub-phases, if states.py provides them (else the number is shown).
_PHASE_NAMES = getattr(states, "PHASE_NAMES", None)

_TEL_JSON = (
    '{"tel": {"t_ms": %d, "state": "%s", "angle_mdeg": %d, "target_mdeg": %d, '
    '"rate_mdeg_s": %d, "fault": "%s"}}\n'
)
_TEL_TEXT = "tel t=%s s state=%s angle=%s target=%s rate=%s fault=%s\n"


def _name(table, i):
    if type(table) is dict:
        return table.get(i, str(i))
    return table[i] if 0 <= i < len(table) else str(i)


def _human(key, v):
    """(label, text) of one reply field: units from the key's suffix, mdeg/ms as deg/s."""
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


def _pairs_text(pairs):
    lines = []
    for k, v in pairs:
        lines.append("%s: %s" % _human(k, v))
    return "\n".join(lines)


def _pairs_obj(pairs):
    obj = {}
    for k, v in pairs:
        obj[k] = v
    return obj


def event_text(code, a, b):
    """One event log record (code, a, b) in words, with names from states/faults/events."""
    if code == E_STATE:
        return "%s -> %s" % (_name(STATE_NAMES, a), _name(STATE_NAMES, b))
    if code == E_FAULT:
        return "%s in %s" % (faults.name(a), _name(STATE_NAMES, b))
    if code == E_COMMAND:
        return "%s: %s" % (_name(COMMAND_NAMES, a), _name(REASON_NAMES, b))
    if code == E_BOOT:
        return "reset cause %s" % _name(_RESET_NAMES, a)
    if code == E_ESTOP:
        return _name(_ESTOP_SOURCES, a)
    if code == E_ACK:
        return "in %s" % _name(STATE_NAMES, a)
    if code == E_SESSION_START:
        return "program %d" % a
    if code == E_SESSION_END:
        return "%s, deepest %s deg" % (_name(profiles.ENDED_NAMES, a), fmt_milli(b))
    if code == E_CLAMPED:
        return "%s -> %s deg" % (fmt_milli(a), fmt_milli(b))
    if code == E_CAP:
        return _name(_CAP_KINDS, a)
    if code == E_HOMED:
        return "switch at count %d" % a
    if code == E_STUCK_BUTTON:
        return "buttons 0x%x" % a
    if code == E_CALIBRATED or code == E_RECOVERY:
        return "%s deg" % fmt_milli(a)
    if code == E_SEGMENT:
        return "segment %d to %s deg" % (a, fmt_milli(b))
    if code == E_OVERRUN:
        return "%d in a row" % a
    return "a=%d b=%d" % (a, b)


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
        # output: whole reply lines (bytes), written _TX_CHUNK bytes per tick
        self._tx = []
        self._tx_off = 0
        self._tx_bytes = 0
        self.tx_dropped = 0  # replies that did not fit the output bound
        self.tel_dropped = 0  # telemetry lines skipped while output was backed up
        # telemetry
        self.stream_hz = 0
        self._stream_ms = 0
        self._stream_next = 0
        self._tel_have = False
        self._tel_t = 0
        self._tel_angle = 0
        # the command being run
        self._cmd = ""
        self._req_id = None
        self._consent_shown = False  # `consent yes` only right after the list was shown
        self._action = _A_NONE
        self._auth_ms = 0
        self.selftest = None  # the boot self-test's fault code (0 passed) once known
        auth = getattr(app, "auth", None)
        if auth is None:
            # The app does not keep the access state: keep it here, and give the core
            # the child lock as stored (it survives a reset).
            auth = Auth(app.fs)
            app.core.child_lock = auth.child_locked
        self.auth = auth
        self._queue_line("inversion table console, protocol %d: 'help' lists the commands"
                         % PROTOCOL)
        for e in app.startup_errors:
            self._queue_line("startup error: " + e)

    # ------------------------------------------------------------------ per tick

    def service(self, now_ms):
        """One tick of console work. Never blocks; allocates nothing when idle."""
        self.now_ms = now_ms
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
        elif self._action != _A_NONE:
            self._run_action()
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
        except Exception:  # noqa: BLE001 - reporting must never raise into the loop
            pass

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
            elif c < 32 and c != 9 or c > 126:
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
        self._cmd = ""
        if why == _D_LONG:
            self._error("line too long (at most %d bytes)" % _LINE_MAX)
        elif why == _D_BYTE:
            self._error("line discarded: a byte that is not printable ASCII")
        else:
            # printable ASCII only, so decoding cannot fail
            self._execute(bytes(self._line[:n]).decode())

    def _execute(self, text):
        words = text.lower().split()
        if not words:
            return
        if words[0][0] == "#":
            try:
                self._req_id = parse_int(words[0][1:], 0, _REQ_ID_MAX, "request id")
            except ParseError as e:
                self._error(str(e))
                return
            words = words[1:]
            if not words:
                self._error("request id without a command")
                return
        name = words[0]
        if name != "consent":
            self._consent_shown = False
        if name not in _USAGE:
            self._error("unknown command '%s' (help lists them)" % (name[:16]))
            return
        self._cmd = name
        try:
            getattr(self, "_c_" + name)(words[1:])
        except ParseError as e:
            self._error(str(e))
        except Exception as e:  # noqa: BLE001 - one bad command must not stop the console
            self._error("internal error: %s %s" % (type(e).__name__, e))

    # ------------------------------------------------------------------ output

    def _queue(self, data, limit=_TX_MAX - _TX_RESERVE):
        if self._tx_bytes + len(data) > limit:
            return False
        self._tx.append(data)
        self._tx_bytes += len(data)
        return True

    def _queue_line(self, text):
        if not self._queue((text + "\n").encode()):
            self.tx_dropped += 1
            self._queue(b"error: output backed up, reply dropped\n", _TX_MAX)

    def _reply(self, text, obj):
        """Queue one reply: text in human mode, obj (a dict) as one JSON line."""
        if not self.json:
            self._queue_line(text)
            return
        if self._req_id is not None:
            obj["id"] = self._req_id
        data = (json.dumps(obj) + "\n").encode()
        if not self._queue(data):
            self.tx_dropped += 1
            err = {"ok": False, "error": "output backed up, reply dropped"}
            if self._req_id is not None:
                err["id"] = self._req_id
            self._queue((json.dumps(err) + "\n").encode(), _TX_MAX)

    def _ok(self, text, obj=None):
        if obj is None:
            obj = {}
        obj["ok"] = True
        self._reply(text, obj)

    def _ok_pairs(self, pairs, head=None):
        text = _pairs_text(pairs)
        if head:
            text = head + "\n" + text
        self._ok(text, _pairs_obj(pairs))

    def _error(self, msg, obj=None):
        if obj is None:
            obj = {}
        obj["ok"] = False
        obj["error"] = msg
        self._reply("error: " + msg, obj)

    def _alert(self, msg):
        if self.json:
            self._queue((json.dumps({"alert": msg}) + "\n").encode(), _TX_MAX)
        else:
            self._queue(("alert: " + msg + "\n").encode(), _TX_MAX)

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

    def pending_output(self):
        """Bytes queued but not yet written (tests, the app's idle check)."""
        return self._tx_bytes

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
        rate = 0
        if self._tel_have:
            dt = ticks_diff(now, self._tel_t)
            if dt > 0:
                rate = (angle - self._tel_angle) * 1000 // dt
        self._tel_have = True
        self._tel_t = now
        self._tel_angle = angle
        if self._tx_bytes > _TEL_BACKLOG:
            self.tel_dropped += 1
            return
        state = _name(STATE_NAMES, core.state)
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
        if core.state == BOOT:
            return
        if core.state == FAULT and getattr(core, "fault_at_boot", False):
            self.selftest = core.fault
        else:
            self.selftest = 0

    def _run_action(self):
        act = self._action
        self._action = _A_NONE
        if self.app.core.state != READY:
            self._alert("%s cancelled: the table left READY"
                        % ("reboot" if act == _A_RESET else "maintenance"))
            return
        if act == _A_RESET:
            self.board.reset()
        else:
            self.board.enter_maintenance()

    def _nargs(self, args, lo, hi):
        if not lo <= len(args) <= hi:
            raise ParseError("usage: " + _USAGE[self._cmd])

    def _need_therapist(self):
        if not self.auth.is_authorised(self.now_ms, True):
            raise ParseError("needs a therapist session: login <pin>")

    def _need_ready(self, what):
        st = self.app.core.state
        if st != READY:
            raise ParseError("%s only in READY (now %s)" % (what, _name(STATE_NAMES, st)))

    def _save(self):
        """Persist profiles and settings; returns a warning text, or '' when stored."""
        st = self.app.save_profiles_and_settings()
        if st is not None and st != store.OK:
            return "not stored (%s): lost at the next reset" % _name(store.STATUS_NAMES, st)
        return ""

    def _core(self, cmd, a=0, b=0):
        """core.command(); on a refusal, reply with the reason and return False."""
        r = self.app.core.command(cmd, a, b)
        if r == OK:
            return True
        self._error("refused: " + _name(REASON_NAMES, r), {"reason": r})
        return False

    def _moved(self, what, requested=None):
        """The reply to an accepted motion command: where the core is going now."""
        core = self.app.core
        st = core.state
        pairs = [("state", _name(STATE_NAMES, st)), ("target_mdeg", core.target_mdeg)]
        note = ""
        if st == HOMING and what != "home":
            note = "homing first, then the %s runs" % what
        elif requested is not None and core.target_mdeg != requested:
            note = "clamped to the profile and table limits"
        if note:
            pairs.append(("note", note))
        text = "ok %s: %s, target %s deg" % (what, pairs[0][1], fmt_milli(core.target_mdeg))
        if note:
            text += " (" + note + ")"
        self._ok(text, _pairs_obj(pairs))

    def _simple(self, args, cmd, what):
        self._nargs(args, 0, 0)
        if self._core(cmd):
            self._moved(what)

    def _pin_arg(self, pin):
        if not valid_pin(pin):
            raise ParseError("a PIN is 4-8 digits")
        return pin

    def _login(self, pin):
        """Open a therapist session or raise ParseError saying why not."""
        auth = self.auth
        now = self.now_ms
        if auth.pin_damaged:
            raise ParseError("the stored PIN is damaged: clear it at the table")
        if not auth.has_pin:
            raise ParseError("no PIN is set: pin set <new>")
        left = auth.lockout_remaining_ms(now)
        if left > 0:
            raise ParseError("locked out for %d s" % ((left + 999) // 1000))
        if auth.login(pin, now):
            return
        left = auth.lockout_remaining_ms(now)
        if left > 0:
            raise ParseError("wrong PIN; locked out for %d s" % ((left + 999) // 1000))
        raise ParseError("wrong PIN")

    # ------------------------------------------------------------------ commands
    # Each handler checks every argument and precondition before it changes anything,
    # so an error reply always means nothing changed.

    def _c_help(self, args):
        self._nargs(args, 0, 1)
        if args:
            if args[0] not in _USAGE:
                raise ParseError("unknown command '%s'" % args[0][:16])
            for c in COMMANDS:
                if c[0] == args[0]:
                    self._ok("usage: %s\n  %s" % (c[1], c[2]),
                             {"name": c[0], "usage": c[1], "help": c[2]})
            return
        lines = []
        cmds = []
        for c in COMMANDS:
            lines.append("%-40s %s" % (c[1], c[2]))
            cmds.append({"name": c[0], "usage": c[1], "help": c[2]})
        self._ok("\n".join(lines), {"commands": cmds})

    def _c_status(self, args):
        self._nargs(args, 0, 0)
        app = self.app
        core = app.core
        p = core.profile
        ph = core.phase
        phase = _PHASE_NAMES.get(ph, str(ph)) if _PHASE_NAMES is not None else str(ph)
        pairs = (
            ("state", _name(STATE_NAMES, core.state)),
            ("phase", phase),
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
        )
        self._ok_pairs(pairs)

    def _c_goto(self, args):
        self._nargs(args, 1, 1)
        a = parse_milli(args[0], -_MAX_ARG_MDEG, _MAX_ARG_MDEG, "angle (deg)")
        if self._core(C_GOTO, a):
            self._moved("goto", a)

    def _c_hold(self, args):
        self._nargs(args, 1, 1)
        ms = parse_milli(args[0], 0, _MAX_HOLD_MS, "hold (s)")
        if self._core(C_HOLD, ms):
            core = self.app.core
            self._ok("ok hold: %s s requested (capped by the profile)" % fmt_milli(ms),
                     {"hold_ms": ms, "state": _name(STATE_NAMES, core.state)})

    def _c_program(self, args):
        self._nargs(args, 0, 1)
        core = self.app.core
        names = [programs.NAMES[k] for k in sorted(programs.NAMES)]
        if not args:
            cur = _name(programs.NAMES, core.program_id)
            self._ok("program: %s (available: %s)" % (cur, " ".join(names)),
                     {"program": cur, "programs": names})
            return
        pid = -1
        for k in programs.NAMES:
            if programs.NAMES[k] == args[0]:
                pid = k
        if pid < 0:
            if args[0][:1] in "0123456789" and args[0]:
                pid = parse_int(args[0], 0, 99, "program id")
            if pid not in programs.NAMES:
                raise ParseError("unknown program '%s' (%s)" % (args[0][:16], " ".join(names)))
        if self._core(C_PROGRAM, pid):
            self._ok("ok program: %s" % programs.NAMES[pid], {"program": programs.NAMES[pid]})

    def _c_start(self, args):
        if len(args) == 1:
            raise ParseError("usage: " + _USAGE["start"] + " (both the angle and the hold)")
        self._nargs(args, 0, 2)
        a = b = 0
        if args:
            a = parse_milli(args[0], 0, _MAX_ARG_MDEG, "angle (deg)")
            b = parse_milli(args[1], 0, _MAX_HOLD_MS, "hold (s)")
        if not self._core(C_START, a, b):
            return
        core = self.app.core
        plan = []
        runner = getattr(core, "runner", None)
        if runner is not None and hasattr(runner, "plan"):
            plan = [[t, h] for t, h in runner.plan()]
        prog = _name(programs.NAMES, core.program_id)
        steps = ", ".join(["%s deg for %s s" % (fmt_milli(t), fmt_milli(h)) for t, h in plan])
        self._ok("ok start %s: %s, target %s deg%s"
                 % (prog, _name(STATE_NAMES, core.state), fmt_milli(core.target_mdeg),
                    ("; plan " + steps) if steps else ""),
                 {"program": prog, "state": _name(STATE_NAMES, core.state),
                  "target_mdeg": core.target_mdeg, "plan": plan})

    def _c_stop(self, args):
        self._simple(args, C_STOP, "stop")

    def _c_return(self, args):
        self._simple(args, C_RETURN, "return")

    def _c_estop(self, args):
        self._simple(args, C_ESTOP, "estop")

    def _c_ack(self, args):
        self._simple(args, C_ACK, "ack")

    def _c_discomfort(self, args):
        self._simple(args, C_DISCOMFORT, "discomfort")

    def _c_home(self, args):
        self._simple(args, C_HOME, "home")

    def _c_consent(self, args):
        self._nargs(args, 0, 1)
        p = self.app.core.profile
        if not args:
            self._consent_shown = True
            lines = ["Inversion is not for anyone with:"]
            for c in profiles.CONTRAINDICATIONS:
                lines.append("  - " + c)
            lines.append("profile '%s' consent: %s" % (p.name, "yes" if p.consent else "no"))
            lines.append("If none of these applies, type: consent yes")
            self._ok("\n".join(lines), {"contraindications": list(profiles.CONTRAINDICATIONS),
                                        "profile": p.name, "consent": bool(p.consent),
                                        "confirm": "consent yes"})
            return
        if args[0] != "yes":
            raise ParseError("usage: " + _USAGE["consent"])
        if not self._consent_shown:
            raise ParseError("read the list first: consent, then consent yes")
        self._consent_shown = False
        if self._core(C_CONSENT):
            self._ok("ok consent: recorded for profile '%s'" % p.name,
                     {"profile": p.name, "consent": bool(p.consent)})

    def _c_calibrate(self, args):
        self._nargs(args, 0, 1)
        core = self.app.core
        a = 0
        if args:
            a = parse_milli(args[0], -_MAX_ARG_MDEG, _MAX_ARG_MDEG, "angle (deg)")
        elif core.state != READY:
            raise ParseError("give the angle the table stands at: calibrate <deg>")
        if self._core(C_CALIBRATE, a):
            z = self.app.cfg.imu_zero_mdeg
            self._ok("ok calibrate: IMU zero %s deg" % fmt_milli(z), {"imu_zero_mdeg": z})

    def _c_faults(self, args):
        self._nargs(args, 0, 0)
        core = self.app.core
        fl = self.app.faultlog
        hist = []
        lines = ["latched: %s (state %s)" % (faults.name(core.fault),
                                             _name(STATE_NAMES, core.state)),
                 "boot %d; fault history (oldest first):" % fl.boot]
        for e in fl.entries:
            hist.append({"fault": faults.name(e[0]), "code": e[0], "boot": e[1],
                         "session": e[2]})
            lines.append("  %s (code %d) boot %d, after session %d"
                         % (faults.name(e[0]), e[0], e[1], e[2]))
        if not hist:
            lines.append("  none")
        self._ok("\n".join(lines), {"latched": faults.name(core.fault), "boot": fl.boot,
                                    "history": hist})

    def _c_log(self, args):
        self._nargs(args, 0, 1)
        log = self.app.core.log
        n = parse_int(args[0], 1, log.size, "n") if args else min(_LOG_DEFAULT, log.size)
        evs = []
        lines = []
        for t, code, a, b in log.since(log.seq - n):
            name = _name(EVENT_NAMES, code)
            text = event_text(code, a, b)
            # one of the two, and rows rather than objects: a full log stays < 8 KB
            if self.json:
                evs.append([t, name, a, b, text])
            else:
                lines.append("%s %s %s" % (fmt_milli(t), name, text))
        if not evs and not lines:
            lines.append("no events")
        self._ok("\n".join(lines), {"fields": ["t_ms", "event", "a", "b", "text"],
                                    "events": evs})

    def _c_history(self, args):
        self._nargs(args, 0, 1)
        hist = self.app.history
        n = parse_int(args[0], 1, hist.size, "n") if args else _HISTORY_DEFAULT
        out = []
        lines = []
        for e in hist.last(n):
            prog = _name(programs.NAMES, e[1])
            ended = _name(profiles.ENDED_NAMES, e[5])
            out.append({"session": e[0], "program": prog, "level": e[2],
                        "deepest_mdeg": e[3], "head_down_ms": e[4], "ended": ended})
            lines.append("#%d %s level %d: deepest %s deg, head-down %s s, %s"
                         % (e[0], prog, e[2], fmt_milli(e[3]), fmt_milli(e[4]), ended))
        if not lines:
            lines.append("no sessions yet")
        self._ok("\n".join(lines), {"sessions": out, "total": hist.count})

    def _c_config(self, args):
        if not args or args[0] == "get":
            self._nargs(args, 0, 2)
            self._config_get(args[1] if len(args) == 2 else None)
        elif args[0] == "set":
            self._nargs(args, 3, 3)
            self._config_set(args[1], args[2])
        else:
            raise ParseError("usage: " + _USAGE["config"])

    def _config_get(self, name):
        cfg = self.app.cfg
        if name is None:
            values = cfg.as_dict()
            lines = ["%s = %d" % (f[0], values[f[0]]) for f in CONFIG_FIELDS]
            self._ok("\n".join(lines), {"config": values})
            return
        f = _config_field(name)
        v = cfg.get(f[0])
        fixed = f[0] in FIXED_SETTINGS
        self._ok("%s = %d  [%d, %d]%s" % (f[0], v, f[2], f[3],
                                           "  (hardware file / boot only)" if fixed else ""),
                 {"name": f[0], "value": v, "min": f[2], "max": f[3], "fixed": fixed})

    def _config_set(self, name, text):
        app = self.app
        f = _config_field(name)
        value = parse_int(text, f[2], f[3], f[0])
        if f[0] in FIXED_SETTINGS:
            raise ParseError("%s comes from the hardware file or is read at boot: "
                             "deploy a new hardware file to change it" % f[0])
        self._need_therapist()
        self._need_ready("config set")
        cfg = app.cfg
        old = cfg.get(f[0])
        try:
            cfg.set(f[0], value)
        except ConfigError as e:
            raise ParseError(str(e))
        for p in app.profiles:
            try:
                p.check(cfg)
            except profiles.ProfileError as e:
                cfg.set(f[0], old)
                raise ParseError("refused: profile '%s' would be invalid: %s" % (p.name, e))
        warn = self._save()
        apply = getattr(app.core, "apply_config", None)
        if apply is not None:
            apply()
        text = "ok config: %s = %d (was %d)" % (f[0], value, old)
        if warn:
            text += "; " + warn
        self._ok(text, {"name": f[0], "value": value, "old": old, "warning": warn or None})

    def _c_profile(self, args):
        p = self.app.core.profile
        if args and args[0] == "set":
            self._nargs(args, 3, 3)
            self._profile_set(p, args[1], args[2])
            return
        self._nargs(args, 0, 0)
        lvl = p.level
        pairs = (
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
        )
        self._ok_pairs(pairs)

    def _profile_set(self, p, name, text):
        field = None
        for s in PROFILE_SETTINGS:
            if s[0] == name:
                field = s
        if field is None:
            raise ParseError("profile set takes %s"
                             % " ".join([s[0] for s in PROFILE_SETTINGS]))
        lo, hi = _profile_bounds(field[1])
        if field[2]:
            value = parse_milli(text, lo, hi, name)
        else:
            value = parse_int(text, lo, hi, name)
        self._need_therapist()
        self._need_ready("profile set")
        old = getattr(p, field[1])
        try:
            p.set(field[1], value, self.app.cfg)
        except profiles.ProfileError as e:
            raise ParseError(str(e))
        warn = self._save()
        shown = fmt_milli(value) if field[2] else str(value)
        was = fmt_milli(old) if field[2] else str(old)
        text = "ok profile '%s': %s = %s (was %s)" % (p.name, name, shown, was)
        if warn:
            text += "; " + warn
        self._ok(text, {"profile": p.name, "field": field[1], "value": value, "old": old,
                        "level": p.level, "warning": warn or None})

    def _c_selftest(self, args):
        self._nargs(args, 0, 0)
        app = self.app
        core = app.core
        est = core.est
        if self.selftest is None:
            result = "running"
        elif self.selftest == 0:
            result = "passed"
        else:
            result = "failed: " + faults.name(self.selftest)
        cause = app.board.reset_cause() if hasattr(app.board, "reset_cause") else 0
        buttons = getattr(core, "buttons", None)
        pairs = (
            ("selftest", result),
            ("reset_cause", _name(_RESET_NAMES, cause)),
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
        )
        self._ok_pairs(pairs)

    def _c_stream(self, args):
        self._nargs(args, 1, 1)
        if args[0] == "off":
            self.stream_hz = self._stream_ms = 0
            self._ok("ok stream: off", {"stream_hz": 0})
            return
        hz = parse_int(args[0], 1, _STREAM_MAX_HZ, "rate (Hz)")
        self.stream_hz = hz
        self._stream_ms = 1000 // hz
        self._stream_next = self.now_ms
        self._tel_have = False
        self._ok("ok stream: %d Hz" % hz, {"stream_hz": hz})

    def _c_json(self, args):
        self._nargs(args, 0, 1)
        on = self.json
        if args:
            if args[0] != "on" and args[0] != "off":
                raise ParseError("usage: " + _USAGE["json"])
            on = args[0] == "on"
        # The reply to `json on` and to `json off` is JSON: whoever switches expects it.
        self.json = self.json or on
        self._ok("ok json: %s" % ("on" if on else "off"), {"json": on})
        self.json = on

    def _c_version(self, args):
        self._nargs(args, 0, 0)
        impl = sys.implementation
        v = impl.version
        pairs = (
            ("firmware", getattr(self.app, "version", "dev")),
            ("protocol", PROTOCOL),
            ("platform", sys.platform),
            ("python", "%s %d.%d.%d" % (impl.name, v[0], v[1], v[2])),
        )
        self._ok_pairs(pairs)

    def _c_login(self, args):
        self._nargs(args, 1, 1)
        self._login(self._pin_arg(args[0]))
        self._ok("ok login: therapist session open (ends on logout, 5 min idle or a reset)",
                 {"therapist": True})

    def _c_logout(self, args):
        self._nargs(args, 0, 0)
        self.auth.logout()
        self._ok("ok logout", {"therapist": False})

    def _c_pin(self, args):
        if not args or args[0] != "set" or not 2 <= len(args) <= 3:
            raise ParseError("usage: " + _USAGE["pin"])
        auth = self.auth
        new = self._pin_arg(args[-1])
        old = None
        if len(args) == 3:
            old = self._pin_arg(args[1])
        elif auth.has_pin or auth.pin_damaged:
            raise ParseError("a PIN is set: pin set <old> <new>")
        try:
            auth.set_pin(old, new, self.now_ms)
        except AuthError as e:
            raise ParseError(str(e))
        self._ok("ok pin: set", {"pin": True})

    def _c_lock(self, args):
        self._nargs(args, 0, 0)
        st = self.auth.set_child_lock(True, self.now_ms)
        self.app.core.child_lock = True
        self._lock_reply(st)

    def _c_unlock(self, args):
        self._nargs(args, 0, 1)
        if args:
            self._login(self._pin_arg(args[0]))
        try:
            st = self.auth.set_child_lock(False, self.now_ms)
        except AuthError as e:
            raise ParseError(str(e))
        self.app.core.child_lock = False
        self._lock_reply(st)

    def _lock_reply(self, st):
        on = bool(self.app.core.child_lock)
        warn = ""
        if st != store.OK:
            warn = "not stored (%s): lost at the next reset" % _name(store.STATUS_NAMES, st)
        self._ok("ok child lock: %s%s" % ("on" if on else "off", ("; " + warn) if warn else ""),
                 {"child_lock": on, "warning": warn or None})

    def _c_reboot(self, args):
        self._deferred(args, _A_RESET, "reset", "reboot")

    def _c_maintenance(self, args):
        self._deferred(args, _A_MAINTENANCE, "enter_maintenance", "maintenance")

    def _deferred(self, args, action, method, what):
        self._nargs(args, 0, 0)
        self._need_ready(what)
        if not hasattr(self.board, method):
            raise ParseError("this board cannot %s" % what)
        self._action = action  # run once this reply has been written out
        self._ok("ok %s: restarting" % what, {"restarting": True})


def _config_field(name):
    for f in CONFIG_FIELDS:
        if f[0] == name:
            return f
    raise ParseError("unknown setting '%s' (config get lists them)" % name[:32])


def _profile_bounds(field):
    for f in profiles.FIELDS:
        if f[0] == field:
            return f[2], f[3]
    raise ParseError("unknown profile field '%s'" % field)
