"""A model of the ESP32 as MicroPython exposes it, under the real board code.

Owns the chip side of the simulation: the modules firmware/board_esp32.py,
firmware/stepgen.py and firmware/main.py import on the ESP32 - `machine`, `esp32`,
`esp`, `micropython`, `time`, `sys` (stdin/stdout) and `select` - modelled from
MicroPython's own sources (github micropython/micropython at 1c3c201, cited where
each behaviour is modelled), plus the board's own glue hardware (the step gate with
its heartbeat monostable, host_tools/chip/board.py).

Layout:
    core.py       Chip: the virtual clock (us), the soft-callback scheduler (8 deep,
                  drops the rest), GPIO levels and edges, stalls (flash writes with the
                  interrupts masked, blocking C calls), the watchdog, the reset cause.
    machine.py    the `machine` module: Pin, Timer, PWM (LEDC), Counter (PCNT), I2C,
                  WDT, freq(), reset(), reset_cause().
    periph.py     the peripherals' hardware: LEDC channels, PCNT units, soft timers.
    i2cbus.py     the I2C bus: wire time, NACK, a stuck bus, the drivers' timeouts.
    imu.py        IMU clones at register level (MPU-6500) beside imu_model's MPU-6050.
    stdio.py      UART0: the 128-byte TX FIFO that blocks, stdin with Ctrl-C, select.
    flash.py      the filesystem's writes, which stall the CPU (cache off).
    modules.py    esp32, esp, micropython, time, gc: the small modules (gc: a
                  collection holds the CPU for its time on a heap of a given size).
    board.py      the board around the chip (step gate, monostable, STEP_SENSE) and
                  loading the real firmware on top of a chip.
    rig.py        the tests' set-up: chip, gate, IMU, switches, a rigid table, events.
    world.py      phase 2's prototype: the simulator's physics, switches and IMU driven
                  by the step gate's pulses (PhysicsTable), stepped lazily.
    null.py       a do-nothing chip, for measuring the board code's own cost only
                  (host_tools/chip_bench.py).

Speed (host_tools/chip_bench.py): time moves in steps between events (timers, LEDC
latches, the gate's monostable, C calls, sleeps' ends); the worlds add a step only where
what the chip sees can change (a contact crossing, a bounce), never one per millisecond
of motion: pulses are counted in closed form per step and binned by millisecond.

The interface a world (phase 2: host_tools/physics.py) drives:
    world -> chip   chip.set_input(gpio, level), the IMU registers (i2cbus devices),
                    chip.advance(us) (time passes, hardware runs, callbacks may run)
    chip -> world   board.StepGate: `pulses` delivered to the driver (signed by DIR),
                    ENABLE and the heartbeat pin levels, chip.uart.host_receive().

Plain Python (no dataclasses, typing, f-strings with `=`): core, machine, periph,
i2cbus, stdio, flash and modules also run on the MicroPython unix port (checked with a
PWM + Counter + Timer run); imu.py, rig.py and board.py's firmware loading are CPython
only (imu_model's noise, exec with replaced builtins).
"""

from host_tools.chip.core import Chip, ChipReset  # noqa: F401
