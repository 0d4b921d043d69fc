"""Zero heap allocation per tick, in every state, on the MicroPython unix port.

The GC is disabled and gc.mem_alloc() compared around thousands of ticks of the
core plus the integer stand-in (which itself allocates nothing). On CPython the same
walk runs (so the states are really reached) but the byte count is not meaningful.
"""

import gc
import sys

import faults
from rig import Rig
from signals import SW_DOWN
from states import (
    BOOT,
    C_ESTOP,
    C_GOTO,
    C_HOME,
    C_RETURN,
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    HOMING,
    JOGGING,
    MOVING,
    P_LATCHED,
    P_RESTING,
    READY,
    RECOVERY,
    RETURNING,
)

MPY = sys.implementation.name == "micropython"
TICKS = 1000


def _measure(rig, state, ticks=TICKS):
    """Ticks in `state`; returns bytes allocated (0 on CPython, where it isn't measured)."""
    assert rig.core.state == state, (rig.core.state, state)
    rig.tick(2)  # warm: any lazily created attribute exists now
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc() if MPY else 0
        rig.tick(ticks)
        after = gc.mem_alloc() if MPY else 0
    finally:
        gc.enable()
    assert rig.core.fault != faults.INTERNAL
    return after - before


def _check(rig, state, ticks=TICKS):
    n = _measure(rig, state, ticks)
    assert n == 0, "%d bytes allocated over %d ticks in state %d" % (n, ticks, state)


def test_no_allocation_in_boot_ready_homing():
    rig = Rig()
    rig.tick(1)
    _check(rig, BOOT, 20)
    rig.boot()
    _check(rig, READY)
    rig.core.command(C_HOME)
    _check(rig, HOMING, 100)


def test_no_allocation_moving_holding_returning():
    rig = Rig()
    rig.ready_homed()
    rig.core.command(C_GOTO, 30000)
    _check(rig, MOVING, 1000)
    rig.state_is(HOLDING)
    _check(rig, HOLDING)
    rig.core.command(C_RETURN)
    _check(rig, RETURNING, 500)  # travelling to horizontal
    rig.run_until(lambda r: r.core.phase == P_RESTING, 60000)
    _check(rig, RETURNING, 500)  # resting at horizontal


def test_no_allocation_jogging():
    rig = Rig()
    rig.ready_homed()
    rig.plant.buttons = SW_DOWN
    rig.tick(10)
    _check(rig, JOGGING, 2000)


def test_no_allocation_in_emergency_return_moving_and_latched():
    rig = Rig()
    rig.ready_homed()
    rig.core.command(C_GOTO, 30000)
    rig.state_is(HOLDING)
    rig.core.command(C_ESTOP)
    _check(rig, EMERGENCY_RETURN, 300)
    rig.run_until(lambda r: r.core.phase == P_LATCHED, 60000)
    _check(rig, EMERGENCY_RETURN)


def test_no_allocation_in_fault_return_and_latched():
    rig = Rig()
    rig.ready_homed()
    rig.core.command(C_GOTO, 30000)
    rig.state_is(HOLDING)
    rig.plant.imu_error = 19
    rig.run_until(lambda r: r.core.state == FAULT, 2000)
    _check(rig, FAULT, 300)
    rig.run_until(lambda r: r.core.phase == P_LATCHED, 60000)
    _check(rig, FAULT)


def test_no_allocation_in_recovery():
    rig = Rig(angle_mdeg=30000)
    rig.boot()
    _check(rig, RECOVERY)
