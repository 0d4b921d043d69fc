"""The serial console: the protocol, and the per-tick loop that runs it.

Owns the console protocol (stated here) and its tick. The parts have a module each:
console_lines.py (bytes -> lines), console_out.py (replies, alerts, the output queue),
console_telemetry.py (`stream`), console_text.py (words and units), console_app.py
(what the console reads from the app and how it asks for changes), and the command
handlers: console_session.py, console_info.py, and, imported only while one of their
commands runs (_ON_DEMAND), console_settings.py, console_access.py, console_records.py.

The app calls `service(now_ms)` once per tick after the
core's tick; it drains what the board holds (`board.console_read_into`, at most 259
bytes, the ESP32's stdin ring) into its own queue of lines (console_lines.py), runs at
most one complete command line, formats at most two fields or rows of a long reply,
writes at most 96 bytes (`board.console_write`) and, when streaming, queues one
telemetry line per period. A new line is taken only once the previous reply is
formatted and less than 512 bytes wait, so a tick's work and the output queue stay
small; the bytes are read whatever the output's state, so the board's ring never fills
at 115200 baud. When no byte arrived and nothing is pending it allocates nothing.

The grammar (the command table, arguments, strict numbers) is firmware/cmdparse.py:
a line runs only once all of it parsed, and each handler checks the table's state and
the access rights before it changes anything, so an error reply means nothing
changed - except that a wrong PIN counts toward the lockout and ends an open
therapist session (firmware/auth.py), as it should.

Access (the threat model is in the README, "Who can do what with the USB cable"): the
console is the only way in. The board layer never imports `network` or `bluetooth`, so
Wi-Fi and Bluetooth stay off. Anyone at the console may move the table while the child
lock is off
(always through `core.command()`, so the clamp, the e-stop latch and faults apply
exactly as for the buttons; there is no jog in normal operation: hold-to-run needs a
held button, which a serial line cannot prove; the service mode's bring-up jog stops
once its keep-alive is missing: firmware/console_service.py); while it is on only the
way back is (firmware/childlock.py).
Changing limits (`config set`, `profile set`), turning the child lock off and the
service mode (`maintenance <pin>`) need the PIN (firmware/auth.py:
salted sha256, 5 wrong PINs lock out, the lockout survives a reset). A new device has
no PIN: `pin set <new>` sets the first one without an old PIN, only in the boot after
the physical reset at the table or in the service mode's loop (auth.py: the setup
window; nobody on the cable alone sets it); until then no one can log in, so no limit
can be changed. The PIN does not protect against someone with the USB cable and a
flasher (esptool erases and rewrites the chip): that needs the
enclosure; it does protect against the REPL, which the console never offers.

Lines
- End with \\n, \\r\\n or \\r. At most 120 bytes: a longer line is discarded up to its
  end and answered with an error. Only printable ASCII (tab = space; backspace and DEL
  delete the previous byte); a line with any other byte (NUL, control bytes, invalid
  UTF-8, binary noise) is discarded and answered with an error. Ctrl-U (0x15) drops
  the line typed so far without a reply (a terminal's kill-line; the client sends it
  at connect, so a half line an earlier session left is never completed and run).
- Byte 0x03 (Ctrl-C) drops the line so far and raises KeyboardInterrupt out of
  service() at the end of its pass (its telemetry and output written: a flood of them
  never silences the console), between ticks, never inside one: the boards turn
  MicroPython's own keyboard interrupt off (micropython.kbd_intr(-1)) and the
  unix-port virtual device's pty is raw, so the byte arrives here. The app never
  leaves its loop for it, in any state and at any angle: it calls refuse_interrupt(),
  answered with an alert (one a second at most). The raw-REPL (0x01),
  raw-paste (0x05 A 0x01), Ctrl-D (0x04) and Ctrl-B (0x02) bytes are control bytes:
  the line holding them is discarded. No byte on the serial line reaches a REPL;
  deploy and file access need the service mode (firmware/powerup.py).
- A line that finds the console's input queue full (256 bytes: a sender that streams
  lines without waiting for the replies) is discarded up to its end and answered with
  "error: input overflow: line dropped"; so is the line in which the board's ring may
  have dropped bytes. Pieces of two lines never join into one.
- `consent yes` counts only as the very next line after `consent`'s list: any line
  between, even one refused before it was parsed or cut off by Ctrl-C/Ctrl-U, ends it.
- Words are separated by spaces; the line is case-insensitive. A first word `#<n>`
  (0-999999999) is a request id, echoed as "id" in JSON replies (a tag alone is
  answered under it with an error). `%<n>` tags a request
  from a client that shows the reply to a person (host_tools/console.py): the human
  text, whatever the mode, then the line {"ok": true|false, "id": n} that ends it
  (protocol 2; `version` and the start-up banner give the protocol, and the client
  checks it at connect).

Replies: exactly one per non-empty line. Human mode (the default): text; errors start
with "error: ". `json on`: every reply is one JSON object on one line, {"ok": true,
...} or {"ok": false, "error": "..."}; a core refusal adds "reason" (states.R_*).
Values carry their unit in the key (angle_mdeg, hold_ms); human mode shows deg and s.
Lines the console sends by itself: telemetry (`stream`), {"tel": {...}} in JSON mode,
"tel ..." in human mode; alerts {"alert": "..."} / "alert: ..."; the start-up banner
(human text, before anyone could ask for JSON).
"""

import gc
import sys

import states
import store
from cmdparse import NO_COMMAND, ParseError, commands, parse, split
from console_app import AppView
from console_info import (
    PROTOCOL,
    c_json,
    c_status,
    c_stream,
)
from console_lines import (
    BAD_BYTE,
    INTERRUPT,
    KILLED,
    LINE,
    LINE_MAX,
    OVERFLOW,
    TOO_LONG,
    LineReader,
)
from console_out import TX_HIGH, Output
from console_session import (
    CORE_COMMANDS,
    c_calibrate,
    c_consent,
    c_goto,
    c_hold,
    c_program,
    c_start,
    core_command,
)
from console_telemetry import Telemetry
from console_text import event_text, state_name
from micropython import const
from ticks import ticks_diff

_AUTH_POLL_MS = const(1000)  # auth.is_authorised() now and then ends an idle session
# Refused Ctrl-C bytes are answered with one alert per this time at most: a person's
# press gets its answer, a tool's flood about 110 bytes a second.
_CTRL_C_ALERT_MS = const(1000)
# Modules a rarely used command imports when it runs (HANDLERS' module names, and what
# they and console_settings.c_profile import): unloaded once it ran, so that their code
# lives on the heap only while its reply is written (the reply's row formatters keep
# them until then). A next use loads them again (a few ms, at a console command).
_ON_DEMAND = ("console_records", "civil", "console_patients", "patients", "console_settings",
              "console_access", "console_about", "cmdhelp")


# Importing reads the module from flash (milliseconds) and takes heap: only in a pass
# where the table cannot be moving (app.standing_still, the flash gate's rule), so that
# no import lands in a moving tick. Every command that must run while it moves (stop,
# return, estop, ack, discomfort, status, goto, ...) is resident.
_MOVING_TEXT = ("refused while the table moves: '%s' is loaded on demand, only where it "
                "stands still; stop, return, estop, discomfort, ack, status and lock "
                "always run")
_MEMORY_TEXT = "not enough memory for '%s' now; try again (the table is not affected)"
# A MemoryError once the handler was called: it may have acted (a core command taken, a
# PIN stored) before its reply ran out of heap, so nothing may be promised either way.
_MEMORY_RAN_TEXT = ("not enough memory to finish '%s': it may have taken effect (its reply "
                    "could not be built); check status before trying again")


def _unload():
    mods = sys.modules
    for m in _ON_DEMAND:
        if m in mods:
            del mods[m]


def load(con, module):
    """The module a command runs from, imported on demand (its names: _ON_DEMAND,
    console_service). ParseError, nothing changed, if the table may be moving; a
    ParseError too (nothing changed) if the heap has no room for it even after a
    collection (allowed then: the table stands still)."""
    mods = sys.modules
    if module in mods:
        return mods[module]
    if not con.view.still():
        raise ParseError(_MOVING_TEXT % con.command_name)
    try:
        return __import__(module)
    except MemoryError:
        pass
    _unload()  # whatever the failed import left; then the garbage, once
    gc.collect()
    try:
        return __import__(module)
    except MemoryError:
        # a handler that loads its module (c_bringup, c_maintenance) acts only after it
        # is loaded: nothing changed, which the handler's caller cannot know
        _unload()
        raise ParseError(_MEMORY_TEXT % con.command_name)

__all__ = ("CORE_COMMANDS", "PROTOCOL", "Console", "event_text")


def __getattr__(attr):
    # console.COMMANDS (cmdparse.commands()) for the host tools and tests.
    if attr == "COMMANDS":
        return commands()
    raise AttributeError(attr)


def c_reboot(con):
    con.restart(con.board.reset, "reboot")


def c_bringup(con, *values):
    # The bring-up commands (service mode): one handler each in console_service.py, of
    # the command's name, imported on the first one - never in normal operation.
    getattr(load(con, "console_service"), con.command_name)(con, *values)


def c_lock(con):
    # Resident, not on demand: the safe direction works while the table moves too (its
    # write waits for the standstill: firmware/auth.py, flashgate.py).
    status = con.view.auth.set_child_lock(True, con.now_ms)
    con.view.command(states.C_CHILD_LOCK, 1)
    lock_reply(con, status)


def lock_reply(con, status):
    """The reply to `lock` and `unlock` (console_access.py)."""
    on = con.view.child_lock()
    warn = None
    text = "ok child lock: %s" % ("on" if on else "off")
    if status == store.DEFERRED:
        warn = "stored when the table stands still (firmware/flashgate.py)"
        text += "; " + warn
    elif status != store.OK:
        warn = ("not stored (%s): the table locks down at the next reset"
                % store.status_name(status))
        text += "; " + warn
    if on and not con.view.auth.has_pin:
        # no one can unlock it yet: the first PIN needs someone at the table (auth.py)
        note = "no PIN yet: only a PIN set at the table (the physical reset) unlocks it"
        warn = warn + "; " + note if warn else note
        text += "; " + note
    con.out.ok(text, {"child_lock": on, "warning": warn})


def c_maintenance(con, pin):
    # The service mode opens the REPL and the files: the therapist PIN, in READY (the
    # table at the loading stop); checked in that order, so a wrong state costs no try.
    con.need_ready("maintenance")
    load(con, "console_access").login(con, pin)
    con.restart(con.board.enter_maintenance, "maintenance")


# The handler of every command that is not in CORE_COMMANDS: handler(console, *values),
# values as cmdparse.parse() returned them. Checks first, then changes. A module name:
# its c_<command>, imported when the command runs (rarely used handlers stay off the
# heap; _ON_DEMAND).
HANDLERS = {
    "help": "console_about",
    "status": c_status,
    "goto": c_goto,
    "hold": c_hold,
    "program": c_program,
    "start": c_start,
    "consent": c_consent,
    "calibrate": c_calibrate,
    "faults": "console_records",
    "log": "console_about",
    "history": "console_records",
    "clock": "console_records",
    "config": "console_settings",
    "profile": "console_settings",
    "selftest": "console_about",
    "stream": c_stream,
    "json": c_json,
    "version": "console_about",
    "login": "console_access",
    "logout": "console_access",
    "pin": "console_access",
    "lock": c_lock,
    "unlock": "console_access",
    "reboot": c_reboot,
    "maintenance": c_maintenance,
    "drive": c_bringup,
    "imu": c_bringup,
    "steps": c_bringup,
    "switches": c_bringup,
    "jog": c_bringup,
    "keep": c_bringup,
    "freeze": c_bringup,
}


class Console:
    def __init__(self, app):
        self.board = app.board
        self.view = AppView(app)
        self.now_ms = 0
        # the board's stdin ring, where it drops bytes when full (board_esp32: 259)
        self.lines = LineReader(getattr(self.board, "CONSOLE_RX_RING", 0))
        self.out = Output(self.board)
        self.tel = Telemetry()
        self.consent_shown = False  # `consent yes` only right after the list was shown
        self.selftest = None  # the boot self-test's fault code (0 passed) once known
        self._action = None  # (board method, name) to call once the reply is out
        self._auth_ms = 0
        self._ctrl_c_ms = None  # when the last Ctrl-C alert was queued (refuse_interrupt())
        self.command_name = ""  # the command running (the bring-up handlers' dispatch)
        self.out.queue(("inversion table console, protocol %d: 'help' lists the commands\n"
                        % PROTOCOL).encode())
        for e in self.view.startup_errors:
            self.out.queue(("startup error: %s\n" % e).encode())

    # ------------------------------------------------------------------ per tick

    def service(self, now_ms):
        """One tick of console work. Never blocks; allocates nothing when idle."""
        self.now_ms = now_ms
        out = self.out
        if self._action is not None and not out.tx:
            self._run_action()  # its reply went out last tick; nothing new ran since
        got = 0
        lines = self.lines
        # drained every pass, whatever the output's state: the board's ring drops what
        # comes when full (console_lines.py); the reply's backlog paces the lines taken
        lines.read(self.board)
        if out.busy:
            out.more()
        elif out.pending <= TX_HIGH and lines.pending():
            got = lines.take()
            self._end_line(got)
        if self.selftest is None:
            self.selftest = self.view.boot_result()
        if self.tel.period_ms:
            self.tel.service(now_ms, self.view, out)
        if out.tx:
            out.drain()
        d = ticks_diff(now_ms, self._auth_ms)
        if d >= _AUTH_POLL_MS or d < 0:
            self._auth_ms = now_ms
            auth = self.view.auth
            auth.is_authorised(now_ms, False)  # ends a session idle for too long
            auth.pin_setup_left_ms(now_ms)  # the first PIN's window counts from boot
        if got == INTERRUPT:
            # raised only now, after this pass's telemetry and output: a flood of Ctrl-C
            # bytes must not silence the console while the table moves
            raise KeyboardInterrupt

    def internal_error(self, exc):
        """Report an exception from service() or a crashed tick (the app calls this)."""
        try:
            self.lines.drop()
            self.out.answer(None)
            self.out.alert("internal error: %s %s" % (type(exc).__name__, exc))
        except Exception:  # reporting must never raise into the loop
            pass

    def refuse_interrupt(self):
        """Ctrl-C arrived: the loop never leaves for the REPL (the app calls this). At
        most one alert per _CTRL_C_ALERT_MS: a tool hammering Ctrl-C must neither fill
        the output queue nor go without an answer."""
        last = self._ctrl_c_ms
        if last is None or ticks_diff(self.now_ms, last) >= _CTRL_C_ALERT_MS:
            self._ctrl_c_ms = self.now_ms
            self.out.alert("Ctrl-C refused: no REPL in normal operation; the service mode "
                           "is a maintenance boot (README: Service mode)")

    def pending_output(self):
        """Bytes queued but not yet written."""
        return self.out.pending

    def busy(self):
        """True while input waits, a reply is being formatted or written, or a restart
        waits for its reply to go out."""
        return (self.out.busy or self.out.pending > 0 or self.lines.pending()
                or self._action is not None)

    # JSON mode, the stream rate and the skipped telemetry lines, as the host tools and
    # tests read (and set) them
    @property
    def json(self):
        return self.out.json

    @json.setter
    def json(self, on):
        self.out.json = on

    @property
    def stream_hz(self):
        return self.tel.hz

    @property
    def tel_dropped(self):
        return self.tel.dropped

    # ------------------------------------------------------------ running a line

    def _end_line(self, got):
        self.out.answer(None)
        # `consent yes` counts only as the very next line after the list: any line that
        # came, run, refused at any stage or cut off (Ctrl-C, Ctrl-U), ends that chance
        # (c_consent sets it again)
        shown = self.consent_shown
        self.consent_shown = False
        if got == LINE:
            self._execute(self.lines.text(), shown)
            return
        if got == INTERRUPT or got == KILLED:
            return  # the line is dropped already; Ctrl-C is refused after this pass
        if got == TOO_LONG:
            self.out.error("line too long (at most %d bytes)" % LINE_MAX)
        elif got == BAD_BYTE:
            self.out.error("line discarded: a byte that is not printable ASCII")
        elif got == OVERFLOW:
            self.out.error("input overflow: line dropped")

    def _execute(self, text, consent_shown):
        ran = False
        try:
            req_id, person, words = split(text)
            self.out.answer(req_id, person)
            if not words:
                if req_id is None:
                    return  # spaces only: nothing asked
                raise ParseError(NO_COMMAND)
            name, values = parse(words)
            if name == "consent":
                self.consent_shown = consent_shown
            self.command_name = name
            if name in CORE_COMMANDS:
                h = core_command
                values = (name,)
            else:
                h = HANDLERS[name]
                if type(h) is str:  # a module imported on demand: its c_<name>
                    h = getattr(load(self, h), "c_" + name)
            ran = True  # from here on the command may have acted
            h(self, *values)
        except ParseError as e:
            self.out.error(str(e))
        except MemoryError:  # the loop goes on; the reply says only what is known
            _unload()
            self.out.error((_MEMORY_RAN_TEXT if ran else _MEMORY_TEXT) % self.command_name)
        except Exception as e:  # one bad command must not stop the console
            self.out.error("internal error: %s %s" % (type(e).__name__, e))
        _unload()

    # ------------------------------------------------- what the handlers share

    def core(self, cmd, a=0, b=0):
        """core.command(); on a refusal, reply with the reason and return False."""
        r = self.view.command(cmd, a, b)
        if r == states.OK:
            return True
        self.out.error("refused: " + states.reason_name(r), {"reason": r})
        return False

    def need_therapist(self):
        if not self.view.auth.is_authorised(self.now_ms, True):
            raise ParseError("needs a therapist session: login <pin>")

    def need_ready(self, what):
        st = self.view.state()
        if st != states.READY:
            raise ParseError("%s only in READY (now %s)" % (what, state_name(st)))

    def restart(self, method, what):
        """Call the board's method (reset, enter_maintenance) once this reply is out."""
        self.need_ready(what)
        self._action = (method, what)
        self.out.ok("ok %s: restarting" % what, {"restarting": True})

    def _run_action(self):
        act = self._action
        self._action = None
        if act is None:
            return
        method, what = act
        if self.view.state() != states.READY:
            self.out.alert("%s cancelled: the table left READY" % what)
            return
        method()
