"""The application loop on the simulated board: watchdog policy, crash handling,
start-up fallbacks."""

import os

import faults
import switches
from states import C_GOTO, HOLDING, READY, RECOVERY

from host_tools.runner import SimRunner

WDT_RESET = 3


def _holding_at(runner, angle_mdeg):
    runner.run_ms(1000)  # the boot self-test window
    assert runner.core.state == READY
    runner.core.profile.consent = True
    assert runner.core.command(C_GOTO, angle_mdeg) == 0
    assert runner.run_until(lambda r: r.core.state == HOLDING, 60000)


def test_watchdog_not_fed_when_the_tick_fails():
    """A tick that raises (a firmware bug): outputs go safe, the watchdog is starved,
    the board resets and boots into RECOVERY, from which one press brings the person
    back. Covers: HZ-04, HZ-16"""
    runner = SimRunner()
    _holding_at(runner, 20000)
    app = runner.app

    def broken_tick(now_ms, inp, out):
        raise ZeroDivisionError("injected firmware bug")

    app.core.tick = broken_tick
    angle = runner.board.true_angle_mdeg
    runner.step()
    assert app.crashed
    assert app.outputs.rate_sps == 0
    assert not app.outputs.feed_ok
    # de-energised: the self-locking worm holds (hardware/safety_wiring.md)
    assert not app.outputs.enable
    assert not runner.board.physics.stepgen.enabled
    runner.run_ms(2500)  # longer than the 1 s watchdog timeout
    assert runner.app is not app  # the board reset and the firmware started again
    assert runner.reset_causes[-1] == WDT_RESET
    assert abs(runner.board.true_angle_mdeg - angle) < 500  # nothing moved meanwhile
    runner.run_ms(1000)
    assert runner.core.state == RECOVERY
    runner.board.press("START")
    runner.run_ms(200)
    runner.board.release("START")
    assert runner.run_until(lambda r: r.core.state == READY, 120000)
    assert runner.board.true_angle_mdeg < -55000


def test_corrupt_settings_file_falls_back_and_reports():
    runner = SimRunner()
    runner.run_ms(300)
    runner.app.cfg.set("rest_pause_ms", 5000)
    runner.app.save_profiles_and_settings()
    path = os.path.join(runner.board.fs_root, "settings")
    data = bytearray(open(path, "rb").read())
    data[-2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    runner.board.hard_reset()
    runner.run_ms(600)
    app = runner.app
    assert app.cfg.rest_pause_ms == 10000  # safe default, not the damaged value
    assert any("settings" in e for e in app.startup_errors)
    assert app.core.fault == faults.STORAGE
    assert os.path.exists(path + ".bad")  # preserved for diagnosis


def test_ctrl_c_needs_the_angle_to_agree_with_the_home_switch():
    """Issue #18: a cut wire on the normally-closed home switch reads "at the loading
    stop". Cut at 25 deg head-down: the switch fault's return stops at horizontal with the
    driver off, and a Ctrl-C is still refused there: the angle does not agree (on main it
    was obeyed wherever the switch read pressed; since issue #21 the loop never leaves on
    Ctrl-C at all). Covers: HZ-05"""
    from signals import SW_HOME

    runner = SimRunner()
    _holding_at(runner, 25000)
    app = runner.app
    board = runner.board
    read = board.read_inputs

    def cut_home_wire(inp):
        read(inp)
        inp.switches |= SW_HOME

    board.read_inputs = cut_home_wire
    runner.run_ms(100)
    assert app.core.fault == 0  # a contradiction counts after switches.HOME_LIE_MS (fix18h)
    runner.run_ms(switches.HOME_LIE_MS)
    assert app.core.fault == faults.HOME_SWITCH
    assert runner.run_until(lambda r: not r.app.outputs.enable, 60000)
    assert app.core.switches.at_home_switch and not app.core.switches.at_loading
    ticks = app.ticks
    board.host_send(b"\x03\x01")
    for _ in range(20):
        assert runner.step()  # the loop goes on
    assert app.ticks > ticks
