"""Cut limit-switch wires in the simulated board (host_tools/switches_model.py, issue #18).

Both limit switches are normally closed to GND with a pull-up (hardware/safety_wiring.md),
so a cut wire reads like an open contact: the home switch "at the loading stop" at any
angle; the over-travel switch "past over-travel", and the over-travel node drives the
hardware STEP gate, so head-down pulses are blocked. Repaired, each follows the angle.
The fast path of the board (quiet milliseconds skipped) must see the same.
"""

import random

from signals import SW_HOME, SW_OVERTRAVEL, Inputs, Outputs

from host_tools.simboard import SimBoard


def _board(tmp_path, angle_mdeg, fast=True):
    b = SimBoard(rng=random.Random(1), fs_root=str(tmp_path / "fs"), angle_mdeg=angle_mdeg)
    b.fast_forward = fast
    return b


def _read(b, ms):
    b.wait_until(b.ticks_add(b.ticks_ms(), ms))
    inp = Inputs()
    b.read_inputs(inp)
    return inp.switches


def _drive(b, rate):
    out = Outputs()
    out.rate_sps = rate
    out.limit_lo = -10**9
    out.limit_hi = 10**9
    out.enable = True
    b.apply_outputs(out)


def test_a_cut_home_wire_reads_at_home_anywhere_until_repaired(tmp_path):
    for fast in (True, False):
        b = _board(tmp_path / str(fast), 20000, fast)
        assert not _read(b, 20) & SW_HOME
        b.switches.cut_wire(SW_HOME)
        assert _read(b, 20) & SW_HOME  # 20 deg head-down, "at the loading stop"
        assert _read(b, 500) & SW_HOME  # and stays so through quiet milliseconds
        b.switches.repair_wire(SW_HOME)
        assert not _read(b, 20) & SW_HOME


def test_a_cut_overtravel_wire_reads_past_it_and_the_gate_blocks_head_down(tmp_path):
    b = _board(tmp_path, 10000)
    assert not _read(b, 20) & SW_OVERTRAVEL
    b.switches.cut_wire(SW_OVERTRAVEL)
    assert _read(b, 20) & SW_OVERTRAVEL
    c0 = b.emitted_count
    _drive(b, 5000)
    _read(b, 100)
    assert b.emitted_count == c0  # the hardware gate: no head-down pulse passes
    _drive(b, -5000)
    _read(b, 100)
    assert b.emitted_count < c0  # head-up ones do
    b.switches.repair_wire(SW_OVERTRAVEL)
    _drive(b, 0)
    assert not _read(b, 20) & SW_OVERTRAVEL


def test_only_the_limit_switch_wires_can_be_cut(tmp_path):
    b = _board(tmp_path, 0)
    try:
        b.switches.cut_wire(1 << 7)
    except ValueError:
        return
    raise AssertionError("a wire that is not a limit switch's was cut")
