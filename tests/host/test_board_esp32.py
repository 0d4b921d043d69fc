"""firmware/board_esp32.py and firmware/stepgen.py, unmodified, on the chip model
(host_tools/chip): boot, pulse trains, the e-stop IRQ and its guard, the dead-man, the
frozen counter, the maintenance boot, the reset causes, NVS, the console, the IMU."""

import os
import shutil

import pins
import pytest
import stepgen
from signals import (
    SW_ANKLE_LOCK,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
    Inputs,
    Outputs,
)

from host_tools import paths
from host_tools.chip.core import HARD_RESET, PWRON_RESET, SOFT_RESET, WDT_RESET, ChipReset
from host_tools.chip.rig import Rig

FAR = 10**6


@pytest.fixture
def fs(tmp_path, monkeypatch):
    shutil.copy(paths.TABLE_PARAMS, tmp_path / "table_params.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def rig(fs):
    r = Rig()
    yield r
    r.close()


def out(rate, lo=-FAR, hi=FAR, enable=True):
    o = Outputs()
    o.rate_sps = rate
    o.limit_lo = lo
    o.limit_hi = hi
    o.enable = enable
    return o


def tick(board, o, n=1, inp=None):
    """n control ticks: apply, read, wait 10 ms (what firmware/app.py does)."""
    inp = inp or Inputs()
    for _ in range(n):
        board.apply_outputs(o)
        board.read_inputs(inp)
        board.wait_until(board.ticks_ms() + 10)
    return inp


def step_pin(rig):
    return rig.chip.ledc[pins.STEP]


def test_boot_self_test_counts_both_ways_with_the_driver_off(rig):
    en_levels = []
    rig.chip.board.output_changed = _spy(rig.chip.board.output_changed, en_levels)
    b = rig.board()
    assert b.stepgen.fault == stepgen.FAULT_NONE
    assert b.stepgen.count() == 0
    assert step_pin(rig).emitted == 40  # 20 head-up, 20 back: the counter followed
    assert rig.gate.pulses == 0  # the driver's translator saw a net zero move
    assert rig.chip.pin(pins.ENABLE).level() == stepgen.EN_SAFE
    assert (pins.ENABLE, 1 - stepgen.EN_SAFE) not in en_levels  # never energised
    assert rig.chip.cpu_hz == 240000000  # chip_setup(): not the stock 160 MHz
    assert rig.chip.log_level == 0  # ESP_LOG_NONE: no IDF lines on the console
    assert rig.chip.kbd_char == -1


def _spy(fn, log):
    def wrapped(gpio, level, t_us):
        log.append((gpio, level))
        return fn(gpio, level, t_us)

    return wrapped


def test_self_test_latches_frozen_pos_when_the_gate_swallows_head_down(rig):
    rig.overtravel(True)  # powered up past the over-travel switch
    b = rig.board()
    assert b.stepgen.fault == stepgen.FAULT_FROZEN_POS
    assert b.stepgen.count() == -20  # the head-up leg ran and was counted
    inp = tick(b, out(0))
    assert inp.switches & SW_OVERTRAVEL and inp.stepgen_fault == stepgen.FAULT_FROZEN_POS


def test_pulse_trains_follow_the_rate_and_the_count_is_the_delivered_pulses(rig):
    b = rig.board()
    t0 = rig.chip.now_us
    inp = tick(b, out(2000), 50)  # half a second head-down at 2000 sps (+ I2C reads)
    want = 2000 * (rig.chip.now_us - t0) // 1000000
    assert want - 3 <= rig.gate.pulses <= want + 1
    assert b.stepgen.count() == rig.gate.pulses
    assert rig.chip.pin(pins.DIR).level() == pins.DIR_ACTIVE
    inp = tick(b, out(-3000), 30)  # reverse: DIR flips only with no pulse in flight
    assert b.stepgen.count() == rig.gate.pulses
    assert rig.chip.pin(pins.DIR).level() == 1 - pins.DIR_ACTIVE
    inp = tick(b, out(0), 2, inp)
    assert inp.step_count == rig.gate.pulses == b.stepgen.count()
    assert b.stepgen.trips == 0


def test_the_window_stops_the_pulses_at_its_edge(rig):
    b = rig.board()
    tick(b, out(5000, -FAR, 120), 10)
    assert rig.gate.pulses == b.stepgen.count()
    assert 120 <= b.stepgen.count() <= 120 + 5000 * 5 // 1000 + 1  # one dead-man period


def test_deadman_stops_the_led_c_when_the_loop_stops_calling_apply(fs):
    rig = Rig(hold_us=10**9)  # a gate that never drops: the firmware's own dead-man
    try:
        b = rig.board()
        tick(b, out(2000), 5)
        ch = step_pin(rig)
        emitted = ch.emitted
        rig.chip.advance(200000)  # the loop died (a Python loop, soft callbacks still run)
        assert ch.emitted - emitted <= 2000 * 25 // 1000 + 1  # within two ticks and a period
        assert b.stepgen.trips == 1
    finally:
        rig.close()


def test_estop_edge_counts_once_and_bounce_does_not_flood_the_queue(rig):
    b = rig.board()
    for i in range(20):  # a bouncing contact while the loop sleeps: 10 opening edges
        rig.estop(i % 2 == 0)
    inp = tick(b, out(0))
    assert inp.estop_edges == 1 and rig.chip.dropped == 0
    rig.estop(False)
    b.estop_rearm()
    rig.estop(True)
    inp = tick(b, out(0), inp=inp)
    assert inp.estop_edges == 2 and inp.switches & SW_ESTOP


def test_bounce_during_a_c_call_queues_many_callbacks_but_counts_one_edge(rig):
    """Edges while the CPU is in a C call (here the IMU read) each schedule the
    callback before it can disarm the IRQ: up to 8 queue, the rest are dropped
    (py/scheduler.c). The ISR counts one edge per arming all the same."""
    b = rig.board()
    t = rig.chip.now_us + 5000
    for i in range(20):
        level = pins.ESTOP_ACTIVE if i % 2 == 0 else 1 - pins.ESTOP_ACTIVE
        rig.events.at(t + 10 * i, lambda chip, v=level: chip.set_input(pins.ESTOP, v))
    rig.chip.bus.devices[0x68].faults["timeout"] = True  # a long C call
    inp = tick(b, out(0))
    rig.chip.bus.devices[0x68].faults["timeout"] = False
    inp = tick(b, out(0), inp=inp)
    assert rig.chip.dropped >= 1  # the queue did overflow
    assert inp.estop_edges == 1


def test_after_an_estop_edge_the_head_down_rate_never_rises(rig):
    """Covers: HZ-07"""
    b = rig.board()
    tick(b, out(1000), 3)
    rig.estop(True)
    tick(b, out(3000), 3)  # the core asks for more: the board keeps 1000
    assert step_pin(rig).freq == 1000
    tick(b, out(400), 2)  # braking passes through
    assert step_pin(rig).freq == 400
    tick(b, out(900), 2)
    assert step_pin(rig).freq == 400
    tick(b, out(-2000), 3)  # head-up is always allowed
    assert step_pin(rig).freq == 2000
    rig.estop(False)
    o = out(3000)
    o.estop_rearm = True  # the latch was acknowledged
    tick(b, o, 3)
    assert step_pin(rig).freq == 3000


def test_switches_and_buttons_read_as_the_pin_map_says(rig):
    b = rig.board()
    assert tick(b, out(0)).switches == 0
    rig.press("UP")
    rig.press("START")
    rig.chip.set_input(pins.HOME, pins.HOME_ACTIVE)
    sw = tick(b, out(0)).switches
    assert sw == SW_UP | SW_START | SW_HOME
    rig.press("UP", False)
    rig.press("DOWN")
    assert tick(b, out(0)).switches == SW_DOWN | SW_START | SW_HOME
    rig.ankle_lock(True)  # GPIO39 high: the lock not engaged, or its wire cut
    assert tick(b, out(0)).switches == SW_DOWN | SW_START | SW_HOME | SW_ANKLE_LOCK
    rig.ankle_lock(False)
    assert tick(b, out(0)).switches == SW_DOWN | SW_START | SW_HOME


def test_maintenance_flag_is_consumed_once_and_the_banner_turns_the_driver_off(rig):
    b = rig.board()
    assert not b.maintenance_requested()
    with pytest.raises(ChipReset) as e:
        b.enter_maintenance()
    assert e.value.cause == HARD_RESET
    assert os.path.exists("maintenance")
    assert b.maintenance_requested() and not os.path.exists("maintenance")
    assert not b.maintenance_requested()  # one service boot per request
    tick(b, out(1500), 3)
    b.maintenance_banner()
    assert rig.chip.pin(pins.ENABLE).level() == stepgen.EN_SAFE
    assert rig.chip.kbd_char == 3  # the REPL's Ctrl-C is back
    assert b"SERVICE MODE" in rig.chip.uart.host_receive()
    emitted = step_pin(rig).emitted
    rig.chip.advance(50000)
    assert step_pin(rig).emitted - emitted <= 1


@pytest.mark.parametrize("cause", [PWRON_RESET, HARD_RESET, WDT_RESET, SOFT_RESET])
def test_reset_cause_is_the_chips(fs, cause):
    rig = Rig(cause=cause)
    try:
        assert rig.board().reset_cause() == cause
    finally:
        rig.close()


def test_the_watchdog_resets_when_not_fed_and_not_when_fed(rig):
    b = rig.board()
    b.wdt_arm(100)
    for _ in range(30):
        tick(b, out(0))
        b.wdt_feed()
    with pytest.raises(ChipReset) as e:
        tick(b, out(0), 11)
    assert e.value.cause == WDT_RESET


def test_nvs_reads_none_until_set(rig):
    b = rig.board()
    assert b.nvs.get("pin_state") is None
    b.nvs.set("pin_state", 7)
    assert b.nvs.get("pin_state") == 7


def test_console_bytes_both_ways_and_ctrl_c_is_a_byte(rig):
    b = rig.board()
    rig.chip.uart.host_send(b"st\x03at")
    buf = bytearray(8)
    assert b.console_read_into(buf) == 3 and bytes(buf[:3]) == b"st\x03"  # stops at ^C
    assert b.console_read_into(buf) == 2 and bytes(buf[:2]) == b"at"
    assert b.console_read_into(buf) == 0
    b.console_write(b"hello\r\n")
    rig.chip.advance(5000)
    assert rig.chip.uart.host_receive() == b"hello\r\n"


def test_a_long_console_write_blocks_the_loop_while_the_fifo_is_full(rig):
    b = rig.board()
    t0 = rig.chip.now_us
    b.console_write(b"x" * 600)  # 128 in the FIFO, the rest a 10 ms RTOS tick at a time
    assert rig.chip.now_us - t0 >= 30000
    rig.chip.advance(100000)
    assert rig.chip.uart.host_receive() == b"x" * 600
