"""The console jog's keep-alive and the bring-up driver hold, on the real Core.

The console's jog (core command C_JOG_UP / C_JOG_DOWN with b = 1, offered only in the
service mode) runs only while C_JOG_KEEP arrives at least every JOG_KEEP_MS; the tick
that finds more time passed lets it go (decelerating, as a released button does). The
time is the ticks' own (tests/core/rig.py: 10 ms). C_DRIVE_HOLD energises the driver in
READY with no pulse. Runs on CPython and the MicroPython unix and 32-bit ports.
"""

from commands import JOG_KEEP_MS
from events import E_COMMAND
from rig import TICK_MS, Rig
from signals import SW_DOWN
from states import (
    C_DRIVE_HOLD,
    C_GOTO,
    C_JOG_DOWN,
    C_JOG_KEEP,
    C_JOG_RELEASE,
    C_JOG_UP,
    HOLDING,
    JOGGING,
    OK,
    P_STOPPING,
    R_STATE,
    READY,
)


def _jogging_down():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_JOG_DOWN, 0, 1) == OK
    r.tick()
    assert r.core.state == JOGGING and r.core.phase != P_STOPPING
    assert r.core.command(C_JOG_KEEP) == OK
    return r


def test_keep_alive_every_200_ms_keeps_the_jog_going():
    r = _jogging_down()
    for _ in range(5):
        # the keep-alive 200 ms after the last one, not earlier (Rig.tick: a command
        # between two ticks is where the app's console runs, after the first)
        r.tick(JOG_KEEP_MS // TICK_MS)
        assert r.core.phase != P_STOPPING
        assert r.core.command(C_JOG_KEEP) == OK
    assert r.core.state == JOGGING and r.core.phase != P_STOPPING
    assert r.plant.angle_mdeg() > r.cfg.loading_angle_mdeg + 1000  # it moved head-down


def test_missing_keep_alive_stops_within_one_tick():
    r = _jogging_down()
    r.tick(3)
    assert r.core.command(C_JOG_KEEP) == OK
    # the console ran after the previous tick: that is when the keep-alive came
    last = r.t_ms - TICK_MS
    while r.core.phase != P_STOPPING:
        r.tick()
        assert r.t_ms - last <= JOG_KEEP_MS + 3 * TICK_MS, r.t_ms - last
    released = [e for e in r.events(E_COMMAND) if e[2] == C_JOG_RELEASE]
    assert len(released) == 1 and released[0][3] == OK
    # let go on the first tick later than JOG_KEEP_MS after it: within one tick
    assert JOG_KEEP_MS < released[0][0] - last <= JOG_KEEP_MS + TICK_MS, released[0][0] - last
    r.run_until(lambda q: q.core.state != JOGGING, 5000)
    assert r.core.state in (HOLDING, READY)  # settled where it stopped (near the stop)
    assert r.core.command(C_JOG_KEEP) == R_STATE  # a keep-alive does not restart it


def test_keep_alive_only_for_the_console_jog():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_JOG_KEEP) == R_STATE  # READY: no jog
    r.plant.buttons = SW_DOWN  # the button's own hold-to-run
    r.run_until(lambda q: q.core.state == JOGGING, 2000)
    assert r.core.command(C_JOG_KEEP) == R_STATE
    r.tick(40)  # no keep-alive needed while the button is held
    assert r.core.phase != P_STOPPING
    r.plant.buttons = 0


def test_a_button_ends_the_console_jog():
    r = _jogging_down()
    r.plant.buttons = SW_DOWN  # pressed during a console jog: not its jog
    # let go once debounced, well before the keep-alive would run out
    assert r.run_until(lambda q: q.core.phase == P_STOPPING, 100) < JOG_KEEP_MS
    r.plant.buttons = 0


def test_console_jog_needs_the_step_reference():
    r = Rig()
    r.boot()
    assert r.core.state == READY and not r.core.homed
    assert r.core.command(C_JOG_UP, 0, 1) == R_STATE  # no homing run nobody holds
    assert r.core.state == READY


def test_driver_hold_in_ready_energises_without_pulses():
    r = Rig()
    r.ready_homed()
    count = r.plant.count
    assert r.core.command(C_DRIVE_HOLD, 1) == OK
    for _ in range(20):
        r.tick()
        assert r.out.enable
        assert r.out.rate_sps == 0 and r.out.limit_lo == r.out.limit_hi == count
    assert r.plant.count == count
    assert r.core.command(C_DRIVE_HOLD, 0) == OK
    r.tick()
    assert not r.out.enable


def test_driver_hold_ends_with_ready():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_DRIVE_HOLD, 1) == OK
    r.tick()
    assert r.out.enable
    assert r.core.command(C_GOTO, -50000) == OK
    r.run_until(lambda q: q.core.state == HOLDING, 60000)
    assert r.core.command(C_DRIVE_HOLD, 1) == R_STATE  # READY only
    r.core.command(4)  # C_RETURN
    r.run_until(lambda q: q.core.state == READY, 120000)
    r.tick()
    assert not r.out.enable  # back at READY the driver is off again


def test_accepted_keep_alives_do_not_fill_the_event_log():
    """Ten keep-alives a second would push the 96-event log's older events out within
    ten seconds of jogging: an accepted one is not logged (a refused one is)."""
    r = _jogging_down()
    seq = r.core.log.seq
    for _ in range(20):
        r.tick(5)
        assert r.core.command(C_JOG_KEEP) == OK
    logged = [e for e in r.core.log.since(seq) if e[1] == E_COMMAND and e[2] == C_JOG_KEEP]
    assert logged == []
    r.core.command(C_JOG_RELEASE)
    r.tick(50)
    assert r.core.command(C_JOG_KEEP) == R_STATE
    logged = [e for e in r.core.log.since(seq) if e[1] == E_COMMAND and e[2] == C_JOG_KEEP]
    assert len(logged) == 1
