"""The application: configuration, storage, the core, the console and a board, in one loop.

Owns start-up (loading the hardware parameters, stored settings, profiles and the
selected one, history, the wall clock (firmware/wallclock.py) and the PIN state, each
falling back to safe defaults with a reported fault: firmware/appboot.py, a module
of its own that is dropped once the loop runs), the fixed-rate main loop,
overrun counting (Inputs.overrun, filled here before each tick), and the watchdog
policy. The core's events become stored records in
firmware/persistence.py.

The loop runs unchanged on the ESP32 board (firmware/board_esp32.py) and on the
simulated board (host_tools/simboard.py), which provides a virtual clock: `wait_until`
sleeps on the board and advances the physical model in the simulator.

Watchdog policy: armed at start, fed only after a tick completed and its checks
passed. If the tick raises (a firmware bug) - or the board's read_inputs/apply_outputs,
or persistence - the outputs go to their safe values
(signals.safe_outputs: no pulses, driver de-energised) and feeding stops, so the
board resets and boots into RECOVERY, from which one deliberate press brings the user
back.

Records (firmware/persistence.py) are written only in a pass that commanded no pulse
(standing_still): a flash write stalls the CPU for tens of ms with the cache off,
interrupts masked and the soft dead-man unable to run, while LEDC keeps pulsing; and
the PCNT overflow interrupt, not in IRAM, would crash the chip during it. Every other
flash write (the console's: settings, profiles, the PIN and lock state, the NVS marks)
passes the same rule through firmware/flashgate.py, set here each pass. A record
made during a move (a fault on the way back, a session's end) waits in the core's event
log (96 events) until the table stands still, at most the length of one return. If
the power fails first, that record is lost: the files keep the previous records
(store.py's write-then-rename), and the next boot starts from them (RECOVERY).
"""

import gc
import sys

import faults
import profiles
import store
from config import Config
from console import Console
from control import Core
from eventlog import EventLog
from events import E_FAULT
from flashgate import FlashGate
from micropython import const
from persistence import Persistence
from signals import Inputs, Outputs, safe_outputs
from states import C_CHILD_LOCK
from ticks import ticks_add, ticks_diff
from wallclock import WallClock

VERSION = "0.1.0"
_LOG_SIZE = const(96)  # events kept in RAM for the console's `log`
# Garbage is collected only where the table cannot be moving: after _GC_STILL passes in
# a row whose tick commanded no pulse (rate 0 and the dead-man window closed at the count,
# so the step generator can emit none: READY, HOLDING with the driver holding, a latch
# with it off, the pause at horizontal), then every _GC_EVERY passes while it stays so.
# _GC_STILL (100 ms) keeps the one still tick of a reversal out. A collection costs the
# chip 3-6 ms (README "The 32-bit MicroPython"): about 1% of the idle time, and a move
# starts with the heap as empty as it gets.
_GC_STILL = const(10)
_GC_EVERY = const(50)
# MicroPython's gc has threshold() (py/modgc.c); CPython's has not, and its memory is not
# the chip's: the simulator on CPython does not collect here.
_MPY_GC = hasattr(gc, "threshold")


# What the console says when the return gave up (reactions.py, lift.py): the figures are
# hardware/mechanics_figures.md "Manual crank".
CRANK_TEXT = ("the drive cannot lift the table even at its slowest speed: it stands still,"
              " held by the self-locking worm (driver off, alarm on). Bring the person up by"
              " hand: fit the crank K1 on the motor's rear shaft and turn it head-up,"
              " about 1.7 turns per degree (100 turns from the deep angle to horizontal)")
# What the console says when a fault's return latched with nothing to confirm the table
# reached horizontal (reactions.latch_unknown, reactions._end_at_rest).
# The return may have gone to the loading position (reactions.fault_goal): the crank is
# for a person still head-down only.
UNCONFIRMED_TEXT = ("the table stands latched (alarm on) where nothing confirms its angle:"
                    " the IMU is lost and the return ran on its step count alone (to"
                    " horizontal, or on to the loading position if it was on its way"
                    " there), or no angle source is left, or the return stopped after its"
                    " tries. Check the table's angle now; if the person's head is below"
                    " their feet, bring them up by hand: fit the crank K1 on the motor's"
                    " rear shaft and turn it head-up, about 1.7 turns per degree")
# What the console says when the lift check refused the load (liftcheck.py).
LIFT_REFUSED_TEXT = ("refused: the drive could not lift this load at its slowest speed (a"
                     " 1 deg lift near horizontal did not raise the table); the table"
                     " returns toward the loading position, or stands at horizontal with"
                     " the alarm if it cannot lift the load there either. Check the height"
                     " bar and the user's position on the bed (centre of mass toward the"
                     " head), then start again")

def standing_still(out):
    """The tick commanded no pulse and closed the dead-man window at the count: the step
    generator can emit none, the table cannot move before the next tick."""
    return out.rate_sps == 0 and out.limit_lo == out.limit_hi


class App:
    def __init__(self, board, service=False):
        self.board = board
        self.service = service  # the service mode's loop (bringup.py): bring-up commands
        self.version = VERSION
        self.gate = FlashGate()  # every flash write passes it (the header, "Records")
        self.fs = store.DirFS(board.fs_root, self.gate)
        self.cfg = cfg = Config()
        self.config_fault = faults.NONE
        self.startup_errors = []  # human-readable, shown by the console at connect/status
        # the loading, the checks and their startup errors, in a module dropped after
        # them: a stock ESP32 image holds every loaded module's code in the heap
        loaded = "appboot" in sys.modules
        import appboot

        (self.build, self.profiles, self.history, self.faultlog, self.auth,
         base_settings) = appboot.load(self, board)
        if not loaded:
            del sys.modules["appboot"]
        self.log = EventLog(_LOG_SIZE)
        # the profile selected when the table was last used: the buttons act on it
        sel = profiles.selected_index(self.fs, self.profiles)
        self.core = Core(cfg, self.profiles[sel], self.log, self.config_fault)
        self.core.profiles = self.profiles  # what C_PROFILE selects from
        # no RTC (the simulators): the time is kept in RAM from the board's ticks
        self.clock = WallClock(getattr(board, "rtc", None), board.ticks_ms())
        if self.auth.child_locked:
            self.core.command(C_CHILD_LOCK, 1)
        self.inputs = Inputs()
        self.outputs = Outputs()
        self.console = Console(self)
        self.persistence = Persistence(self.fs, cfg, base_settings, self.profiles,
                                       self.history, self.faultlog, self.core, self.clock)
        self.crashed = False
        self._crank_told = False  # the crank instructions are on the console
        self._unconfirmed_told = False  # the unconfirmed-end message is on the console
        self._lift_refusals = 0  # the lift check's refusals told on the console
        self.started = False
        self.next_ms = 0
        self.overruns_total = 0
        self.ticks = 0
        self.gc_collections = 0  # the loop's own collections (a figure for the bench)
        self._gc_idle = 0  # passes standing still (bounded: _collect_if_idle)

    @property
    def profile(self):
        return self.core.profile

    # ------------------------------------------------------------------ loop

    def start(self):
        """Boot the core (reset cause, self-test window) and arm the watchdog."""
        board = self.board
        self.core.boot(board.ticks_ms(), board.reset_cause())
        board.wdt_arm(self.cfg.wdt_timeout_ms)
        if _MPY_GC:
            # No collection by allocated amount: py/gc.c gc_alloc() collects when
            # gc_alloc_amount reaches gc_alloc_threshold (off by default, (size_t)-1 in
            # gc_init; -1 sets it off, py/modgc.c gc_threshold), and otherwise only when
            # no free block is left. The tick allocates nothing, so neither can land in
            # core.tick(); the headroom left by _collect_if_idle() keeps a move's console
            # and telemetry garbage from filling the heap before the next idle pass.
            gc.threshold(-1)  # pyright: ignore[reportAttributeAccessIssue]
        self.next_ms = board.ticks_ms()
        self.started = True

    def run(self, max_ticks=-1):
        """The main loop: it never ends on its own (no REPL in normal operation: issue
        #21). max_ticks >= 0 stops after that many passes (tests, benchmarks)."""
        if not self.started:
            self.start()
        n = 0
        while n != max_ticks:
            n += 1
            self.step()

    def step(self):
        """One pass of the fixed-rate loop. Returns True (it never asks to leave)."""
        board = self.board
        tick_ms = self.cfg.tick_ms
        inp = self.inputs
        out = self.outputs
        now = board.ticks_ms()
        try:
            board.read_inputs(inp)
        except Exception as e:  # a board bug: as a tick exception
            if not self.crashed:
                self._crash(e)
        if not self.crashed:
            try:
                self.core.tick(now, inp, out)
            except Exception as e:  # a firmware bug: fail safe, let the watchdog reset
                self._crash(e)
        self._apply(out)
        if self.core.lift.gave_up != self._crank_told:
            self._crank_told = self.core.lift.gave_up
            if self._crank_told:
                self.console.out.alert(CRANK_TEXT)
        if self.core.lift.unconfirmed != self._unconfirmed_told:
            self._unconfirmed_told = self.core.lift.unconfirmed
            if self._unconfirmed_told:
                self.console.out.alert(UNCONFIRMED_TEXT)
        if self.core.liftcheck.refusals != self._lift_refusals:
            self._lift_refusals = self.core.liftcheck.refusals
            self.console.out.alert(LIFT_REFUSED_TEXT)
        self.gate.still = still = standing_still(out)
        try:
            self.console.service(now)
        except KeyboardInterrupt:
            # Ctrl-C from the USB console, at any angle and in any state: never a way
            # out of the loop to the REPL. The service mode (firmware/powerup.py) is
            # the only way to the REPL, file access and deploy.
            self.console.refuse_interrupt()
        except Exception as e:  # the console must never stop the control loop
            self.console.internal_error(e)
        if still:
            self._store()
        self._collect_if_idle(out)
        if out.feed_ok and not self.crashed:
            board.wdt_feed()
        self.ticks += 1
        # fixed rate: the next tick is one period after the last one was due
        next_ms = ticks_add(self.next_ms, tick_ms)
        late = ticks_diff(board.ticks_ms(), next_ms)
        if late > 0:
            inp.overrun = 1  # this pass ran past the next tick's start
            self.overruns_total += 1
            if late > tick_ms:
                next_ms = board.ticks_ms()  # don't try to catch up a burst of ticks
        else:
            inp.overrun = 0
        self.next_ms = next_ms
        board.wait_until(next_ms)
        return True

    def _store(self):
        """New core events to store, then the writes that waited (the console's while the
        table moved): only in a pass where the drive cannot pulse (the header, "Records")."""
        try:
            self.persistence.service()
            self.gate.flush()
        except Exception as e:
            if not self.crashed:
                self._crash(e)

    def _collect_if_idle(self, out):
        """gc.collect() where the table cannot be moving (the header's _GC_STILL); inside
        the pass, so its time counts toward an overrun like any other work."""
        if not standing_still(out):
            self._gc_idle = 0
            return
        n = self._gc_idle + 1
        if n < _GC_STILL + _GC_EVERY:
            self._gc_idle = n  # bounded: a count that grew for months would allocate
            if n != _GC_STILL:
                return
        else:
            self._gc_idle = _GC_STILL
        if _MPY_GC:
            gc.collect()
            self.gc_collections += 1

    def _apply(self, out):
        """board.apply_outputs(); if it raises, the safe outputs once more (the watchdog,
        no longer fed, resets the board if even that fails)."""
        try:
            self.board.apply_outputs(out)
        except Exception as e:
            if not self.crashed:
                self._crash(e)
            try:
                self.board.apply_outputs(out)
            except Exception:  # noqa: S110  (nothing left to try: the watchdog resets)
                pass

    def _crash(self, e):
        self.crashed = True
        out = self.outputs
        safe_outputs(out, self.inputs.step_count)  # enable off too: the worm holds
        out.feed_ok = False
        self.log.add(self.core.now_ms, E_FAULT, faults.INTERNAL, self.core.state)
        self.console.internal_error(e)

    def save_profiles_and_settings(self):
        """Persist profiles and the settings that differ from the hardware defaults
        (the console's saves; firmware/persistence.py)."""
        return self.persistence.save_profiles_and_settings()

    def set_setting(self, name, value):
        """Change one setting for the console: validated, every profile still valid,
        stored, then taken by the core (only in READY: the console checks). Returns
        (old value, store status); raises ConfigError, or ProfileError naming the
        profile it would make invalid, and then nothing changed."""
        cfg = self.cfg
        old = cfg.get(name)
        cfg.set(name, value)
        for p in self.profiles:
            try:
                p.check(cfg)
            except profiles.ProfileError as e:
                cfg.set(name, old)
                raise profiles.ProfileError("profile '%s' would be invalid: %s" % (p.name, e))
        status = self.save_profiles_and_settings()
        self.core.apply_config()
        return old, status

    def set_profile_field(self, field, value):
        """Change one field of the active profile for the console (Profile.set rules) and
        store it. Returns (old value, store status); ProfileError leaves it unchanged."""
        p = self.core.profile
        old = p.to_dict()[field]
        p.set(field, value, self.cfg)
        return old, self.save_profiles_and_settings()

