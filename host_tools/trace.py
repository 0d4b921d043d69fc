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

The plot shows the true angle, the estimated angle and the target against time, the
state as coloured bands, markers for e-stops, faults, power cuts and resets, and a
second panel with the drive's commanded rate and the lost steps.
"""

import csv

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

# One colour per state: calm greens/blues for standing, warm for moving, red for alarms.
STATE_COLOURS = {
    "BOOT": "#d9d9d9",
    "RECOVERY": "#f4a6d7",
    "HOMING": "#c7b8ea",
    "READY": "#cfe8cf",
    "MOVING": "#ffe19c",
    "JOGGING": "#ffd0a1",
    "HOLDING": "#bfdcf5",
    "RETURNING": "#b8ece4",
    "EMERGENCY_RETURN": "#ff9c9c",
    "FAULT": "#e06666",
}
# Marker styles for event kinds: (colour, line style, short label)
_MARKERS = {
    "estop": ("#c00000", "-", "e-stop"),
    "fault": ("#7a0000", "--", "fault"),
    "power_cut": ("#000000", "-", "power cut"),
    "power_restore": ("#000000", ":", "power back"),
    "hard_reset": ("#6a3d9a", "-", "reset"),
    "soft_reset": ("#6a3d9a", "-", "soft reset"),
    "crash": ("#6a3d9a", "--", "crash"),
    "boot": ("#6a3d9a", ":", "boot"),
    "imu_fault": ("#b15928", "-.", "IMU"),
    "press": ("#1f4e79", ":", "press"),
    "console": ("#1f4e79", ":", "console"),
    "start": ("#1f4e79", ":", "start"),
    "user_load": ("#33a02c", "-.", "load"),
}


def _bands(rows):
    """(t0_s, t1_s, state) runs of equal state."""
    out = []
    if not rows:
        return out
    t0 = rows[0][T]
    cur = rows[0][STATE]
    prev_t = t0
    for r in rows[1:]:
        if r[STATE] != cur or r[T] - prev_t > 50:  # a state change, or a gap (power off)
            out.append((t0 / 1000.0, prev_t / 1000.0, cur))
            t0 = r[T] if r[T] - prev_t > 50 else prev_t
            cur = r[STATE]
        prev_t = r[T]
    out.append((t0 / 1000.0, prev_t / 1000.0, cur))
    return out


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
        elif kind in _MARKERS and kind not in ("boot", "fault"):
            out.append((t, kind, mark or text[:22]))
    return _thinned(out)


def _thinned(out):
    """One marker per kind per 0.5 s (a bouncing contact would be a smear), and one per
    fault name: a fault raised again and again (a retried safe return) is counted."""
    out.sort(key=lambda e: e[0])
    kept = []
    last = {}
    fault_at = {}
    for t, kind, label in out:
        if kind == "fault":
            if label in fault_at:
                fault_at[label][1] += 1
                continue
            fault_at[label] = [len(kept), 1]
        elif kind in last and t - last[kind] < 500:
            continue
        last[kind] = t
        kept.append([t / 1000.0, kind, label])
    for label, (i, n) in fault_at.items():
        if n > 1:
            kept[i][2] = "%s (x%d)" % (label, n)
    return [tuple(k) for k in kept]


def plot(recorder, path, title, subtitle="", refs=()):
    """Write the run as a PNG (matplotlib, Agg backend).

    refs: (angle_deg, label) horizontal reference lines, e.g. the profile's maximum."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = recorder.rows
    if not rows:
        raise ValueError("nothing to plot: the run recorded no ticks")
    s = _series(rows)
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(13, 7), sharex=True, gridspec_kw={"height_ratios": [3.2, 1]},
        constrained_layout=True)
    seen_states = _state_bands((ax, ax2), rows)
    _angle_axes(ax, s, refs)
    kinds_seen = _event_markers(ax, ax2, recorder, s["t"])
    _angle_legend(ax, kinds_seen, seen_states, rows)
    _drive_axes(ax2, s, recorder)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    if subtitle:
        ax.set_title(subtitle, fontsize=9.5, color="#333333")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _series(rows):
    """The plotted series (lists by name), broken at the gaps (power off)."""
    t = [r[T] / 1000.0 for r in rows]
    true_deg = [r[TRUE] / 1000.0 for r in rows]
    est_deg = [r[EST] / 1000.0 if r[VALID] else float("nan") for r in rows]
    target_deg = [r[TARGET] / 1000.0 if r[ENABLE] else float("nan") for r in rows]
    # the drive's commanded rate at the table, deg/s (sign: + = head-down)
    deg_per_step = _deg_per_step()
    rate = [r[RATE] * deg_per_step if r[ENABLE] else 0.0 for r in rows]
    lost = [r[LOST] for r in rows]
    t, true_deg, est_deg, target_deg, rate, lost = _break_gaps(
        t, [true_deg, est_deg, target_deg, rate, lost])
    return {"t": t, "true": true_deg, "est": est_deg, "target": target_deg, "rate": rate,
            "lost": lost}


def _state_bands(axes, rows):
    """Each state's time as a coloured band, the gaps hatched; the states in order seen."""
    seen_states = []
    for t0, t1, st in _bands(rows):
        colour = STATE_COLOURS.get(st, "#eeeeee")
        for a in axes:
            a.axvspan(t0, t1, color=colour, alpha=0.55, lw=0)
        if st not in seen_states:
            seen_states.append(st)
    for t0, t1 in _gaps(rows):
        for a in axes:
            a.axvspan(t0, t1, facecolor="#f2f2f2", edgecolor="#888888", hatch="//", lw=0)
    return seen_states


def _angle_axes(ax, s, refs):
    """The angles: target, true, estimated; the reference lines."""
    from matplotlib.ticker import MultipleLocator

    t, true_deg = s["t"], s["true"]
    ax.axhline(0, color="#555555", lw=0.8, zorder=1)
    for angle, label in refs:
        ax.axhline(angle, color="#b22222", lw=1.0, ls=":", zorder=2)
        ax.annotate(label, (1.0, angle), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom",
                    fontsize=8, color="#b22222")
    ax.plot(t, s["target"], color="#444444", lw=1.2, ls="--", label="target", zorder=3)
    ax.plot(t, true_deg, color="#1f3a93", lw=2.4, label="true angle", zorder=4)
    ax.plot(t, s["est"], color="#ff7f0e", lw=1.0, label="estimated (IMU)", zorder=5)
    finite = [v for v in true_deg if v == v]
    lo = min(finite + [r[0] for r in refs])
    hi = max(finite + [r[0] for r in refs])
    ax.set_ylim(min(lo, -5) - 4, max(hi, 5) + 9)
    ax.yaxis.set_major_locator(MultipleLocator(10 if hi - lo > 25 else 5))
    ax.set_ylabel("angle (deg, + = head-down)")
    ax.grid(True, color="white", lw=0.9, alpha=0.9)


def _event_markers(ax, ax2, recorder, t):
    """Event markers with short labels along the top, staggered when they crowd; returns
    the (colour, line style, name) kinds drawn."""
    ytop = ax.get_ylim()[1]
    slots = []
    span = max(t[-1] - t[0], 1.0)
    kinds_seen = []
    for ts, kind, label in _marker_events(recorder):
        colour, ls, name = _MARKERS.get(kind, ("#333333", ":", kind))
        ax.axvline(ts, color=colour, ls=ls, lw=1.3, zorder=6)
        ax2.axvline(ts, color=colour, ls=ls, lw=1.0, zorder=6)
        if (colour, ls, name) not in kinds_seen:
            kinds_seen.append((colour, ls, name))
        row = 0
        while any(abs(ts - s) < span * 0.07 and r == row for s, r in slots):
            row += 1
        slots.append((ts, row))
        ax.annotate(label, (ts, ytop), xytext=(3, -11 - 11 * (row % 4)),
                    textcoords="offset points", fontsize=7.5, color=colour, zorder=7,
                    bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none",
                          "alpha": 0.85})
    return kinds_seen


def _angle_legend(ax, kinds_seen, seen_states, rows):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=c, ls=ls, lw=1.3, label=n) for c, ls, n in kinds_seen]
    handles += [Patch(color=STATE_COLOURS.get(s, "#eeeeee"), alpha=0.7, label=s)
                for s in seen_states]
    if _gaps(rows):
        handles.append(Patch(facecolor="#f2f2f2", edgecolor="#888888", hatch="//",
                             label="power off"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              framealpha=0.95, borderaxespad=0.0)


def _drive_axes(ax2, s, recorder):
    """The commanded rate, and the lost steps when there are any."""
    from matplotlib.lines import Line2D

    t = s["t"]
    ax2.plot(t, s["rate"], color="#2c7fb8", lw=1.1, label="commanded rate")
    ax2.axhline(0, color="#555555", lw=0.6)
    ax2.set_ylabel("drive (deg/s)")
    ax2.set_xlabel("time (s)")
    ax2.grid(True, color="white", lw=0.9, alpha=0.9)
    h = [Line2D([], [], color="#2c7fb8", lw=1.1, label="commanded rate (deg/s)")]
    if recorder.rows[-1][LOST] > 0:
        ax3 = ax2.twinx()
        ax3.plot(t, s["lost"], color="#d62728", lw=1.4)
        ax3.set_ylabel("lost steps", color="#d62728")
        ax3.tick_params(axis="y", colors="#d62728")
        h.append(Line2D([], [], color="#d62728", lw=1.4, label="lost steps (cumulative)"))
    ax2.legend(handles=h, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
               framealpha=0.95, borderaxespad=0.0)
    ax2.set_xlim(t[0], t[-1])


def _gaps(rows):
    """(t0_s, t1_s) where no tick ran (power off)."""
    out = []
    for a, b in zip(rows, rows[1:]):
        if b[T] - a[T] > 50:
            out.append((a[T] / 1000.0, b[T] / 1000.0))
    return out


def _deg_per_step():
    from host_tools import params

    d = params.load().drive
    return 360.0 / (d.motor_steps_per_rev * d.microsteps * d.gear_ratio)


def _break_gaps(t, series):
    """Insert NaN where the time jumps (power off), so lines do not bridge the gap."""
    nan = float("nan")
    out_t = []
    out = [[] for _ in series]
    prev = None
    for i, ti in enumerate(t):
        if prev is not None and ti - prev > 0.05:
            out_t.append((prev + ti) / 2)
            for o in out:
                o.append(nan)
        out_t.append(ti)
        for o, s in zip(out, series):
            o.append(s[i])
        prev = ti
    return (out_t, *out)
