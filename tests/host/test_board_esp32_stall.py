"""The hardware heartbeat: a C call that stalls the loop (a flash write with the cache
off, a long I2C timeout) leaves LEDC pulsing and the soft dead-man unable to run; the
step gate's retriggerable monostable, fed by the HEARTBEAT pin the firmware toggles
every tick, stops the pulses within its hold time (37 ms after the last rising edge,
hardware/safety_wiring.md)."""

import shutil

import pins
import pytest
from signals import Inputs, Outputs

from host_tools import paths
from host_tools.chip.board import HOLD_US
from host_tools.chip.rig import Rig

RATE = 3000


@pytest.fixture
def fs(tmp_path, monkeypatch):
    shutil.copy(paths.TABLE_PARAMS, tmp_path / "table_params.json")
    monkeypatch.chdir(tmp_path)


def pulsing(hold_us=None):
    rig = Rig(hold_us=hold_us)
    b = rig.board()
    o = Outputs()
    o.rate_sps = RATE
    o.limit_lo = -10**6
    o.limit_hi = 10**6
    o.enable = True
    for _ in range(10):
        b.apply_outputs(o)
        b.wait_until(b.ticks_ms() + 10)
    b.apply_outputs(o)  # the last heartbeat before the stall
    return rig, b


def during(rig, stall):
    """(pulses the driver got, pulses LEDC emitted) while stall() runs."""
    ch = rig.chip.ledc[pins.STEP]
    got, emitted = rig.gate.pulses, ch.emitted
    stall()
    return rig.gate.pulses - got, ch.emitted - emitted


def test_flash_write_while_pulsing_the_gate_stops_the_pulses(fs):
    rig, b = pulsing()
    try:
        assert rig.gate.pulses > 250  # the gate was open while the loop ran
        got, emitted = during(rig, lambda: b.nvs.set("k", 1))  # an NVS commit: 80 ms
        assert emitted >= RATE * 80 // 1000 - 1  # LEDC ran on through the stall
        assert got <= RATE * HOLD_US // 1000000 + 1  # the monostable stopped them
        assert rig.gate.drops > 0
    finally:
        rig.close()


def test_long_i2c_timeout_while_pulsing_the_gate_stops_the_pulses(fs):
    rig, b = pulsing()
    try:
        rig.imu.set_fault("timeout", True)  # the legacy driver: 100 ms per byte + 100
        # (the board's first read is init()'s one-byte WHO_AM_I: 200 ms in the C call)
        got, emitted = during(rig, lambda: b.read_inputs(Inputs()))
        assert emitted >= RATE * 200 // 1000 - 1  # LEDC ran on through the C call
        assert got <= RATE * HOLD_US // 1000000 + 1
    finally:
        rig.close()


def test_without_the_monostable_the_stall_pulses_on(fs):
    """What the hardware heartbeat is for: the same flash write on a gate without it."""
    rig, b = pulsing(hold_us=10**9)
    try:
        got, _ = during(rig, lambda: b.nvs.set("k", 1))
        assert got >= RATE * 80 // 1000 - 1
    finally:
        rig.close()


def test_the_shortest_tolerance_part_drops_the_pulses_on_a_tick_5_ms_late(fs):
    """The margin of the hardware values: rising edges every 20 ms against tW 24-50 ms.
    A 24 ms part (the low end of the tolerance) gates off on one tick 5 ms late, the
    nominal 37 ms part does not (a finding for hardware/safety_wiring.md, not a fix)."""
    for hold_us, drops in ((24000, True), (HOLD_US, False)):
        rig, b = pulsing(hold_us)
        try:
            o = Outputs()
            o.rate_sps, o.limit_lo, o.limit_hi, o.enable = RATE, -10**6, 10**6, True
            before = rig.gate.drops
            for late_ms in (0, 0, 5, 0, 5, 0, 0):  # apply() as the loop calls it
                b.wait_until(b.ticks_ms() + 10 + late_ms)
                b.apply_outputs(o)
            assert (rig.gate.drops > before) == drops, hold_us
        finally:
            rig.close()
