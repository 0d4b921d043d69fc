"""Runaway check: trips only after the error persists for the window, latches, ignores invalid IMU.

Defaults: runaway_tol_mdeg 2500, runaway_window_ms 1000, 10 ms ticks.
"""

import gc
import sys

from supervisor import RunawayCheck
from support import make_config

ON_MPY = sys.implementation.name == "micropython"
TICK = 10


def test_within_tolerance_never_trips():
    rc = RunawayCheck(make_config())
    for i in range(1000):
        rc.update(TICK, 30000 + (i % 2) * 2500, 30000, True)  # at the tolerance edge
    assert not rc.tripped and rc.over_ms == 0


def test_trips_only_after_the_window():
    rc = RunawayCheck(make_config())
    for i in range(99):
        rc.update(TICK, 30000, 27000, True)  # 3 deg: steps ahead of the table
        assert not rc.tripped, i
    assert rc.error_mdeg == 3000
    rc.update(TICK, 30000, 27000, True)  # 100 ticks = 1000 ms over tolerance
    assert rc.tripped


def test_negative_error_trips_too():
    rc = RunawayCheck(make_config())
    for _ in range(100):
        rc.update(TICK, -10000, -5000, True)
    assert rc.tripped and rc.error_mdeg == -5000


def test_brief_spikes_restart_the_window():
    rc = RunawayCheck(make_config())
    for _ in range(20):
        for _ in range(90):
            rc.update(TICK, 0, 5000, True)  # 900 ms over
        rc.update(TICK, 0, 0, True)  # one good sample restarts the window
        assert rc.over_ms == 0
    assert not rc.tripped


def test_no_judgement_while_the_imu_is_invalid():
    rc = RunawayCheck(make_config())
    for _ in range(50):
        rc.update(TICK, 0, 5000, True)
    held = rc.over_ms
    for _ in range(1000):
        rc.update(TICK, 0, 90000, False)  # nonsense angle while invalid: ignored
    assert not rc.tripped and rc.over_ms == held and rc.error_mdeg == -5000
    for _ in range(50):
        rc.update(TICK, 0, 5000, True)  # the timer resumes where it was held
    assert rc.tripped


def test_latched_until_reset():
    cfg = make_config()
    rc = RunawayCheck(cfg)
    for _ in range(100):
        rc.update(TICK, 0, 3000, True)
    assert rc.tripped
    for _ in range(100):
        rc.update(TICK, 0, 0, True)
    assert rc.tripped and rc.error_mdeg == 0  # the error is still reported
    rc.reset()
    assert not rc.tripped and rc.over_ms == 0


def test_window_and_tolerance_come_from_the_config():
    cfg = make_config(runaway_tol_mdeg=1000, runaway_window_ms=200)
    rc = RunawayCheck(cfg)
    for _ in range(19):
        rc.update(TICK, 0, 1001, True)
    assert not rc.tripped
    rc.update(TICK, 0, 1001, True)
    assert rc.tripped


def test_odd_time_steps():
    rc = RunawayCheck(make_config())
    rc.update(0, 0, 9000, True)
    rc.update(-50, 0, 9000, True)
    assert rc.over_ms == 0 and not rc.tripped
    rc.update(5000, 0, 9000, True)  # a long stall still counts as time over tolerance
    assert rc.tripped


def test_update_allocates_nothing_on_micropython():
    if not ON_MPY:
        return  # gc.mem_alloc() is MicroPython's
    rc = RunawayCheck(make_config())
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(3000):
        rc.update(TICK, i * 10, (i % 700) * 30, i % 7 != 0)
        if rc.tripped:
            rc.reset()
    used = gc.mem_alloc() - before
    gc.enable()
    assert used == 0, used
