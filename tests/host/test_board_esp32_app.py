"""The application loop (firmware/app.py) and firmware/main.py on the real board code on
the chip model: no flash write while the drive may pulse, board and persistence
exceptions handled inside the loop, Ctrl-C off before the self-test."""

import os
import shutil

import pins
import pytest
import stepgen
from states import C_GOTO, FAULT, HOMING

from host_tools import paths
from host_tools.chip.board import firmware_root
from host_tools.chip.core import HARD_RESET, WDT_RESET, ChipReset
from host_tools.chip.rig import Rig, StopRun
from host_tools.simboard import commission


@pytest.fixture
def rig(tmp_path, monkeypatch):
    shutil.copy(paths.TABLE_PARAMS, tmp_path / "table_params.json")
    monkeypatch.chdir(tmp_path)
    commission(".", "table_params.json")
    r = Rig(table=True)  # at the loading stop
    yield r
    r.close()


def make_app(rig, pin_setup=False):
    """pin_setup: power up first with START and DOWN held 11 s (the physical reset,
    firmware/powerup.py as main.py runs it): the first `pin set` is open."""
    from app import App

    board = rig.board()
    board.code_root = None  # the firmware is imported from the source tree: no manifest
    if pin_setup:
        import powerup

        rig.press("START")
        rig.press("DOWN")

        def let_go(chip):
            rig.press("START", False)
            rig.press("DOWN", False)

        rig.events.at(rig.chip.now_us + 11000000, let_go)
        assert powerup.boot(board) and board.pin_setup
    app = App(board)
    app.start()  # the core booted, the watchdog armed
    return app


def test_no_flash_write_while_the_drive_may_pulse(rig):
    """The IMU's data freeze while the drive homes: the core latches a fault and brakes,
    and the fault's record is due while the step generator still runs. It waits for
    standstill: a write stalls the CPU 80 ms with the cache off, LEDC would pulse
    through it (56 pulses here without the rule), and a PCNT overflow interrupt then
    would crash the chip."""
    app = make_app(rig)
    for _ in range(150):
        app.step()
    assert app.core.command(C_GOTO, -20000) == 0  # homes first
    for _ in range(150):
        app.step()
    assert app.core.state == HOMING and app.outputs.rate_sps != 0
    rig.imu.set_fault("frozen", True)
    for _ in range(150):
        app.step()
    assert app.core.state == FAULT
    writes = rig.chip.flash.writes
    assert len(writes) == 2 and writes[1][2] == "faults.tmp"  # the fault's record
    assert [w[3] for w in writes] == [0, 0]  # no pulse left the chip during a write
    assert rig.chip.panics == []


def test_an_exception_in_read_inputs_is_handled_in_the_loop(rig):
    app = make_app(rig)
    for _ in range(5):
        app.step()
    real = app.board.read_inputs
    calls = []

    def broken(inp):
        calls.append(1)
        raise RuntimeError("board bug")

    app.board.read_inputs = broken
    app.step()  # does not leave the loop
    app.board.read_inputs = real
    assert app.crashed and app.outputs.enable is False and app.outputs.rate_sps == 0
    assert rig.chip.pin(pins.ENABLE).level() == stepgen.EN_SAFE
    with pytest.raises(ChipReset) as e:  # no longer fed: the watchdog resets
        for _ in range(200):
            app.step()
    assert e.value.cause == WDT_RESET


def test_an_exception_in_apply_outputs_leaves_the_outputs_safe(rig):
    app = make_app(rig)
    for _ in range(5):
        app.step()
    real = app.board.apply_outputs
    n = []

    def broken(out):
        n.append(1)
        if len(n) == 1:
            raise RuntimeError("board bug")
        real(out)

    app.board.apply_outputs = broken
    app.step()
    assert app.crashed and len(n) == 2  # the safe outputs applied after the failure
    assert rig.chip.pin(pins.ENABLE).level() == stepgen.EN_SAFE


def test_an_exception_in_persistence_is_handled_in_the_loop(rig):
    app = make_app(rig)

    def broken():
        raise OSError(28, "no space")

    app.persistence.service = broken
    app.step()
    assert app.crashed and app.outputs.feed_ok is False


def test_ctrl_c_during_the_self_test_does_not_end_main(rig):
    """pyexec turns Ctrl-C on for main.py; a 0x03 during the step-generator self-test
    (the first ~50 ms of the board's start) must be a byte, not a KeyboardInterrupt
    that ends main.py before the watchdog is armed."""
    rig.events.at(10000, lambda chip: chip.uart.host_send(b"\x03"))
    rig.stop_at(400000)
    with pytest.raises(ChipReset) as e:  # main.py resets on whatever escapes it
        rig.fw.run_main(os.path.join(firmware_root(), "main.py"))
    assert e.value.cause == HARD_RESET
    assert isinstance(e.value.__context__, StopRun)  # the loop ran until the world stopped
    assert rig.chip.wdt_timeout_us is not None  # the loop armed the watchdog


def test_console_pin_commands_write_no_flash_while_pulsing(rig):
    """The finding of issue #19's chip model: `pin set` and a wrong `login` during homing
    stored the PIN, the lock state and the NVS marks at once (seven 80 ms writes, ~400
    LEDC pulses in each). A PIN attempt is refused while moving (firmware/auth.py: a
    deferred count could be undone by a power cut); `lock` is deferred to standstill."""
    app = make_app(rig)
    for _ in range(150):
        app.step()
    assert app.core.command(C_GOTO, -20000) == 0
    for _ in range(60):
        app.step()
    assert app.core.state == HOMING and app.outputs.rate_sps != 0
    n0 = len(rig.chip.flash.writes)
    rig.chip.uart.host_send(b"pin set 1234\r\n")
    for _ in range(5):
        app.step()
    rig.chip.uart.host_send(b"login 9999\r\n")
    for _ in range(5):
        app.step()
    rig.chip.uart.host_send(b"lock\r\n")
    for _ in range(5):
        app.step()
    said = rig.chip.uart.host_receive().decode()
    # pin set, login: their handlers load on demand, only at a standstill (console.py)
    assert said.count("refused while the table moves") == 2
    assert "ok child lock: on; stored when the table stands still" in said
    assert app.auth.child_locked and not app.auth.has_pin
    assert len(rig.chip.flash.writes) == n0 and app.gate.pending == 3  # NVS, marks, state
    while app.outputs.rate_sps != 0 or app.core.state == HOMING:
        app.step()
    for _ in range(5):
        app.step()
    names = [w[2] for w in rig.chip.flash.writes[n0:]]
    assert names == ["nvs", "authmark.tmp", "authstate.tmp"] and app.gate.pending == 0
    assert [w[3] for w in rig.chip.flash.writes] == [0] * len(rig.chip.flash.writes)
    assert rig.chip.panics == []


def _say(rig, app, line, passes=3):
    rig.chip.uart.host_send(line.encode() + b"\r\n")
    for _ in range(passes):
        app.step()


def test_a_session_with_console_use_while_moving_writes_no_flash_while_pulsing(rig):
    """A whole session on the chip model: the PIN set and a login at rest, then, while the
    drive homes and moves, every console command that stores something (consent,
    settings, profile, calibrate, PIN, login, lock, unlock, history), and a fault on the
    way. No flash write (file or NVS) overlaps a pulse, and what was accepted is stored
    once the table stands still."""
    app = make_app(rig, pin_setup=True)
    for _ in range(100):
        app.step()
    _say(rig, app, "pin set 1234")
    _say(rig, app, "login 1234")
    assert app.core.command(C_GOTO, -20000) == 0  # homes first
    for _ in range(60):
        app.step()
    assert app.core.state == HOMING and app.outputs.rate_sps != 0
    moving = len(rig.chip.flash.writes)
    for line in ("consent yes", "config set hold_max_s 30", "profile set hold_s 5",
                 "calibrate 0", "pin set 1234 5678", "login 0000", "lock",
                 "unlock 1234", "history", "faults"):
        _say(rig, app, line)
        assert app.outputs.rate_sps != 0
    said = rig.chip.uart.host_receive().decode()
    # pin set, login, unlock (auth.py refuses them too), history, faults: on demand,
    # loaded only at a standstill (console.py)
    assert said.count("refused while the table moves") == 5
    assert app.auth.failures == 0 and app.auth.child_locked
    assert len(rig.chip.flash.writes) == moving  # nothing written while moving
    rig.imu.set_fault("frozen", True)  # a fault on the way: its record waits too
    for _ in range(150):
        app.step()
    assert app.core.state == FAULT
    writes = rig.chip.flash.writes
    names = [w[2] for w in writes[moving:]]
    assert "authstate.tmp" in names and "nvs" in names and "faults.tmp" in names
    assert app.gate.pending == 0 and app.gate.failed == 0
    # (LEDC may still be in the period its stop ends, with no pulse left to emit: w[4])
    assert [w[3] for w in writes] == [0] * len(writes)
    assert rig.chip.panics == []
