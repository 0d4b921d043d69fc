"""Console commands that run a session or report: motion, programs, consent, status,
faults, log, history, selftest, stream, reboot. Against the real App and Core (the rig
of tests/core/test_console.py). Runs on CPython and the MicroPython unix port.
"""

from test_console import Rig, snapshot  # noqa: I001

import json

import faults
import profiles
import programs
from cmdparse import fmt_milli
from events import E_CLAMPED, E_STATE
from states import (
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
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    HOMING,
    MOVING,
    R_CONSENT,
    R_IN_PROGRESS,
    READY,
    RETURNING,
)


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


def test_motion_commands_go_through_core_command():
    r = Rig(json_mode=True, homed=True, consent=True)
    table = (  # in an order the real core accepts each one (the rig's core stands still)
        ("goto 20", (C_GOTO, 20000, 0)),
        ("goto -12.5", (C_GOTO, -12500, 0)),
        ("hold 90", (C_HOLD, 90000, 0)),
        ("hold 0.5", (C_HOLD, 500, 0)),
        ("stop", (C_STOP, 0, 0)),
        ("program interval", (C_PROGRAM, programs.INTERVAL, 0)),
        ("program 3", (C_PROGRAM, programs.CUSTOM, 0)),
        ("return", (C_RETURN, 0, 0)),
        ("discomfort", (C_DISCOMFORT, 0, 0)),
        ("estop", (C_ESTOP, 0, 0)),
    )
    for line, call in table:
        n = len(r.calls)
        o = r.cmd(line)
        assert o["ok"] is True, (line, o)
        assert r.calls[n:] == [call], (line, r.calls[n:])
    # ack: only once the emergency return has arrived and latched
    o = r.cmd("ack")
    assert o["ok"] is False and o["reason"] == R_IN_PROGRESS and r.calls[-1] == (C_ACK, 0, 0)
    r.step_until(lambda r: r.core.phase == 4, 60000)  # P_LATCHED at horizontal
    o = r.cmd("ack")
    # the core stood still through the table above, so the return ended where it began
    assert o["ok"] is True and o["state"] == "READY", o
    r.to_ready()
    # READY: calibrate takes the loading switch as the reference (a typed angle is
    # passed on, flagged in b, and must be the switch's within arrive_tol_mdeg)
    table = (("calibrate", (C_CALIBRATE, 0, 0)), ("calibrate -59.8", (C_CALIBRATE, -59800, 1)),
             ("home", (C_HOME, 0, 0)))
    for line, call in table:
        n = len(r.calls)
        o = r.cmd(line)
        assert o["ok"] is True, (line, o)
        assert r.calls[n:] == [call], (line, r.calls[n:])
    # anywhere else the core refuses it, whatever the console's hint says
    r.cmd("goto -40")
    o = r.cmd("calibrate -40")
    assert o["ok"] is False and o["error"] == "refused: not allowed in this state"
    assert r.cmd("calibrate")["error"] == "give the angle the table stands at: calibrate <deg>"


def test_goto_reports_the_clamped_target():
    r = Rig(json_mode=True, homed=True, consent=True)
    o = r.cmd("goto 80")
    assert o["ok"] is True and o["target_mdeg"] == 30000 and "clamped" in o["note"]
    assert o["state"] == "MOVING"
    assert r.app.log.get(r.app.log.seq - 2)[1] == E_CLAMPED
    assert "clamped" in Rig(homed=True, consent=True).send("goto 80")


def test_the_first_motion_homes_first_and_says_so():
    r = Rig(json_mode=True, consent=True)
    o = r.cmd("goto 20")
    assert o["ok"] is True and o["state"] == "HOMING"
    assert o["note"] == "homing first, then the goto runs"
    r.step_until(lambda r: r.core.state == MOVING, 60000)  # the goto runs after homing
    assert r.core.target_mdeg == 20000


def test_refusals_print_the_reason_and_change_nothing():
    r = Rig(json_mode=True)  # no consent: nothing past horizontal
    before = snapshot(r)
    o = r.cmd("goto 20")
    assert o["ok"] is False and o["reason"] == R_CONSENT
    assert o["error"] == "refused: contraindications not acknowledged"
    after = snapshot(r)
    # the core saw the command (and refused it, logging it); nothing else moved
    assert after[:6] == before[:6] and after[7:16] == before[7:16]
    assert r.commands_logged()[-1] == (C_GOTO, R_CONSENT)
    assert r.cmd("goto -20")["ok"] is True  # above horizontal needs no consent
    r2 = Rig()
    assert r2.send("goto 20") == "error: refused: contraindications not acknowledged\n"
    o = Rig(json_mode=True).cmd("stop")  # READY: stop is not a thing to do
    assert o["ok"] is False and o["error"] == "refused: not allowed in this state"


def test_start_with_and_without_arguments():
    r = Rig(json_mode=True, homed=True, consent=True)
    o = r.cmd("start")
    assert o["ok"] is True, o
    assert r.calls[-1] == (C_START, 0, 0)
    assert o["program"] == "beginner" and o["plan"] == [[20000, 90000]]
    assert o["state"] == "MOVING" and o["target_mdeg"] == 20000
    r.to_ready()
    r.cmd("program custom")
    o = r.cmd("start 25 60")
    assert o["ok"] is True and r.calls[-1] == (C_START, 25000, 60000)
    assert o["plan"] == [[25000, 60000]]
    r.to_ready()
    r.cmd("program beginner")
    o = r.cmd("start 25 60")  # the runner refuses arguments for beginner: the core says so
    assert o["ok"] is False and "bad argument" in o["error"]


def test_consent_shows_the_list_and_needs_yes_right_after():
    r = Rig(json_mode=True)
    o = r.cmd("consent yes")
    assert o["ok"] is False and r.calls == []
    o = r.cmd("consent")
    assert o["contraindications"] == list(profiles.CONTRAINDICATIONS)
    assert o["consent"] is False
    r.cmd("status")  # anything in between: the list must be shown again
    assert r.cmd("consent yes")["ok"] is False
    r.cmd("consent")
    o = r.cmd("consent yes")
    assert o["ok"] is True and o["consent"] is True
    assert r.calls == [(C_CONSENT, 0, 0)] and r.core.profile.consent is True
    text = Rig().send("consent")
    for c in profiles.CONTRAINDICATIONS:
        assert c in text


def test_consent_and_calibration_are_stored_for_the_next_boot():
    r = Rig(json_mode=True, homed=True, consent=True)
    assert r.cmd("calibrate")["ok"] is True
    r.step(2)  # the app stores what the core's events say, after the tick
    zero = r.app.cfg.imu_zero_mdeg
    r2 = Rig(json_mode=True, fs_root=r.board.fs_root)
    assert r2.cmd("profile")["consent"] is True
    assert r2.cmd("config get imu_zero_mdeg")["value"] == zero


def test_status_human_and_json():
    r = Rig(json_mode=True)
    o = r.cmd("status")
    for key in ("state", "phase", "angle_mdeg", "target_mdeg", "fault", "est_valid", "homed",
                "head_down_ms", "session_cap_ms", "program", "profile", "max_mdeg", "level",
                "consent", "child_lock", "startup_errors", "therapist"):
        assert key in o, key
    assert o["state"] == "READY" and o["fault"] == "none" and o["homed"] is False
    assert o["angle_mdeg"] == r.core.angle_mdeg and abs(o["angle_mdeg"] + 60000) < 1000
    # no target before homing: target_mdeg stays, no_target says it in words
    assert o["no_target"] == "none (not homed yet)" and "target_mdeg" in o
    h = Rig()
    text = h.send("status")
    assert "state: READY" in text and "session cap: 180.000 s" in text
    assert "target: none (not homed yet)" in text and "no target" not in text
    m = Rig(json_mode=True, homed=True, consent=True)
    m.cmd("goto 20")
    o = m.cmd("status")
    assert o["state"] == "MOVING" and o["no_target"] is None and o["target_mdeg"] == 20000
    assert "angle: %s deg" % fmt_milli(h.core.angle_mdeg) in text


def test_faults_log_and_history():
    r = Rig(json_mode=True, homed=True)
    app = r.app
    app.history.add(programs.BEGINNER, 0, 20000, 90000, profiles.COMPLETED)
    r.send("goto -40")
    r.step_until(lambda r: r.core.state == HOLDING, 60000)
    r.plant.imu_error = 19  # the IMU stops answering: a real fault, latched
    r.step_until(lambda r: r.core.state == FAULT, 2000)
    r.step(2)  # the app adds it to the fault history
    code = r.core.fault
    o = r.cmd("faults")
    assert o["latched"] == faults.name(code) and o["latched"] != "none"
    h = o["history"]
    assert len(h) == 1 and h[0]["time"].startswith("clock not set, uptime ")
    assert h[0] == {"fault": faults.name(code), "code": code, "boot": 1, "session": 1,
                    "date": None, "time": h[0]["time"]}
    o = r.cmd("log 2")
    assert o["fields"] == ["t_ms", "event", "a", "b", "text"]
    assert len(o["events"]) == 2
    ev = [e for e in app.log.since(0) if e[1] == E_STATE][-1]
    o = r.cmd("log 40")
    st = [e for e in o["events"] if e[1] == "state"][-1]
    assert st == [ev[0], "state", HOLDING, FAULT, "HOLDING -> FAULT"]
    o = r.cmd("history")
    assert o["sessions"][0]["deepest_mdeg"] == 20000 and o["sessions"][0]["ended"] == "completed"
    r.send("json off")
    text = r.send("log 40")
    assert "%s s  state         HOLDING -> FAULT" % fmt_milli(ev[0]) in text
    assert "latched: %s (state FAULT)" % faults.name(code) in r.send("faults")


def test_selftest_and_version():
    r = Rig(json_mode=True)
    o = r.cmd("selftest")
    assert o["selftest"] == "passed" and o["reset_cause"] == "watchdog"
    assert o["imu_valid"] is True and o["home_switch"] is True and o["stuck_buttons"] == 0
    o = r.cmd("version")
    assert o["protocol"] == 2 and o["firmware"] == r.app.version
    # a boot whose self-test failed is reported as failed, with its fault
    bad = Rig(json_mode=True, boot=False)
    bad.plant.imu_error = 19
    bad.step_until(lambda r: r.core.state != 0, 2000)
    assert bad.core.state == FAULT
    o = bad.cmd("selftest")
    assert o["selftest"] == "failed: %s" % faults.name(bad.core.fault)
    running = Rig(json_mode=True, boot=False)
    assert running.cmd("selftest")["selftest"] == "running"


def test_ack_after_an_estop_and_the_emergency_return():
    r = Rig(json_mode=True, homed=True, consent=True)
    r.send("goto 20")
    r.step_until(lambda r: r.core.state == HOLDING, 60000)
    o = r.cmd("estop")
    assert o["ok"] is True and o["state"] == "EMERGENCY_RETURN"
    assert r.cmd("goto 25")["error"] == "refused: emergency latch set: acknowledge first"
    assert r.cmd("ack")["ok"] is False  # still on its way to horizontal
    r.step_until(lambda r: r.core.phase == 4, 60000)
    o = r.cmd("ack")
    assert o["ok"] is True and o["state"] == "HOLDING" and r.core.state == HOLDING
    assert r.core.state != EMERGENCY_RETURN


# ------------------------------------------------------------- stream, reboot


def test_stream_sends_one_line_per_period():
    r = Rig(json_mode=True, homed=True, consent=True)
    r.send("goto 20")
    r.step(150)  # under way at normal speed
    o = r.cmd("stream 10")
    assert o["ok"] is True and o["stream_hz"] == 10
    r.board.out = bytearray()
    r.step(100)  # one second of the whole loop
    lines = [json.loads(s) for s in bytes(r.board.out).decode().split("\n") if s]
    tel = [t["tel"] for t in lines if "tel" in t]
    assert 9 <= len(tel) <= 11, len(tel)
    assert tel[-1]["state"] == "MOVING" and tel[-1]["fault"] == "none"
    # the rate is the angle's change between the last two lines, over their 100 ms
    a, b = tel[-2], tel[-1]
    assert b["rate_mdeg_s"] == (b["angle_mdeg"] - a["angle_mdeg"]) * 1000 // 100
    assert 0 < b["rate_mdeg_s"] <= 2 * r.app.cfg.normal_speed_mdeg_s
    assert tel[-1]["target_mdeg"] == 20000
    ts = [t["t_ms"] for t in tel]
    assert all(ts[i + 1] - ts[i] == 100 for i in range(len(ts) - 1))
    assert r.cmd("stream off")["ok"] is True
    r.board.out = bytearray()
    r.step(50)
    assert bytes(r.board.out) == b""
    h = Rig()
    h.send("stream 50")
    for _ in range(10):
        h.tick()
    assert " deg target " in bytes(h.board.out).decode()  # human: units beside the values


def test_reboot_and_maintenance_only_in_ready_after_the_reply():
    r = Rig(json_mode=True, homed=True, pin_setup=True)
    board = r.board
    r.cmd("goto -40")
    assert r.core.state == MOVING
    assert r.cmd("reboot")["ok"] is False and board.resets == 0
    assert r.cmd("maintenance 4821")["ok"] is False and board.maintenance == 0
    assert r.app.auth.failures == 0  # refused for the state: no PIN try spent
    r.to_ready()
    o = r.cmd("reboot")
    assert o["ok"] is True
    r.tick()
    assert board.resets == 1
    # the service mode needs the therapist PIN (issue #21): none set, a wrong one, then
    o = r.cmd("maintenance 4821")
    assert o["ok"] is False and "no PIN" in o["error"]
    assert r.cmd("pin set 4821")["ok"] is True
    o = r.cmd("maintenance 1111")
    assert o["ok"] is False and "wrong PIN" in o["error"]
    r.tick()
    assert board.maintenance == 0 and r.app.auth.failures == 1
    assert r.cmd("maintenance")["ok"] is False  # usage: the PIN is not optional
    assert r.cmd("maintenance 4821")["ok"] is True
    r.tick()
    assert board.maintenance == 1


def test_a_restart_is_cancelled_if_the_table_leaves_ready_first():
    r = Rig(homed=True)
    r.board.host_send(b"reboot\n")
    r.tick()  # the reply is queued and written; the reset waits for the next pass
    r.core.command(C_ESTOP)  # the e-stop circuit, meanwhile
    r.run()
    assert r.board.resets == 0
    assert "alert: reboot cancelled: the table left READY" in r.board.host_receive().decode()


def test_returning_then_stop_holds_where_it_is():
    r = Rig(json_mode=True, homed=True)
    r.send("goto -40")
    r.step_until(lambda r: r.core.state == HOLDING, 60000)
    o = r.cmd("return")
    assert o["ok"] is True and o["state"] == "RETURNING"
    r.step(50)
    o = r.cmd("stop")
    assert o["ok"] is True and r.core.state in (RETURNING, HOLDING)
    r.step_until(lambda r: r.core.state == HOLDING, 10000)
    assert r.core.state != HOMING and r.core.state != READY
    assert r.calls[-1] == (C_STOP, 0, 0)


def test_status_shows_the_ankle_lock():
    """Issue #22: the person at the console sees whether the ankle lock holds the user (an
    open lock refuses every head-down motion: status says why before the refusal does)."""
    from signals import SW_ANKLE_LOCK
    from switches import ANKLE_SAMPLES
    r = Rig(json_mode=True)
    r.step(ANKLE_SAMPLES + 1)
    assert r.cmd("status")["ankle_lock"] == "closed"
    assert r.cmd("selftest")["ankle_lock_open"] is False
    r.plant.force_switches = SW_ANKLE_LOCK
    r.step(ANKLE_SAMPLES + 1)
    assert r.cmd("status")["ankle_lock"] == "open"
    assert r.cmd("selftest")["ankle_lock_open"] is True
    h = Rig()
    h.plant.force_switches = SW_ANKLE_LOCK
    h.step(ANKLE_SAMPLES + 1)
    assert "ankle lock: open" in h.send("status")
