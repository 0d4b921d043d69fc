"""The simulated board (host_tools/simboard.py) and its switches (host_tools/switches_model.py).

Checked through the firmware-facing interface only, the way firmware/app.py uses it:
virtual time and its wrap, the dead-man window, the watchdog twin, power cuts and
resets, the e-stop IRQ twin, the switches with their bounce and spikes, the console,
and the IMU read through the real firmware driver.
"""

import math
import os
import random

import pytest
import ticks  # firmware/ticks.py: the core's own wrap arithmetic
from hypothesis import given, settings
from hypothesis import strategies as st
from signals import (
    IND_ALARM,
    IND_SLOW,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
    Inputs,
    Outputs,
)

from host_tools import params, simboard
from host_tools.simboard import (
    PWRON_RESET,
    SOFT_RESET,
    WDT_RESET,
    BoardReset,
    SimBoard,
)
from host_tools.switches_model import Contact, Switches

P = params.load()
WIDE = 10**9


def board(tmp_path, **kw):
    return SimBoard(rng=random.Random(kw.pop("seed", 1)), fs_root=str(tmp_path / "fs"), **kw)


def outputs(rate=0, lo=-WIDE, hi=WIDE, enable=True):
    out = Outputs()
    out.rate_sps = rate
    out.limit_lo = lo
    out.limit_hi = hi
    out.enable = enable
    return out


def sleep(b, ms):
    b.wait_until(b.ticks_add(b.ticks_ms(), ms))


# ------------------------------------------------------------------ time


def test_ticks_wrap_like_micropython(tmp_path):
    b = board(tmp_path, ticks_at_boot=(1 << 30) - 5)
    t0 = b.ticks_ms()
    assert t0 == (1 << 30) - 5
    sleep(b, 10)
    assert b.ticks_ms() == 5
    assert b.ticks_diff(b.ticks_ms(), t0) == 10
    assert b.ticks_diff(t0, b.ticks_ms()) == -10
    assert b.ticks_add(t0, 10) == 5
    assert b.ticks_add(3, -10) == (1 << 30) - 7
    assert b.now_ms == 10


@settings(max_examples=300, derandomize=True)
@given(a=st.integers(0, (1 << 30) - 1), b=st.integers(0, (1 << 30) - 1),
       d=st.integers(-(1 << 29), (1 << 29) - 1))
def test_ticks_arithmetic_agrees_with_the_firmware(a, b, d):
    assert simboard.ticks_diff(a, b) == ticks.ticks_diff(a, b)
    assert simboard.ticks_add(a, d) == ticks.ticks_add(a, d)
    assert simboard.ticks_diff(simboard.ticks_add(a, d), a) == d


def test_wait_until_steps_every_ms_and_never_goes_back(tmp_path):
    b = board(tmp_path)
    seen = []
    b.ms_hooks.append(lambda brd: seen.append(brd.ticks_ms()))
    target = b.ticks_add(b.ticks_ms(), 25)
    b.wait_until(target)
    assert seen == list(range(1, 26))
    b.wait_until(b.ticks_add(target, -5))  # already past: returns at once
    assert b.ticks_ms() == target


# ------------------------------------------------------------------ step generator


def test_dead_man_window_stops_the_pulses(tmp_path):
    b = board(tmp_path, angle_mdeg=0)
    inp = Inputs()
    b.apply_outputs(outputs(rate=8000, lo=-10, hi=50))
    sleep(b, 100)
    b.read_inputs(inp)
    assert inp.step_count == 50  # 800 pulses asked for, the window allowed 50
    assert b.emitted_count == 50
    b.apply_outputs(outputs(rate=8000, lo=-10, hi=120))  # the core refreshes the window
    sleep(b, 100)
    b.read_inputs(inp)
    assert inp.step_count == 120
    b.apply_outputs(outputs(rate=8000, enable=False))
    sleep(b, 100)
    b.read_inputs(inp)
    assert inp.step_count == 120
    assert b.lost_steps == 0


def test_overtravel_gate_blocks_head_down_pulses(tmp_path):
    b = board(tmp_path, angle_mdeg=P.frame.overtravel_mdeg + 1000)
    inp = Inputs()
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.switches & SW_OVERTRAVEL
    b.apply_outputs(outputs(rate=5000))
    sleep(b, 100)
    assert b.emitted_count == 0
    b.apply_outputs(outputs(rate=-5000))
    sleep(b, 100)
    assert b.emitted_count < 0


# ------------------------------------------------------------------ watchdog and resets


def test_watchdog_resets_when_not_fed(tmp_path):
    b = board(tmp_path)
    b.wdt_arm(100)
    for _ in range(50):
        sleep(b, 10)
        b.wdt_feed()
    assert b.resets == []
    fed_at = b.now_ms
    b.apply_outputs(outputs(rate=1000))
    with pytest.raises(BoardReset) as e:
        sleep(b, 1000)
    assert e.value.cause == WDT_RESET
    assert b.now_ms == fed_at + 100
    assert b.reset_cause() == WDT_RESET
    assert b.ticks_ms() == 0  # the chip restarted: so did its clock
    assert not b.wdt_armed
    assert b.emitted_count == 0  # PCNT restarted
    assert not b.physics.stepgen.enabled  # driver off until the new firmware says so


def test_outputs_of_a_dead_firmware_are_ignored(tmp_path):
    b = board(tmp_path)
    b.wdt_arm(50)
    b.advance(60)  # the reset happens here, raised at the next wait_until
    b.apply_outputs(outputs(rate=4000))
    assert not b.physics.stepgen.enabled
    with pytest.raises(BoardReset):
        sleep(b, 10)
    sleep(b, 10)  # the new firmware runs


def test_soft_reset_keeps_the_watchdog_and_the_clock(tmp_path):
    b = board(tmp_path)
    b.wdt_arm(200)
    sleep(b, 50)
    b.soft_reset()
    with pytest.raises(BoardReset) as e:
        sleep(b, 1)
    assert e.value.cause == SOFT_RESET
    assert b.wdt_armed and b.ticks_ms() == 50


def test_power_cut_keeps_the_angle_and_restarts_the_count(tmp_path):
    b = board(tmp_path, angle_mdeg=20000)
    with open(os.path.join(b.fs_root, "settings"), "w") as f:
        f.write("kept")
    b.wdt_arm(1000)
    b.apply_outputs(outputs(rate=4000))
    sleep(b, 500)
    b.wdt_feed()
    assert b.emitted_count == 2000
    angle = b.true_angle_mdeg
    b.power_cut(off_ms=3000)
    assert not b.physics.stepgen.enabled
    with pytest.raises(BoardReset) as e:
        sleep(b, 10)
    assert e.value.cause == PWRON_RESET
    assert b.reset_cause() == PWRON_RESET
    assert abs(b.true_angle_mdeg - angle) <= P.drive.backlash_mdeg
    assert b.emitted_count == 0
    assert not b.wdt_armed
    assert b.ticks_ms() == 0
    with open(os.path.join(b.fs_root, "settings")) as f:
        assert f.read() == "kept"
    inp = Inputs()
    sleep(b, 20)
    b.read_inputs(inp)  # the IMU came back asleep; the board re-initialised it
    assert inp.imu_error == 0 and inp.step_count == 0
    # pivot y, sign +1: acc_x = -sin(angle), within offsets and noise
    expect = -1000 * math.sin(math.radians(b.true_angle_mdeg / 1000))
    assert abs(inp.acc_x_mg - expect) < 20


def test_power_cut_from_a_hook_and_restore_from_a_hook(tmp_path):
    b = board(tmp_path)
    events = {}

    def scenario(brd):
        if brd.now_ms == 30:
            brd.power_cut()
        if brd.now_ms == 530:
            brd.power_restore()
        events.setdefault("powered", []).append(brd.powered)

    b.ms_hooks.append(scenario)
    with pytest.raises(BoardReset) as e:
        sleep(b, 100)
    assert e.value.cause == PWRON_RESET
    assert b.now_ms == 530
    assert events["powered"].count(False) == 500


def test_power_cut_with_nothing_to_restore_it_is_an_error(tmp_path):
    b = board(tmp_path)
    b.power_cut()
    with pytest.raises(RuntimeError):
        sleep(b, 10)


# ------------------------------------------------------------------ switches, e-stop


def test_home_switch_active_at_the_loading_position_without_bounce(tmp_path):
    for seed in range(10):
        b = board(tmp_path, seed=seed)  # starts at the loading angle
        assert abs(b.true_angle_mdeg - P.frame.loading_angle_mdeg) < 1
        inp = Inputs()
        for _ in range(10):  # closed before power-up: no bounce at boot
            b.read_inputs(inp)
            assert inp.switches == SW_HOME
            sleep(b, 1)


def test_estop_edges_count_once_per_arming(tmp_path):
    b = board(tmp_path, angle_mdeg=0)
    inp = Inputs()
    b.estop_press()
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.switches & SW_ESTOP
    assert inp.estop_edges == 1  # bounce made several edges; the IRQ counted one
    b.estop_release()
    sleep(b, 20)
    b.estop_press()
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.estop_edges == 1  # not re-armed yet
    b.estop_rearm()
    b.estop_release()
    sleep(b, 20)
    b.estop_press()
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.estop_edges == 2


def test_estop_cut_wire_reads_active(tmp_path):
    b = board(tmp_path, angle_mdeg=0)
    inp = Inputs()
    b.estop_cut_wire()
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.switches & SW_ESTOP and inp.estop_edges == 1
    b.estop_press()
    b.estop_release()  # releasing the button does not mend the wire
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.switches & SW_ESTOP
    b.estop_repair_wire()
    sleep(b, 20)
    b.read_inputs(inp)
    assert not inp.switches & SW_ESTOP


def test_switch_spike_lasts_one_sample(tmp_path):
    b = board(tmp_path, angle_mdeg=0)
    inp = Inputs()
    b.estop_rearm()
    b.switch_spike(SW_ESTOP | SW_OVERTRAVEL)
    sleep(b, 1)
    b.read_inputs(inp)
    assert inp.switches == SW_ESTOP | SW_OVERTRAVEL
    assert inp.estop_edges == 1  # the IRQ saw the glitch: the firmware must re-check
    sleep(b, 1)
    b.read_inputs(inp)
    assert inp.switches == 0


def test_buttons_bounce_then_settle():
    sw = Switches(P, random.Random(4), bounce_max_ms=5)
    toggles = 0
    for _ in range(20):
        for press in (True, False):
            (sw.press if press else sw.release)("UP")
            readings = [sw.tick(0) & SW_UP for _ in range(10)]
            toggles += sum(1 for a, c in zip(readings, readings[1:]) if a != c)
            assert all(bool(r) == press for r in readings[5:])  # settled within 5 ms
    assert toggles > 10  # it really bounced (a clean edge shows no toggle after it)
    sw.press(SW_DOWN)
    sw.press("start")
    for _ in range(10):
        sw.tick(0)
    assert sw.bits == SW_DOWN | SW_START
    with pytest.raises(ValueError):
        sw.press("LEFT")


def test_limit_switches_follow_the_angle_with_bounce():
    sw = Switches(P, random.Random(8))
    home = P.frame.home_switch_mdeg
    over = P.frame.overtravel_mdeg
    for _ in range(10):
        sw.tick(home + 1)
    assert sw.bits == 0
    readings = [sw.tick(home) & SW_HOME for _ in range(10)]
    assert readings[-1] and all(readings[5:])
    for _ in range(10):
        sw.tick(over)
    assert sw.bits == SW_OVERTRAVEL
    assert sw.physical_bits() == SW_OVERTRAVEL


def test_contact_without_bounce_is_clean():
    c = Contact(random.Random(0), 0)
    c.set(True)
    c.tick()
    assert c.reading and not c.bouncing


def test_random_spike_rate(tmp_path):
    b = board(tmp_path, angle_mdeg=0)
    b.switch_spike_rate = 0.01
    seen = []
    b.ms_hooks.append(lambda brd: seen.append(brd.switches.bits))
    sleep(b, 2000)
    glitches = sum(1 for s in seen if s)
    assert 60 < glitches < 180  # 6 inputs * 1% * 2000 ms = 120 expected
    assert b.switch_spike_rate == 0.01


def test_buttons_reach_the_inputs(tmp_path):
    b = board(tmp_path, angle_mdeg=0)
    inp = Inputs()
    b.press("UP")
    sleep(b, 10)
    b.read_inputs(inp)
    assert inp.switches == SW_UP
    b.release("UP")
    sleep(b, 10)
    b.read_inputs(inp)
    assert inp.switches == 0


# ------------------------------------------------------------------ console, indicators


def test_console_queues(tmp_path):
    b = board(tmp_path)
    buf = bytearray(4)
    assert b.console_read_into(buf) == 0
    b.host_send(b"status\n")
    assert b.console_read_into(buf) == 4 and buf == b"stat"
    assert b.console_read_into(buf) == 3 and buf[:3] == b"us\n"
    b.console_write(b"ok ")
    b.console_write("done\n")
    assert b.host_receive() == b"ok done\n"
    assert b.host_receive() == b""


def test_console_ctrl_c_raises_keyboard_interrupt(tmp_path):
    b = board(tmp_path)
    buf = bytearray(16)
    b.host_send(b"ab\x03cd")
    assert b.console_read_into(buf) == 2
    with pytest.raises(KeyboardInterrupt):
        b.console_read_into(buf)
    assert b.console_read_into(buf) == 2 and buf[:2] == b"cd"


def test_indicator_changes_are_recorded(tmp_path):
    b = board(tmp_path)
    out = outputs(enable=False)
    out.led = IND_SLOW
    b.apply_outputs(out)
    b.apply_outputs(out)
    sleep(b, 5)
    out.led = out.buzzer = IND_ALARM
    b.apply_outputs(out)
    assert b.indicator_log == [(0, IND_SLOW, 0), (5, IND_ALARM, IND_ALARM)]
    assert (b.led, b.buzzer) == (IND_ALARM, IND_ALARM)


# ------------------------------------------------------------------ IMU through the driver


def test_imu_read_through_the_firmware_driver(tmp_path):
    b = board(tmp_path, angle_mdeg=30000)
    inp = Inputs()
    sleep(b, 20)
    b.read_inputs(inp)
    assert inp.imu_error == 0
    assert -530 < inp.acc_x_mg < -470 and 830 < inp.acc_z_mg < 900
    b.imu_fault("no_response")
    b.read_inputs(inp)
    assert inp.imu_error == 19
    b.imu_fault("no_response", False)
    b.imu_fault("timeout")
    b.read_inputs(inp)
    assert inp.imu_error == 110
    b.imu_fault("timeout", False)
    sleep(b, 10)
    b.read_inputs(inp)
    assert inp.imu_error == 0


def test_imu_absent_at_boot_is_retried(tmp_path):
    b = board(tmp_path)
    b.imu_fault("no_response")
    inp = Inputs()
    b.read_inputs(inp)
    assert inp.imu_error == 19
    b.imu_fault("no_response", False)
    sleep(b, 10)
    b.read_inputs(inp)
    assert inp.imu_error == 0 and 800 < inp.acc_x_mg < 900  # loading angle, -60 deg


def test_maintenance_flag_and_params_path(tmp_path):
    b = board(tmp_path)
    assert b.maintenance_requested() is False
    b.maintenance = True
    assert b.maintenance_requested() is True
    assert os.path.samefile(b.hw_params_path, params.load().path)
    assert os.path.isdir(b.fs_root)


def test_same_seed_same_world(tmp_path):
    def trace(seed):
        b = SimBoard(rng=random.Random(seed), fs_root=str(tmp_path / str(seed)), angle_mdeg=0)
        b.apply_outputs(outputs(rate=3000))
        b.press("START")
        inp = Inputs()
        rows = []
        for _ in range(50):
            sleep(b, 10)
            b.read_inputs(inp)
            rows.append((inp.switches, inp.step_count, inp.acc_x_mg, inp.gyro_y_mdps,
                         round(b.true_angle_mdeg, 6)))
        return rows

    assert trace(3) == trace(3)
    assert trace(3) != trace(4)
