"""The board around the chip, and the real firmware loaded on top of a chip model.

Owns the glue hardware between the ESP32 and the stepper driver
(hardware/safety_wiring.md, hardware/pinout.csv) and how the firmware's own modules
(firmware/board_esp32.py, stepgen.py, main.py) are loaded, unmodified, on a chip.

The step gate (StepGate), as hardware/safety_wiring.md "Heartbeat gate (U4, U5)" and
"Over-travel STEP gate" describe it: STEP (GPIO25) reaches the driver, and the counting
input STEP_SENSE (GPIO18, low-going), only
- while the heartbeat monostable U4 (CD74HCT123) is triggered: every *rising* edge of
  HEARTBEAT (GPIO19, toggled once per 10 ms control tick by the firmware, so a rising
  edge every 20 ms) restarts its pulse of tW = 0.45 x 82 k x 1 uF = 37 ms (HOLD_US;
  24-50 ms with the tolerances), and U5 passes STEP only while it is high. The pulses
  stop by themselves 37 ms after the last rising edge - a stalled C call, a flash
  write, a crash - and a loop that keeps ticking keeps them going with 17 ms to spare
  (4 ms for a 24 ms part). The pull-down holds the pin still through a reset: no
  pulses until the firmware toggles it;
- and, for head-down pulses (DIR at DIR_ACTIVE), while the over-travel switch is
  closed (U3).
`pulses` is the signed count the driver received; `drops` counts the pulses the
monostable held back.
"""

import os
import sys

import pins

from host_tools.chip import core
from host_tools.chip.core import _NEVER

HOLD_US = 37000  # hardware/safety_wiring.md: tW of U4 with R16 = 82 k, C8 = 1 uF

_FIRMWARE_MODULES = ("board_esp32", "powerup")


class StepGate:
    def __init__(self, chip, hold_us=HOLD_US):
        self._chip = chip
        self.hold_us = hold_us
        self._open_until = 0  # the monostable's output is high before this time
        self.heartbeat_edges = 0
        self.pulses = 0  # signed: what the driver received, + head-down
        self.drops = 0  # pulses the monostable held back
        self.last_pulse_us = None
        self.listener = None  # fn(first pulse's start ns, period ns, signed count)
        chip.board = self

    def gate_open(self, t_us):
        return t_us < self._open_until

    def output_changed(self, gpio, level, t_us):
        if gpio == pins.HEARTBEAT and level == pins.HEARTBEAT_ACTIVE:  # 1B: rising edge
            self.heartbeat_edges += 1
            self._open_until = t_us + self.hold_us

    def next_event_us(self, now_us):
        return self._open_until if now_us < self._open_until else _NEVER

    def route(self, gpio, n, t0_us, t1_us):
        if gpio != pins.STEP:
            return ((gpio, n),)
        chip = self._chip
        head_down = chip.pin(pins.DIR).level() == pins.DIR_ACTIVE
        over = chip.pin(pins.OVERTRAVEL).level() == pins.OVERTRAVEL_ACTIVE
        passed = n
        if not self.gate_open(t0_us):
            self.drops += n
            passed = 0
        elif head_down and over:
            passed = 0
        if passed:
            self.pulses += passed if head_down else -passed
            self.last_pulse_us = t1_us
            if self.listener is not None:  # the driver's side: when each pulse came
                ch = chip.ledc[gpio]
                self.listener(ch.first_ns, ch.period_ns(), passed if head_down else -passed)
        return ((pins.STEP, n), (pins.STEP_SENSE, passed))


class FirmwareOnChip:
    """The real firmware's chip-facing modules, loaded against one chip model.

    While it is open, sys.modules holds the chip's machine, esp32, esp, micropython and
    select (the names MicroPython has), board_esp32 and powerup are imported afresh, and
    board_esp32 / stepgen see the chip's time and sys; the firmware's file writes go to
    the chip's flash model (store's and board_esp32's open). close() puts everything back.
    Files live in the working directory (the chip's filesystem root)."""

    def __init__(self, chip, mods=None, time_mod=None, sys_mod=None):
        """mods, time_mod, sys_mod: other modules than the chip model's (host_tools/chip/
        null.py's do-nothing chip: the board code's own cost)."""
        from host_tools.chip import machine, modules, stdio

        self.chip = chip.install()
        self.time = modules.TimeModule() if time_mod is None else time_mod
        self.sys = stdio.SysModule(chip.uart) if sys_mod is None else sys_mod
        if mods is None:
            mods = {
                "machine": machine,
                "esp32": modules.Esp32Module(),
                "esp": modules.EspModule(),
                "micropython": modules.MicropythonModule(),
                "select": stdio.SelectModule(),
            }
        self._saved = {}
        for name in tuple(mods) + _FIRMWARE_MODULES:
            self._saved[name] = sys.modules.pop(name, None)
        sys.modules.update(mods)
        import board_esp32
        import stepgen
        import store

        self.board_esp32 = board_esp32
        self._patched = []
        for mod, name, value in ((board_esp32, "time", self.time), (board_esp32, "sys", self.sys),
                                 (stepgen, "time", self.time),
                                 (board_esp32, "open", chip.flash.open),
                                 (board_esp32, "print", self.print),
                                 (store, "open", chip.flash.open)):
            self._patched.append((mod, name, mod.__dict__.get(name, _NEVER)))
            setattr(mod, name, value)

    def print(self, *args, **kw):
        """print() on the chip: to UART0 (mp_hal_stdout_tx_strn)."""
        self.sys.stdout.write(kw.get("sep", " ").join(str(a) for a in args)
                              + kw.get("end", "\r\n"))

    def board(self):
        """A new Esp32Board on the chip (its constructor runs the step-generator self-test)."""
        return self.board_esp32.Esp32Board()

    def run_main(self, path):
        """Run firmware/main.py as pyexec would (Ctrl-C enabled first); returns normally
        only if main.py returned (the service mode). Its imports of sys and time get the
        chip's."""
        self.chip.kbd_char = 3  # pyexec_file turns the interrupt character on
        with open(path) as f:
            code = compile(f.read(), path, "exec")
        real_import = __import__
        chip_mods = {"sys": self.sys, "time": self.time}

        def imp(name, *a, **kw):
            m = chip_mods.get(name)
            return m if m is not None else real_import(name, *a, **kw)

        import builtins

        b = dict(builtins.__dict__)
        b["__import__"] = imp
        b["print"] = self.print
        exec(code, {"__name__": "__main__", "__builtins__": b})

    def close(self):
        for mod, name, old in reversed(self._patched):
            if old is _NEVER:
                delattr(mod, name)
            else:
                setattr(mod, name, old)
        for name, old in self._saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
        core.current = None


def firmware_root():
    """firmware/ of this tree (where main.py is)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "firmware")
