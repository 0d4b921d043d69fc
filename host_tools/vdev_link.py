"""The CPython end of the virtual device's link: the simulated world answering the board.

host_tools/mpy_board/board_vdev.py (MicroPython, in the firmware process) sends one
request per board call that needs the world; VdevLink answers it from a SimBoard
(host_tools/simboard.py: the table, drive, switches, IMU, watchdog and power). The
protocol is described in board_vdev.py; this module is its only other implementation.

What the world sees is what SimBoard would see running the same firmware in-process:
the outputs and the watchdog feed arrive with wait_until (virtual time moves only
there), the inputs are read right after it, and the I2C transactions of the real
MPU-6050 driver reach SimBoard's FakeI2C one by one. SimBoard's own IMU driver is
replaced by a no-op (the firmware's driver runs in MicroPython instead).

Resets: handle() raises Restart(cause) when the firmware must be started again - the
world reset it (watchdog, power restored: SimBoard raises BoardReset inside
wait_until) or the firmware asked (`reboot`, `maintenance`: machine.reset() on an
ESP32). The caller kills the firmware process and starts a new one; its hello gets
the cause. A firmware-requested reset is a chip restart for the world (driver off,
watchdog off, ticks from zero) and reports SOFT_RESET, as an ESP32 does after
machine.reset().

Also kept here: the firmware's state as the vdev reports it (booting, running,
maintenance - the service mode -, fatal), the heap figures the board sends with every
tick, the chip's NVS (a JSON file outside the board's filesystem: nvs_path), and
buttons held at power-up (hold_at_power_up: the service mode, the physical reset),
let go when the firmware shows the service banner or after a given virtual time.
"""

import json
import os
import struct

from host_tools.simboard import BoardReset, SimBoard

SOFT_RESET = 5

OP_HELLO = ord("H")
OP_WAIT = ord("W")
OP_I2C_READ = ord("R")
OP_I2C_WRITE = ord("X")
OP_WDT_ARM = ord("A")
OP_REARM = ord("E")
OP_RESET = ord("B")
OP_MAINTENANCE = ord("M")
OP_FATAL = ord("F")
OP_NVS_GET = ord("N")
OP_NVS_SET = ord("S")
_ENOENT = 2

WAIT_REQ = struct.Struct("<iiiBBBBiii")  # outputs, fed, t_ms, heap_raw, heap_live
WAIT_REPLY = struct.Struct("<iBii")  # ticks_ms, switches, estop_edges, step_count
HELLO_REPLY = struct.Struct("<BiB")  # reset_cause, ticks_ms, switches
_EIO = 5
_EINVAL = 22
_SETTLE_TICKS = 50  # ticks after a boot not counted in heap_tick_alloc_max_bytes

BOOTING = "booting"
RUNNING = "running"
MAINTENANCE = "maintenance"
FATAL = "fatal"


class Restart(Exception):
    """The firmware process must be restarted; cause is the next boot's reset_cause()."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


class _Outputs:
    """The fields SimBoard.apply_outputs() reads (signals.Outputs' shape). The e-stop
    re-arm comes as its own request (E), so estop_rearm stays False here."""

    __slots__ = ("rate_sps", "limit_lo", "limit_hi", "enable", "led", "buzzer", "estop_rearm")

    def __init__(self):
        self.estop_rearm = False


class _Inputs:
    """The fields SimBoard.read_inputs() fills (signals.Inputs' shape)."""

    def __init__(self):
        self.switches = 0
        self.estop_edges = 0
        self.step_count = 0
        self.imu_error = 0


class _NoImu:
    """Stands in for SimBoard's own IMU driver: the firmware's runs in MicroPython."""

    def init(self):
        pass

    def read_into(self, inp):
        pass


class HeapStats:
    """Heap figures of the firmware, from the samples the board sends every tick."""

    def __init__(self):
        self.live_peak = 0  # max gc.mem_alloc() after the board's per-tick collect
        self.raw_peak = 0  # max before it: live data plus one tick's allocations
        self.boot_live = None  # the first tick's live heap of the current boot
        self.boot_live_max = 0
        self.last_live = 0
        self.samples = 0
        self.tick_alloc_max = 0  # most one tick allocated (raw - previous tick's live)
        self._boot_ticks = 0

    def add(self, raw, live, first):
        self.samples += 1
        self.raw_peak = max(self.raw_peak, raw)
        self.live_peak = max(self.live_peak, live)
        if first:
            self.boot_live = live
            self.boot_live_max = max(self.boot_live_max, live)
            self._boot_ticks = 0
        else:
            self._boot_ticks += 1
            if self._boot_ticks > _SETTLE_TICKS:  # start-up (IMU init...) allocates once
                self.tick_alloc_max = max(self.tick_alloc_max, raw - self.last_live)
        self.last_live = live

    def as_dict(self):
        return {
            "heap_peak_bytes": self.live_peak,
            "heap_peak_raw_bytes": self.raw_peak,
            "heap_after_boot_bytes": self.boot_live,
            "heap_now_bytes": self.last_live,
            "heap_tick_alloc_max_bytes": self.tick_alloc_max,
            "heap_samples": self.samples,
        }


class VdevLink:
    """Answers the board's requests from a SimBoard. See the module docstring."""

    def __init__(self, sim=None, nvs_path=None, **sim_kwargs):
        self.sim = sim if sim is not None else SimBoard(**sim_kwargs)
        self.nvs_path = nvs_path
        self.nvs = self._load_nvs()
        self._held = ()  # buttons held since power-up (hold_at_power_up)
        self._release_ms = None
        self.sim.imu_driver_factory = lambda bus: _NoImu()
        self.sim.imu_driver = None
        self._out = _Outputs()
        self._inp = _Inputs()
        self.heap = HeapStats()
        self.state = BOOTING
        self.fatal = None  # text of the last fatal error the firmware reported
        self.boots = 0
        self.reset_causes = []
        self.ticks = 0
        self._cause = self.sim.reset_cause()
        self._first_tick = True

    # ---------------------------------------------------------------- NVS, buttons

    def _load_nvs(self):
        if not self.nvs_path:
            return {}
        try:
            with open(self.nvs_path) as f:
                d = json.load(f)
            return {str(k): int(v) for k, v in d.items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _save_nvs(self):
        if self.nvs_path:
            tmp = self.nvs_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.nvs, f)
            os.replace(tmp, self.nvs_path)

    def hold_at_power_up(self, buttons, hold_ms=None):
        """Press buttons (START, UP, DOWN) now, before the firmware powers up; they are
        let go after hold_ms of virtual time, or (None) once the service banner shows."""
        for b in buttons:
            self.sim.press(b)
        self.sim.advance(50)  # held before the power came on: the contacts have settled
        self._held = tuple(buttons)
        self._release_ms = None if hold_ms is None else self.sim.now_ms + int(hold_ms)

    def release_held(self):
        for b in self._held:
            self.sim.release(b)
        self._held = ()
        self._release_ms = None

    # ---------------------------------------------------------------- boots

    def boot(self):
        """A new firmware process is about to say hello."""
        self.state = BOOTING
        self._first_tick = True

    def firmware_reset(self, cause=SOFT_RESET):
        """The firmware asked for a reset: a chip restart for the world."""
        self.sim.hard_reset()
        try:
            self.sim.wait_until(self.sim.ticks_ms())  # take the pending reset: no time passes
        except BoardReset:
            pass
        self._cause = cause

    def world_reset(self, cause):
        """The world reset the board (SimBoard raised BoardReset)."""
        self._cause = cause

    # ---------------------------------------------------------------- requests

    def handle(self, op, payload):
        """One request -> (status, reply payload), or None for a request not answered.
        Raises Restart when the firmware process must be started again."""
        sim = self.sim
        if op == OP_WAIT:
            return 0, self._wait(payload)
        if op == OP_I2C_READ:
            if len(payload) != 3:
                return _EINVAL, b""
            addr, reg, n = payload
            try:
                return 0, bytes(sim.i2c.readfrom_mem(addr, reg, n))
            except OSError as e:
                return (e.args[0] if e.args and isinstance(e.args[0], int) else _EIO), b""
        if op == OP_I2C_WRITE:
            if len(payload) < 2:
                return _EINVAL, b""
            try:
                sim.i2c.writeto_mem(payload[0], payload[1], bytes(payload[2:]))
                return 0, b""
            except OSError as e:
                return (e.args[0] if e.args and isinstance(e.args[0], int) else _EIO), b""
        if op == OP_HELLO:
            self.boots += 1
            self.reset_causes.append(self._cause)
            inp = self._read()
            return 0, HELLO_REPLY.pack(self._cause, sim.ticks_ms(), inp.switches)
        if op == OP_WDT_ARM:
            (timeout,) = struct.unpack("<i", payload)
            sim.wdt_arm(timeout)
            return 0, b""
        if op == OP_REARM:
            sim.estop_rearm()
            return 0, b""
        if op == OP_RESET:
            cause = payload[0] if payload else SOFT_RESET
            self.firmware_reset(cause)
            raise Restart(cause)
        if op == OP_MAINTENANCE:
            self.state = MAINTENANCE
            if self._held and self._release_ms is None:
                self.release_held()  # the banner shows: the person lets go
                self.sim.advance(50)  # and the contacts settle (the REPL pauses the world)
            return 0, b""
        if op == OP_NVS_GET:
            key = bytes(payload).decode("utf-8", "replace")
            if key not in self.nvs:
                return _ENOENT, b""
            return 0, struct.pack("<i", self.nvs[key])
        if op == OP_NVS_SET:
            if len(payload) < 5:
                return _EINVAL, b""
            (value,) = struct.unpack("<i", bytes(payload[:4]))
            self.nvs[bytes(payload[4:]).decode("utf-8", "replace")] = value
            self._save_nvs()
            return 0, b""
        if op == OP_FATAL:
            self.state = FATAL
            self.fatal = bytes(payload).decode("utf-8", "replace")
            return 0, b""
        return _EINVAL, b""

    def _read(self):
        inp = self._inp
        self.sim.read_inputs(inp)
        return inp

    def _wait(self, payload):
        sim = self.sim
        (rate, lo, hi, enable, led, buzzer, fed, t_ms, heap_raw,
         heap_live) = WAIT_REQ.unpack(payload)
        self.heap.add(heap_raw, heap_live, self._first_tick)
        self._first_tick = False
        self.state = RUNNING
        self.ticks += 1
        out = self._out
        out.rate_sps = rate
        out.limit_lo = lo
        out.limit_hi = hi
        out.enable = bool(enable)
        out.led = led
        out.buzzer = buzzer
        sim.apply_outputs(out)
        if fed:
            sim.wdt_feed()
        try:
            sim.wait_until(t_ms)
        except BoardReset as e:
            self.world_reset(e.cause)
            raise Restart(e.cause) from None
        if self._held and self._release_ms is not None and sim.now_ms >= self._release_ms:
            self.release_held()
        inp = self._read()
        return WAIT_REPLY.pack(sim.ticks_ms(), inp.switches, inp.estop_edges, inp.step_count)

    def status(self):
        d = {
            "state": self.state,
            "fatal": self.fatal,
            "boots": self.boots,
            "reset_causes": list(self.reset_causes),
            "ticks": self.ticks,
            "virtual_ms": self.sim.now_ms,
            "true_angle_mdeg": int(round(self.sim.true_angle_mdeg)),
        }
        d.update(self.heap.as_dict())
        return d
