"""Console settings and access: config, profile, the PIN, the therapist session, the
lockout and the child lock. Against the real App (settings, profiles and the access
state stored in a real directory, reloaded by a new App as after a reset). Runs on
CPython and the MicroPython unix port.
"""

from test_console import PIN, TICK_MS, Rig, snapshot  # noqa: I001

import profiles
import store
from signals import SW_START
from states import C_CHILD_LOCK, R_LOCKED, READY


def test_config_get():
    r = Rig(json_mode=True)
    o = r.cmd("config get")
    assert o["fields"] == ["name", "value", "min", "max", "fixed"]
    assert {row[0]: row[1] for row in o["config"]} == r.app.cfg.as_dict()
    assert ["tick_ms", 10, 5, 10, True] in o["config"]
    o = r.cmd("config get rest_pause_ms")
    assert o["value"] == 10000 and o["min"] == 0 and o["max"] == 120000
    assert o["fixed"] is False
    assert r.cmd("config get tick_ms")["fixed"] is True
    # human: the value as `config set` takes it, in seconds beside it, the range
    assert Rig().send("config get rest_pause_ms").split() == [
        "rest_pause_ms", "10000", "=", "10.000", "s", "[0,", "120000]"]


def test_config_set_needs_a_therapist_session_and_ready():
    r = Rig(json_mode=True, homed=True, pin_setup=True)
    app = r.app
    before = r.stored("settings")  # the commissioning record (test_console.ConsoleBoard)
    o = r.cmd("config set rest_pause_ms 20000")
    assert o["ok"] is False and "login" in o["error"]
    assert app.cfg.rest_pause_ms == 10000 and r.stored("settings") == before
    r.login()
    r.cmd("goto -40")
    o = r.cmd("config set rest_pause_ms 20000")
    assert o["ok"] is False and o["error"] == "config set only in READY (now MOVING)"
    r.to_ready()
    o = r.cmd("config set rest_pause_ms 20000")
    assert o["ok"] is True and o["old"] == 10000 and o["value"] == 20000
    assert o["warning"] is None
    assert app.cfg.rest_pause_ms == 20000
    assert r.stored("settings") == ({"rest_pause_ms": 20000, "imu_calibrated": 1}, store.OK)
    # a speed: the core takes it at once
    speeds = r.core.targets
    v = speeds.v_normal
    assert r.cmd("config set normal_speed_mdeg_s 3000")["ok"] is True
    assert speeds.v_normal == r.core.kin.sps_from_mdeg_s(3000) and speeds.v_normal < v
    # and the next boot has both
    r2 = Rig(json_mode=True, fs_root=r.board.fs_root)
    assert r2.app.cfg.rest_pause_ms == 20000 and r2.app.cfg.normal_speed_mdeg_s == 3000


def test_config_set_refusals_leave_the_config_alone():
    r = Rig(json_mode=True, pin_setup=True)
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
    assert r.cmd("config set normal_speed_mdeg_s 1000")["error"] == (
        "jog speed must not exceed normal speed")


def test_profile_show_and_set():
    r = Rig(json_mode=True, homed=True, pin_setup=True)
    p = r.core.profile
    o = r.cmd("profile")
    assert o["max_mdeg"] == 30000 and o["level"] == 0 and o["consent"] is False
    assert o["level_angle_mdeg"] == profiles.LEVEL_ANGLE_MDEG[0]
    assert r.cmd("profile set max_deg 25")["ok"] is False  # no session
    r.login()
    o = r.cmd("profile set max_deg 25.5")
    assert o["ok"] is True and p.max_mdeg == 25500 and o["old"] == 30000
    assert r.cmd("profile set hold_s 60")["ok"] is True and p.hold_max_ms == 60000
    assert r.cmd("profile set cap_s 300")["ok"] is True and p.session_cap_ms == 300000
    assert r.cmd("profile set advance_after 5")["ok"] is True and p.advance_after == 5
    before = snapshot(r)
    for line in ("profile set max_deg 61", "profile set max_deg 10",
                 "profile set hold_s 301", "profile set cap_s 30",  # below the hold max
                 "profile set advance_after 0", "profile set advance_after 2.5"):
        o = r.cmd(line)
        assert o["ok"] is False, line
        assert snapshot(r) == before, line
    r.cmd("goto -40")
    assert r.cmd("profile set max_deg 20")["ok"] is False
    assert p.max_mdeg == 25500
    # the stored profile is what the next boot loads
    loaded, status = profiles.load_profiles(r.app.fs, r.app.cfg)
    assert status == store.OK and loaded[0].max_mdeg == 25500
    assert loaded[0].session_cap_ms == 300000 and loaded[0].advance_after == 5
    text = Rig().send("profile")
    assert "max: 30.000 deg" in text and "hold max: 120.000 s" in text


def test_the_profile_max_is_what_goto_clamps_to():
    r = Rig(json_mode=True, homed=True, consent=True, pin_setup=True)
    r.login()
    assert r.cmd("profile set max_deg 22")["ok"] is True
    o = r.cmd("goto 40")
    assert o["target_mdeg"] == 22000 and "clamped" in o["note"]


def test_the_first_pin_needs_the_physical_reset_at_the_table():
    # issue #23: anyone on the cable could set a new table's first PIN, then lock the
    # clinic out or raise the limits
    r = Rig(json_mode=True)
    assert r.cmd("pin set 1111 2222")["ok"] is False
    o = r.cmd("pin set 1234")
    assert o["ok"] is False and not r.app.auth.has_pin, o
    assert "at the table" in o["error"] and "START and DOWN" in o["error"]
    o = r.cmd("login 1234")
    assert o["ok"] is False and "no PIN" in o["error"] and "at the table" in o["error"]
    text = Rig().send("pin set 1234")
    assert text.startswith("error: the first PIN is set at the table"), text
    # the physical reset's boot: open 10 min from its first pass, then closed
    r = Rig(json_mode=True, pin_setup=True)
    for _ in range(600 * 1000 // TICK_MS):
        r.tick()
    o = r.cmd("pin set 1234")
    assert o["ok"] is False and "at the table" in o["error"] and not r.app.auth.has_pin
    # a reset closes it too: the window is this boot's, never stored
    r2 = Rig(json_mode=True, fs_root=Rig(pin_setup=True).board.fs_root)
    assert r2.cmd("pin set 1234")["ok"] is False


def test_pin_first_set_login_logout():
    r = Rig(json_mode=True, pin_setup=True)
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
    r = Rig(json_mode=True, pin_setup=True)
    r.login()
    assert r.cmd("status")["therapist"] is True
    for _ in range(301 * 1000 // TICK_MS):
        r.tick()
    assert r.app.auth.is_authorised(r.now_ms, False) is False  # the console's poll ended it
    assert r.cmd("config set rest_pause_ms 20000")["ok"] is False


def test_lockout_after_five_wrong_pins_survives_a_reset():
    r = Rig(json_mode=True, pin_setup=True)
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
    r2 = Rig(json_mode=True, fs_root=r.board.fs_root)
    o = r2.cmd("login %s" % PIN)
    assert o["ok"] is False and "locked out" in o["error"]
    for _ in range(30 * 1000 // TICK_MS):
        r2.tick()
    assert r2.cmd("login %s" % PIN)["ok"] is True


def test_child_lock_on_for_anyone_off_with_the_pin():
    r = Rig(json_mode=True, pin_setup=True)
    core = r.core
    r.cmd("pin set %s" % PIN)
    o = r.cmd("lock")
    assert o["ok"] is True and core.child_lock is True and o["warning"] is None
    o = r.cmd("unlock")
    assert o["ok"] is False and core.child_lock is True
    assert r.cmd("unlock 9999")["ok"] is False and core.child_lock is True
    o = r.cmd("unlock %s" % PIN)
    assert o["ok"] is True and o["child_lock"] is False and core.child_lock is False
    r.cmd("lock")
    # persisted: the next boot starts locked
    r2 = Rig(fs_root=r.board.fs_root)
    assert r2.core.child_lock is True
    # no PIN set: the lock says so, and unlocking needs one, set first at the table
    r3 = Rig(json_mode=True, pin_setup=True)
    o = r3.cmd("lock")
    assert o["ok"] is True and "no PIN yet" in o["warning"] and "at the table" in o["warning"]
    o = r3.cmd("unlock")
    assert o["ok"] is False and "pin set <new>" in o["error"] and r3.core.child_lock is True
    assert r3.cmd("pin set %s" % PIN)["ok"] is True
    assert r3.cmd("unlock %s" % PIN)["child_lock"] is False


def test_the_child_lock_reaches_the_core_through_its_command():
    r = Rig(json_mode=True, homed=True, consent=True, pin_setup=True)
    r.cmd("lock")
    assert r.calls[-1] == (C_CHILD_LOCK, 1, 0)
    r.plant.buttons = SW_START  # a press of START on the table is refused by the core
    r.step(40)
    r.plant.buttons = 0
    r.step(10)
    assert any(reason == R_LOCKED for _, reason in r.commands_logged())
    assert r.core.state == READY  # nothing moved
    r.cmd("pin set %s" % PIN)
    r.cmd("unlock %s" % PIN)
    assert r.calls[-1] == (C_CHILD_LOCK, 0, 0) and r.core.child_lock is False
