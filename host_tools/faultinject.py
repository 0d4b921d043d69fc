"""The reliability campaign's vocabulary: user actions and injected faults, one harness.

Owns: the action vocabulary shared by the property tests (tests/host/test_reliability.py,
test_powercut_sweep.py, test_fuzz_scale.py) and the soak (host_tools/soak.py); the
`Harness` that applies actions to the real firmware on the simulated board with the
invariant checker (host_tools/invariants.py) attached; stored-file corruption; the
one-press recovery probe; random sequence generation and shrinking; and printing a
failing sequence as a ready-to-paste regular test.

An action is a plain tuple (kind, *args), so a sequence prints and pastes as code:

  user        ("wait", ms)  ("console", line)  ("tap", button, ms)  ("press", button)
              ("release", button)  ("chord", ms)
  faults      ("estop_press",)  ("estop_release",)  ("estop_blip", ms)  ("cut_wire",)
              ("repair_wire",)  ("imu", name, on)  ("spike", bits)  ("noise", rate, ms)
              ("overload", mass_kg, com_offset_mm)  ("hang", ms)  ("crash",)
              ("power_cut", in_ms, off_ms, corrupt)  ("hard_reset",)
              ("corrupt", file, how, seed)  ("stuck", button, ms)
  probes      ("recover",): the world healthy again, acknowledgements and presses bring
              the table to READY; ("reset_recover", in_ms): a clean power cut, then at
              most one acknowledgement and ONE press (the after-reset rule)

Buttons are "UP", "DOWN", "START". IMU fault names are imu_model.FAULTS. `corrupt` of
power_cut is a tuple of (file, how, seed) applied to board.fs_root while the power is off.
A setup is a dict (SETUP_DEFAULTS): seed, user mass/offset, start angle, the profile the
stored files hold (max, consent, level, hold cap, session cap).

"Watchdog reset" comes in two kinds: `hang` (the loop stalls for ms: the world goes on,
the step generator's dead-man window stops the motor, the watchdog resets the board) and
`crash` (a tick raises: the App makes the outputs safe and stops feeding the watchdog).
An `overload` is the person shifting on the table (arms overhead, sliding toward the
head): the physics' user mass and centre of mass change mid-run, through the physics'
own formulas (a twin TablePhysics built with the new user), as scenario.py does.
"""

import atexit
import os
import random
import shutil
import tempfile

from host_tools import imu_model, invariants, mechanics, params, paths, physics
from host_tools.runner import SimRunner
from host_tools.simboard import SimBoard

paths.use_firmware()

import states as S  # noqa: E402  (firmware/)
import store  # noqa: E402
from signals import SW_DOWN, SW_ESTOP, SW_HOME, SW_OVERTRAVEL, SW_START, SW_UP  # noqa: E402

P = params.load(paths.TABLE_PARAMS)

SETUP_DEFAULTS = {
    "seed": 0,
    "mass_kg": 80,
    "offset_mm": 20,
    "start_mdeg": None,  # None: at the loading position
    "max_deg": 30,  # the profile's max, as a therapist set it
    "consent": True,
    "level": 0,
    "hold_s": 20,  # profile hold cap: keeps sessions short in virtual time
    "cap_s": 180,
}

FILES = ("settings", "profiles", "history", "faults", "pin", "authstate")
# Firmware bugs this campaign found, each kept as an xfail(strict=True) test in
# tests/host/test_reliability.py. The random generators leave their triggers out, so a
# soak reports new violations only; put the trigger back once the lead fixed the bug.
KNOWN_BUGS = {}  # none open: each bug found is fixed and kept as a regular test
# Found and fixed, now regular tests in tests/host/test_reliability.py:
# steps faults during the emergency return, loop stalls during it, buttons held through a
# reset, the child lock on the way back, the profiles fallback, homing near the stop, a
# frozen IMU at boot, lost steps judged at rest, a console estop during the self-test,
# a missing profiles file on a table that has run before.
# Their KnownBug classifiers are gone.
RANDOM_FILES = FILES  # the damage the random runs draw from: every kind
CORRUPTIONS = ("flip", "truncate", "empty", "garbage", "delete", "tmp_garbage", "tmp_only",
               "bad_values", "wrong_version")
BUTTONS = ("UP", "DOWN", "START")
SPIKE_BITS = (SW_UP, SW_DOWN, SW_START, SW_ESTOP, SW_HOME, SW_OVERTRAVEL)
FAULT_KINDS = ("estop_press", "estop_blip", "cut_wire", "imu", "spike", "noise", "overload",
               "hang", "crash", "power_cut", "hard_reset", "corrupt", "stuck_button")
# A START press held this long is a long press (firmware config long_press_ms 1500).
LONG_PRESS_MS = 2000


class RecoveryFailed(invariants.Violation):
    pass


def write_profile(fs_root, setup, cfg):
    """Store the setup's profile the way the firmware stores it (profiles.py format)."""
    import profiles

    p = profiles.Profile("default")
    p.update({"max_mdeg": int(setup["max_deg"] * 1000), "consent": bool(setup["consent"]),
              "level": setup["level"], "hold_max_ms": int(setup["hold_s"] * 1000),
              "session_cap_ms": int(setup["cap_s"] * 1000)}, cfg)
    profiles.save_profiles(store.DirFS(fs_root), [p])


def lost_step_offset_mm(mass_kg, speed_mdeg_s, accel_mdeg_s2):
    """The centre-of-mass offset beyond which the motor loses steps (host_tools.mechanics)."""
    return mechanics.lost_step_offset_mm(P, mass_kg, speed_mdeg_s, accel_mdeg_s2)


# ------------------------------------------------------------------ stored files


def _bad_values(name):
    return {
        "settings": {"emergency_speed_mdeg_s": 1, "soft_max_mdeg": 90000},
        "profiles": {"profiles": [{"name": "default", "consent": True, "max_mdeg": 90000,
                                   "hold_max_ms": 3600000, "session_cap_ms": -5}]},
        "history": {"sessions": -1, "entries": "x"},
        "faults": {"boots": "many", "entries": [[1, 2]]},
        "pin": {"salt": "zz", "hash": 5},
        "authstate": {"failures": -3, "lockout_ms": "x", "child_lock": 2},
    }.get(name, {"x": 1})


def corrupt_file(fs_root, name, how, seed=0):
    """Damage stored file `name` in fs_root the way `how` says (CORRUPTIONS)."""
    rng = random.Random(seed)
    path = os.path.join(fs_root, name)
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    if how == "flip":
        if not data:
            data = store.encode({"x": 1})
        b = bytearray(data)
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
        out = bytes(b)
    elif how == "truncate":
        out = data[: rng.randrange(len(data))] if data else b"IT"
    elif how == "empty":
        out = b""
    elif how == "garbage":
        out = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    elif how == "delete":
        if os.path.exists(path):
            os.remove(path)
        return
    elif how == "tmp_garbage":
        with open(path + ".tmp", "wb") as f:
            f.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))))
        return
    elif how == "tmp_only":
        # a first save cut between close and rename: only a complete .tmp exists
        if data:
            if os.path.exists(path):
                os.remove(path)
            with open(path + ".tmp", "wb") as f:
                f.write(data)
        return
    elif how == "bad_values":
        out = store.encode(_bad_values(name))
    elif how == "wrong_version":
        out = (data[:4] + b"\x07\x00" + data[6:]) if len(data) >= 6 else b"ITC1\x07\x00"
    else:
        raise ValueError("unknown corruption %r" % (how,))
    with open(path, "wb") as f:
        f.write(out)


# ------------------------------------------------------------------ the harness


def _settled(runner):
    """READY, or a latch standing still (a fault found on the way: acknowledge, go on)."""
    core = runner.core
    return core.state == S.READY or (core.state in (S.FAULT, S.EMERGENCY_RETURN)
                                     and core.phase == 4 and core.plan.done())


class Harness:
    """The real firmware on the simulated board, the outside world's bookkeeping, and the
    invariant checker. `act(action)` applies one action; `Violation` escapes on failure."""

    def __init__(self, setup=None, check=True, files_from=None, damage=()):
        s = dict(SETUP_DEFAULTS)
        if setup:
            s.update(setup)
        self.setup = s
        self.fs_root = tempfile.mkdtemp(prefix="reliability-")
        from config import Config, load_hardware

        cfg = Config()
        load_hardware(cfg, paths.TABLE_PARAMS)
        self.cfg = cfg
        if files_from is not None:
            shutil.copytree(files_from, self.fs_root, dirs_exist_ok=True)
        else:
            write_profile(self.fs_root, s, cfg)
        self.injected = {}  # fault kind -> count
        for name, how, seed in damage:
            self._count("corrupt")
            corrupt_file(self.fs_root, name, how, seed)
        self.profile_max_mdeg = int(s["max_deg"] * 1000)
        board = SimBoard(rng=random.Random(s["seed"]), user_mass_kg=s["mass_kg"],
                         user_com_offset_mm=s["offset_mm"], angle_mdeg=s["start_mdeg"],
                         fs_root=self.fs_root)
        self.board = board
        self.hanging = False
        self.imu_active = {}  # name -> since ms (None once checked), only while on
        self.imu_on = set()
        self.imu_faulted_this_boot = False
        self.imu_bad_at_boot = False
        self.lost_at_boot = 0
        self._set_impossible(s["mass_kg"], s["offset_mm"])
        self.held = set()
        self.actions = []
        self._sched = []  # (t_ms, fn) run from the ms hook
        board.ms_hooks.append(self._on_ms)
        self.runner = SimRunner(board)
        self.checker = None
        if check:
            self.checker = invariants.Checker(self)
            self.checker.attach()

    def close(self):
        shutil.rmtree(self.fs_root, ignore_errors=True)

    def fork(self):
        """An independent copy of the whole world (firmware, board, checker, stored files):
        a sweep runs the common prefix once and branches from it."""
        import copy

        twin = copy.deepcopy(self)
        root = tempfile.mkdtemp(prefix="reliability-")
        shutil.copytree(self.fs_root, root, dirs_exist_ok=True)
        twin.fs_root = root
        twin.board.fs_root = root
        fs = twin.runner.app.fs
        fs.root = root + "/"
        return twin

    # ------------------------------------------------------------ world bookkeeping

    @property
    def app(self):
        return self.runner.app

    @property
    def core(self):
        return self.runner.app.core

    def on_reset(self):
        """Called by the checker at every reset."""
        self.imu_bad_at_boot = bool(self.imu_on - {"spikes"})  # no trustworthy reference
        if self.board.reset_cause() == 1 and "frozen" in self.imu_on:
            # the model's power-on reset un-sticks a frozen part (imu_model.power_on_reset)
            self.imu_on.discard("frozen")
            self.imu_active.pop("frozen", None)
            self.board.imu_fault("frozen", False)
        self.imu_faulted_this_boot = bool(self.imu_on)
        self.lost_at_boot = self.board.lost_steps
        for name in sorted(self.imu_on):  # a set: sorted, for runs a seed reproduces
            self.imu_active[name] = self.board.now_ms

    def _on_ms(self, board):
        if self._sched:
            now = board.now_ms
            due = [x for x in self._sched if x[0] <= now]
            if due:
                self._sched = [x for x in self._sched if x[0] > now]
                for _, fn in due:
                    fn()

    def at(self, delay_ms, fn):
        self._sched.append((self.board.now_ms + max(1, int(delay_ms)), fn))

    def _count(self, kind):
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def _note_user(self):
        if self.checker is not None:
            self.checker.note_user()

    def _button(self, name, pressed):
        if pressed:
            self.board.press(name)
            self.held.add(name)
        else:
            self.board.release(name)
            self.held.discard(name)
        if self.checker is not None:
            self.checker.note_button(name, pressed)

    def run_ms(self, ms):
        self.runner.run_ms(int(ms))

    def send(self, line):
        self._note_user()
        words = line.lower().split()
        if self.checker is not None and len(words) == 2 and words[0] == "goto":
            try:
                self.checker.note_goto(int(float(words[1]) * 1000))
            except ValueError:
                pass
        self.runner.send(line)

    # ------------------------------------------------------------ actions

    def act(self, action):
        self.actions.append(action)
        kind = action[0]
        if kind != "wait" and self.checker is not None:
            self.checker.note_event()
        getattr(self, "_a_" + kind)(*action[1:])

    def run(self, actions):
        for a in actions:
            self.act(a)

    def _a_wait(self, ms):
        self.run_ms(ms)

    def _a_console(self, line):
        self.send(line)
        self.run_ms(20)

    def _a_tap(self, button, ms):
        self._button(button, True)
        self.run_ms(ms)
        self._button(button, False)
        self.run_ms(50)

    def _a_press(self, button):
        self._button(button, True)
        self.run_ms(10)

    def _a_release(self, button):
        self._button(button, False)
        self.run_ms(10)

    def _a_chord(self, ms):
        self._button("UP", True)
        self._button("DOWN", True)
        self.run_ms(ms)
        self._button("DOWN", False)
        self._button("UP", False)
        self.run_ms(50)

    def _a_stuck(self, button, ms):
        """A button that stays pressed for ms (longer than any real use: stuck)."""
        self._count("stuck_button")
        self._button(button, True)
        self.run_ms(ms)
        self._button(button, False)
        self.run_ms(50)

    def _estop_open(self):
        sw = self.board.switches
        return sw.estop_pressed or sw.estop_wire_cut

    def _estop_opened(self, was_open):
        if not was_open and self.checker is not None:
            self.checker.note_estop_opened()

    def _a_estop_press(self):
        self._count("estop_press")
        was = self._estop_open()
        self.board.estop_press()
        self._estop_opened(was)
        self.run_ms(10)

    def _a_estop_release(self):
        self.board.estop_release()
        self.run_ms(10)

    def _a_estop_blip(self, ms):
        """The e-stop circuit opens for ms (a press shorter than a tick, or a loose wire)."""
        self._count("estop_blip")
        was = self._estop_open()
        self.board.estop_press()
        if ms >= invariants.ESTOP_BLIP_MIN_MS:
            self._estop_opened(was)
        self.at(ms, self.board.estop_release)
        self.run_ms(max(20, ms + 10))

    def _a_cut_wire(self):
        self._count("cut_wire")
        was = self._estop_open()
        self.board.estop_cut_wire()
        self._estop_opened(was)
        self.run_ms(10)

    def _a_repair_wire(self):
        self.board.estop_repair_wire()
        self.run_ms(10)

    def _a_imu(self, name, on):
        if name not in imu_model.FAULTS:
            raise ValueError("unknown IMU fault %r" % (name,))
        if on:
            self._count("imu_" + name)
            if name not in self.imu_on:
                self.imu_on.add(name)
                self.imu_active[name] = self.board.now_ms
            self.imu_faulted_this_boot = True
        else:
            self.imu_on.discard(name)
            self.imu_active.pop(name, None)
        if on and name != "spikes" and self.core.state == S.BOOT:
            self.imu_bad_at_boot = True  # no trustworthy step reference this boot
        self.board.imu_fault(name, on)
        self.run_ms(10)

    def _a_spike(self, bits):
        self._count("spike")
        self.board.switch_spike(bits)
        self.run_ms(10)

    def _a_noise(self, rate, ms):
        self._count("noise")
        self.board.switch_spike_rate = rate
        self.run_ms(ms)
        self.board.switch_spike_rate = 0.0
        self.run_ms(10)

    def _a_overload(self, mass_kg, offset_mm):
        self._count("overload")
        self.set_user(mass_kg, offset_mm)
        self.run_ms(10)

    def set_user(self, mass_kg, offset_mm):
        ph = self.board.physics
        twin = physics.TablePhysics(P, mass_kg, ph.user_height_mm, offset_mm, 0)
        ph.user_mass_kg = twin.user_mass_kg
        ph.user_com_offset_mm = twin.user_com_offset_mm
        ph.inertia_kgm2 = twin.inertia_kgm2
        ph.gravity_moment_Nm = twin.gravity_moment_Nm
        self._set_impossible(mass_kg, offset_mm)

    def _set_impossible(self, mass_kg, offset_mm):
        """Is the user past what the motor lifts even at jog speed? (mechanics.py)"""
        lim = lost_step_offset_mm(mass_kg, self.cfg.jog_speed_mdeg_s, self.cfg.jog_accel_mdeg_s2)
        self.overload_impossible = lim is not None and abs(offset_mm) >= lim
        if self.overload_impossible and getattr(self, "checker", None) is not None:
            self.checker.note_impossible()

    def _a_hang(self, ms):
        """The main loop stalls for ms: the world goes on without the firmware."""
        self._count("hang")
        self.hanging = True
        try:
            self.board.advance(ms)
        finally:
            self.hanging = False
        self.run_ms(10)

    def _a_crash(self):
        self._count("crash")

        def boom(*_args):
            raise RuntimeError("faultinject: injected firmware crash")

        self.core.tick = boom
        self.run_ms(10)

    def _a_power_cut(self, in_ms, off_ms, corrupt=()):
        """Cut the power in_ms from now (any millisecond, also mid-tick), restore it
        off_ms later; damage stored files while it is off."""
        self._count("power_cut")
        board = self.board

        def cut():
            board.power_cut(off_ms=max(1, int(off_ms)))
            for name, how, seed in corrupt:
                self._count("corrupt")
                corrupt_file(self.fs_root, name, how, seed)

        self.at(in_ms, cut)
        self.run_ms(in_ms + 10)

    def _a_hard_reset(self):
        self._count("hard_reset")
        self.board.hard_reset()
        self.run_ms(10)

    def _a_corrupt(self, name, how, seed=0):
        """Damage a stored file now; the running firmware reads it at the next boot."""
        self._count("corrupt")
        corrupt_file(self.fs_root, name, how, seed)

    # ------------------------------------------------------------ the recovery probe

    def clear_faults(self):
        """The outside world is healthy again: IMU, e-stop, wire, buttons, noise, user."""
        b = self.board
        for name in sorted(self.imu_on):  # sorted: the same order under any hash seed
            self._a_imu(name, False)
        b.estop_release()
        b.estop_repair_wire()
        for name in sorted(self.held):
            self._button(name, False)
        b.switch_spike_rate = 0.0
        s = self.setup
        ph = b.physics
        if (ph.user_mass_kg, ph.user_com_offset_mm) != (s["mass_kg"], s["offset_mm"]):
            self.set_user(s["mass_kg"], s["offset_mm"])

    def return_bound_ms(self, angle_mdeg):
        """I5: the longest a return from angle to READY may take after the one press."""
        c = self.cfg
        v, a = c.jog_speed_mdeg_s, c.jog_accel_mdeg_s2
        t = 0.0
        if angle_mdeg > c.rest_angle_mdeg:
            t += invariants.trapezoid_ms(angle_mdeg - c.rest_angle_mdeg, v, a)
            t += c.rest_pause_ms
        t += invariants.trapezoid_ms(min(angle_mdeg, c.rest_angle_mdeg) - c.loading_angle_mdeg,
                                     v, a)
        # homing: approach, brake, retract, slow approach over the retract, park
        t += 2 * invariants.trapezoid_ms(c.homing_retract_mdeg, v, a)
        t += 1000.0 * (c.homing_retract_mdeg + 1000) / c.homing_slow_mdeg_s
        return t + 10000.0  # margin: ticks, ramps, the switch's debounce samples

    def _fail_recovery(self, text):
        raise RecoveryFailed("I5", self.board.now_ms, text)

    def _wait_latched(self, limit_ms):
        """Wait while an emergency return or a fault return is still under way."""
        end = self.board.now_ms + limit_ms
        while self.board.now_ms < end:
            core = self.core
            if core.state not in (S.EMERGENCY_RETURN, S.FAULT):
                return
            if core.phase == 4:  # P_LATCHED
                return
            self.run_ms(100)

    def recover(self, clear=True, max_acks=3, max_presses=2):
        """The liveness probe: with the world healthy again, acknowledgements (START long
        press) and START presses bring the table to READY, each return within
        return_bound_ms. After a clean reset the one-press rule is max_acks=0 (1 if the
        boot reported a fault), max_presses=1; after a random history a fault detected on
        the way back (steps lost while the IMU was down) may take one more of each.
        Raises RecoveryFailed otherwise."""
        if clear:
            self.clear_faults()
        self.run_ms(600)
        acks = 0
        presses = 0
        end = self.board.now_ms + 600000
        while self.board.now_ms < end:
            if self.app.crashed:  # a dead loop: the watchdog resets the board first
                dead = self.app
                self.runner.run_until(lambda r, dead=dead: r.app is not dead,
                                      2 * self.cfg.wdt_timeout_ms)
                self.run_ms(600)
            core = self.core
            st = core.state
            if st == S.READY:
                return
            if st == S.BOOT:
                self.run_ms(100)
            elif st in (S.EMERGENCY_RETURN, S.FAULT):
                self._wait_latched(120000)
                if self.core.state not in (S.EMERGENCY_RETURN, S.FAULT):
                    continue
                if acks >= max_acks:
                    self._fail_recovery("still %s (fault %s) after %d acknowledgements" % (
                        S.STATE_NAMES[self.core.state], self.core.fault, acks))
                acks += 1
                self._a_tap("START", LONG_PRESS_MS)
                self.run_ms(200)
            elif st == S.HOMING:
                self.runner.run_until(lambda r: r.core.state != S.HOMING, 60000)
            elif st in (S.MOVING, S.JOGGING):  # let a move end first: START means return
                self.runner.run_until(lambda r: r.core.state not in (S.MOVING, S.JOGGING),
                                      60000)
                if self.core.state in (S.MOVING, S.JOGGING):
                    self._fail_recovery("still %s after 60 s" % S.STATE_NAMES[self.core.state])
            elif st == S.RETURNING:
                t = self.return_bound_ms(self.board.true_angle_mdeg)
                if not self.runner.run_until(lambda r: r.core.state != S.RETURNING, int(t)):
                    self._fail_recovery("still RETURNING %d ms later, at %.0f mdeg" % (
                        t, self.board.true_angle_mdeg))
            else:  # RECOVERY, HOLDING: the one deliberate press
                if presses >= max_presses:
                    self._fail_recovery("press %d needed: %s after the last" % (
                        presses + 1, S.STATE_NAMES[st]))
                presses += 1
                t = self.return_bound_ms(self.board.true_angle_mdeg)
                self._a_tap("START", 150)
                if not self.runner.run_until(_settled, int(t)):
                    self._fail_recovery("not READY %d ms after the press: %s at %.0f mdeg" % (
                        t, S.STATE_NAMES[self.core.state], self.board.true_angle_mdeg))
                if self.core.state == S.FAULT and self.core.fault == 22:  # faults.HOMING
                    self._fail_recovery("the press ended in a HOMING fault")
                if self.core.state != S.READY and max_presses == 1:
                    self._fail_recovery("the press did not bring the table to READY: %s "
                                        "(fault %d)" % (S.STATE_NAMES[self.core.state],
                                                        self.core.fault))
        self._fail_recovery("no way back to READY: %s" % S.STATE_NAMES[self.core.state])

    def _a_recover(self):
        self.recover()

    def _a_reset_recover(self, in_ms):
        """The one-press rule after a reset: the world healthy, the power cut in_ms from
        now for 300 ms; at boot nothing moves, then (one acknowledgement if the boot
        reported damaged files, and) ONE START press bring the table to READY."""
        self._count("power_cut")
        self.clear_faults()
        self.at(in_ms, lambda: self.board.power_cut(off_ms=300))
        self.run_ms(in_ms + 10)
        self.recover(clear=False, max_acks=1, max_presses=1)


def run_sequence(setup, actions, recover=True):
    """Run actions from setup with every invariant checked, then the recovery probe.
    Returns the harness (closed); raises invariants.Violation on the first failure."""
    h = Harness(setup)
    try:
        h.run_ms(500)
        h.run(actions)
        if recover:
            h.recover()
        return h
    finally:
        h.close()


# ------------------------------------------------------------------ random sequences


def random_setup(rng):
    mass = rng.choice((50, 80, 80, 120, 150))
    s = {
        "seed": rng.randrange(1 << 30),
        "mass_kg": mass,
        "offset_mm": rng.choice((20, 20, 20, -30, 60, 100)),
        "start_mdeg": rng.choice((None, None, None, -30000, 0, 15000, 25000, 40000)),
        "max_deg": rng.choice((20, 30, 30, 45, 60)),
        "consent": rng.random() < 0.8,
        "hold_s": rng.choice((10, 20, 30)),
        "cap_s": rng.choice((30, 60, 180)),
    }
    s["level"] = rng.choice([i for i, a in enumerate((15, 20, 25, 30, 35, 40, 50, 60))
                             if a <= s["max_deg"]])
    return s


CONSOLE_LINES = ("goto %d", "start", "stop", "return", "ack", "estop", "consent",
                 "consent yes", "discomfort", "home", "hold %d", "status", "program beginner",
                 "program progression", "program interval", "start %d 10", "program custom",
                 "log 5", "faults", "selftest")


def random_console_line(rng):
    t = rng.choice(CONSOLE_LINES)
    if "%d" in t:
        return t % rng.choice((-70, -10, 0, 5, 15, 25, 30, 45, 60, 75))
    return t


def random_action(rng):
    """One random action, user actions and faults mixed (weights: users act more often)."""
    r = rng.random()
    if r < 0.22:
        return ("wait", rng.choice((100, 500, 1000, 3000, 8000, 20000)))
    if r < 0.47:
        return ("console", random_console_line(rng))
    if r < 0.57:
        b = rng.choice(BUTTONS)
        return ("tap", b, rng.choice((60, 150, 400, 1200, LONG_PRESS_MS, 4000)))
    if r < 0.59:
        return ("chord", rng.choice((500, 3500)))
    if r < 0.61:
        return ("press", rng.choice(BUTTONS))
    if r < 0.63:
        return ("release", rng.choice(BUTTONS))
    if r < 0.65:
        return ("reset_recover", rng.randrange(1, 11))
    # faults
    f = rng.choice(FAULT_KINDS)
    if f == "estop_press":
        return rng.choice((("estop_press",), ("estop_release",)))
    if f == "estop_blip":
        return ("estop_blip", rng.choice((2, 4, 15)))
    if f == "cut_wire":
        return rng.choice((("cut_wire",), ("repair_wire",)))
    if f == "imu":
        return ("imu", rng.choice(imu_model.FAULTS), rng.random() < 0.6)
    if f == "spike":
        return ("spike", rng.choice(SPIKE_BITS))
    if f == "noise":
        return ("noise", rng.choice((0.001, 0.01, 0.05)), rng.choice((200, 1000)))
    if f == "overload":
        return ("overload", rng.choice((120, 150)), rng.choice((60, 140, 140, 200)))
    if f == "hang":
        return ("hang", rng.choice((50, 300, 1500)))
    if f == "crash":
        return ("crash",)
    if f == "power_cut":
        corrupt = ()
        if rng.random() < 0.4:
            corrupt = ((rng.choice(RANDOM_FILES), rng.choice(CORRUPTIONS), rng.randrange(1000)),)
        return ("power_cut", rng.randrange(1, 30), rng.choice((5, 200, 3000)), corrupt)
    if f == "hard_reset":
        return ("hard_reset",)
    if f == "corrupt":
        return ("corrupt", rng.choice(RANDOM_FILES), rng.choice(CORRUPTIONS), rng.randrange(1000))
    return ("stuck", rng.choice(BUTTONS), rng.choice((5000, 125000)))


def random_sequence(rng, n):
    return [random_action(rng) for _ in range(n)]


# ------------------------------------------------------------------ shrinking, printing


def fails(setup, actions):
    """The Violation a sequence raises (None if it passes)."""
    try:
        run_sequence(setup, actions)
    except invariants.Violation as e:
        return e
    return None


def _same_failure(a, b):
    return (b is not None and a.inv == b.inv
            and isinstance(a, invariants.KnownBug) == isinstance(b, invariants.KnownBug))


def shrink(setup, actions, first, budget=200):
    """Delta-debug a failing sequence to a short one failing the same invariant."""
    cur = list(actions)
    tries = 0
    chunk = max(1, len(cur) // 2)
    while chunk >= 1 and tries < budget:
        i = 0
        progressed = False
        while i < len(cur) and tries < budget:
            cand = cur[:i] + cur[i + chunk:]
            tries += 1
            if cand and _same_failure(first, fails(setup, cand)):
                cur = cand
                progressed = True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    # shorten waits
    for i, a in enumerate(cur):
        if a[0] == "wait" and a[1] > 100 and tries < budget:
            cand = cur[:i] + [("wait", 100)] + cur[i + 1:]
            tries += 1
            if _same_failure(first, fails(setup, cand)):
                cur = cand
    return cur


def as_test(name, setup, actions, violation):
    """A failing sequence as a regular pytest function (paste into a test file)."""
    lines = ["def test_%s():" % name,
             '    """Found by the soak: %s"""' % str(violation).replace('"', "'"),
             "    setup = %r" % (setup,),
             "    actions = ["]
    for a in actions:
        lines.append("        %r," % (a,))
    lines.append("    ]")
    lines.append("    run_sequence(setup, actions)  # from host_tools.faultinject")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ console fuzzing

_FUZZ_WORDS = ("help", "status", "goto", "hold", "program", "start", "stop", "return", "estop",
               "ack", "discomfort", "consent", "home", "calibrate", "faults", "log", "history",
               "config", "profile", "selftest", "stream", "json", "version", "login", "logout",
               "pin", "lock", "unlock", "reboot")
_FUZZ_ARGS = ("get", "set", "on", "off", "yes", "no", "beginner", "custom", "interval",
              "progression", "max_deg", "hold_s", "cap_s", "advance_after", "rest_pause_ms",
              "tick_ms", "soft_max_mdeg", "emergency_speed_mdeg_s", "1234", "0000", "#1", "-",
              "1e5", "0x10", "1_000", "nan", "-0", "99999999999", "1.", ".5", "1.2345", "5",
              "30", "-60", "45.5", "\t", "")


def random_fuzz_line(rng):
    """One console input: a command-shaped line, printable noise, or raw bytes (no Ctrl-C:
    that is the REPL's, tested in tests/host/test_console_fuzz.py)."""
    r = rng.random()
    if r < 0.5:
        words = [rng.choice(_FUZZ_WORDS)]
        for _ in range(rng.randrange(4)):
            if rng.random() < 0.7:
                words.append(rng.choice(_FUZZ_ARGS))
            else:
                words.append(str(rng.randint(-10 ** rng.randrange(1, 12), 10 ** 11)))
        if rng.random() < 0.1:
            words.insert(0, "#%d" % rng.randrange(10 ** 10))
        if rng.random() < 0.1:
            words = [w.upper() for w in words]
        data = " ".join(words).encode()
    elif r < 0.75:
        data = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 140)))
    else:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        data = data.replace(b"\x03", b"")
    end = rng.choice((b"\n", b"\r\n", b"\r", b"\n", b"\n"))
    # one input, one line: the reply can then be matched to it
    data = data.replace(b"\x03", b"").replace(b"\r", b"").replace(b"\n", b"")
    return data + end


def _snapshot(h):
    app = h.app
    core = app.core
    return {
        "cfg": app.cfg.as_dict(),
        "profile": core.profile.to_dict(),
        "program": core.program_id,
        "child_lock": core.child_lock,
        "fault": core.fault,
        "state": core.state,
        "target": core.target_mdeg,
        "session": core.session_active,
    }


_STATIC = (S.READY, S.RECOVERY)


def _changed(before, after, static, pin_word):
    diff = [k for k in before if before[k] != after[k]]
    if not static:
        diff = [k for k in diff if k not in ("state", "target", "session", "fault")]
    if pin_word:
        diff = [k for k in diff if k != "child_lock"]
    return diff


def fuzz_console(seed, lines=1000, json_mode=True):
    """Random console input against the running firmware on the simulator, with the
    invariants checked. After every input: the loop has not crashed (app.crashed False,
    no internal-error alert), every output line is well-formed, and an input answered
    only with errors changed nothing (configuration, profile, program, child lock; and
    state, target, fault, session when the table was standing in READY or RECOVERY).
    Returns {"lines", "errors", "virtual_ms"}; raises Violation ("F1") on a failure."""
    import json

    rng = random.Random(seed)
    h = Harness({"seed": seed, "max_deg": 45, "consent": True,
                 "start_mdeg": rng.choice((None, None, 20000))})
    n_err = 0
    try:
        h.run_ms(500)
        if json_mode:
            h.send("json on")
            h.run_ms(100)
        h.runner.receive()
        pending = ""
        for k in range(lines):
            data = random_fuzz_line(rng)
            static = h.core.state in _STATIC
            before = _snapshot(h)
            apps = h.runner.boots
            h._note_user()
            h.board.host_send(data)
            # the console reads 64 bytes a tick and runs one line a tick: wait until it
            # has been idle for as many ticks as the input needs to be read
            need = len(data) // 64 + 3
            idle = 0
            for _ in range(600):
                h.run_ms(10)
                if h.runner.boots != apps:
                    break
                idle = 0 if h.app.console.busy() else idle + 1
                if idle >= need:
                    break
            out = pending + h.runner.receive()
            cut = out.rfind("\n") + 1
            out, pending = out[:cut], out[cut:]  # a line still being written waits
            if h.app.crashed or "internal error" in out:
                raise invariants.Violation("F1", h.board.now_ms, "console input %r: loop "
                                           "crashed or internal error: %r" % (data, out[-300:]))
            if h.runner.boots != apps:
                pending = ""
                continue  # `reboot` in READY: a fresh firmware (banner in human text)
            replies = []
            for line in out.splitlines():
                if not line:
                    continue
                if json_mode and line.startswith("{"):
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        raise invariants.Violation("F1", h.board.now_ms, "input %r: reply "
                                                   "is not JSON: %r" % (data, line)) from None
                    if "ok" in obj:
                        replies.append(obj["ok"])
                elif not json_mode:
                    replies.append(not line.startswith("error"))
            if replies and not any(replies):
                n_err += 1
                low = data.lower()
                pin_word = any(w in low for w in (b"login", b"unlock", b"pin", b"lock"))
                diff = _changed(before, _snapshot(h), static, pin_word)
                if diff:
                    after = _snapshot(h)
                    raise invariants.Violation("F1", h.board.now_ms, "input %r was refused "
                                               "(%r) but changed %s" % (data, out[-200:], [
                                                   (k, before[k], after[k]) for k in diff]))
            if h.core.state not in _STATIC and rng.random() < 0.05:
                h.send("estop")  # now and then back to a standing state
                h.run_ms(100)
            if json_mode and not h.app.console.json:
                h.send("json on")
                h.run_ms(50)
                h.runner.receive()
        return {"lines": lines, "errors": n_err, "virtual_ms": h.board.now_ms}
    finally:
        h.close()


# ------------------------------------------------------------------ storage fuzzing


def populated_files(seed=0):
    """A filesystem with every stored file kind: a completed session (history, profiles
    with progress), a fault history, settings and a PIN with its access state."""
    h = Harness({"seed": seed, "consent": True, "hold_s": 10})
    try:
        h.run_ms(500)
        for line in ("pin set 1234", "login 1234", "config set rest_pause_ms 5000",
                     "logout", "start"):
            h.send(line)
            h.run_ms(300)
        if not h.runner.run_until(lambda r: r.core.state == S.READY and r.core.homed, 120000):
            raise RuntimeError("populated_files: the session did not end")
        h.run_ms(500)
        root = tempfile.mkdtemp(prefix="reliability-files-")
        shutil.rmtree(root)
        shutil.copytree(h.fs_root, root)
        return root
    finally:
        h.close()


def boot_with_damage(template, name, how, seed, start_mdeg=None):
    """A harness booted on a copy of template with file `name` damaged (`how`)."""
    h = Harness({"seed": seed, "start_mdeg": start_mdeg, "max_deg": 30}, files_from=template,
                damage=((name, how, seed),))
    return h


_TEMPLATES = {}
atexit.register(lambda: [shutil.rmtree(r, ignore_errors=True) for r in _TEMPLATES.values()])


def _template(seed=0):
    if seed not in _TEMPLATES:
        _TEMPLATES[seed] = populated_files(seed)
    return _TEMPLATES[seed]


def check_damaged_boot(template, name, how, seed, start_mdeg=None):
    """Boot on damaged files with the invariants checked; then the fallbacks must be the
    safe ones and the recovery probe must bring the table to READY. Raises Violation."""
    h = boot_with_damage(template, name, how, seed, start_mdeg)
    try:
        h.run_ms(700)
        app = h.app
        t = h.board.now_ms
        if app.crashed:
            raise invariants.Violation("F2", t, "%s/%s: the firmware crashed at boot" % (name, how))
        bad = os.path.exists(os.path.join(h.fs_root, name + ".bad"))
        damaged = how in ("flip", "truncate", "empty", "garbage", "bad_values", "wrong_version")
        if damaged and not app.startup_errors:
            raise invariants.Violation("F2", t, "%s/%s: damage not reported" % (name, how))
        if damaged and how != "bad_values" and not bad:
            raise invariants.Violation("F2", t, "%s/%s: no .bad copy kept" % (name, how))
        p = app.core.profile
        if damaged and name == "profiles" and (p.consent or p.max_mdeg > 30000):
            raise invariants.Violation("F2", t, "%s/%s: profile fallback not the beginner "
                                       "default (consent %s, max %d)" % (name, how, p.consent,
                                                                         p.max_mdeg))
        if damaged and name == "settings" and app.cfg.rest_pause_ms != 10000:
            raise invariants.Violation("F2", t, "%s/%s: settings not back to defaults" % (
                name, how))
        if how == "tmp_only" and name == "settings" and app.cfg.rest_pause_ms != 5000:
            raise invariants.Violation("F2", t, "settings/tmp_only: the complete .tmp was not "
                                       "promoted")
        h.recover(max_acks=1, max_presses=1)  # the damage's boot fault, then one press
        return h
    finally:
        h.close()


def fuzz_storage(seed, boots=20):
    """Boots on randomly damaged stored files (every kind), each checked by
    check_damaged_boot. Returns {"boots", "virtual_ms"}."""
    rng = random.Random(seed)
    template = _template(0)
    vms = 0
    for _ in range(boots):
        h = check_damaged_boot(template, rng.choice(RANDOM_FILES), rng.choice(CORRUPTIONS),
                               rng.randrange(1 << 20),
                               rng.choice((None, None, 0, 20000, 30000)))
        vms += h.board.now_ms
    return {"boots": boots, "virtual_ms": vms}
