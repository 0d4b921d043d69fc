"""Traces of a simulated run: one row per firmware tick, a CSV file and a PNG plot.

Owns: `Recorder` (a SimRunner tick hook that samples the world and the firmware after
every tick and collects the run's events), `write_csv()` and `plot()`.

CSV columns (one row per firmware tick, 10 ms apart; nothing while the power is off):
    t_ms             virtual time since the simulation began (never wraps, survives resets)
    boot             1 for the first boot, +1 after every reset or power-up
    state            the core's state name (firmware/states.py STATE_NAMES)
    phase            the core's sub-phase name (firmware/states.py P_* / H_*), "" if none
    true_angle_mdeg  the table's real angle (physics), mdeg, + = head-down
    est_angle_mdeg   the IMU estimator's angle (firmware), mdeg, valid only if est_valid
    angle_mdeg       the angle the core acts on (IMU if trusted, else the steps), mdeg
    target_mdeg      the core's current (clamped) target, mdeg
    step_count       the PCNT count the core read (emitted steps since boot)
    rate_sps         the step rate the core commanded for the next tick, steps/s
    enable           1 if the driver is energised
    fault            the latched fault name ("none" if none)
    lost_steps       emitted pulses the motor did not follow, cumulative over the run
    est_valid        1 if the estimator's angle is valid
    buttons          buttons the person holds: bit 0 UP, bit 1 DOWN, bit 2 START
    estop            1 if the e-stop circuit is open (pressed or wire cut)
    switches         the SW_* bits the firmware read this tick (firmware/signals.py)
    events           what happened since the previous row, "; "-separated:
                     "scenario: ..." (the scenario's own actions), "fw: ..." (the
                     firmware's event log: faults, e-stops, boots, sessions, refusals)

The plot (host_tools/plotting.py, the client's --plot draws the same chart) shows the
true angle, the estimated angle and the target against time, the state as coloured
bands, markers for e-stops, faults, power cuts and resets, and a second panel with the
drive's commanded rate and the lost steps.
"""

import csv

from host_tools import plotting
from host_tools.paths import use_firmware

use_firmware()

import events as fw_events  # noqa: E402  (firmware/, importable once use_firmware() ran)
import faults  # noqa: E402
import states as fw_states  # noqa: E402
from signals import SW_BUTTONS, SW_ESTOP  # noqa: E402
from states import STATE_NAMES  # noqa: E402

try:  # the console's words for an event; a plain fallback if it is being reworked
    from console import event_text as _event_text  # noqa: E402
except Exception:  # pragma: no cover - only while console.py is broken  # noqa: BLE001
    _event_text = None

COLUMNS = (
    "t_ms", "boot", "state", "phase", "true_angle_mdeg", "est_angle_mdeg", "angle_mdeg",
    "target_mdeg", "step_count", "rate_sps", "enable", "fault", "lost_steps", "est_valid",
    "buttons", "estop", "switches", "events",
)
# Column indexes of a row (a tuple, in COLUMNS order).
(T, BOOT, STATE, PHASE, TRUE, EST, ANGLE, TARGET, COUNT, RATE, ENABLE, FAULT, LOST, VALID,
 BUTTONS, ESTOP, SWITCHES, EVENTS) = range(len(COLUMNS))


def _phase_names():
    """Sub-phase numbers -> names, from the core's own P_* / H_* constants."""
    names = {}
    for k in dir(fw_states):
        if (k.startswith("P_") or k.startswith("H_")) and type(getattr(fw_states, k)) is int:
            names[getattr(fw_states, k)] = k[2:].lower()
    names[getattr(fw_states, "P_NONE", 0)] = ""
    return names


PHASE_NAMES = _phase_names()
# Firmware events worth a line in the trace (state changes are in their own column).
_FW_SHOWN = {
    fw_events.E_BOOT, fw_events.E_FAULT, fw_events.E_ESTOP, fw_events.E_ACK,
    fw_events.E_SESSION_START, fw_events.E_SESSION_END, fw_events.E_CLAMPED, fw_events.E_CAP,
    fw_events.E_CONSENT, fw_events.E_HOMED, fw_events.E_STUCK_BUTTON, fw_events.E_RECOVERY,
    fw_events.E_DISCOMFORT, fw_events.E_SEGMENT, fw_events.E_OVERRUN, fw_events.E_CALIBRATED,
    fw_events.E_GAVE_UP, fw_events.E_LIFT_CHECK, fw_events.E_ANKLE_LOCK,
    fw_events.E_SHORT_END, fw_events.E_UNCONFIRMED,
}


_fault_names = {}  # faults.name(code), looked up once per code (it scans the module)


def _fault_name(code):
    n = _fault_names.get(code)
    if n is None:
        n = _fault_names[code] = faults.name(code)
    return n


def fw_event_text(code, a, b):
    """One firmware event record in words."""
    name = fw_events.EVENT_NAMES.get(code, "event_%d" % code)
    text = None
    if _event_text is not None:
        try:
            text = _event_text(code, a, b)
        except Exception:  # noqa: BLE001 - a trace never fails on a wording problem
            text = None
    if text is None:
        text = "a=%d b=%d" % (a, b)
    return "%s %s" % (name, text)


class Recorder:
    """Samples the run after every firmware tick. Install with `attach(runner)`.

    rows:      tuples in COLUMNS order
    events:    (t_ms, source, kind, text): source "scenario" or "fw"; kind is the
               scenario action or the firmware event name (used for plot markers)
    fw_log:    (t_ms, boot, code, a, b) of every firmware event, across resets
    """

    def __init__(self):
        self.rows = []
        self.events = []
        self.fw_log = []
        self.marks = {}  # index in events -> plot label of a scenario action
        self._pending = []  # event texts since the previous row
        self._app = None
        self._seen = 0
        self._boot = 0

    def attach(self, runner):
        runner.tick_hooks.append(self.hook)
        self.hook(runner, sample=False)  # take the first boot's events

    def note(self, t_ms, kind, text, mark=None):
        """A scenario action at t_ms (it appears in the next row's events); mark: the
        plot marker's label (default: a shortened text)."""
        self.events.append((t_ms, "scenario", kind, text))
        self.marks[len(self.events) - 1] = mark
        self._pending.append("scenario: " + text)

    def _read_fw_log(self, runner):
        app = runner.app
        if app is not self._app:
            self._app = app
            self._seen = 0
            self._boot += 1
        log = app.log
        if self._seen == log.seq:
            return
        seq = max(self._seen, log.oldest_seq())
        board = runner.board
        now = board.now_ms
        ticks_now = board.ticks_ms()
        while seq < log.seq:
            ev = log.get(seq)
            seq += 1
            if ev is None:
                continue
            t_fw, code, a, b = ev
            # the firmware stamps its ticks_ms(); turn it back into run time
            t = now - board.ticks_diff(ticks_now, t_fw)
            self.fw_log.append((t, self._boot, code, a, b))
            if code in _FW_SHOWN or (code == fw_events.E_COMMAND and b != 0):
                text = fw_event_text(code, a, b)
                self.events.append((t, "fw", fw_events.EVENT_NAMES.get(code, "?"), text))
                self._pending.append("fw: " + text)
        self._seen = seq

    def hook(self, runner, sample=True):
        self._read_fw_log(runner)
        if not sample:
            return
        board = runner.board
        app = runner.app
        core = app.core
        est = core.est
        out = app.outputs
        phys = board.switches.physical_bits()
        ev = ""
        if self._pending:
            ev = "; ".join(self._pending)
            self._pending = []
        self.rows.append((
            board.now_ms, self._boot, STATE_NAMES[core.state],
            PHASE_NAMES.get(core.phase, str(core.phase)),
            int(round(board.true_angle_mdeg)), est.angle_mdeg, core.angle_mdeg,
            core.target_mdeg, core.pos.count, out.rate_sps, 1 if out.enable else 0,
            _fault_name(core.fault), board.lost_steps, 1 if est.valid else 0,
            phys & SW_BUTTONS, 1 if phys & SW_ESTOP else 0, app.inputs.switches, ev,
        ))

    def flush(self):
        """Put events noted after the last row into a final row's events (end of run)."""
        if self._pending and self.rows:
            last = list(self.rows[-1])
            extra = "; ".join(self._pending)
            last[EVENTS] = (last[EVENTS] + "; " + extra) if last[EVENTS] else extra
            self.rows[-1] = tuple(last)
            self._pending = []


# ---------------------------------------------------------------------- CSV


def write_csv(recorder, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(recorder.rows)


def read_csv(path):
    """The rows of a trace file as dicts (ints where the column is numeric)."""
    text_cols = {"state", "phase", "fault", "events"}
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out.append({k: (v if k in text_cols else int(v)) for k, v in row.items()})
    return out


# ---------------------------------------------------------------------- plot


def plot(recorder, path, title, subtitle="", refs=()):
    """Write the run as a PNG: host_tools/plotting.py's chart of the true angle, the
    estimated angle and the target, the states, the events, the commanded rate and the
    lost steps. refs: (angle_deg, label) reference lines, e.g. the profile's maximum."""
    rows = recorder.rows
    if not rows:
        raise ValueError("nothing to plot: the run recorded no ticks")
    plotting.plot(chart(recorder, refs), path, title, subtitle)


def chart(recorder, refs=()):
    """The run as a plotting.Chart."""
    rows = recorder.rows
    t_ms = [r[T] for r in rows]
    t = [v / 1000.0 for v in t_ms]
    true_deg = [r[TRUE] / 1000.0 for r in rows]
    est_deg = [r[EST] / 1000.0 if r[VALID] else float("nan") for r in rows]
    target_deg = [r[TARGET] / 1000.0 if r[ENABLE] else float("nan") for r in rows]
    # the drive's commanded rate at the table, deg/s (sign: + = head-down)
    deg_per_step = _deg_per_step()
    rate = [r[RATE] * deg_per_step if r[ENABLE] else 0.0 for r in rows]
    lost = [r[LOST] for r in rows]
    t, true_deg, est_deg, target_deg, rate, lost = plotting.break_gaps(
        t, [true_deg, est_deg, target_deg, rate, lost], _GAP_MS / 1000.0)
    return plotting.Chart(
        t, [("true angle", true_deg, plotting.MAIN), ("estimated (IMU)", est_deg,
                                                      plotting.SECOND)],
        target_deg, rate, bands=plotting.bands(t_ms, [r[STATE] for r in rows], _GAP_MS),
        gaps=plotting.gaps(t_ms, _GAP_MS), markers=_marker_events(recorder), refs=refs,
        lost=lost)


_GAP_MS = 50  # ticks are 10 ms apart: a longer step is the power off


def _marker_events(recorder):
    """(t_s, kind, label) for the plot: e-stops, faults, resets, power, scenario inputs."""
    out = []
    for i, (t, source, kind, text) in enumerate(recorder.events):
        mark = recorder.marks.get(i)
        if source == "fw":
            if kind == "fault":
                out.append((t, "fault", text.replace("fault ", "", 1).split(" in ")[0]))
            elif kind == "estop":
                out.append((t, "estop", "e-stop"))
            elif kind == "boot" and t > 0:
                out.append((t, "boot", "boot"))
        elif kind == "console":
            line = text.split("'")[1] if "'" in text else text
            if not line.startswith("program "):
                out.append((t, kind, mark or line[:20]))
        elif kind in plotting.MARKERS and kind not in ("boot", "fault"):
            out.append((t, kind, mark or text[:22]))
    return plotting.thinned(out)


def _deg_per_step():
    from host_tools import params

    d = params.load().drive
    return 360.0 / (d.motor_steps_per_rev * d.microsteps * d.gear_ratio)
