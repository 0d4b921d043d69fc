"""The bring-up commands of the service mode (firmware/console_service.py) on the real
App and Core (tests/core/test_console.py's rig): only in the service mode's loop with a
therapist session; the driver hold, the raw readings and the console jog that stops
within one tick of a missing keep-alive. Runs on CPython and the MicroPython ports.
"""

from commands import JOG_KEEP_MS
from signals import SW_UP
from states import JOGGING, P_STOPPING, READY
from test_console import TICK_MS, Rig

_BRINGUP = ("drive on", "drive off", "imu", "steps", "switches", "jog up", "jog down",
            "jog stop", "keep", "freeze 50")


def test_bringup_commands_only_in_the_service_mode():
    r = Rig(json_mode=True, pin_setup=True)
    r.login()
    for line in _BRINGUP:
        rep = r.cmd(line)
        assert not rep["ok"] and "service mode" in rep["error"], (line, rep)
    assert r.calls == []  # nothing reached the core


def test_bringup_commands_need_the_therapist():
    r = Rig(json_mode=True, service=True)
    for line in _BRINGUP:
        rep = r.cmd(line)
        assert not rep["ok"] and "therapist" in rep["error"], (line, rep)
    assert r.calls == []


def test_drive_on_holds_without_motion_and_off_releases():
    r = Rig(json_mode=True, service=True, homed=True)
    r.login()
    count = r.plant.count
    assert r.cmd("drive on")["drive_hold"] is True
    r.step(5)
    assert r.app.outputs.enable and r.app.outputs.rate_sps == 0
    assert r.plant.count == count
    assert r.cmd("drive off")["drive_hold"] is False
    r.step()
    assert not r.app.outputs.enable


def test_raw_readings():
    r = Rig(json_mode=True, service=True, homed=True)
    r.login()
    r.step()
    imu = r.cmd("imu")
    inp = r.app.inputs
    assert (imu["acc_x_mg"], imu["acc_y_mg"], imu["acc_z_mg"]) == (
        inp.acc_x_mg, inp.acc_y_mg, inp.acc_z_mg)
    assert imu["who_am_i"] == "unknown"  # the rig's board has no IMU driver
    st = r.cmd("steps")
    assert st["pcnt_steps"] == r.plant.count and st["homed"] is True
    sw = r.cmd("switches")
    assert sw["home"] is True and sw["up"] is False and sw["estop_open"] is False
    assert sw["ankle_lock_open"] is False and sw["overtravel"] is False
    r.plant.buttons = SW_UP
    r.step()
    assert r.cmd("switches")["up"] is True
    r.plant.buttons = 0


def test_console_jog_runs_with_keep_alives_and_stops_without():
    r = Rig(json_mode=True, service=True, homed=True, consent=True)
    r.login()
    rep = r.cmd("jog down")
    assert rep["ok"] and rep["state"] == "JOGGING", rep
    start = r.plant.angle_mdeg()
    for _ in range(8):  # the client's rhythm: a keep-alive every 100 ms
        r.board.host_send("keep\n")
        r.step(100 // TICK_MS)
        assert r.core.state == JOGGING and r.core.phase != P_STOPPING
    assert r.plant.angle_mdeg() > start + 500
    waited = r.step_until(lambda q: q.core.phase == P_STOPPING, 1000)
    assert waited <= JOG_KEEP_MS + TICK_MS, waited
    r.step_until(lambda q: q.core.state != JOGGING, 5000)


def test_console_jog_refused_before_homing():
    r = Rig(json_mode=True, service=True)
    r.login()
    rep = r.cmd("jog up")
    assert not rep["ok"] and rep["reason"] == 1, rep  # R_STATE: home first
    assert r.core.state == READY


def test_freeze_blocks_the_loop_for_its_time():
    r = Rig(json_mode=True, service=True)
    r.login()
    before = r.now_ms
    rep = r.cmd("freeze 300")
    assert rep["ok"] and rep["freeze_ms"] == 300
    assert r.now_ms - before >= 300  # the board's clock ran on while the loop stood still
    assert not r.cmd("freeze 10001")["ok"]
