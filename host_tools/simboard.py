"""The simulated board: the ESP32 board layer's twin, driven by the physical model.

Owns: virtual time, and the wiring of the world's parts to the firmware's board
interface - the table and drive (host_tools/physics.py), the switches
(host_tools/switches_model.py), the MPU-6050 on its I2C bus (host_tools/imu_model.py,
read by the real firmware driver firmware/mpu6050.py), the watchdog, power and resets,
the USB console and the storage directory. firmware/app.py runs on it unchanged.

The interface the firmware uses (the same as firmware/board_esp32.py)
    ticks_ms() / ticks_add(t, d) / ticks_diff(a, b)   MicroPython semantics, wrap at 2**30
    wait_until(t_ms)             advance the world in 1 ms steps until ticks_ms() reaches t_ms
    read_inputs(inp)             fill a signals.Inputs (switches, e-stop edges, PCNT, IMU)
    apply_outputs(out)           take a signals.Outputs (step generator, LED, buzzer, and
                                 out.estop_rearm: re-arm the e-stop IRQ, which counts at
                                 most one edge per arming)
    console_read_into(buf) -> n  non-blocking; console_write(data)
    wdt_arm(timeout_ms), wdt_feed()
    reset_cause() -> int         PWRON_RESET=1 HARD_RESET=2 WDT_RESET=3 DEEPSLEEP_RESET=4
                                 SOFT_RESET=5 (the numbers of machine)
    fs_root, hw_params_path, maintenance_requested()
    code_root                    where deploy put the firmware and its manifest ("" on the
                                 ESP32 and the virtual device); None here: the firmware is
                                 imported from the source tree, nothing was deployed, and
                                 there is no manifest to check (firmware/manifest.py)

Resets: `BoardReset(cause)` means "the firmware must restart". It is raised only by
wait_until() (the one call during which the firmware gives the world time), after:
- the watchdog twin expired (armed and not fed for timeout_ms of virtual time): WDT_RESET;
- power came back after power_cut(): PWRON_RESET. While the power is off wait_until keeps
  advancing the world (the firmware is not running) until something restores it: a
  power_cut(off_ms=...) schedule, or a call_at() call or per-ms hook calling
  power_restore(). A cut with nothing that could restore it raises RuntimeError rather
  than spin forever;
- hard_reset() / soft_reset() (the reset button, Ctrl-D).
The runner catches BoardReset, throws the firmware objects away and builds them again on
the same board (App(board).run()). At the reset itself the board puts every output in its
safe state: driver de-energised (the self-locking worm holds the table), step window
closed, PCNT count 0, e-stop edge count 0 and IRQ armed, watchdog disarmed (except across
a soft reset, as on the ESP32), LED and buzzer off, unread console input dropped, and
ticks_ms() restarting from `ticks_at_boot` (esp_timer restarts with the chip; not on a
soft reset). Power-on also resets the IMU (asleep, unconfigured); a watchdog reset does
not (the IMU stayed powered). fs_root and everything physical persist. Between a reset
and the next wait_until() the board ignores apply_outputs() (the old firmware is dead).

Host side (scenarios, tests): host_send()/host_receive() for the console; estop_press(),
estop_release(), estop_cut_wire(), estop_repair_wire(); press(button)/release(button)
("UP", "DOWN", "START"); ankle_lock("open"|"close"|"cut_wire"|"repair_wire") (the world
starts with the lock engaged); imu_fault(name, on); switch_spike(bits), switch_spike_rate;
power_cut(off_ms=None)/power_restore(); hard_reset(); soft_reset(); advance(ms) (the world
without the firmware); call_at(t_ms, fn), fn(board) called once after the simulated
millisecond t_ms, to inject events and check the world at a given time; `ms_hooks`, a
list of callables hook(board) run after every simulated millisecond (calls due at that
ms first), for what must see each one; read-outs true_angle_mdeg, true_rate_mdeg_s,
lost_steps, emitted_count, led, buzzer, indicator_log, resets, and the true angle's
statistics over every millisecond (physics.watch(): highest and lowest with their
times, milliseconds above a threshold, first ms with lost steps).

Deterministic: all randomness comes from the random.Random passed in (default seed 0),
split into one stream per part; there is no wall clock anywhere.

Speed: with no ms_hooks registered, the board does not step the world one millisecond
at a time where nothing can happen: milliseconds at rest (driver giving no pulses, table
standing on the self-locking worm, switches settled) are skipped in one step, and a
moving table is stepped ms by ms (TablePhysics.advance: many milliseconds per call)
without the per-ms switch and IRQ bookkeeping until a limit switch is reached, or a
call_at() time, where the calls run as they would after that ms stepped alone (see
_run). The result is the same, bit for bit, as stepping every millisecond
(tests/host/test_sim_speed_equivalence.py); `fast_forward = False` steps every
millisecond anyway. With ms_hooks registered every millisecond is stepped and the hooks
see each one: a scenario registers one only while switch noise is on.
"""

import heapq
import math
import os
import random
import tempfile

from host_tools import imu_model, params, paths, physics, switches_model
from host_tools.switches_model import SW_ESTOP, SW_OVERTRAVEL

paths.use_firmware()

import mpu6050  # noqa: E402  (firmware/mpu6050.py: the real driver runs on the fake bus)
import profiles as fw_profiles  # noqa: E402
import store  # noqa: E402  (firmware/store.py: the commissioning record on the flash)
from config import Config, load_hardware  # noqa: E402

# What a commissioned table's flash holds (issue #18, firmware/commissioning.py): the
# two-point calibration's mark. The IMU model's default offsets (CALIBRATED_BIAS_SCALE) are what
# that calibration leaves; a table built with commissioned=False is a fresh one.
COMMISSIONED_SETTINGS = {"imu_calibrated": 1}


def commission(fs_root, hw_params_path=None):
    """Store what a calibration stores on a new table (persistence.py: the profiles and
    the settings), unless fs_root already holds settings (a table used before)."""
    fs = store.DirFS(fs_root)
    if fs.exists("settings"):
        return
    if not fs.exists(fw_profiles.FILE):
        cfg = Config()
        load_hardware(cfg, hw_params_path or paths.TABLE_PARAMS)
        fw_profiles.save_profiles(fs, fw_profiles.load_profiles(fs, cfg)[0])
    store.save(fs, "settings", dict(COMMISSIONED_SETTINGS))

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms wraps here
TICKS_MASK = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD >> 1
_EIO = 5  # imu_error for a driver init that failed without an errno (wrong WHO_AM_I)
# A cut with only per-ms hooks or calls that might restore it gives up after this much
# virtual time.
MAX_UNPOWERED_MS = 10 * 60 * 1000
_NEVER = float("inf")  # no call_at() pending
# When SimBoard._run returns early: at a reset or power loss (wait_until), when the
# power is back (a cut), never (advance).
_STOP_AT_RESET = 0
_STOP_AT_POWER = 1
_STOP_NEVER = 2


class BoardReset(Exception):
    """The board reset: the firmware must be restarted. `cause` is a reset_cause() number."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


def ticks_add(t, delta):
    return (t + delta) & TICKS_MASK


def ticks_diff(a, b):
    """a - b as a signed difference in [-2**29, 2**29), as time.ticks_diff."""
    return ((a - b + TICKS_HALF) & TICKS_MASK) - TICKS_HALF


class SimBoard:
    """The simulated ESP32 board with the table attached. See the module docstring."""

    code_root = None  # the source tree runs here, not deployed files (module docstring)

    def __init__(
        self,
        rng=None,
        user_mass_kg=None,
        user_height_mm=None,
        user_com_offset_mm=None,
        angle_mdeg=None,
        fs_root=None,
        hw_params_path=None,
        bias_scale=None,
        mount_offset_mdeg=0.0,
        bounce_max_ms=switches_model.DEFAULT_BOUNCE_MAX_MS,
        ticks_at_boot=0,
        commissioned=True,
    ):
        if rng is None:
            rng = random.Random(0)
        self.hw_params_path = hw_params_path or paths.TABLE_PARAMS
        self.params = p = params.load(self.hw_params_path)
        if p.imu.part != "mpu6050":
            raise NotImplementedError("the simulator models the MPU-6050 only, not %r" % p.imu.part)
        if fs_root is None:
            fs_root = tempfile.mkdtemp(prefix="simboard-")
        os.makedirs(fs_root, exist_ok=True)
        self.fs_root = fs_root
        if commissioned:
            commission(fs_root, self.hw_params_path)
        if angle_mdeg is None:
            angle_mdeg = p.frame.loading_angle_mdeg  # the table stands at the loading position
        self._make_parts(rng, p, user_mass_kg, user_height_mm, user_com_offset_mm, angle_mdeg,
                         bias_scale, mount_offset_mdeg, bounce_max_ms)
        self.ticks_at_boot = ticks_at_boot & TICKS_MASK
        self._init_state()
        # the pins and the sensor read the world from t=0
        self.switches.settle(self.physics.true_angle_mdeg)
        self._estop_level = bool(self.switches.bits & SW_ESTOP)
        self.imu.update(self.now_ms, self.physics.true_angle_mdeg, 0.0, False)

    def _make_parts(self, rng, p, user_mass_kg, user_height_mm, user_com_offset_mm,
                    angle_mdeg, bias_scale, mount_offset_mdeg, bounce_max_ms):
        """The table's physics, the switches and the IMU with its bus."""
        # one random stream per part, so adding draws in one part leaves the others alone
        self.physics = physics.TablePhysics(
            p, user_mass_kg, user_height_mm, user_com_offset_mm, angle_mdeg
        )
        self.switches = switches_model.Switches(
            p, random.Random(rng.getrandbits(64)), bounce_max_ms
        )
        self.imu = imu_model.Mpu6050Model(
            p, random.Random(rng.getrandbits(64)), bias_scale, mount_offset_mdeg
        )
        self.i2c = imu_model.FakeI2C(self.imu)
        self.i2c.delay_hook = self.advance
        self.imu_driver_factory = self._default_imu_driver
        self._imu_driver = None
        self._imu_ready = False

    def _init_state(self):
        """The board's clocks, reset and watchdog state, serial buffers and indicators."""
        self.now_ms = 0  # absolute virtual time since the simulation began (never wraps)
        self._boot_ms = 0
        self.powered = True
        self._pending = None  # reset cause waiting to be raised by wait_until
        self._reset_cause = PWRON_RESET
        self._restore_at = None
        self._estop_edges = 0
        self._estop_armed = True
        self._last_rate = 0
        self._estop_level = False
        self._wdt_timeout = None  # None: not armed
        self._wdt_fed = 0
        self._rx = bytearray()  # host -> firmware
        self._tx = bytearray()  # firmware -> host
        self.ctrl_c_raises = True  # a 0x03 byte read by the firmware raises KeyboardInterrupt
        self.maintenance = False
        self.led = 0
        self.buzzer = 0
        self.indicator_log = []  # (now_ms, led, buzzer) at every change
        self.resets = []  # (now_ms, cause) of every reset after the first power-on
        self.ms_hooks = []
        self._calls = []  # call_at(): a heap of (t_ms, order, fn)
        self._calls_made = 0
        self._next_call = _NEVER  # the earliest t_ms in _calls
        # Skip the milliseconds at rest while no ms_hooks are registered (see _run); the
        # result is the same as stepping them one by one. False: always step each ms.
        self.fast_forward = True

    # ================================================================ firmware side

    # ---------------------------------------------------------------- time

    def ticks_ms(self):
        return (self.now_ms - self._boot_ms + self.ticks_at_boot) & TICKS_MASK

    @staticmethod
    def ticks_add(t, delta):
        return ticks_add(t, delta)

    @staticmethod
    def ticks_diff(a, b):
        return ticks_diff(a, b)

    def wait_until(self, t_ms):
        """Advance the world until ticks_ms() reaches t_ms (at once if it is not ahead).

        Raises BoardReset if the board reset meanwhile (or before the call)."""
        if self._pending is not None:
            self._raise_pending()
        if self.powered:
            left = ticks_diff(t_ms, self.ticks_ms())
            if left > 0:
                self._run(left, _STOP_AT_RESET)
        if not self.powered:
            self._run_unpowered()
        if self._pending is not None:
            self._raise_pending()

    # ---------------------------------------------------------------- inputs, outputs

    def read_inputs(self, inp):
        inp.switches = self.switches.bits
        inp.estop_edges = self._estop_edges
        inp.step_count = self.physics.stepgen.count
        if self._imu_ready:  # (a driver is there and init()-ed)
            self._imu_driver.read_into(inp)
        else:
            self._read_imu(inp)

    def apply_outputs(self, out):
        if not self.powered or self._pending is not None:
            return  # the firmware that computed these is dead
        rate = out.rate_sps
        if not self._estop_armed and rate > 0 and rate > self._last_rate:
            # the ISR twin saw an e-stop edge: no more head-down motion is queued than
            # was already running (never faster); the core's ramped braking follows
            rate = self._last_rate if self._last_rate > 0 else 0
        self._last_rate = rate
        sg = self.physics.stepgen
        lo = out.limit_lo
        hi = out.limit_hi
        enable = out.enable
        # the same command again would change nothing: skip it (values equal to the
        # ints it holds convert to them; a disabled generator's remainder is already 0)
        if (rate != sg.rate_sps or lo != sg.limit_lo or hi != sg.limit_hi
                or (not enable) == sg.enabled or (not enable and sg._acc)):
            sg.command(rate, lo, hi, enable)
        if out.led != self.led or out.buzzer != self.buzzer:
            self.led = out.led
            self.buzzer = out.buzzer
            self.indicator_log.append((self.now_ms, out.led, out.buzzer))
        if out.estop_rearm:
            self.estop_rearm()

    def estop_rearm(self):
        self._estop_armed = True

    # ---------------------------------------------------------------- console

    def console_read_into(self, buf):
        """Copy waiting console bytes into buf; returns how many (0 if none)."""
        rx = self._rx
        if not rx:
            return 0
        n = min(len(buf), len(rx))
        if self.ctrl_c_raises:
            i = rx.find(b"\x03", 0, n)
            if i == 0:
                del rx[:1]
                raise KeyboardInterrupt
            if i > 0:
                n = i  # deliver what came before the Ctrl-C; the next read raises
        buf[:n] = rx[:n]
        del rx[:n]
        return n

    def console_write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self._tx += data

    # ---------------------------------------------------------------- watchdog, resets

    def wdt_arm(self, timeout_ms):
        self._wdt_timeout = int(timeout_ms)
        self._wdt_fed = self.now_ms

    def wdt_feed(self):
        if self._wdt_timeout is not None:
            self._wdt_fed = self.now_ms

    def reset_cause(self):
        return self._reset_cause

    def maintenance_requested(self):
        return bool(self.maintenance)

    def reset(self):
        """The firmware asked for a reset (console `reboot`): a hard reset."""
        self.hard_reset()

    def enter_maintenance(self):
        """Console `maintenance`: the next boot is a maintenance boot, then reset."""
        self.maintenance = True
        self.hard_reset()

    # ================================================================ host side

    # the physics' properties, inlined: the invariants read them every simulated ms
    @property
    def true_angle_mdeg(self):
        return self.physics.theta * physics.RAD_TO_MDEG

    @property
    def true_rate_mdeg_s(self):
        return self.physics.omega * physics.RAD_TO_MDEG

    @property
    def lost_steps(self):
        return self.physics.lost_steps

    @property
    def emitted_count(self):
        return self.physics.stepgen.count

    @property
    def wdt_armed(self):
        return self._wdt_timeout is not None

    def host_send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self._rx += data

    def host_receive(self):
        out = bytes(self._tx)
        self._tx.clear()
        return out

    def press(self, button):
        self.switches.press(button)

    def release(self, button):
        self.switches.release(button)

    def estop_press(self):
        self.switches.estop_press()

    def estop_release(self):
        self.switches.estop_release()

    def estop_cut_wire(self):
        self.switches.estop_cut_wire()

    def estop_repair_wire(self):
        self.switches.estop_repair_wire()

    def imu_fault(self, name, on=True):
        """Switch an IMU fault on/off: no_response, timeout, frozen, spikes."""
        self.imu.set_fault(name, on)

    def ankle_lock(self, action):
        """The ankle lock: "open", "close", "cut_wire", "repair_wire" (switches_model)."""
        self.switches.ankle_lock(action)

    def switch_spike(self, bits):
        """Invert these SW_* input bits for the next sample only."""
        self.switches.spike(bits)

    @property
    def switch_spike_rate(self):
        return self.switches.spike_rate

    @switch_spike_rate.setter
    def switch_spike_rate(self, p):
        self.switches.spike_rate = p

    def power_cut(self, off_ms=None):
        """Cut the power now; with off_ms it comes back by itself after that long."""
        if self.powered:
            self.powered = False
            self._pending = None  # the firmware is simply gone; it restarts on restore
            self.physics.stepgen.off()  # driver de-energised: the worm holds the table
            self._wdt_timeout = None
            self.led = self.buzzer = 0
        self._restore_at = None if off_ms is None else self.now_ms + int(off_ms)

    def power_restore(self):
        if not self.powered:
            self.powered = True
            self._restore_at = None
            self.imu.power_on_reset()
            self._reset(PWRON_RESET)

    def hard_reset(self):
        self._reset(HARD_RESET)

    def soft_reset(self):
        self._reset(SOFT_RESET)

    def advance(self, ms):
        """Advance the world by ms without raising (a pending reset waits for wait_until)."""
        self._run(int(ms), _STOP_NEVER)

    def call_at(self, t_ms, fn):
        """Call fn(board) once, right after the simulated millisecond that brings now_ms
        to t_ms (after the next one if t_ms is not ahead): where ms_hooks run (after
        that ms's table, switches, e-stop IRQ, power and watchdog; before the ms_hooks
        and before any firmware tick), with the board exactly as a hook would see it.
        Unlike an ms_hook it costs nothing in between: the fast path stops at t_ms.
        Calls due at the same ms run in the order of their t_ms, then of call_at()."""
        t = math.ceil(t_ms)  # the first ms at or after t_ms
        self._calls_made += 1
        heapq.heappush(self._calls, (t, self._calls_made, fn))
        self._next_call = self._calls[0][0]

    # ================================================================ inside

    def _step_ms(self):
        """One millisecond of the whole world, then the calls due (call_at), then the
        ms_hooks."""
        # _world_ms(False) and _update_imu(), inline: this runs every simulated ms
        self.now_ms += 1
        phys = self.physics
        phys.stepgen.block_head_down = self.switches.contact_open(SW_OVERTRAVEL)
        phys.step()
        self._after_physics_ms()
        rad_to_mdeg = physics.RAD_TO_MDEG
        self.imu.update(self.now_ms, phys.theta * rad_to_mdeg, phys.omega * rad_to_mdeg,
                        phys.motor_turning)
        if self.now_ms >= self._next_call:
            self._call_due()
        for hook in self.ms_hooks:
            hook(self)

    def _call_due(self):
        """Run the call_at() calls due by now_ms (and those they add for a time past)."""
        calls = self._calls
        while calls and calls[0][0] <= self.now_ms:
            fn = heapq.heappop(calls)[2]
            self._next_call = calls[0][0] if calls else _NEVER
            fn(self)

    def _world_ms(self, settle):
        """One millisecond of the table, switches, e-stop IRQ, power and watchdog (the IMU
        is updated by the caller). settle: let the physics check whether it came to rest."""
        self.now_ms += 1
        phys = self.physics
        # the over-travel STEP gate is hardware: it acts on the contact, firmware or not
        phys.stepgen.block_head_down = self.switches.contact_open(SW_OVERTRAVEL)
        if settle:
            phys.step_settled()
        else:
            phys.step()
        self._after_physics_ms()

    def _after_physics_ms(self):
        """The rest of a millisecond once the table has moved: the switches sample the
        new angle, the e-stop IRQ, a scheduled power restore, the watchdog."""
        bits = self.switches.tick(self.physics.theta * physics.RAD_TO_MDEG)
        # the e-stop IRQ: counts a circuit-opening edge, then stays quiet until re-armed
        level = bool(bits & SW_ESTOP)
        if level and not self._estop_level and self._estop_armed and self._running():
            self._estop_edges += 1
            self._estop_armed = False
        self._estop_level = level
        if not self.powered and self._restore_at is not None and self.now_ms >= self._restore_at:
            self.power_restore()
        if (
            self._wdt_timeout is not None
            and self._running()
            and self.now_ms - self._wdt_fed >= self._wdt_timeout
        ):
            self._reset(WDT_RESET)

    def _run(self, ms, stop):
        """ms milliseconds of the world: exactly what ms calls of _step_ms() do, in fewer
        Python steps where nothing needs each ms. Returns early when `stop` (_STOP_*)
        says so.

        While ms_hooks are registered (or fast_forward is off) every ms is _step_ms().
        Otherwise: while the switches are settled for the table's angle
        (Switches.settled_for: no bounce, no spike due, no random spikes) a sample changes
        nothing and draws nothing from the rng, and no e-stop edge can come; nor can a
        watchdog expiry, a power restore or a call_at() before their due time. For those
        milliseconds
        - at rest (TablePhysics.at_rest(): the driver gives no pulses, the table stands
          on the self-locking worm, a step changes nothing) only the clocks move: the
          block is one step;
        - otherwise only the table moves: it is stepped ms by ms (the 1 ms resolution the
          drive's lost-step model needs) until a limit switch's contact would change;
          that millisecond then gets its switch sample, IRQ and all.
        Anything else (bounce, spikes, a watchdog or power event due) runs ms by ms. A
        block ends at the next call_at() time; the calls then run as _step_ms() runs them.
        Whether the physics came to rest is checked (an extra comparison of its state)
        at most once per call (and once after each call_at() call). The IMU model keeps
        only the latest truth, so it is updated only before the calls and at the end."""
        overtravel = self.switches.contact(SW_OVERTRAVEL)
        tried = False
        imu_stale = False  # the fast path moved the world since the IMU's last update
        while ms > 0:
            if self.ms_hooks or not self.fast_forward:
                self._step_ms()
                ms -= 1
                imu_stale = False
            else:
                n, tried, imu_stale = self._fast(ms, overtravel, tried)
                ms -= n
            if stop == _STOP_AT_RESET:
                if self._pending is not None or not self.powered:
                    break
            elif stop == _STOP_AT_POWER and self.powered:
                break
        if imu_stale:
            self._update_imu()

    def _fast(self, ms, overtravel, tried):
        """One block of _run's fast path (at most ms milliseconds), then the call_at()
        calls now due. Returns (ms stepped, tried, the IMU model behind the world)."""
        phys = self.physics
        phys.stepgen.block_head_down = overtravel.reading
        angle = phys.theta * physics.RAD_TO_MDEG
        k = self._quiet_ms(ms, angle)
        if k <= 0:
            settle = not tried and phys.might_rest()
            if settle:
                tried = True
            self._world_ms(settle)
            n = 1
        elif phys.at_rest():
            self.now_ms += k
            phys.coast(k)
            n = k
        else:
            n, crossed, tried = self._moving_block(k, angle, tried)
            self._moved(n, crossed)
        if self.now_ms < self._next_call:
            return n, tried, True
        self._update_imu()
        self._call_due()
        for hook in self.ms_hooks:  # the ones a call just registered
            hook(self)
        return n, False, False  # a call may have changed what rest depends on

    def _quiet_ms(self, ms, angle):
        """Of the next ms milliseconds, how many only the world moves in (0: the next one
        needs a full _step_ms: the switches are not settled for angle, or an event is due)."""
        if not self.switches.settled_for(angle):
            k = 0
        elif not self.powered:
            k = ms
            if self._restore_at is not None and k > self._restore_at - 1 - self.now_ms:
                k = self._restore_at - 1 - self.now_ms
        elif self._wdt_timeout is not None and self._pending is None:
            k = self._wdt_fed + self._wdt_timeout - 1 - self.now_ms
            if k > ms:
                k = ms
        else:
            k = ms
        if k > self._next_call - self.now_ms:
            k = self._next_call - self.now_ms  # (an int: _next_call is not _NEVER)
        return k

    def _moving_block(self, k, angle, tried):
        """Up to k ms of a moving table, ms by ms, until a limit switch's contact would
        change (crossed) or the table comes to rest. Returns (ms stepped, crossed, tried)."""
        phys = self.physics
        stepgen = phys.stepgen
        home_mdeg = self.switches.home_switch_mdeg
        over_mdeg = self.switches.overtravel_mdeg
        home = angle <= home_mdeg
        over = angle >= over_mdeg
        # the drive's command cannot change inside the block (no firmware runs)
        check = not tried and (not stepgen.enabled or stepgen.rate_sps == 0)
        j = 0
        while j < k:
            if check and phys.might_rest():
                j += 1
                check = False
                tried = True
                if phys.step_settled():
                    break  # nothing changed: the next round skips the rest
                a = phys.theta * physics.RAD_TO_MDEG
                if (a <= home_mdeg) != home or (a >= over_mdeg) != over:
                    return j, True, tried
            else:
                # step() ms by ms, until a crossing, the end, or (check) a still
                # table to try for rest above
                n, crossed = phys.advance(k - j, home_mdeg, over_mdeg, check)
                j += n
                if crossed:
                    return j, True, tried
        return j, False, tried

    def _moved(self, ms, crossed):
        """The clock after a moving block; a crossing gets its switch sample."""
        self.now_ms += ms
        if crossed:
            self._after_physics_ms()

    def _update_imu(self):
        """The IMU model's truth from the physics (true_angle_mdeg, true_rate_mdeg_s, the
        properties, inlined)."""
        phys = self.physics
        rad_to_mdeg = physics.RAD_TO_MDEG
        self.imu.update(self.now_ms, phys.theta * rad_to_mdeg, phys.omega * rad_to_mdeg,
                        phys.motor_turning)

    def _running(self):
        return self.powered and self._pending is None

    def _run_unpowered(self):
        start = self.now_ms
        while not self.powered:
            if self._restore_at is not None:
                ms = self._restore_at - self.now_ms
            elif not self.ms_hooks and not self._calls:
                raise RuntimeError("power cut with nothing to restore it (use power_cut(off_ms))")
            else:
                ms = start + MAX_UNPOWERED_MS - self.now_ms
                if ms <= 0:
                    raise RuntimeError("power still off after %d ms and no restore scheduled"
                                       % MAX_UNPOWERED_MS)
            self._run(max(1, ms), _STOP_AT_POWER)

    def _raise_pending(self):
        if self._pending is not None:
            cause = self._pending
            self._pending = None
            raise BoardReset(cause)

    def _reset(self, cause):
        """The chip resets now: outputs to their safe state; the firmware must restart."""
        self._pending = cause
        self._reset_cause = cause
        self.resets.append((self.now_ms, cause))
        self.physics.stepgen.reset()
        self._estop_edges = 0
        self._estop_armed = True
        if cause != SOFT_RESET:
            self._wdt_timeout = None  # a chip reset stops the watchdog; a soft reset does not
            self._boot_ms = self.now_ms  # ticks_ms restarts with the chip
        elif self._wdt_timeout is not None:
            self._wdt_fed = self.now_ms
        self.led = self.buzzer = 0
        self._rx.clear()
        self._imu_driver = None
        self._imu_ready = False

    # ---------------------------------------------------------------- the IMU driver

    @property
    def imu_driver(self):
        """The firmware driver read by read_inputs(); built by imu_driver_factory(bus)
        (and init()-ed) on first use after every reset. Assign one to use it as it is."""
        return self._imu_driver

    @imu_driver.setter
    def imu_driver(self, driver):
        self._imu_driver = driver
        self._imu_ready = driver is not None

    def _default_imu_driver(self, bus):
        return mpu6050.from_params(bus, self.params.raw["imu"])

    def _read_imu(self, inp):
        if self._imu_driver is None:
            self._imu_driver = self.imu_driver_factory(self.i2c)
            self._imu_ready = False
        if not self._imu_ready:
            try:
                init = getattr(self._imu_driver, "init", None)
                if init is not None:
                    init()
                self._imu_ready = True
            except OSError as e:
                inp.imu_error = mpu6050.errno_of(e)
                return
            except ValueError:
                inp.imu_error = _EIO
                return
        self._imu_driver.read_into(inp)
