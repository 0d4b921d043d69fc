"""A parsed scenario run on the simulated table: the events fired, the checks made.

    result = run(sc)   # runs the real firmware App on a SimBoard; never raises

Owns the run: the board and the firmware's storage built from the scenario, the program
started, the events fired at their time or state, the timed checks, the end of the run;
then the run is judged (host_tools/scenario_eval.py) into a Result.
"""

import random
import shutil
import tempfile
import time
import traceback

from host_tools import physics
from host_tools.paths import use_firmware
from host_tools.scenario_eval import Result, evaluate, is_error
from host_tools.scenario_format import _INPUT_ACTIONS, INPUTS, SWITCH_WIRES, P, hardware_config
from host_tools.session_plan import session_ms
from host_tools.simboard import COMMISSIONED_SETTINGS, SimBoard
from host_tools.trace import Recorder

use_firmware()

import events as fw_events  # noqa: E402  (firmware/, importable once use_firmware() ran)
import faults  # noqa: E402
import profiles as fw_profiles  # noqa: E402
import store  # noqa: E402
from persistence import SETTINGS  # noqa: E402
from states import COMMAND_NAMES, STATE_NAMES  # noqa: E402

from host_tools.runner import SimRunner  # noqa: E402  (after use_firmware: imports app)


class _StopRun(Exception):
    """Raised from a per-ms hook to leave a run that ends while the power is off."""


class _Run:
    """One run of a scenario: the hooks that drive events and watch the world.

    Nothing here runs every simulated millisecond unless it must, so the board takes its
    fast path (host_tools/simboard.py): timed actions, events and checks run from
    SimBoard.call_at() after their millisecond (_wake), the true angle's statistics are
    kept by the physics (TablePhysics.watch), and only switch noise, which draws from
    its rng every ms, is an ms_hook (_noise_ms), while it is on. The results are those
    of one hook doing all of it every ms (tests/host/test_sim_speed_equivalence.py)."""

    def __init__(self, sc, progress=None, realtime=False, fs_root=None):
        self.sc = sc
        self.progress = progress
        self.realtime = realtime
        self.recorder = Recorder()
        self.result = Result(sc, self.recorder)
        self._own_fs = fs_root is None
        self.fs_root = fs_root or tempfile.mkdtemp(prefix="scenario-")
        self.end_ms = sc.duration_ms
        self.head_down_mdeg = hardware_config(sc.settings).head_down_mdeg
        # event machinery
        self.seq = list(sc.events)  # user events, fired in order
        self.seq_i = 0
        self.due = []  # (t_ms, order, fn, kind, text): timed actions (program start, releases)
        self._order = 0
        self.noise = None  # (p per ms, bits); while set, _noise_ms is an ms_hook
        self.noise_rng = random.Random((sc.table["seed"] * 7919 + 17) & 0xFFFFFFFF)
        self.input_times = []
        self.program_start_ms = None
        self.anchor = {"begin": 0}  # action names (first event of each), start, ...
        self.label_anchor = {}  # event labels: looked up before the action names
        self.when_due = None  # fire time of a when_state event whose state was reached
        self.checks = sorted(sc.checks, key=lambda c: c["at_ms"])
        self.check_i = 0
        self.next_check = self.checks[0]["at_ms"] if self.checks else float("inf")
        self._wake_ms = None  # the earliest board.call_at(_wake) pending
        self.session_ends = 0  # E_SESSION_END seen after the last user event fired
        self._fw_i = 0
        self._last_progress = -1
        self._planned_end_ms = None  # a program run's expected end, once it is planned
        self._wall0 = None

    # ---------------------------------------------------------------- setup

    def build(self):
        sc = self.sc
        fs = store.DirFS(self.fs_root)
        cfg = hardware_config(sc.settings)
        prof = dict(sc.profile)
        prof.setdefault("name", "default")
        fw_profiles.save_profiles(fs, [fw_profiles.from_dict(prof, cfg)])
        # the simulated table is commissioned (simboard.COMMISSIONED_SETTINGS) unless the
        # scenario's settings say otherwise (imu_calibrated = 0: a fresh table)
        settings = dict(COMMISSIONED_SETTINGS)
        settings.update(sc.settings)
        store.save(fs, SETTINGS, settings)
        u = sc.user_values()
        tb = sc.table
        kw = {}
        if tb["bounce_max_ms"] is not None:
            kw["bounce_max_ms"] = tb["bounce_max_ms"]
        board = SimBoard(
            rng=random.Random(tb["seed"]), user_mass_kg=u["mass_kg"],
            user_height_mm=u["height_mm"], user_com_offset_mm=u["com_offset_mm"],
            angle_mdeg=tb["start_angle_mdeg"], fs_root=self.fs_root,
            bias_scale=tb["imu_bias_scale"], mount_offset_mdeg=tb["imu_mount_offset_mdeg"],
            ticks_at_boot=tb["ticks_at_boot"], **kw)
        self.board = board
        self.runner = SimRunner(board=board)
        self.recorder.attach(self.runner)
        self.runner.tick_hooks.append(self._tick)
        # the world's statistics, every simulated millisecond (also while the power is
        # off), kept by the physics itself (TablePhysics.watch(); read in scenario_eval)
        board.physics.watch(self.head_down_mdeg)
        self._schedule_program()
        self.next_due = self._next_due()
        self._reschedule()

    def _schedule_program(self):
        p = self.sc.program
        if p is None:
            return
        t = p["start_ms"]
        name = p["name"]
        send = self.runner.send
        self._at(t, lambda: send("program %s" % name), "console", "console 'program %s'" % name)
        if p["via"] == "button":
            self._at(t + 100, self._start_press, "start", "press START (start %s)" % name,
                     "start " + name)
        else:
            line = "start"
            if p["angle_mdeg"] or p["hold_ms"]:
                line = "start %s %s" % (_milli(p["angle_mdeg"]), _milli(p["hold_ms"]))
            self._at(t + 20, lambda: self._start_console(line), "start", "console '%s'" % line,
                     "start " + name)

    def _start_console(self, line):
        self.program_start_ms = self.board.now_ms
        self.anchor["start"] = self.board.now_ms
        self.runner.send(line)

    def _start_press(self):
        self.program_start_ms = self.board.now_ms
        self.anchor["start"] = self.board.now_ms
        self.board.press("START")
        self._at(self.board.now_ms + 150, lambda: self.board.release("START"), None, None)

    def _at(self, t_ms, fn, kind, text, mark=None):
        self._order += 1
        self.due.append((t_ms, self._order, fn, kind, text, mark))
        self.due.sort(key=lambda d: (d[0], d[1]))
        if hasattr(self, "board"):
            self.next_due = self._next_due()
            self._reschedule()
        else:
            self.next_due = 0

    def _next_due(self):
        t = self.due[0][0] if self.due else None
        if self.seq_i < len(self.seq):
            ev = self.seq[self.seq_i]
            te = ev.at_ms if ev.at_ms is not None else self.when_due
            if te is not None:
                te = max(te, 0)
                t = te if t is None else min(t, te)
        return t if t is not None else float("inf")

    # ---------------------------------------------------------------- hooks

    def _reschedule(self):
        """Have the board call _wake after the next millisecond where something is due:
        a timed action or event (next_due), a check (next_check), the end of the run (a
        run that ends while the power is off stops there). In between the board runs
        its fast path (no per-ms hook)."""
        t = min(self.next_due, self.next_check)
        if self.board.now_ms < self.end_ms:
            t = min(t, self.end_ms)
        if t != float("inf") and (self._wake_ms is None or t < self._wake_ms):
            self._wake_ms = t
            self.board.call_at(t, lambda board: self._wake(board, t))

    def _wake(self, board, t):
        """After the simulated millisecond t (also while the power is off): what a per-ms
        hook would do at this ms. (An earlier wake may have done it already.)"""
        if t == self._wake_ms:
            self._wake_ms = None
        now = board.now_ms
        if now >= self.next_due:
            self._fire_due(now)
        if now >= self.next_check:
            self._checks_due(board, now)
        if not board.powered and now >= self.end_ms:
            if self.noise is not None:
                self._noise_ms(board)  # this ms's noise came before the stop, as ever
            raise _StopRun()
        self._reschedule()

    def _noise_ms(self, board):
        """Every simulated millisecond while switch noise is on (an ms_hook then: it
        draws from its rng each ms)."""
        p, bits = self.noise
        rng = self.noise_rng
        spikes = 0
        for b in bits:
            if rng.random() < p:
                spikes |= b
        if spikes:
            board.switch_spike(spikes)

    def _fire_due(self, now):
        while True:
            fired = False
            if self.due and self.due[0][0] <= now:
                _, _, fn, kind, text, mark = self.due.pop(0)
                if text:
                    self.recorder.note(now, kind or "scenario", text, mark)
                if kind in _INPUT_ACTIONS:
                    self.input_times.append(now)
                fn()
                fired = True
            elif self.seq_i < len(self.seq):
                ev = self.seq[self.seq_i]
                t = ev.at_ms if ev.at_ms is not None else self.when_due
                if t is not None and t <= now:
                    self.seq_i += 1
                    self.when_due = None
                    self._fire(ev, now)
                    fired = True
            if not fired:
                break
        self.next_due = self._next_due()

    def _fire(self, ev, now):
        ev.fired_ms = now
        self.session_ends = 0
        self.recorder.note(now, ev.action, ev.describe() + (
            " [%s]" % ev.label if ev.label else ""), ev.label or ev.short())
        if ev.label:
            self.label_anchor.setdefault(ev.label, now)
        self.anchor.setdefault(ev.action, now)
        act = ev.action
        if act in _INPUT_ACTIONS and not (act in ("estop", "ankle_lock") and ev.arg in (
                "release", "repair_wire", "close")):
            self.input_times.append(now)
        _FIRE[act](self, ev, now)

    # What each action does (ev: the Event, now: the simulated ms it fires at).

    def _do_press(self, ev, now):
        board = self.board
        board.press(ev.arg)
        if ev.for_ms:
            name = ev.arg
            self._at(now + ev.for_ms, lambda: board.release(name), "release",
                     "release %s" % name)

    def _do_estop(self, ev, now):
        board = self.board
        getattr(board, "estop_" + ev.arg)()
        if ev.arg == "press" and ev.for_ms:
            self._at(now + ev.for_ms, board.estop_release, "estop_release", "e-stop release")

    def _do_ankle_lock(self, ev, now):
        board = self.board
        board.ankle_lock(ev.arg)
        if ev.arg == "open" and ev.for_ms:
            self._at(now + ev.for_ms, lambda: board.ankle_lock("close"), "ankle_lock_close",
                     "ankle lock closed")

    def _do_command(self, ev, now):
        r = self.runner.core.command(COMMAND_NAMES.index(ev.arg), ev.a, ev.b)
        if r:
            self.recorder.note(now, "command", "command %s refused (reason %d)" % (ev.arg, r))

    def _do_switch_spike(self, ev, now):
        bits = 0
        for n in ev.arg:
            bits |= INPUTS[n]
        self.board.switch_spike(bits)

    def _do_switch_wire(self, ev, now):
        bit, cut = SWITCH_WIRES[ev.arg]
        sw = self.board.switches  # the switch model (host_tools/switches_model.py)
        if cut:
            sw.cut_wire(bit)
        else:
            sw.repair_wire(bit)

    def _do_switch_noise(self, ev, now):
        hooks = self.board.ms_hooks
        if ev.arg is None:
            self.noise = None
            if self._noise_ms in hooks:
                hooks.remove(self._noise_ms)
        else:
            rate, names = ev.arg
            self.noise = (rate / 1000.0, [INPUTS[n] for n in names])
            if self._noise_ms not in hooks:
                hooks.append(self._noise_ms)  # from this very ms on

    def _do_crash(self, ev, now):
        def boom(*_args):
            raise RuntimeError("scenario: injected firmware crash")

        self.runner.core.tick = boom  # the App catches it, stops feeding: the watchdog resets

    def _do_user_load(self, ev, now):
        ph = self.board.physics
        u = {"mass_kg": ph.user_mass_kg, "height_mm": ph.user_height_mm,
             "com_offset_mm": ph.user_com_offset_mm}
        u.update(ev.arg)
        # the physics' own formulas, through a twin built with the new user
        twin = physics.TablePhysics(P, u["mass_kg"], u["height_mm"], u["com_offset_mm"],
                                    ph.true_angle_mdeg)
        ph.user_mass_kg = twin.user_mass_kg
        ph.user_height_mm = twin.user_height_mm
        ph.user_com_offset_mm = twin.user_com_offset_mm
        ph.inertia_kgm2 = twin.inertia_kgm2
        ph.gravity_moment_Nm = twin.gravity_moment_Nm


    def _tick(self, runner):
        """After every firmware tick."""
        now = self.board.now_ms
        # when_state triggers
        if self.when_due is None and self.seq_i < len(self.seq):
            ev = self.seq[self.seq_i]
            if ev.when_state is not None and STATE_NAMES[runner.core.state] == ev.when_state:
                self.when_due = now + ev.delay_ms
                self.next_due = self._next_due()
                if self.when_due <= now:
                    self._fire_due(now)
                self._reschedule()
        # session ends (for until = "session_end")
        log = self.recorder.fw_log
        while self._fw_i < len(log):
            if log[self._fw_i][2] == fw_events.E_SESSION_END:
                self.session_ends += 1
            self._fw_i += 1
        if self.progress is not None and now - self._last_progress >= 1000:
            self._last_progress = now
            self.progress(now, self._progress_end_ms(runner.core, now),
                          STATE_NAMES[runner.core.state], self.board.true_angle_mdeg)
        if self.realtime:
            ahead = now / 1000.0 - (time.perf_counter() - self._wall0)
            if ahead > 0:
                time.sleep(ahead)

    def _progress_end_ms(self, core, now):
        """The progress bar's length: a run until the session's end, from when the
        program is planned, lasts about as long as its plan (never shown as ended before
        it has); otherwise, or before that, the run's duration."""
        if self.sc.until != "session_end":
            return self.end_ms
        if self._planned_end_ms is None and core.runner.active:
            planned = session_ms(core, self.board.true_angle_mdeg)
            if planned is not None:
                self._planned_end_ms = now + planned
        if self._planned_end_ms is None:
            return self.end_ms
        return min(self.end_ms, max(self._planned_end_ms, now + 1000))

    def _checks_due(self, board, now):
        while self.check_i < len(self.checks) and self.checks[self.check_i]["at_ms"] <= now:
            self._check_now(self.checks[self.check_i], now)
            self.check_i += 1
        self.next_check = (self.checks[self.check_i]["at_ms"] if self.check_i < len(self.checks)
                           else float("inf"))

    def _check_now(self, c, now):
        board = self.board
        core = self.runner.core
        where = "checks[%d] at %g s" % (c["index"], c["at_ms"] / 1000)
        # between a reset and the next boot the old firmware is dead: it has no state
        st = STATE_NAMES[core.state] if board.powered and board._pending is None else "OFF"
        a = board.true_angle_mdeg / 1000
        if "state" in c and st != c["state"]:
            self._failed("%s: state is %s, expected %s" % (where, st, c["state"]))
        if "fault" in c and st != "OFF" and faults.name(core.fault) != c["fault"]:
            self._failed("%s: fault is %s, expected %s" % (where, faults.name(core.fault),
                                                           c["fault"]))
        if "min_true_angle_deg" in c and a < c["min_true_angle_deg"]:
            self._failed("%s: true angle %.2f deg is below %g" % (where, a,
                                                                  c["min_true_angle_deg"]))
        if "max_true_angle_deg" in c and a > c["max_true_angle_deg"]:
            self._failed("%s: true angle %.2f deg is above %g" % (where, a,
                                                                  c["max_true_angle_deg"]))

    def _failed(self, msg):
        self.result.failures.append(msg)

    def finished(self):
        """The run may stop early (until = "session_end")."""
        if self.sc.until != "session_end":
            return False
        if self.seq_i < len(self.seq) or self.due:
            return False
        if self.sc.program is not None and self.program_start_ms is None:
            return False
        return self.session_ends > 0 and STATE_NAMES[self.runner.core.state] == "READY"

    # ---------------------------------------------------------------- the run

    def go(self):
        res = self.result
        if not self._started():
            return res
        runner = self.runner
        board = self.board
        self._wall0 = time.perf_counter()
        try:
            self._loop()
        except _StopRun:
            pass
        except Exception as e:  # noqa: BLE001 - a firmware/simulator exception is a failure
            res.error = e
            res.error_traceback = traceback.format_exc()
            res.failures.append("the simulation raised %s: %s at t=%.2f s"
                                % (type(e).__name__, e, board.now_ms / 1000))
        wall = time.perf_counter() - self._wall0
        self._console(runner)
        self.recorder.flush()
        if self.progress is not None:  # the end: the bar full
            self.progress(board.now_ms, board.now_ms, STATE_NAMES[runner.core.state],
                          board.true_angle_mdeg)
        evaluate(self, wall)
        if self._own_fs:
            shutil.rmtree(self.fs_root, ignore_errors=True)
        return res

    def _started(self):
        """Build the run unless a caller did; False (and a failure) if it could not."""
        res = self.result
        try:
            if not hasattr(self, "runner"):
                self.build()
        except Exception as e:  # noqa: BLE001 - reported as the run's error, not a traceback
            res.error = e
            res.error_traceback = traceback.format_exc()
            res.failures.append("the simulation could not start: %s: %s"
                                % (type(e).__name__, e))
            return False
        return True

    def _loop(self):
        runner = self.runner
        while self.board.now_ms < self.end_ms:
            if not runner.step():
                self.result.failures.append("the firmware left its main loop (Ctrl-C?)")
                break
            self._console(runner)
            if self.finished():
                break

    def _console(self, runner):
        out = runner.receive()
        if out:
            now = self.board.now_ms
            for line in out.splitlines():
                if line.strip():
                    self.result.console.append((now, line))
                    if is_error(line):
                        self.recorder.note(now, "console_error", "console " + line)

_FIRE = {
    "press": _Run._do_press,
    "release": lambda run, ev, now: run.board.release(ev.arg),
    "estop": _Run._do_estop,
    "console": lambda run, ev, now: run.runner.send(ev.arg),
    "command": _Run._do_command,
    "imu_fault": lambda run, ev, now: run.board.imu_fault(ev.arg, ev.on),
    "switch_spike": _Run._do_switch_spike,
    "switch_noise": _Run._do_switch_noise,
    "switch_wire": _Run._do_switch_wire,
    "ankle_lock": _Run._do_ankle_lock,
    "power_cut": lambda run, ev, now: run.board.power_cut(off_ms=ev.for_ms),
    "power_restore": lambda run, ev, now: run.board.power_restore(),
    "hard_reset": lambda run, ev, now: run.board.hard_reset(),
    "soft_reset": lambda run, ev, now: run.board.soft_reset(),
    "crash": _Run._do_crash,
    "user_load": _Run._do_user_load,
}

    # ---------------------------------------------------------------- evaluation


def _milli(v):
    """mdeg / ms -> the console's decimal degrees / seconds."""
    s = "%d.%03d" % (abs(v) // 1000, abs(v) % 1000)
    s = s.rstrip("0").rstrip(".")
    return ("-" if v < 0 else "") + s


def run(sc, progress=None, realtime=False, fs_root=None):
    """Run a parsed scenario; returns a Result (never raises for a firmware problem).

    progress(now_ms, end_ms, state_name, true_angle_mdeg) is called about once per simulated
    second; realtime paces the
    run to the wall clock; fs_root keeps the board's storage there (default: a temp dir)."""
    return _Run(sc, progress, realtime, fs_root).go()
