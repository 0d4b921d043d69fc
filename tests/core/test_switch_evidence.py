"""Issue #18: switches are evidence, not truth (firmware/switches.py judge()).

The home and over-travel switches are checked against the trusted angles every tick. A
switch contradicted by both the steps and the IMU is a switch fault: latched, logged, and
the return goes on by the sources that agree (to horizontal; on the way to the loading
position, there). The home switch's lie counts after HOME_LIE_MS (a glitch is filtered).
READY (and anything that rests on "at the loading stop") needs the angle to agree, never
the switch alone.
Hand-worked on the core rig: a cut home wire at every phase, a cut over-travel wire.
"""

import faults
from events import E_FAULT
from rig import TICK_MS, Rig
from signals import SW_HOME, SW_OVERTRAVEL
from states import C_ACK, C_GOTO, C_RETURN, FAULT, HOLDING, P_RESTING, R_CAUSE, READY, RETURNING
from switches import HOME_LIE_MS

# a cut home wire: debounced (switch_samples ticks), then a lie for HOME_LIE_MS
_LIE_TICKS = 5 + HOME_LIE_MS // TICK_MS


def _holding_at(r, angle_mdeg):
    r.ready_homed()
    assert r.core.command(C_GOTO, angle_mdeg) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)


def _never_ready_away_from_loading(r, ms):
    for _ in range(ms // TICK_MS):
        r.tick()
        if r.core.state == READY:
            assert r.plant.angle_mdeg() < r.cfg.home_switch_mdeg + 4000, r.plant.angle_mdeg()


def _switch_faults(r, code):
    return [e for e in r.events(E_FAULT) if e[2] == code]


def _ends_latched_at_horizontal(r):
    r.run_until(lambda x: -1000 < x.plant.angle_mdeg() < 1000 and not x.out.enable, 60000)
    r.tick(500)
    assert -1000 < r.plant.angle_mdeg() < 1000
    assert r.core.state == FAULT and not r.out.enable


# ---------------------------------------------------- from /work/notes/test_issue18_core.py


def test_home_wire_cut_while_head_down_is_a_switch_fault_and_the_return_goes_on():
    r = Rig()
    _holding_at(r, 25000)
    r.plant.force_switches |= SW_HOME  # NC switch, wire cut: reads "at the loading stop"
    r.tick(50)
    assert r.core.state != READY
    assert r.core.fault != faults.NONE
    r.run_until(lambda x: -1000 < x.plant.angle_mdeg() < 1000 and not x.out.enable, 60000)
    r.tick(500)
    assert -1000 < r.plant.angle_mdeg() < 1000
    assert r.core.state != READY


def test_home_wire_cut_during_a_move_never_gives_ready_away_from_loading():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 25000) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() > 10000, 60000)
    r.plant.force_switches |= SW_HOME
    for _ in range(6000):
        r.tick()
        if r.core.state == READY:
            assert r.plant.angle_mdeg() < r.cfg.home_switch_mdeg + 4000, r.plant.angle_mdeg()


# ------------------------------------------------------------ the home wire, every phase


def test_home_wire_cut_moving_down_is_home_switch_fault_logged_once():
    """Covers: HZ-05"""
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 25000) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() > 10000, 60000)
    r.plant.force_switches |= SW_HOME
    r.tick(_LIE_TICKS)  # debounced over switch_samples ticks, then HOME_LIE_MS
    assert r.core.state == FAULT and r.core.fault == faults.HOME_SWITCH
    _ends_latched_at_horizontal(r)
    assert len(_switch_faults(r, faults.HOME_SWITCH)) == 1
    # the wire is still cut: the cause is not gone, the ack is refused
    assert r.core.command(C_ACK) == R_CAUSE
    r.plant.force_switches = 0  # repaired
    r.tick(5)
    assert r.core.command(C_ACK) == 0
    assert r.core.state == HOLDING  # at horizontal, not READY


def test_home_wire_cut_holding_returns_to_horizontal_never_ready():
    """Covers: HZ-05"""
    r = Rig()
    _holding_at(r, 30000)
    r.plant.force_switches |= SW_HOME
    r.tick(_LIE_TICKS)
    assert r.core.fault == faults.HOME_SWITCH
    _ends_latched_at_horizontal(r)


def test_home_wire_cut_returning_and_resting_at_horizontal():
    """Covers: HZ-05"""
    for phase_of_cut in ("returning", "resting"):
        r = Rig()
        _holding_at(r, 25000)
        assert r.core.command(C_RETURN) == 0
        if phase_of_cut == "returning":
            r.run_until(lambda x: x.plant.angle_mdeg() < 15000, 60000)
        else:
            r.run_until(lambda x: x.core.phase == P_RESTING, 60000)
        assert r.core.state == RETURNING
        r.plant.force_switches |= SW_HOME
        r.tick(_LIE_TICKS)
        assert r.core.fault == faults.HOME_SWITCH, phase_of_cut
        _ends_latched_at_horizontal(r)


def test_home_wire_cut_head_up_of_horizontal_goes_on_to_loading_never_ready():
    """Covers: HZ-05. On the way to loading, 20 deg head-up: the switch still contradicts
    both sources (more than 6 deg off the home switch at -59 deg): a switch fault, and
    the return goes on to the loading angle by the count (homed), latched there, never
    READY (attack18e 3: it stopped at -20 deg)."""
    r = Rig()
    _holding_at(r, 10000)
    assert r.core.command(C_RETURN) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() < -20000, 120000)
    r.plant.force_switches |= SW_HOME
    _never_ready_away_from_loading(r, 20000)
    assert r.core.fault == faults.HOME_SWITCH and r.core.state == FAULT
    assert abs(r.plant.angle_mdeg() - r.cfg.loading_angle_mdeg) < 300, r.plant.angle_mdeg()
    assert not r.out.enable
    assert len(_switch_faults(r, faults.HOME_SWITCH)) == 1


def test_a_home_wire_glitch_on_the_way_to_loading_is_filtered():
    """attack18e 3: an open of the NC wire shorter than HOME_LIE_MS (after the 3-sample
    filter) is no switch fault: the return goes on to READY at the loading stop."""
    for glitch_ms in (30, 60, HOME_LIE_MS - 50, HOME_LIE_MS):
        r = Rig()
        _holding_at(r, 10000)
        assert r.core.command(C_RETURN) == 0
        r.run_until(lambda x: x.plant.angle_mdeg() < -20000, 120000)
        r.plant.force_switches |= SW_HOME
        r.tick(glitch_ms // TICK_MS)
        r.plant.force_switches = 0
        r.run_until(lambda x: x.core.state == READY or x.core.fault, 60000)
        assert r.core.fault == faults.NONE and r.core.state == READY, glitch_ms
        assert r.plant.angle_mdeg() < r.cfg.home_switch_mdeg + 1000


def test_home_wire_cut_near_the_loading_stop_cannot_be_told():
    """Within 6 deg of the home switch the angle cannot contradict it: the documented
    limit of the rule (switches.HOME_TOL_MDEG). The return ends in READY there."""
    r = Rig()
    _holding_at(r, 10000)
    assert r.core.command(C_RETURN) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() < -56000, 120000)
    r.plant.force_switches |= SW_HOME
    r.tick(5)
    assert r.core.fault == faults.NONE


def test_a_cut_home_wire_with_the_table_resting_at_horizontal_is_a_fault_too():
    """Covers: HZ-05"""
    r = Rig()
    _holding_at(r, 0)
    r.plant.force_switches |= SW_HOME
    r.tick(_LIE_TICKS)
    assert r.core.state == FAULT and r.core.fault == faults.HOME_SWITCH


# ------------------------------------------------------------- the over-travel wire


def test_overtravel_wire_cut_at_depth_is_a_switch_fault_and_returns():
    """Covers: HZ-09"""
    r = Rig()
    _holding_at(r, 30000)
    r.plant.force_switches |= SW_OVERTRAVEL  # NC wire cut: reads "past over-travel"
    r.tick(5)
    assert r.core.state == FAULT and r.core.fault == faults.OVERTRAVEL_SWITCH
    _ends_latched_at_horizontal(r)
    assert len(_switch_faults(r, faults.OVERTRAVEL_SWITCH)) == 1
    assert r.core.command(C_ACK) == R_CAUSE


def test_overtravel_switch_near_its_point_is_believed():
    """At 65 deg (the soft max) the over-travel switch at 68 deg cannot be contradicted:
    it is the over-travel fault itself."""
    r = Rig()
    r.profile.max_mdeg = 65000
    _holding_at(r, 65000)
    r.plant.force_switches |= SW_OVERTRAVEL
    r.tick(5)
    assert r.core.fault == faults.OVERTRAVEL
