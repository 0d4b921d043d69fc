"""Issue #18: the boot self-test never blocks the way back.

A table powered up past the over-travel switch: the hardware gate swallows the step
generator's head-down self-test leg (firmware/stepgen.py StepGen.self_test reports
FAULT_FROZEN_POS, head-down only). The core latches a fault and moves nothing by
itself, but one deliberate return brings the person back to horizontal at jog speed.
"""

import faults
from rig import Rig
from states import C_RETURN, FAULT

_FROZEN_POS = 1  # stepgen.FAULT_FROZEN_POS (stepgen.py imports machine: not importable here)


def _booted_past_overtravel():
    r = Rig(angle_mdeg=70000)
    r.inp.stepgen_fault = _FROZEN_POS  # what the board reports after the gated self-test
    r.boot()
    return r


def test_boot_past_overtravel_latches_and_moves_nothing_by_itself():
    r = _booted_past_overtravel()
    assert r.core.state == FAULT
    assert r.core.fault != faults.NONE
    start = r.plant.count
    r.tick(300)
    assert r.plant.count == start and not r.out.enable


def test_boot_past_overtravel_one_return_reaches_horizontal():
    r = _booted_past_overtravel()
    assert r.core.command(C_RETURN) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() < 1000 and not x.out.enable, 120000)
    a = r.plant.angle_mdeg()
    assert -1000 < a < 1000, a
    assert r.core.state == FAULT  # still latched: the head-down count is not confirmed


# A fault latched at boot and raised again on the first ticks after BOOT (the supervision
# sees the same condition anew) is still the latched fault: it starts no safe return of
# its own; only a deliberate command does (Machinery Directive 1.2.6: no motion by itself
# after power-up).


def _moves_nothing_by_itself(r):
    assert r.core.state == FAULT
    start = r.plant.count
    r.tick(300)
    assert r.plant.count == start and not r.out.enable


def test_overtravel_at_boot_then_its_edge_moves_nothing_by_itself():
    r = Rig(angle_mdeg=70000)  # the step generator is fine: the self-test finds OVERTRAVEL
    r.boot()
    assert r.core.fault == faults.OVERTRAVEL and r.core.fault_at_boot
    _moves_nothing_by_itself(r)


def test_stepgen_fault_at_boot_away_from_loading_moves_nothing_by_itself():
    r = Rig(angle_mdeg=30000)
    r.inp.stepgen_fault = _FROZEN_POS
    r.boot()
    assert r.core.fault == faults.STEPGEN and r.core.fault_at_boot
    _moves_nothing_by_itself(r)


def test_overtravel_at_boot_one_return_goes_to_horizontal():
    r = Rig(angle_mdeg=70000)
    r.boot()
    r.tick(10)
    assert r.core.command(C_RETURN) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() < 1000 and not x.out.enable, 120000)
    assert -1000 < r.plant.angle_mdeg() < 1000
