"""The Harness: the real firmware on the simulated board, driven by plain action tuples.

Owns the action vocabulary (host_tools/faultinject.py lists it) as the Harness's _a_<kind>
methods, the outside world's bookkeeping the invariant checker (host_tools/invariants.py)
reads (IMU faults on, buttons held, the user's load), and run_sequence(). The recovery
probe it inherits is host_tools/faultinject_recovery.py.
"""

import random
import shutil
import tempfile

from host_tools import imu_model, invariants, mechanics, params, paths, physics
from host_tools.faultinject_files import corrupt_file
from host_tools.faultinject_recovery import RecoveryProbe
from host_tools.runner import SimRunner
from host_tools.simboard import SimBoard, commission

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

BUTTONS = ("UP", "DOWN", "START")
SPIKE_BITS = (SW_UP, SW_DOWN, SW_START, SW_ESTOP, SW_HOME, SW_OVERTRAVEL)


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



def _hardware_config():
    """The firmware's Config with the table's hardware values."""
    from config import Config, load_hardware

    cfg = Config()
    load_hardware(cfg, paths.TABLE_PARAMS)
    cfg.update({"imu_calibrated": 1})  # the simulated table is commissioned (simboard.py)
    return cfg


# ------------------------------------------------------------------ the harness


class Harness(RecoveryProbe):
    """The real firmware on the simulated board, the outside world's bookkeeping, and the
    invariant checker. `act(action)` applies one action; `Violation` escapes on failure."""

    def __init__(self, setup=None, check=True, files_from=None, damage=(), commissioned=True,
                 pin_setup=False):
        s = dict(SETUP_DEFAULTS)
        if setup:
            s.update(setup)
        self.setup = s
        self.fs_root = tempfile.mkdtemp(prefix="reliability-")
        self.cfg = _hardware_config()
        self.injected = {}  # fault kind -> count
        self._store_files(files_from, damage, commissioned)
        self.profile_max_mdeg = int(s["max_deg"] * 1000)
        board = SimBoard(rng=random.Random(s["seed"]), user_mass_kg=s["mass_kg"],
                         user_com_offset_mm=s["offset_mm"], angle_mdeg=s["start_mdeg"],
                         fs_root=self.fs_root, commissioned=False)  # _store_files did
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
        # pin_setup: booted after the physical reset at the table, for the first PIN
        self.runner = SimRunner(board, pin_setup)
        self.checker = None
        if check:
            self.checker = invariants.Checker(self)
            self.checker.attach()

    def _store_files(self, files_from, damage, commissioned):
        """The stored files the firmware boots on: a copy of files_from (else the setup's
        profile, and the commissioning record unless commissioned is False: a new table),
        then damaged as `damage` ((file, how, seed), ...) says."""
        if files_from is not None:
            shutil.copytree(files_from, self.fs_root, dirs_exist_ok=True)
        else:
            write_profile(self.fs_root, self.setup, self.cfg)
            if commissioned:
                commission(self.fs_root)
        for name, how, seed in damage:
            self._count("corrupt")
            corrupt_file(self.fs_root, name, how, seed)

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

    def _a_switch_wire(self, name, cut):
        """Cut (or repair) the HOME or OVERTRAVEL switch's wire: the NC contact reads open
        (host_tools/switches_model.py)."""
        bit = {"HOME": SW_HOME, "OVERTRAVEL": SW_OVERTRAVEL}[name]
        if cut:
            self._count("switch_wire")
            self.board.switches.cut_wire(bit)
        else:
            self.board.switches.repair_wire(bit)
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

