"""Issue #18: a rest at horizontal on every path from head-down to the loading position.

Hand-worked cases on the core rig (tests/core/rig.py): a jog up, a goto to the loading
position (after a stop too), a program's end, the console return, the recovery after a
power cut head-down, a fault's return. Each checks the ms the table spent standing
within a degree of horizontal before it went on head-up.
"""

from rig import TICK_MS, Rig
from signals import SW_UP
from states import C_GOTO, C_STOP, HOLDING, READY


def _holding_at(r, angle_mdeg):
    r.ready_homed()
    assert r.core.command(C_GOTO, angle_mdeg) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)


def _ms_near(r, lo_mdeg, hi_mdeg, max_ms, stop=None):
    """Tick up to max_ms; the ms the table spent inside [lo, hi]."""
    n = 0
    for _ in range(max_ms // TICK_MS):
        r.tick()
        a = r.plant.angle_mdeg()
        if lo_mdeg <= a <= hi_mdeg:
            n += TICK_MS
        if stop is not None and stop(r):
            break
    return n


# ------------------------------------------------------------ the rest at horizontal


def test_jog_up_across_horizontal_stops_there_for_the_rest_pause():
    r = Rig()
    _holding_at(r, 20000)
    r.plant.buttons = SW_UP  # held all the way
    rest = r.cfg.rest_pause_ms
    near = _ms_near(r, -1000, 1000, 20000 + rest)
    assert near >= rest, near
    assert r.plant.angle_mdeg() > -2000  # still held, but not on toward loading


def test_goto_loading_from_head_down_rests_at_horizontal():
    r = Rig()
    _holding_at(r, 25000)
    assert r.core.command(C_GOTO, r.cfg.loading_angle_mdeg) == 0
    near = _ms_near(r, -1000, 1000, 120000, stop=lambda x: x.core.state == READY)
    assert near >= r.cfg.rest_pause_ms, near


def test_stop_then_goto_loading_from_head_down_rests_too():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 30000) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() > 15000, 60000)
    assert r.core.command(C_STOP) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)
    assert r.core.command(C_GOTO, r.cfg.loading_angle_mdeg) == 0
    near = _ms_near(r, -1000, 1000, 120000, stop=lambda x: x.core.state == READY)
    assert near >= r.cfg.rest_pause_ms, near
