"""The serial console: strict numbers, line handling, output, and the console rig.

Runs on CPython (pytest) and the MicroPython unix port. The console runs inside the
real firmware App (firmware/app.py: the real Core, Config, profiles, histories, event
log and Auth) on a small fake board (ConsoleBoard): the table is tests/core/rig.py's
kinematic stand-in, the storage a fresh directory, the console two byte buffers. The
commands and settings tests are tests/core/test_console_commands.py and
test_console_access.py; tests/host (fuzzing, the host client) use this rig too.

Rig.tick() runs only the console, so the core stands still between two of its ticks
(where the real loop runs the console too): a reply then shows exactly what its
command did, and "an error changes nothing" can be checked whole. Rig.step() runs the
whole loop (core tick, physics, console, persistence) for what needs time to pass.
"""

# First: compiling the firmware from source is the unix-port run's biggest allocation.
from app import App  # noqa: I001

import json
import os
import sys

import powerup
import profiles
import store
from cmdparse import ParseError, fmt_milli, parse_int, parse_milli
from console import HANDLERS
from events import E_COMMAND, E_STATE
from rig import Plant
from states import (
    BOOT,
    C_ACK,
    C_GOTO,
    C_HOME,
    C_RETURN,
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    JOGGING,
    MOVING,
    READY,
    RETURNING,
)
from signals import SW_DOWN, SW_START
from support import TABLE_PARAMS, make_config, raises
from ticks import ticks_add, ticks_diff

TICK_MS = 10
PIN = "2468"
MPY = sys.implementation.name == "micropython"


# ------------------------------------------------------------------ the rig


def _remove_tree(path):
    for name in os.listdir(path):
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:  # a directory
            _remove_tree(p)
        else:
            os.remove(p)
    os.rmdir(path)


class _Dirs:
    """Fresh storage directories under one per-process directory, removed at exit."""

    def __init__(self):
        self.base = None
        self.n = 0

    def new(self):
        if self.base is None:
            tmp = os.getenv("TMPDIR") or "/tmp"
            self.base = "%s/itc-console-%s" % (tmp, "".join(["%02x" % b for b in os.urandom(6)]))
            os.mkdir(self.base)
            if MPY:
                sys.atexit(self.remove)
            else:
                import atexit

                atexit.register(self.remove)
        self.n += 1
        path = "%s/%d" % (self.base, self.n)
        os.mkdir(path)
        return path

    def remove(self):
        if self.base is not None:
            _remove_tree(self.base)
            self.base = None


_DIRS = _Dirs()


class ConsoleBoard:
    """The board interface firmware/app.py uses (host_tools/simboard.py lists it), over
    rig.Plant, a virtual clock, a storage directory, and the console as two buffers."""

    def __init__(self, fs_root=None, angle_mdeg=None, cause=3, commissioned=True):
        if fs_root is None:
            fs_root = _DIRS.new()
            if commissioned:  # the flash of a commissioned table (host_tools/simboard.py)
                fs = store.DirFS(fs_root)
                profiles.save_profiles(fs, profiles.load_profiles(fs, make_config())[0])
                store.save(fs, "settings", {"imu_calibrated": 1})
        self.fs_root = fs_root
        self.hw_params_path = TABLE_PARAMS
        self.code_root = None  # the firmware is imported from the source tree
        cfg = make_config()  # the same file the App loads: the plant's geometry
        self.plant = Plant(cfg, cfg.loading_angle_mdeg if angle_mdeg is None else angle_mdeg)
        self.now_ms = 1000
        self.cause = cause  # 3: watchdog
        self.rx = b""
        self.out = bytearray()
        self.writes = []  # length of every console_write, to check the per-tick bound
        self.resets = 0
        self.maintenance = 0
        self._maintenance_flag = False  # the flag file enter_maintenance() leaves
        self.rearms = 0
        self._outputs = None
        self._release_ms = None  # when the buttons held at power-up are let go

    def ticks_ms(self):
        return self.now_ms

    def wait_until(self, t_ms):
        dt = ticks_diff(t_ms, self.now_ms)
        if dt > 0:
            if self._outputs is not None:
                self.plant.apply(self._outputs, dt)
            self.now_ms = t_ms
        if self._release_ms is not None and ticks_diff(self.now_ms, self._release_ms) >= 0:
            self.plant.buttons = 0
            self._release_ms = None

    def hold_at_power_up(self, buttons, hold_ms):
        """Hold buttons (SW_* bits) now; let go after hold_ms of the board's time (as
        host_tools/vdev_link.py's hold for the virtual device)."""
        self.plant.buttons = buttons
        self._release_ms = ticks_add(self.now_ms, hold_ms)

    def maintenance_requested(self):
        flag = self._maintenance_flag
        self._maintenance_flag = False
        return flag

    def read_inputs(self, inp):
        self.plant.fill(inp)

    def apply_outputs(self, out):
        self._outputs = out

    def estop_rearm(self):
        self.rearms += 1

    def wdt_arm(self, timeout_ms):
        pass

    def wdt_feed(self):
        pass

    def reset_cause(self):
        return self.cause

    def reset(self):
        self.resets += 1

    def enter_maintenance(self):
        self.maintenance += 1
        self._maintenance_flag = True

    def console_read_into(self, buf):
        n = min(len(buf), len(self.rx))
        if n:
            buf[:n] = self.rx[:n]
            self.rx = self.rx[n:]
        return n

    def console_write(self, data):
        self.writes.append(len(data))
        self.out.extend(data)

    # host side, named like the simulated board's
    def host_send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.rx = self.rx + data

    def host_receive(self):
        out = bytes(self.out)
        self.out = bytearray()
        return out


def physical_reset(board):
    """Power up as firmware/main.py does, with START and DOWN held 11 s at the loading
    stop: the physical reset, whose boot takes the first PIN (board.pin_setup)."""
    board.hold_at_power_up(SW_START | SW_DOWN, 11000)
    assert powerup.boot(board), "not a normal boot"
    assert getattr(board, "pin_setup", False), board.host_receive()
    board.out = bytearray()


class Rig:
    """The real App on a ConsoleBoard, booted; send() returns what came back.

    homed: the table has found its loading switch (a `home` run to the end);
    consent: `consent` then `consent yes` were typed. Both through the console.
    calls: every core.command(cmd, a, b), recorded on its way to the real core.
    pin_setup: powered up with START and DOWN held 11 s (the physical reset, through
    firmware/powerup.py as main.py runs it): the first `pin set` is open (auth.py).
    """

    def __init__(self, json_mode=False, fs_root=None, homed=False, consent=False,
                 angle_mdeg=None, cause=3, boot=True, service=False, pin_setup=False):
        self.board = ConsoleBoard(fs_root, angle_mdeg, cause)
        self.plant = self.board.plant
        if pin_setup:
            physical_reset(self.board)
        self.app = App(self.board, service)  # service: the bring-up loop (bringup.py)
        self.core = self.app.core
        self.con = self.app.console
        self.calls = []
        real = self.core.command

        def command(cmd, a=0, b=0):
            self.calls.append((cmd, a, b))
            return real(cmd, a, b)

        self.core.command = command
        self.app.start()
        if boot:
            self.step_until(lambda r: r.core.state != BOOT, 2000)
        if consent:
            self.send("consent")
            assert self.send("consent yes").startswith("ok consent"), "no consent"
        if homed:
            self.send("home")
            self.step_until(lambda r: r.core.state == READY, 60000)
            assert self.core.homed
        self.run()
        self.board.out = bytearray()
        self.calls = []
        if json_mode:
            self.send("json on")

    @property
    def now_ms(self):
        return self.board.now_ms

    def tick(self):
        """One pass of the console alone: the core stands still."""
        self.con.service(self.board.now_ms)
        self.board.now_ms = ticks_add(self.board.now_ms, TICK_MS)

    def step(self, n=1):
        """n passes of the whole loop: core tick, outputs, console, persistence, physics."""
        for _ in range(n):
            assert self.app.step()

    def step_until(self, predicate, max_ms):
        waited = 0
        while not predicate(self):
            if waited >= max_ms:
                raise AssertionError("not reached in %d ms (state %d, angle %d)"
                                     % (max_ms, self.core.state, self.plant.angle_mdeg()))
            self.step()
            waited += TICK_MS
        return waited

    def idle(self):
        return not self.board.rx and not self.con.busy()

    def run(self, max_ticks=2000):
        for _ in range(max_ticks):
            self.tick()
            if self.idle():
                return
        raise AssertionError("console did not settle")

    def send(self, text):
        """Send one line (\\n added unless the text is bytes); the raw reply as str."""
        data = text if isinstance(text, bytes) else (text + "\n").encode()
        self.board.host_send(data)
        self.run()
        return self.board.host_receive().decode()

    def cmd(self, text):
        """JSON mode: send a line, return the single reply object."""
        objs = [json.loads(s) for s in self.send(text).split("\n") if s]
        replies = [o for o in objs if "ok" in o]
        assert len(replies) == 1, (text, objs)
        return replies[0]

    def login(self):
        """A therapist session; a rig without a PIN needs pin_setup (the first PIN)."""
        auth = self.app.auth
        if not auth.has_pin:
            auth.set_pin(None, PIN, self.now_ms)
        assert auth.login(PIN, self.now_ms)

    def to_ready(self, max_ms=120000):
        """Bring the table back to READY the way a user would: return, or acknowledge."""
        self.plant.buttons = 0
        waited = 0
        while self.core.state != READY:
            st = self.core.state
            if st == EMERGENCY_RETURN or st == FAULT:
                self.core.command(C_ACK)
            elif st == MOVING or st == HOLDING or st == JOGGING:
                self.core.command(C_RETURN)
            assert waited < max_ms, "not READY in %d ms (state %d)" % (max_ms, st)
            self.step()
            waited += TICK_MS
        self.run()
        self.board.out = bytearray()

    def reach(self, state):
        """Drive the table into READY, MOVING, JOGGING, HOLDING or RETURNING, homed
        (MOVING and HOLDING at -50 deg: above horizontal, so no consent is needed)."""
        self.to_ready()
        if state != READY and not self.core.homed:
            assert self.core.command(C_HOME) == 0
            self.step_until(lambda r: r.core.state == READY, 60000)
        if state == JOGGING:
            self.plant.buttons = SW_DOWN  # held: hold-to-run
            self.step_until(lambda r: r.core.state == JOGGING, 2000)
        elif state != READY:
            assert self.core.command(C_GOTO, -50000) == 0
            if state != MOVING:
                self.step_until(lambda r: r.core.state == HOLDING, 60000)
            if state == RETURNING:
                assert self.core.command(C_RETURN) == 0
        assert self.core.state == state, (self.core.state, state)
        self.run()
        self.board.out = bytearray()
        self.calls = []

    def stored(self, name):
        """The record the App stored under name (store.MISSING: none)."""
        return store.load(self.app.fs, name, None)

    def commands_logged(self):
        """(command, reason) of every E_COMMAND in the event log, oldest first."""
        return [(e[2], e[3]) for e in self.app.log.since(0) if e[1] == E_COMMAND]


def _stored_bytes(rig, name):
    try:
        with open(rig.board.fs_root + "/" + name, "rb") as f:
            return f.read()
    except OSError:
        return None


def snapshot(rig):
    """Everything an error reply must leave unchanged (the PIN state's lockout count and
    file aside: a wrong PIN counts, by design)."""
    app = rig.app
    core = app.core
    con = rig.con
    return (
        core.state,
        core.phase,
        core.target_mdeg,
        core.timer_ms,
        core.program_id,
        core.child_lock,
        len(rig.calls),
        sorted(app.cfg.as_dict().items()),
        sorted(core.profile.to_dict().items()),
        con.json,
        con.stream_hz,
        (_stored_bytes(rig, "settings"), _stored_bytes(rig, "profiles")),
        app.auth.has_pin,
        app.auth.is_authorised(rig.now_ms, False),
        rig.board.resets,
        rig.board.maintenance,
        app.log.seq,
    )


# ------------------------------------------------------------- strict numbers

GOOD_INT = (("0", 0), ("7", 7), ("-3", -3), ("007", 7), ("999999999", 999999999))
BAD_INT = ("", "-", "+1", "--3", " 1", "1 ", "1e5", "0x10", "0b1", "1_000", "1.0", "nan",
           "inf", "-inf", "NaN", "1234567890", "\u0661", "\uff11", "1-", "12a", "\x00")
GOOD_MILLI = (("20", 20000), ("20.5", 20500), ("-1.25", -1250), ("0.001", 1), ("0", 0),
              ("-0", 0), ("-0.000", 0), ("999999.999", 999999999), ("007.100", 7100))
BAD_MILLI = ("", "-", ".", "+1", "--3", "1.", ".5", "-.5", "1.2345", "1..2", "1.2.3",
             "1e5", "1E5", "0x10", "1_000", "nan", "inf", "-inf", "infinity", "1,5",
             " 1", "1 ", "1234567", "\u0661", "1.\u0662", "20deg", "\t1")


def test_parse_int_accepts_only_plain_decimals():
    for text, v in GOOD_INT:
        assert parse_int(text, -10**9, 10**9) == v, text
    for text in BAD_INT:
        raises(ParseError, parse_int, text, -10**9, 10**9)


def test_parse_milli_takes_up_to_three_decimals_into_thousandths():
    for text, v in GOOD_MILLI:
        assert parse_milli(text, -10**9, 10**9) == v, text
    for text in BAD_MILLI:
        raises(ParseError, parse_milli, text, -10**9, 10**9)


def test_parse_bounds_are_inclusive_and_checked():
    assert parse_int("5", 0, 5) == 5
    e = raises(ParseError, parse_int, "6", 0, 5, "n")
    assert "outside" in str(e)
    assert parse_milli("-180", -180000, 180000) == -180000
    raises(ParseError, parse_milli, "180.001", -180000, 180000)
    raises(ParseError, parse_int, None, 0, 1)
    raises(ParseError, parse_milli, 5, 0, 10)


def test_fmt_milli_is_the_inverse():
    for v in (0, 1, -1, 999, -1250, 20000, 123456789):
        assert parse_milli(fmt_milli(v), -10**9, 10**9) == v
    assert fmt_milli(-1250) == "-1.250"
    assert fmt_milli(5) == "0.005"


# ------------------------------------------------------------- line handling


def test_banner_and_startup_errors_at_start():
    root = _DIRS.new()
    with open(root + "/settings", "wb") as f:
        f.write(b"not a record")  # a damaged settings file: the App reports it
    board = ConsoleBoard(root)
    app = App(board)
    app.start()
    for _ in range(50):
        app.step()
    out = board.host_receive().decode()
    assert "help" in out.split("\n")[0]
    assert "startup error: settings file corrupt" in out


def test_line_endings_lf_crlf_cr():
    r = Rig(json_mode=True)
    for end in (b"\n", b"\r\n", b"\r"):
        out = r.send(b"version" + end)
        objs = [json.loads(s) for s in out.split("\n") if s]
        assert len(objs) == 1 and objs[0]["ok"] is True, (end, out)
    # CR LF is one line end, not a line end plus an empty line; blank lines get no reply
    assert r.send(b"\r\n\n\r\r\n") == ""


def test_case_tabs_and_backspace():
    r = Rig(homed=True, consent=True)
    r.send("GOTO\t15")
    assert r.calls == [(C_GOTO, 15000, 0)] and r.core.target_mdeg == 15000
    r.send(b"goto 25\x080\n")
    assert r.calls[-1] == (C_GOTO, 20000, 0) and r.core.target_mdeg == 20000


def test_overlong_line_is_discarded_to_its_end_and_answered():
    r = Rig(json_mode=True, homed=True, consent=True)
    before = snapshot(r)
    o = r.cmd("goto 20" + " " * 200)
    assert o["ok"] is False and "too long" in o["error"]
    assert snapshot(r) == before
    # a line of exactly the maximum is fine
    o = r.cmd("version" + " " * (120 - 7))
    assert o["ok"] is True
    o = r.cmd("version" + " " * (121 - 7))
    assert o["ok"] is False
    # and the console carries on
    assert r.cmd("goto 20")["ok"] is True


def test_binary_noise_changes_nothing():
    r = Rig(json_mode=True)
    before = snapshot(r)
    noise = (b"\x00goto 20", b"goto 2\xff0", b"\xc3\x28", b"\x1b[A", b"\x04\x05\x06",
             b"\xef\xbb\xbfstatus", b"estop\x00")
    for n in noise:
        o = r.cmd(n + b"\n")
        assert o["ok"] is False and "printable" in o["error"], (n, o)
    assert snapshot(r) == before
    # all 256 byte values except Ctrl-C, in one go, then a good line
    junk = bytes([b for b in range(256) if b != 3])
    r.board.host_send(junk * 3)
    r.run()
    r.board.out = bytearray()
    assert r.calls == [] and r.core.state == READY
    # the noise after the last line end poisons the line it started: a line end ends it
    assert r.cmd("\n")["ok"] is False
    assert r.cmd("version")["ok"] is True


def test_ctrl_c_raises_keyboard_interrupt_and_the_console_recovers():
    r = Rig(homed=True, consent=True)
    r.board.host_send(b"goto 2\x03goto 30\n")
    got = False
    try:
        for _ in range(10):
            r.tick()
    except KeyboardInterrupt:
        got = True
    assert got
    assert r.calls == []  # the half line before Ctrl-C was dropped
    r.run()
    assert r.calls == [(C_GOTO, 30000, 0)] and r.core.target_mdeg == 30000


def test_ctrl_u_drops_a_half_line_without_a_reply():
    # issue #23 F6: the client's connect clears a half line an earlier session left
    r = Rig(homed=True, consent=True)
    assert r.send(b"goto 20\x15") == ""  # killed: nothing runs, nothing to answer
    assert r.send(b"\n") == "" and r.calls == []
    assert r.send(b"x" * 130 + b"\x15goto 2\n").startswith("ok ")  # a discard ends too
    assert r.calls == [(C_GOTO, 2000, 0)]


def test_consent_yes_is_refused_after_a_ctrl_c_or_ctrl_u():
    for cut in (b"\x03", b"\x15"):
        r = Rig()
        r.send("consent")
        try:
            r.send(cut)
        except KeyboardInterrupt:
            pass
        assert r.send("consent yes").startswith("error: read the list first"), cut


def test_the_app_never_leaves_its_loop_on_ctrl_c_or_repl_bytes():
    # issue #21: at the loading stop with the driver off, and moving, every way mpremote
    # and the REPL use to take the console is refused and the loop keeps ticking
    takeovers = (b"\x03", b"\r\x03\x03", b"\r\x01", b"\x05A\x01", b"\x04", b"\x02",
                 b"\x03\x03\x01\x04\n")
    r = Rig(json_mode=True, homed=True)
    for t in takeovers:
        ticks = r.app.ticks
        r.board.host_send(t)
        assert r.app.run(5) is None and r.app.ticks == ticks + 5, t
        assert r.core.state == READY
    r.step(100)  # one alert a second at most: the takeovers' Ctrl-C had theirs
    r.board.out = bytearray()
    r.board.host_send(b"\x03")
    r.step(5)
    o = json.loads(r.board.host_receive().decode().split("\n")[0])
    assert "Ctrl-C refused" in o["alert"] and "service mode" in o["alert"]
    r.send("goto -40")
    r.step(20)  # moving: the driver is on
    for t in takeovers:
        ticks = r.app.ticks
        r.board.host_send(t)
        r.step(5)
        assert r.app.ticks == ticks + 5 and r.core.state == MOVING, t
    r.board.host_send(b"\n")  # ends the line the control bytes poisoned
    r.step(5)
    r.board.out = bytearray()
    assert r.cmd("status")["state"] == "MOVING"


def test_every_command_in_the_table_has_a_handler_and_help():
    from console import COMMANDS, CORE_COMMANDS

    r = Rig(json_mode=True)
    o = r.cmd("help")
    names = [c["name"] for c in o["commands"]]
    assert names == [c[0] for c in COMMANDS]
    for name in names:
        assert (name in CORE_COMMANDS) != (name in HANDLERS), name
        h = r.cmd("help " + name)
        assert h["ok"] is True and [c["name"] for c in h["commands"]] == [name]
    assert sorted(names) == sorted(list(HANDLERS) + list(CORE_COMMANDS))
    assert "goto <deg>" in Rig().send("help")


def test_request_ids_are_echoed():
    r = Rig(json_mode=True)
    o = r.cmd("#42 version")
    assert o["id"] == 42
    o = r.cmd("#43 goto nan")
    assert o["id"] == 43 and o["ok"] is False
    # a tagged request is answered in JSON in human mode too
    h = Rig()
    assert json.loads(h.send("#44 version"))["id"] == 44


def test_a_request_for_a_person_is_answered_in_words_then_its_end_line():
    # `%<n>`: the human reply whatever the mode, closed by {"ok", "id"} (a client shows
    # people the firmware's own words: host_tools/console.py)
    for json_mode in (False, True):
        r = Rig(json_mode=json_mode, homed=True, consent=True)
        human = Rig(homed=True, consent=True).send("goto 45")
        out = r.send("%7 goto 45")
        assert out == human + '{"ok": true, "id": 7}\n', (json_mode, out)
        assert human.startswith("ok goto: MOVING, target 30.000 deg, clamped from 45.000")
        out = r.send("%8 goto nan").split("\n")
        assert out[0].startswith("error: angle (deg) must be a number") and out[2:] == [""]
        assert json.loads(out[1]) == {"ok": False, "id": 8}
        # a reply with fields and rows: every line of it, then the end line
        human = Rig(homed=True, consent=True).send("config get")
        assert human.startswith("setting (its unit)") and human.count("\n") > 40
        assert r.send("%9 config get") == human + '{"ok": true, "id": 9}\n'
        assert r.con.json is json_mode  # the mode stays as it was
    assert json.loads(Rig().send("#10 version"))["id"] == 10  # `#<n>` stays JSON


def test_json_mode_every_reply_is_one_json_line():
    r = Rig(json_mode=True, homed=True, consent=True, pin_setup=True)
    r.login()
    lines = ("help", "status", "goto 20", "stop", "faults", "log", "history", "config get",
             "config get tick_ms", "profile", "selftest", "version", "program", "consent",
             "json", "logout", "nosuch", "goto x", "ack", "estop", "calibrate")
    for line in lines:
        out = r.send(line)
        assert out.endswith("\n") and out.count("\n") == 1, (line, out)
        o = json.loads(out)
        assert o["ok"] in (True, False)
    o = r.cmd("json off")  # the reply to switching is JSON either way
    assert o["ok"] is True and o["json"] is False and r.con.json is False
    assert r.send("version").startswith("firmware: ")
    assert r.cmd("json on")["json"] is True and r.con.json is True


# ------------------------------------------------------------- output


def test_output_is_written_in_bounded_chunks():
    r = Rig(json_mode=True)
    for i in range(200):
        r.app.log.add(i * 10, E_STATE, READY, MOVING)
    r.board.writes = []
    r.board.host_send(b"log 40\nversion\n")  # ~3 KB of JSON, then a short reply
    most = 0
    for _ in range(200):
        r.tick()
        most = max(most, r.con.pending_output())
    # a few rows per tick, only while the queue is short: memory and tick work bounded
    assert most <= 1024, most
    assert len(r.board.writes) >= 20 and max(r.board.writes) <= 96
    lines = bytes(r.board.out).decode().split("\n")
    o = json.loads(lines[0])
    assert o["ok"] is True and len(o["events"]) == 40
    assert o["events"][-1] == [1990, "state", READY, MOVING, "READY -> MOVING"]
    assert json.loads(lines[1])["protocol"] == 2  # the next command waited its turn


def test_a_backlog_delays_the_next_command_and_drops_nothing():
    r = Rig(json_mode=True, homed=True, consent=True)
    chunks = []
    r.board.console_write = chunks.append  # a sink that needs no large buffer
    for _ in range(40):
        r.con.out.queue(b"x" * 95 + b"\n")  # 3840 bytes still to write
    r.board.host_send(b"#5 goto 20\n")
    for _ in range(20):
        r.tick()
    assert r.calls == []  # not read yet: the output is backed up
    r.run()
    assert r.calls == [(C_GOTO, 20000, 0)]
    last = b"".join(chunks[-3:]).split(b"\n")[-2]
    assert json.loads(last)["id"] == 5


def test_a_port_that_takes_part_or_is_gone():
    r = Rig()
    taken = []

    def half(data):  # a port that takes at most 10 bytes per write
        taken.append(bytes(data[:10]))
        return len(data[:10])

    r.board.console_write = half
    r.board.host_send(b"version\n")
    for _ in range(200):
        r.tick()
    assert b"".join(taken).startswith(b"firmware: ") and not r.con.busy()

    def gone(data):
        raise OSError(5)

    r.board.console_write = gone
    r.board.host_send(b"help\n")
    r.run()  # what waits is dropped: the console settles, nothing raises
    assert r.con.pending_output() == 0


def test_alerts_wait_for_an_open_reply_line():
    r = Rig(json_mode=True)
    r.board.host_send(b"status\n")
    r.tick()
    assert r.con.busy()
    r.con.internal_error(ValueError("meanwhile"))
    r.run()
    lines = [json.loads(x) for x in bytes(r.board.out).decode().split("\n") if x]
    assert lines[0]["ok"] is True and lines[0]["state"] == "READY"
    assert lines[1] == {"alert": "internal error: ValueError meanwhile"}


def test_internal_errors_become_replies_not_crashes():
    r = Rig(json_mode=True)

    def boom(cmd, a=0, b=0):
        raise RuntimeError("boom")

    r.core.command = boom
    o = r.cmd("goto 20")
    assert o["ok"] is False and "internal error" in o["error"]
    r.con.internal_error(ValueError("tick crashed"))
    r.run()
    out = bytes(r.board.out).decode()
    assert json.loads(out) == {"alert": "internal error: ValueError tick crashed"}


def test_idle_service_allocates_nothing():
    import gc

    if not hasattr(gc, "mem_alloc"):
        return  # CPython: measured on the MicroPython unix port
    for login in (True, False):
        r = Rig(pin_setup=True)
        if login:
            r.login()  # the once-a-second session check runs too
        con = r.con
        now = r.now_ms
        con.service(now)
        gc.collect()
        before = gc.mem_alloc()
        for i in range(1000):
            con.service(now + i * 10)
        assert gc.mem_alloc() - before == 0, (login, gc.mem_alloc() - before)
        if login:
            assert r.app.auth.is_authorised(now + 9990, False)
        else:  # the first PIN's window counted down all along
            assert 0 < r.app.auth.pin_setup_left_ms(now + 9990) < 600000 - 9000


def test_refused_ctrl_c_is_answered_with_an_alert():
    r = Rig(json_mode=True)
    r.con.refuse_interrupt()
    r.run()
    o = json.loads(bytes(r.board.out).decode())
    assert "Ctrl-C refused" in o["alert"]


def test_a_row_that_cannot_be_shown_is_left_out_and_reported():
    r = Rig(json_mode=True)
    hist = r.app.history
    for _ in range(3):
        hist.add(0, 0, 20000, 90000, 0, r.core.profile.pid)
    entry = hist.entry

    def broken(i):  # the second session cannot be read back
        if i == 1:
            raise ValueError("damaged")
        return entry(i)

    hist.entry = broken
    lines = [json.loads(x) for x in r.send("history").split("\n") if x]
    assert [s["session"] for s in lines[0]["sessions"]] == [3, 1]  # still one valid line
    assert "internal error" in lines[1]["alert"]
