"""A finished scenario run judged into its Result: the summary numbers and each
expectation of [expect].

    evaluate(run, wall_s)   # fills run.result.stats and run.result.failures

Reads what the run recorded (the trace rows, the firmware's event log, the console, the
physics' statistics of the true angle) and never changes the run. Each expectation key
has its own check (EXPECTATIONS, in the order failures are reported).
"""

import math

from host_tools import trace
from host_tools.paths import use_firmware
from host_tools.scenario_format import hardware_config
from host_tools.session_plan import hold_note
from host_tools.trace import STATE, TRUE

use_firmware()

import events as fw_events  # noqa: E402  (firmware/, importable once use_firmware() ran)
import faults  # noqa: E402
import profiles as fw_profiles  # noqa: E402
from states import STATE_NAMES  # noqa: E402

# States in which the driver is off: no step may be emitted there.
_STANDING = ("BOOT", "RECOVERY", "READY")


def trapezoid_ms(distance_mdeg, speed_mdeg_s, accel_mdeg_s2):
    """Rest-to-rest time of a trapezoidal (or triangular) move, ms."""
    d, v, a = float(distance_mdeg), float(speed_mdeg_s), float(accel_mdeg_s2)
    if d <= 0:
        return 0
    if d >= v * v / a:
        return int(round(1000 * (d / v + v / a)))
    return int(round(1000 * 2 * math.sqrt(d / a)))


def is_error(line):
    """A console error reply, in human ("error: ...") or JSON mode."""
    return line.startswith("error:") or line.replace(" ", "").startswith('{"ok":false')


class Result:
    """What a run produced: pass/fail with reasons, the summary numbers, the trace."""

    def __init__(self, scenario, recorder):
        self.scenario = scenario
        self.recorder = recorder
        self.failures = []
        self.stats = {}
        self.console = []  # (t_ms, line) of everything the console printed
        self.error = None  # an exception the simulation itself raised
        self.error_traceback = ""  # its traceback (a simulator or firmware bug)

    @property
    def passed(self):
        return not self.failures

    @property
    def verdict(self):
        """PASS, FAIL, XFAIL (failed as the file says it does) or XPASS (it should fail)."""
        if self.scenario.xfail:
            return "XFAIL" if self.failures else "XPASS"
        return "PASS" if not self.failures else "FAIL"

    @property
    def ok(self):
        """True when the outcome is the expected one (PASS or XFAIL)."""
        return self.verdict in ("PASS", "XFAIL")

    def write_csv(self, path):
        trace.write_csv(self.recorder, path)

    def plot(self, path):
        """The PNG plot, titled with the scenario, program and user."""
        sc = self.scenario
        title = plot_title(sc)
        st = self.stats
        sub = "%s  |  deepest %.1f deg, %.0f s head-down, %s, final %s" % (
            sc.user_text, st["deepest_true_mdeg"] / 1000, st["head_down_ms"] / 1000,
            ("faults: " + ", ".join(st["faults"])) if st["faults"] else "no faults",
            st["final_state"])
        prof_max = sc.profile.get("max_mdeg", fw_profiles.Profile().max_mdeg)
        refs = [(prof_max / 1000.0, "profile max %g deg" % (prof_max / 1000.0))]
        trace.plot(self.recorder, path, title, sub, refs)


def plot_title(sc):
    """The scenario's name, with its program when the name does not already say it; a
    command-line run ("beginner program") is named after its program alone."""
    if sc.program is None:
        return sc.name
    if sc.path == "<command line>":
        return "%s program" % sc.program_text
    if set(sc.program_text.split()) <= set(sc.name.split()):
        return sc.name  # "progression at level 3" says "progression level 3" already
    return "%s - %s" % (sc.name, sc.program_text)


def evaluate(run, wall_s):
    """Fill run.result: the summary numbers, then a failure for each unmet expectation."""
    ev = _Evaluation(run)
    run.result.stats = ev.stats(wall_s)
    ev.unfinished()
    e = run.sc.expect
    for key, check in EXPECTATIONS:
        if key in e:
            check(ev, e[key])


class _Evaluation:
    """What the run saw, gathered once from the firmware's log, and the checks on it."""

    def __init__(self, run):
        self.run = run
        self.sc = run.sc
        self.res = run.result
        self.fail = run.result.failures.append
        self.board = run.board
        self.world = run.board.physics  # the true angle's statistics over the run (watch())
        self.runner = run.runner
        fw = self.fw = run.recorder.fw_log
        self.states_seen = {r[STATE] for r in run.recorder.rows}
        self.states_seen |= {STATE_NAMES[ev[4]] for ev in fw if ev[2] == fw_events.E_STATE
                             and 0 <= ev[4] < len(STATE_NAMES)}
        self.raised = [ev for ev in fw if ev[2] == fw_events.E_FAULT]
        self.fault_names = []
        for ev in self.raised:
            n = faults.name(ev[3])
            if n not in self.fault_names:
                self.fault_names.append(n)
        self.refusals = [ev for ev in fw if (ev[2] == fw_events.E_COMMAND and ev[4] != 0)
                         or ev[2] == fw_events.E_CLAMPED]
        self.console_errors = [ln for _, ln in self.res.console if is_error(ln)]

    def stats(self, wall_s):
        """The run's summary numbers (Result.stats)."""
        sc, board, world, runner = self.sc, self.board, self.world, self.runner
        core = runner.core
        emergency = sum(1 for ev in self.fw if ev[2] == fw_events.E_STATE
                        and ev[4] < len(STATE_NAMES) and STATE_NAMES[ev[4]] == "EMERGENCY_RETURN")
        sim_ms = board.now_ms
        deepest_fw = max([h[3] for h in runner.app.history.entries] + [core.deepest_mdeg])
        return {
            "scenario": sc.name,
            "program": sc.program_text,
            "hold": hold_note(sc, self.fw, core),
            "user": sc.user_text,
            "deepest_true_mdeg": world.max_angle_mdeg,
            "deepest_true_t_ms": world.max_angle_ms,
            "deepest_fw_mdeg": deepest_fw,
            "head_down_ms": world.above_ms,
            "emergency_returns": emergency,
            "faults": self.fault_names,
            "final_fault": faults.name(core.fault),
            "lost_steps": board.lost_steps,
            "final_state": STATE_NAMES[core.state],
            "final_true_mdeg": board.true_angle_mdeg,
            "sessions_recorded": runner.app.history.count,
            "boots": runner.boots,
            "sim_ms": sim_ms,
            "wall_s": wall_s,
            "factor": (sim_ms / 1000.0) / wall_s if wall_s > 0 else float("inf"),
            "refusals": len(self.refusals) + len(self.console_errors),
            "faults_raised": len(self.raised),
        }

    def unfinished(self):
        """Events that never fired, checks after the end, a session that never ended."""
        run, sc, sim_ms = self.run, self.sc, self.board.now_ms
        for ev in sc.events:
            if ev.fired_ms is None:
                why = ("state %s was never reached" % ev.when_state) if ev.when_state else (
                    "the run ended first")
                self.fail("events[%d] (%s) never fired: %s" % (ev.index, ev.describe(), why))
        while run.check_i < len(run.checks):
            c = run.checks[run.check_i]
            self.fail("checks[%d] at %g s: the run ended at %.2f s before it"
                      % (c["index"], c["at_ms"] / 1000, sim_ms / 1000))
            run.check_i += 1
        if sc.until == "session_end" and not run.finished():
            self.fail("the session did not end (READY after the return) within "
                      "%g s" % (sc.duration_ms / 1000))

    # ---------------------------------------------------------------- angles and states

    def final_state(self, want):
        st = self.res.stats
        if st["final_state"] != want:
            self.fail("final_state: ended in %s (fault %s), expected %s" % (
                st["final_state"], st["final_fault"], want))

    def max_true_angle(self, limit_deg):
        w = self.world
        if w.max_angle_mdeg > limit_deg * 1000:
            self.fail("max_true_angle_deg: the table reached %.2f deg at t=%.2f s (limit %g)"
                      % (w.max_angle_mdeg / 1000, w.max_angle_ms / 1000, limit_deg))

    def min_true_angle(self, limit_deg):
        w = self.world
        if w.min_angle_mdeg < limit_deg * 1000:
            self.fail("min_true_angle_deg: the table reached %.2f deg at t=%.2f s (limit %g)"
                      % (w.min_angle_mdeg / 1000, w.min_angle_ms / 1000, limit_deg))

    def final_true_angle(self, angle_tol):
        a, tol = angle_tol
        now = self.board.true_angle_mdeg
        if abs(now - a) > tol:
            self.fail("final_true_angle_deg: ended at %.2f deg, expected %g +- %g" % (
                now / 1000, a / 1000, tol / 1000))

    def reaches(self, items):
        for r in items:
            self._reaches(r)

    def state_seen(self, states):
        for s in states:
            if s not in self.states_seen:
                self.fail("state_seen: %s never happened (seen: %s)" % (
                    s, ", ".join(x for x in STATE_NAMES if x in self.states_seen)))

    def state_never(self, states):
        for s in states:
            if s in self.states_seen:
                t = next((r[0] for r in self.run.recorder.rows if r[STATE] == s), None)
                self.fail("state_never: %s happened%s" % (s, "" if t is None else
                                                          " at t=%.2f s" % (t / 1000)))

    # ---------------------------------------------------------------- faults and refusals

    def fault(self, want):
        st = self.res.stats
        if st["final_fault"] != want:
            self.fail("fault: ended with fault %s (state %s), expected %s" % (
                st["final_fault"], st["final_state"], want))

    def faults_seen(self, names):
        for f in names:
            if f not in self.fault_names:
                self.fail("faults_seen: %s was never raised (raised: %s)" % (
                    f, ", ".join(self.fault_names) or "none"))

    def no_faults(self, want):
        if want is True and self.fault_names:
            t = self.raised[0][0]
            self.fail("no_faults: raised %s (first at t=%.2f s)" % (
                ", ".join(self.fault_names), t / 1000))

    def some_fault(self, no_faults):
        if no_faults is False and not self.fault_names:
            self.fail("no_faults = false: expected at least one fault, none was raised")

    def max_faults_raised(self, limit):
        raised = self.raised
        if len(raised) > limit:
            self.fail("max_faults_raised: the firmware raised %d faults (%s), limit %d; the "
                      "first at t=%.2f s, the last at t=%.2f s" % (
                          len(raised), ", ".join(self.fault_names), limit,
                          raised[0][0] / 1000, raised[-1][0] / 1000))

    def refused(self, want):
        n = self.res.stats["refusals"]
        if want and n == 0:
            self.fail("refused: every command was accepted as given (nothing refused or "
                      "clamped)")
        if not want and n:
            self.fail("refused = false: %d command(s) were refused or clamped (%s)" % (
                n, "; ".join(self._refusal_texts())))

    def _refusal_texts(self):
        from host_tools.trace import fw_event_text

        out = ["t=%.2f s %s" % (ev[0] / 1000, fw_event_text(ev[2], ev[3], ev[4]))
               for ev in self.refusals[:3]]
        out += self.console_errors[:3]
        return out

    # ---------------------------------------------------------------- steps, counts, time

    def lost_steps_detected(self, _want):
        lost, first = self.board.lost_steps, self.world.first_lost_ms or 0
        if lost == 0:
            self.fail("lost_steps_detected: the motor never lost a step (nothing to detect)")
            return
        det = [ev for ev in self.raised
               if ev[3] in (faults.RUNAWAY, faults.STEPGEN) and ev[0] >= first]
        if not det:
            self.fail("lost_steps_detected: %d steps lost from t=%.2f s, but the firmware "
                      "raised no runaway/stepgen fault" % (lost, first / 1000))

    def max_lost_steps(self, limit):
        lost = self.board.lost_steps
        if lost > limit:
            self.fail("max_lost_steps: %d steps lost (first at t=%.2f s), limit %d" % (
                lost, (self.world.first_lost_ms or 0) / 1000, limit))

    def sessions_recorded(self, want):
        n = self.res.stats["sessions_recorded"]
        if n != want:
            self.fail("sessions_recorded: %d sessions in the history, expected %d" % (n, want))

    def boots(self, want):
        n = self.runner.boots
        if n != want:
            self.fail("boots: the firmware booted %d times, expected %d" % (n, want))

    def max_head_down(self, limit_s):
        above = self.world.above_ms
        if above > limit_s * 1000:
            self.fail("max_head_down_s: %.1f s head-down (true angle > %g deg), limit %g s" % (
                above / 1000, self.run.head_down_mdeg / 1000, limit_s))

    # ---------------------------------------------------------------- reaches_angle_deg

    def _reaches(self, r):
        name = r["after"]
        want = r["angle_mdeg"]
        t0 = self._anchor_ms(name)
        if t0 is None:
            self.fail("reaches_angle_deg %g after %s: '%s' never happened" % (
                want / 1000, name, name))
            return
        within, how = self._within_ms(r, t0)
        label = "reaches_angle_deg %g within %.2f s after %s%s" % (
            want / 1000, within / 1000, name, how)
        hit, best = _first_reach(self.run.recorder.rows, t0, want, r["tol_mdeg"])
        if hit is not None:
            if hit - t0 > within:
                self.fail("%s: reached only at t=%.2f s, %.2f s after %s (t=%.2f s)" % (
                    label, hit / 1000, (hit - t0) / 1000, name, t0 / 1000))
        elif best is None:
            self.fail("%s: no ticks after %s" % (label, name))
        else:
            self.fail("%s (t=%.2f s): never reached; closest %.2f deg at t=%.2f s" % (
                label, t0 / 1000, (best[1] + want) / 1000, best[0] / 1000))

    def _anchor_ms(self, name):
        """When `after` happened: an event's label, an action, begin/start, the first
        fault, the first reset; None if it never did."""
        run = self.run
        if name == "fault":
            return next((ev[0] for ev in self.raised), None)
        if name == "reboot":
            return self.board.resets[0][0] if self.board.resets else None
        return run.label_anchor.get(name, run.anchor.get(name))

    def _within_ms(self, r, t0):
        """The time allowed, and how it was worked out (for a speed: the time the
        firmware's own limits allow from where the table was, plus the margin)."""
        if r["within_ms"] is not None:
            return r["within_ms"], ""
        cfg = hardware_config(self.sc.settings)
        v = cfg.get(r["speed"] + "_speed_mdeg_s")
        a = cfg.get(r["speed"] + "_accel_mdeg_s2")
        want = r["angle_mdeg"]
        start = next((row[TRUE] for row in self.run.recorder.rows if row[0] >= t0), None)
        d = abs(start - want) if start is not None else 0
        move_ms = trapezoid_ms(d, v, a)
        how = " (%.1f deg at %g deg/s, %g deg/s^2 = %.2f s, + %g s margin)" % (
            d / 1000, v / 1000, a / 1000, move_ms / 1000, r["margin_ms"] / 1000)
        return move_ms + r["margin_ms"], how

    # ---------------------------------------------------------------- no_motion_without_command

    def no_motion(self, _want):
        """After each boot nothing moves before the first input; a driver that is off
        (BOOT, RECOVERY, READY) emits no steps."""
        inputs = sorted(self.run.input_times)
        boot_starts = [0] + [t for t, _ in self.board.resets]
        reported = set()
        boot = None
        prev = None
        for row in self.run.recorder.rows:
            t = row[0]
            if row[1] != boot:
                boot = row[1]
                boot_t = boot_starts[min(boot, len(boot_starts)) - 1]
                boot_angle = row[TRUE]
                first_input = next((x for x in inputs if x >= boot_t), None)
                quiet = True
                prev = None
            if quiet and first_input is not None and t >= first_input:
                quiet = False
            if quiet and ("boot", boot) not in reported:
                self._moved_before_input(row, boot, boot_angle, reported)
            if prev is not None and prev[STATE] in _STANDING and row[8] != prev[8] and (
                    ("still", boot) not in reported):
                reported.add(("still", boot))
                self.fail("no_motion_without_command: %d steps emitted in %s at t=%.2f s"
                          % (row[8] - prev[8], prev[STATE], t / 1000))
            prev = row

    def _moved_before_input(self, row, boot, boot_angle, reported):
        moved = abs(row[TRUE] - boot_angle)
        if row[8] != 0 or moved > 500:
            reported.add(("boot", boot))
            self.fail("no_motion_without_command: boot %d: the table moved before any "
                      "input (t=%.2f s, %d steps, %.2f deg from the boot angle)"
                      % (boot, row[0] / 1000, row[8], moved / 1000))


def _first_reach(rows, t0, want, tol):
    """From t0 on: the time the true angle first came within tol of want or crossed it
    (None if never), and the closest approach (t, angle - want)."""
    start = None
    best = None
    for row in rows:
        t = row[0]
        if t < t0:
            continue
        d = row[TRUE] - want
        if start is None:
            start = d
        if best is None or abs(d) < abs(best[1]):
            best = (t, d)
        crossed = (start > 0 and d <= 0) or (start < 0 and d >= 0)
        if abs(d) <= tol or crossed:
            return t, best
    return None, best


# Each [expect] key's check, in the order their failures are reported.
EXPECTATIONS = (
    ("final_state", _Evaluation.final_state),
    ("max_true_angle_deg", _Evaluation.max_true_angle),
    ("min_true_angle_deg", _Evaluation.min_true_angle),
    ("final_true_angle_deg", _Evaluation.final_true_angle),
    ("reaches_angle_deg", _Evaluation.reaches),
    ("state_seen", _Evaluation.state_seen),
    ("state_never", _Evaluation.state_never),
    ("fault", _Evaluation.fault),
    ("faults_seen", _Evaluation.faults_seen),
    ("no_faults", _Evaluation.no_faults),
    ("max_faults_raised", _Evaluation.max_faults_raised),
    ("no_faults", _Evaluation.some_fault),
    ("refused", _Evaluation.refused),
    ("lost_steps_detected", _Evaluation.lost_steps_detected),
    ("max_lost_steps", _Evaluation.max_lost_steps),
    ("no_motion_without_command", _Evaluation.no_motion),
    ("sessions_recorded", _Evaluation.sessions_recorded),
    ("boots", _Evaluation.boots),
    ("max_head_down_s", _Evaluation.max_head_down),
)
