"""The serial console: strict numbers, every command, line handling, JSON mode, access.

Runs on CPython (pytest) and the MicroPython unix port. The console is driven through
a fake app: a recording fake core (every motion must reach it through command(), and
an error must reach it not at all), the real Config, Profile, EventLog, History,
FaultLog and Auth over an in-memory filesystem, and a fake board whose console is two
byte buffers. Also home of those fakes for tests/host (fuzzing, the host client).
"""

# First: compiling console.py from source is the unix-port run's biggest allocation.
from console import COMMANDS, CORE_COMMANDS, Console  # noqa: I001

import json

import profiles
import programs
import store
from auth import Auth
from cmdparse import ParseError, fmt_milli, parse_int, parse_milli
from eventlog import EventLog
from events import E_COMMAND, E_FAULT, E_STATE
from history import FaultLog, History
from states import (
    C_ACK,
    C_CALIBRATE,
    C_CHILD_LOCK,
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
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    HOMING,
    MOVING,
    OK,
    R_CONSENT,
    READY,
    RETURNING,
)
from support import make_config, raises
from test_store import MemFS

TICK_MS = 10
PIN = "2468"


# ------------------------------------------------------------------ the fakes


class FakeBoard:
    """The console half of a board: bytes in (rx), bytes out (out)."""

    def __init__(self):
        self.rx = b""
        self.out = bytearray()
        self.writes = []  # length of every console_write, to check the per-tick bound
        self.resets = 0
        self.maintenance = 0
        self.cause = 3  # watchdog

    def console_read_into(self, buf):
        n = min(len(buf), len(self.rx))
        if n:
            buf[:n] = self.rx[:n]
            self.rx = self.rx[n:]
        return n

    def console_write(self, data):
        self.writes.append(len(data))
        self.out.extend(data)

    def reset_cause(self):
        return self.cause

    def reset(self):
        self.resets += 1

    def enter_maintenance(self):
        self.maintenance += 1

    # host side, named like the simulated board's
    def host_send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.rx = self.rx + data

    def host_receive(self):
        out = bytes(self.out)
        self.out = bytearray()
        return out


class FakeEst:
    def __init__(self):
        self.angle_mdeg = -60000
        self.valid = True
        self.fault = 0


class FakeCore:
    """Records every command; when `result` is OK it mimics the state change."""

    def __init__(self, cfg, profile, log):
        self.cfg = cfg
        self.profile = profile
        self.log = log
        self.state = READY
        self.phase = 0
        self.fault = 0
        self.fault_at_boot = False
        self.angle_mdeg = -60000
        self.target_mdeg = -60000
        self.timer_ms = 0
        self.head_down_ms = 0
        self.deepest_mdeg = 0
        self.program_id = programs.BEGINNER
        self.child_lock = False
        self.est = FakeEst()
        self.count = 0
        self.homed = True
        self.estop_open = False
        self.at_home_switch = True
        self.overtravel = False
        self.runner = programs.Runner(cfg)
        self.calls = []
        self.result = OK
        self.applied = 0

    def command(self, cmd, a=0, b=0):
        self.calls.append((cmd, a, b))
        self.log.add(0, E_COMMAND, cmd, self.result)
        if self.result != OK:
            return self.result
        if cmd == C_GOTO:
            self.state = MOVING
            self.target_mdeg = min(a, self.profile.max_mdeg)
        elif cmd == C_START:
            try:
                self.runner.start(self.program_id, self.profile, a, b)
            except ValueError:
                self.calls.pop()  # refused: as if it had never been asked
                return 5
            self.runner.next()
            self.state = MOVING
            self.target_mdeg = self.runner.target_mdeg
        elif cmd == C_HOLD:
            self.timer_ms = a
        elif cmd == C_STOP:
            self.state = HOLDING
        elif cmd == C_RETURN or cmd == C_DISCOMFORT:
            self.state = RETURNING
            self.target_mdeg = 0
        elif cmd == C_ESTOP:
            self.state = EMERGENCY_RETURN
        elif cmd == C_ACK:
            self.state = READY
        elif cmd == C_HOME:
            self.state = HOMING
        elif cmd == C_CONSENT:
            self.profile.consent = True
        elif cmd == C_PROGRAM:
            self.program_id = a
        elif cmd == C_CALIBRATE:
            self.cfg.set("imu_zero_mdeg", 250)
        elif cmd == C_CHILD_LOCK:
            self.child_lock = a != 0
        return OK

    def apply_config(self):
        self.applied += 1


class FakeApp:
    """What the console uses of firmware/app.py's App."""

    def __init__(self, fs=None, with_auth=True):
        self.board = FakeBoard()
        self.fs = fs if fs is not None else MemFS()
        self.cfg = make_config()
        self.startup_errors = []
        self.config_fault = 0
        self.overruns_total = 0
        self.profiles = [profiles.default_profile("default", self.cfg)]
        self.history = History(self.fs)
        self.history.load()
        self.faultlog = FaultLog(self.fs)
        self.faultlog.load()
        self.faultlog.new_boot()
        self.log = EventLog(96)
        self.core = FakeCore(self.cfg, self.profiles[0], self.log)
        self.saves = 0
        if with_auth:
            self.auth = Auth(self.fs)
            self.core.child_lock = self.auth.child_locked

    def save_profiles_and_settings(self):
        self.saves += 1
        return profiles.save_profiles(self.fs, self.profiles)


class Rig:
    """A console on a fake app, with a clock; send() returns what came back."""

    def __init__(self, app=None, json_mode=False):
        self.app = app if app is not None else FakeApp()
        self.board = self.app.board
        self.now_ms = 1000
        self.con = Console(self.app)
        self.run()
        self.board.out = bytearray()
        if json_mode:
            self.send("json on")

    def tick(self):
        self.con.service(self.now_ms)
        self.now_ms += TICK_MS

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
        out = bytes(self.board.out).decode()
        self.board.out = bytearray()
        return out

    def cmd(self, text):
        """JSON mode: send a line, return the single reply object."""
        objs = [json.loads(s) for s in self.send(text).split("\n") if s]
        replies = [o for o in objs if "ok" in o]
        assert len(replies) == 1, (text, objs)
        return replies[0]

    def login(self):
        c = self.con
        if not c.auth.has_pin:
            c.auth.set_pin(None, PIN, self.now_ms)
        c.auth.login(PIN, self.now_ms)


def snapshot(rig):
    """Everything an error reply must leave unchanged."""
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
        len(core.calls),
        sorted(app.cfg.as_dict().items()),
        sorted(core.profile.to_dict().items()),
        con.json,
        con.stream_hz,
        app.saves,
        con.auth.has_pin,
        con.auth.is_authorised(rig.now_ms, False),
        rig.board.resets,
        rig.board.maintenance,
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
    app = FakeApp()
    app.startup_errors.append("settings file corrupt; safe defaults in use")
    con = Console(app)
    for t in range(50):
        con.service(t * 10)
    out = bytes(app.board.out).decode()
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
    r = Rig()
    r.send("GOTO\t20")
    assert r.app.core.calls == [(C_GOTO, 20000, 0)]
    r.send(b"goto 25\x080\n")
    assert r.app.core.calls[-1] == (C_GOTO, 20000, 0)


def test_overlong_line_is_discarded_to_its_end_and_answered():
    r = Rig(json_mode=True)
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
    assert r.app.core.calls == []
    # the noise after the last line end poisons the line it started: a line end ends it
    assert r.cmd("\n")["ok"] is False
    assert r.cmd("version")["ok"] is True


def test_ctrl_c_raises_keyboard_interrupt_and_the_console_recovers():
    r = Rig()
    r.board.host_send(b"goto 2\x03goto 30\n")
    got = False
    try:
        for _ in range(10):
            r.tick()
    except KeyboardInterrupt:
        got = True
    assert got
    assert r.app.core.calls == []  # the half line before Ctrl-C was dropped
    r.run()
    assert r.app.core.calls == [(C_GOTO, 30000, 0)]


def test_unknown_commands_and_bad_arguments_change_nothing():
    r = Rig(json_mode=True)
    before = snapshot(r)
    bad = (
        "fly", "gotoo 20", "goto", "goto 20 30", "goto nan", "goto inf", "goto -inf",
        "goto 1e5", "goto 0x10", "goto --3", "goto 20.1234", "goto 181", "goto -180.001",
        "goto 99999999999999999999", "goto 1_0", "hold", "hold -1", "hold 3600.001",
        "hold 1e3", "program 7", "program fast", "program 0x1", "start 20",
        "start 20 x", "start 1e1 10", "start 20 10 5", "stop now", "return 1", "estop x",
        "ack 1", "discomfort 1", "consent no", "consent yes", "home 1",
        "calibrate nan", "faults 1", "log 0", "log 1000", "log x", "history 0",
        "history -1", "config set", "config set tick_ms", "config frob",
        "config get nosuch", "config set nosuch 1", "config set rest_pause_ms 1.5",
        "config set rest_pause_ms -1", "config set tick_ms 20", "profile set",
        "profile set max_deg", "profile set height 3", "profile set max_deg x",
        "profile frob", "selftest 1", "stream", "stream 0", "stream 51", "stream 1.5",
        "stream on", "json maybe", "json on off", "version 2", "login", "login 12",
        "login abcd", "login 123456789", "logout now", "pin", "pin set", "pin get 1234",
        "pin set 12", "pin set 1234 5678 9", "lock 1", "unlock 12", "reboot now",
        "maintenance 1", "#", "#x status", "#-1 status", "#1", "help nosuch",
    )
    for line in bad:
        o = r.cmd(line)
        assert o["ok"] is False, (line, o)
        assert type(o["error"]) is str and o["error"], line
        assert snapshot(r) == before, line
    # status reads only: also unchanged
    assert r.cmd("status")["ok"] is True
    assert snapshot(r) == before


# ------------------------------------------------------------- every command


def test_every_command_in_the_table_has_a_handler_and_help():
    r = Rig(json_mode=True)
    o = r.cmd("help")
    names = [c["name"] for c in o["commands"]]
    assert names == [c[0] for c in COMMANDS]
    for name in names:
        assert name in CORE_COMMANDS or hasattr(r.con, "_c_" + name), name
        h = r.cmd("help " + name)
        assert h["ok"] is True and [c["name"] for c in h["commands"]] == [name]
    assert "goto <deg>" in Rig().send("help")


def test_motion_commands_go_through_core_command():
    r = Rig(json_mode=True)
    core = r.app.core
    table = (
        ("goto 20", (C_GOTO, 20000, 0)),
        ("goto -12.5", (C_GOTO, -12500, 0)),
        ("hold 90", (C_HOLD, 90000, 0)),
        ("hold 0.5", (C_HOLD, 500, 0)),
        ("stop", (C_STOP, 0, 0)),
        ("return", (C_RETURN, 0, 0)),
        ("estop", (C_ESTOP, 0, 0)),
        ("ack", (C_ACK, 0, 0)),
        ("discomfort", (C_DISCOMFORT, 0, 0)),
        ("home", (C_HOME, 0, 0)),
        ("program interval", (C_PROGRAM, programs.INTERVAL, 0)),
        ("program 3", (C_PROGRAM, programs.CUSTOM, 0)),
        ("calibrate", (C_CALIBRATE, 0, 0)),
        ("calibrate -59.5", (C_CALIBRATE, -59500, 0)),
    )
    for line, call in table:
        core.state = READY
        n = len(core.calls)
        o = r.cmd(line)
        assert o["ok"] is True, (line, o)
        assert core.calls[n:] == [call], (line, core.calls[n:])


def test_goto_reports_the_clamped_target():
    r = Rig(json_mode=True)
    o = r.cmd("goto 80")
    assert o["ok"] is True and o["target_mdeg"] == 30000 and "clamped" in o["note"]
    assert o["state"] == "MOVING"
    r.app.core.state = READY
    assert "clamped" in Rig().send("goto 80")


def test_refusals_print_the_reason_and_change_nothing():
    r = Rig(json_mode=True)
    r.app.core.result = R_CONSENT
    before = snapshot(r)
    o = r.cmd("goto 20")
    assert o["ok"] is False and o["reason"] == R_CONSENT
    assert o["error"] == "refused: contraindications not acknowledged"
    after = snapshot(r)
    # the core saw the command (and refused it); nothing else moved
    assert after[:6] == before[:6] and after[7:] == before[7:]
    r2 = Rig()
    r2.app.core.result = R_CONSENT
    assert r2.send("goto 20") == "error: refused: contraindications not acknowledged\n"


def test_start_with_and_without_arguments():
    r = Rig(json_mode=True)
    core = r.app.core
    core.profile.consent = True
    o = r.cmd("start")
    assert o["ok"] is True, o
    assert core.calls[-1] == (C_START, 0, 0)
    assert o["program"] == "beginner" and o["plan"] == [[20000, 90000]]
    core.state = READY
    r.cmd("program custom")
    o = r.cmd("start 25 60")
    assert o["ok"] is True and core.calls[-1] == (C_START, 25000, 60000)
    core.state = READY
    r.cmd("program beginner")
    o = r.cmd("start 25 60")  # the runner refuses arguments for beginner: the core says so
    assert o["ok"] is False and "bad argument" in o["error"]


def test_consent_shows_the_list_and_needs_yes_right_after():
    r = Rig(json_mode=True)
    core = r.app.core
    o = r.cmd("consent yes")
    assert o["ok"] is False and core.calls == []
    o = r.cmd("consent")
    assert o["contraindications"] == list(profiles.CONTRAINDICATIONS)
    assert o["consent"] is False
    r.cmd("status")  # anything in between: the list must be shown again
    assert r.cmd("consent yes")["ok"] is False
    r.cmd("consent")
    o = r.cmd("consent yes")
    assert o["ok"] is True and o["consent"] is True
    assert core.calls == [(C_CONSENT, 0, 0)]
    text = Rig().send("consent")
    for c in profiles.CONTRAINDICATIONS:
        assert c in text


def test_status_human_and_json():
    r = Rig(json_mode=True)
    o = r.cmd("status")
    for key in ("state", "phase", "angle_mdeg", "target_mdeg", "fault", "est_valid", "homed",
                "head_down_ms", "session_cap_ms", "program", "profile", "max_mdeg", "level",
                "consent", "child_lock", "startup_errors", "therapist"):
        assert key in o, key
    assert o["state"] == "READY" and o["angle_mdeg"] == -60000 and o["fault"] == "none"
    text = Rig().send("status")
    assert "state: READY" in text and "angle: -60.000 deg" in text
    assert "session cap: 180.000 s" in text


def test_faults_log_and_history():
    r = Rig(json_mode=True)
    app = r.app
    app.faultlog.add(11, 0)
    app.history.add(programs.BEGINNER, 0, 20000, 90000, profiles.COMPLETED)
    app.log.add(5000, E_STATE, READY, MOVING)
    app.log.add(6000, E_FAULT, 11, MOVING)
    app.core.fault = 11
    app.core.state = FAULT
    o = r.cmd("faults")
    assert o["latched"] == "imu_gravity"
    assert o["history"] == [{"fault": "imu_gravity", "code": 11, "boot": 1, "session": 0}]
    o = r.cmd("log 2")
    assert o["fields"] == ["t_ms", "event", "a", "b", "text"]
    assert o["events"] == [[5000, "state", READY, MOVING, "READY -> MOVING"],
                           [6000, "fault", 11, MOVING, "imu_gravity in MOVING"]]
    o = r.cmd("history")
    assert o["sessions"][0]["deepest_mdeg"] == 20000 and o["sessions"][0]["ended"] == "completed"
    text = Rig(app).send("log 2")  # same app, human mode
    assert "5.000 state READY -> MOVING" in text


def test_selftest_and_version():
    r = Rig(json_mode=True)
    o = r.cmd("selftest")
    assert o["selftest"] == "passed" and o["reset_cause"] == "watchdog"
    assert o["imu_valid"] is True
    o = r.cmd("version")
    assert o["protocol"] == 1 and "firmware" in o
    # a boot that ended in a fault is reported as failed
    app = FakeApp()
    app.core.state = FAULT
    app.core.fault = 2
    app.core.fault_at_boot = True
    r2 = Rig(app, json_mode=True)
    assert r2.cmd("selftest")["selftest"] == "failed: selftest_imu"


def test_request_ids_are_echoed():
    r = Rig(json_mode=True)
    o = r.cmd("#42 version")
    assert o["id"] == 42
    o = r.cmd("#43 goto nan")
    assert o["id"] == 43 and o["ok"] is False


def test_json_mode_every_reply_is_one_json_line():
    r = Rig(json_mode=True)
    r.login()
    lines = ("help", "status", "goto 20", "stop", "faults", "log", "history", "config get",
             "config get tick_ms", "profile", "selftest", "version", "program", "consent",
             "json", "logout", "nosuch", "goto x")
    for line in lines:
        r.app.core.state = READY
        out = r.send(line)
        assert out.endswith("\n") and out.count("\n") == 1, (line, out)
        o = json.loads(out)
        assert o["ok"] in (True, False)
    o = r.cmd("json off")  # the reply to switching is JSON either way
    assert o["ok"] is True and o["json"] is False and r.con.json is False
    assert r.send("version").startswith("firmware: ")
    assert r.cmd("json on")["json"] is True and r.con.json is True


# ------------------------------------------------------------- config, profile, access


def test_config_get():
    r = Rig(json_mode=True)
    o = r.cmd("config get")
    assert o["fields"] == ["name", "value", "min", "max", "fixed"]
    assert {row[0]: row[1] for row in o["config"]} == r.app.cfg.as_dict()
    assert ["tick_ms", 10, 5, 50, True] in o["config"]
    o = r.cmd("config get rest_pause_ms")
    assert o["value"] == 10000 and o["min"] == 0 and o["max"] == 120000
    assert o["fixed"] is False
    assert r.cmd("config get tick_ms")["fixed"] is True


def test_config_set_needs_a_therapist_session_and_ready():
    r = Rig(json_mode=True)
    app = r.app
    o = r.cmd("config set rest_pause_ms 20000")
    assert o["ok"] is False and "login" in o["error"]
    assert app.cfg.rest_pause_ms == 10000 and app.saves == 0
    r.login()
    app.core.state = HOLDING
    o = r.cmd("config set rest_pause_ms 20000")
    assert o["ok"] is False and "READY" in o["error"]
    app.core.state = READY
    o = r.cmd("config set rest_pause_ms 20000")
    assert o["ok"] is True and o["old"] == 10000 and o["value"] == 20000
    assert app.cfg.rest_pause_ms == 20000 and app.saves == 1 and app.core.applied == 1


def test_config_set_refusals_leave_the_config_alone():
    r = Rig(json_mode=True)
    r.login()
    before = snapshot(r)
    for line in ("config set normal_speed_mdeg_s 1000",  # below jog speed: cross-field rule
                 "config set rest_pause_ms 120001",  # outside the field bounds
                 "config set soft_max_mdeg 50000",  # hardware file
                 "config set tick_ms 20",  # read at boot
                 "config set imu_zero_mdeg 1000"):  # calibrate takes it
        o = r.cmd(line)
        assert o["ok"] is False, line
        assert snapshot(r) == before, line


def test_profile_show_and_set():
    r = Rig(json_mode=True)
    p = r.app.core.profile
    o = r.cmd("profile")
    assert o["max_mdeg"] == 30000 and o["level"] == 0 and o["consent"] is False
    assert r.cmd("profile set max_deg 25")["ok"] is False  # no session
    r.login()
    o = r.cmd("profile set max_deg 25.5")
    assert o["ok"] is True and p.max_mdeg == 25500
    assert r.cmd("profile set hold_s 60")["ok"] is True and p.hold_max_ms == 60000
    assert r.cmd("profile set cap_s 300")["ok"] is True and p.session_cap_ms == 300000
    assert r.cmd("profile set advance_after 5")["ok"] is True and p.advance_after == 5
    assert r.app.saves == 4
    before = snapshot(r)
    for line in ("profile set max_deg 61", "profile set max_deg 10",
                 "profile set hold_s 301", "profile set cap_s 30",  # below the hold max
                 "profile set advance_after 0", "profile set advance_after 2.5"):
        o = r.cmd(line)
        assert o["ok"] is False, line
        assert snapshot(r) == before, line
    r.app.core.state = MOVING
    assert r.cmd("profile set max_deg 20")["ok"] is False
    assert p.max_mdeg == 25500
    # the stored profile is what the next boot loads
    loaded, status = profiles.load_profiles(r.app.fs, r.app.cfg)
    assert status == store.OK and loaded[0].max_mdeg == 25500


def test_pin_first_set_login_logout():
    r = Rig(json_mode=True)
    o = r.cmd("login 1234")
    assert o["ok"] is False and "no PIN" in o["error"]
    assert r.cmd("pin set 1111 2222")["ok"] is False  # no old PIN exists yet
    assert r.cmd("pin set 1234")["ok"] is True
    assert r.cmd("pin set 5678")["ok"] is False  # now the old one is needed
    assert r.cmd("login 1234")["ok"] is True
    assert r.cmd("status")["therapist"] is True
    assert r.cmd("logout")["ok"] is True
    assert r.cmd("status")["therapist"] is False
    assert r.cmd("pin set 1234 5678")["ok"] is True
    assert r.cmd("login 1234")["ok"] is False
    assert r.cmd("login 5678")["ok"] is True


def test_session_ends_after_idle_time():
    r = Rig(json_mode=True)
    r.login()
    assert r.cmd("status")["therapist"] is True
    for _ in range(301 * 1000 // TICK_MS):
        r.tick()
    assert r.cmd("config set rest_pause_ms 20000")["ok"] is False


def test_lockout_after_five_wrong_pins_survives_a_reset():
    r = Rig(json_mode=True)
    r.cmd("pin set %s" % PIN)
    for i in range(4):
        o = r.cmd("login 0000")
        assert o["ok"] is False and o["error"] == "wrong PIN", (i, o)
    o = r.cmd("login 0000")
    assert o["ok"] is False and "locked out for 30 s" in o["error"]
    o = r.cmd("login %s" % PIN)  # the right PIN is refused during the lockout
    assert o["ok"] is False and "locked out" in o["error"]
    assert r.cmd("unlock %s" % PIN)["ok"] is False
    # a reset: a new app and console on the same flash; the lockout is still there
    r2 = Rig(FakeApp(fs=r.app.fs), json_mode=True)
    o = r2.cmd("login %s" % PIN)
    assert o["ok"] is False and "locked out" in o["error"]
    for _ in range(30 * 1000 // TICK_MS):
        r2.tick()
    assert r2.cmd("login %s" % PIN)["ok"] is True


def test_child_lock_on_for_anyone_off_with_the_pin():
    r = Rig(json_mode=True)
    core = r.app.core
    r.cmd("pin set %s" % PIN)
    o = r.cmd("lock")
    assert o["ok"] is True and core.child_lock is True
    o = r.cmd("unlock")
    assert o["ok"] is False and core.child_lock is True
    assert r.cmd("unlock 9999")["ok"] is False and core.child_lock is True
    o = r.cmd("unlock %s" % PIN)
    assert o["ok"] is True and o["child_lock"] is False and core.child_lock is False
    r.cmd("lock")
    # persisted: the next boot starts locked
    r2 = Rig(FakeApp(fs=r.app.fs))
    assert r2.app.core.child_lock is True


def test_app_without_auth_gets_one_from_the_console():
    app = FakeApp(with_auth=False)
    r = Rig(app, json_mode=True)
    assert r.cmd("pin set %s" % PIN)["ok"] is True
    assert r.cmd("login %s" % PIN)["ok"] is True
    assert r.cmd("lock")["ok"] is True
    app2 = FakeApp(fs=app.fs, with_auth=False)
    Rig(app2)
    assert app2.core.child_lock is True


# ------------------------------------------------------------- stream, reboot, output


def test_stream_sends_one_line_per_period():
    r = Rig(json_mode=True)
    o = r.cmd("stream 10")
    assert o["ok"] is True and o["stream_hz"] == 10
    r.board.out = bytearray()
    for _ in range(100):  # one second
        r.tick()
        r.app.core.angle_mdeg += 10  # 1 deg/s
    lines = [json.loads(s) for s in bytes(r.board.out).decode().split("\n") if s]
    tel = [t["tel"] for t in lines if "tel" in t]
    assert 9 <= len(tel) <= 11, len(tel)
    assert tel[-1]["state"] == "READY" and tel[-1]["fault"] == "none"
    assert tel[-1]["rate_mdeg_s"] == 1000
    ts = [t["t_ms"] for t in tel]
    assert all(ts[i + 1] - ts[i] == 100 for i in range(len(ts) - 1))
    assert r.cmd("stream off")["ok"] is True
    r.board.out = bytearray()
    for _ in range(50):
        r.tick()
    assert bytes(r.board.out) == b""
    h = Rig()
    h.send("stream 50")
    for _ in range(10):
        h.tick()
    assert "tel t=" in bytes(h.board.out).decode()


def test_reboot_and_maintenance_only_in_ready_after_the_reply():
    r = Rig(json_mode=True)
    board = r.board
    r.app.core.state = HOLDING
    assert r.cmd("reboot")["ok"] is False and board.resets == 0
    assert r.cmd("maintenance")["ok"] is False and board.maintenance == 0
    r.app.core.state = READY
    o = r.cmd("reboot")
    assert o["ok"] is True
    r.tick()
    assert board.resets == 1
    r.cmd("maintenance")
    r.tick()
    assert board.maintenance == 1


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
    assert json.loads(lines[1])["protocol"] == 1  # the next command waited its turn


def test_a_backlog_delays_the_next_command_and_drops_nothing():
    r = Rig(json_mode=True)
    chunks = []
    r.board.console_write = chunks.append  # a sink that needs no large buffer
    for _ in range(40):
        r.con._queue(b"x" * 95 + b"\n")  # 3840 bytes still to write
    r.board.host_send(b"#5 goto 20\n")
    for _ in range(20):
        r.tick()
    assert r.app.core.calls == []  # not read yet: the output is backed up
    r.run()
    assert r.app.core.calls == [(C_GOTO, 20000, 0)]
    last = b"".join(chunks[-3:]).split(b"\n")[-2]
    assert json.loads(last)["id"] == 5


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

    r.app.core.command = boom
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
    r = Rig()
    r.login()  # the once-a-second session check runs too
    con = r.con
    now = r.now_ms
    con.service(now)
    gc.collect()
    before = gc.mem_alloc()
    for i in range(1000):
        con.service(now + i * 10)
    assert gc.mem_alloc() - before == 0, gc.mem_alloc() - before
    assert con.auth.is_authorised(now + 9990, False)


def test_refused_ctrl_c_is_answered_with_an_alert():
    r = Rig(json_mode=True)
    r.con.refuse_interrupt()
    r.run()
    o = json.loads(bytes(r.board.out).decode())
    assert "Ctrl-C refused" in o["alert"]


def test_a_row_that_cannot_be_shown_is_left_out_and_reported():
    r = Rig(json_mode=True)
    r.app.history.entries = [[1, 0, 0, 20000, 90000, 0], None, [3, 0, 0, 20000, 90000, 0]]
    lines = [json.loads(x) for x in r.send("history").split("\n") if x]
    assert [s["session"] for s in lines[0]["sessions"]] == [3, 1]  # still one valid line
    assert "internal error" in lines[1]["alert"]
