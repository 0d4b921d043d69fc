"""Every chart the host tools draw, as PNGs in one style: a run of the table against time
(the simulator's trace, host_tools/trace.py, and the console client's --plot of the
telemetry it received, host_tools/telemetry.py, draw the same chart) and a patient's
progress over the weeks (the client's --export, host_tools/clinic.py).

Owns the figures. A run: the angles and the target on top, the state as coloured bands,
power gaps hatched, event markers (e-stops, faults, resets, inputs) with short labels,
and below the drive's rate and, when any were lost, the lost steps; a Chart is what a
source hands in, each source builds its own from what it recorded. Progress: level,
deepest angle and head-down time against the date (progress()). The data and its units
stay with the callers; matplotlib (Agg backend) is imported only to draw.
"""

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
MARKERS = {
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
# Angle lines: (colour, width, draw order)
MAIN = ("#1f3a93", 2.4, 4)  # the angle the chart is about (the true one, in a simulation)
SECOND = ("#ff7f0e", 1.0, 5)  # another reading of it (the IMU's estimate)


class Chart:
    """A run to draw. Times in seconds from the run's start, angles in degrees (+ =
    head-down), rates in deg/s; the series broken with NaN at the gaps (break_gaps).

    angles: [(label, values, MAIN or SECOND)]; bands: [(t0, t1, state)]; gaps: [(t0,
    t1)] without ticks (power off); markers: [(t, kind, label)] (kind: MARKERS);
    refs: [(angle_deg, label)] reference lines, e.g. the profile's maximum;
    lost: cumulative lost steps, or None; rate_label: what the rate is."""

    def __init__(self, t, angles, target, rate, bands=(), gaps=(), markers=(), refs=(),
                 lost=None, rate_label="commanded rate"):
        self.t = t
        self.angles = angles
        self.target = target
        self.rate = rate
        self.bands = list(bands)
        self.gaps = list(gaps)
        self.markers = list(markers)
        self.refs = list(refs)
        self.lost = lost
        self.rate_label = rate_label


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _titles(fig, ax, title, subtitle):
    fig.suptitle(title, fontsize=13, fontweight="bold")
    if subtitle:
        ax.set_title(subtitle, fontsize=9.5, color="#333333")


def plot(chart, path, title, subtitle=""):
    """Write the chart as a PNG."""
    plt = _pyplot()
    if not chart.t:
        raise ValueError("nothing to plot: no samples")
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(13, 7), sharex=True, gridspec_kw={"height_ratios": [3.2, 1]},
        constrained_layout=True)
    seen_states = _state_bands((ax, ax2), chart)
    _angle_axes(ax, chart)
    kinds_seen = _event_markers(ax, ax2, chart)
    _angle_legend(ax, kinds_seen, seen_states, chart)
    _drive_axes(ax2, chart)
    _titles(fig, ax, title, subtitle)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# The progress chart's rows: (label, marker); the level's axis spans the levels 0-7
# (firmware/profiles.py LEVEL_ANGLE_MDEG).
PROGRESS_ROWS = (("level", "o"), ("deepest angle (deg)", "s"), ("head-down (min)", "^"))
LEVELS = 8


def progress(dates, rows, path, title, subtitle=""):
    """A patient's sessions over the weeks as a PNG: rows (level, deepest angle in deg,
    head-down time in min; each a list beside dates, datetimes in UTC) one above the
    other, the run chart's colours and titles."""
    import matplotlib.dates as mdates

    plt = _pyplot()
    fig, axes = plt.subplots(len(PROGRESS_ROWS), 1, sharex=True, figsize=(10, 7),
                             constrained_layout=True)
    for ax, y, (label, marker) in zip(axes, rows, PROGRESS_ROWS):
        ax.set_facecolor(STATE_COLOURS["READY"] + "55")
        ax.plot(dates, y, color=MAIN[0], lw=1.6, marker=marker, ms=5)
        ax.set_ylabel(label)
        ax.grid(True, color="white", lw=0.9, alpha=0.9)
    axes[0].set_ylim(-0.5, LEVELS - 0.5)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    axes[-1].set_xlabel("date (UTC)")
    fig.autofmt_xdate()
    _titles(fig, axes[0], title, subtitle)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- building a Chart


def bands(t_ms, states, gap_ms):
    """(t0_s, t1_s, state) runs of equal state; a time step over gap_ms ends a run."""
    out = []
    if not t_ms:
        return out
    t0, cur, prev_t = t_ms[0], states[0], t_ms[0]
    for t, st in zip(t_ms[1:], states[1:]):
        if st != cur or t - prev_t > gap_ms:  # a state change, or a gap (power off)
            out.append((t0 / 1000.0, prev_t / 1000.0, cur))
            t0 = t if t - prev_t > gap_ms else prev_t
            cur = st
        prev_t = t
    out.append((t0 / 1000.0, prev_t / 1000.0, cur))
    return out


def gaps(t_ms, gap_ms):
    """(t0_s, t1_s) where the time steps over gap_ms (no ticks: power off)."""
    return [(a / 1000.0, b / 1000.0) for a, b in zip(t_ms, t_ms[1:]) if b - a > gap_ms]


def break_gaps(t, series, gap_s):
    """Insert NaN where the time (s) steps over gap_s, so lines do not bridge the gap:
    (t, *series)."""
    nan = float("nan")
    out_t = []
    out = [[] for _ in series]
    prev = None
    for i, ti in enumerate(t):
        if prev is not None and ti - prev > gap_s:
            out_t.append((prev + ti) / 2)
            for o in out:
                o.append(nan)
        out_t.append(ti)
        for o, s in zip(out, series):
            o.append(s[i])
        prev = ti
    return (out_t, *out)


def thinned(markers):
    """markers [(t_ms, kind, label)] -> [(t_s, kind, label)]: one per kind per 0.5 s (a
    bouncing contact would be a smear), and one per fault name: a fault raised again and
    again (a retried safe return) is counted."""
    markers = sorted(markers, key=lambda e: e[0])
    kept = []
    last = {}
    fault_at = {}
    for t, kind, label in markers:
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


# ---------------------------------------------------------------- drawing


def _state_bands(axes, chart):
    """Each state's time as a coloured band, the gaps hatched; the states in order seen."""
    seen_states = []
    for t0, t1, st in chart.bands:
        colour = STATE_COLOURS.get(st, "#eeeeee")
        for a in axes:
            a.axvspan(t0, t1, color=colour, alpha=0.55, lw=0)
        if st not in seen_states:
            seen_states.append(st)
    for t0, t1 in chart.gaps:
        for a in axes:
            a.axvspan(t0, t1, facecolor="#f2f2f2", edgecolor="#888888", hatch="//", lw=0)
    return seen_states


def _angle_axes(ax, chart):
    """The angles and the target; the reference lines."""
    from matplotlib.ticker import MultipleLocator

    t, refs = chart.t, chart.refs
    ax.axhline(0, color="#555555", lw=0.8, zorder=1)
    for angle, label in refs:
        ax.axhline(angle, color="#b22222", lw=1.0, ls=":", zorder=2)
        ax.annotate(label, (1.0, angle), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom",
                    fontsize=8, color="#b22222")
    ax.plot(t, chart.target, color="#444444", lw=1.2, ls="--", label="target", zorder=3)
    for label, values, (colour, lw, z) in chart.angles:
        ax.plot(t, values, color=colour, lw=lw, label=label, zorder=z)
    finite = [v for v in chart.angles[0][1] if v == v]
    lo = min(finite + [r[0] for r in refs])
    hi = max(finite + [r[0] for r in refs])
    ax.set_ylim(min(lo, -5) - 4, max(hi, 5) + 9)
    ax.yaxis.set_major_locator(MultipleLocator(10 if hi - lo > 25 else 5))
    ax.set_ylabel("angle (deg, + = head-down)")
    ax.grid(True, color="white", lw=0.9, alpha=0.9)


def _event_markers(ax, ax2, chart):
    """Event markers with short labels along the top, staggered when they crowd; returns
    the (colour, line style, name) kinds drawn."""
    ytop = ax.get_ylim()[1]
    slots = []
    t = chart.t
    span = max(t[-1] - t[0], 1.0)
    kinds_seen = []
    for ts, kind, label in chart.markers:
        colour, ls, name = MARKERS.get(kind, ("#333333", ":", kind))
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


def _angle_legend(ax, kinds_seen, seen_states, chart):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=c, ls=ls, lw=1.3, label=n) for c, ls, n in kinds_seen]
    handles += [Patch(color=STATE_COLOURS.get(s, "#eeeeee"), alpha=0.7, label=s)
                for s in seen_states]
    if chart.gaps:
        handles.append(Patch(facecolor="#f2f2f2", edgecolor="#888888", hatch="//",
                             label="power off"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              framealpha=0.95, borderaxespad=0.0)


def _drive_axes(ax2, chart):
    """The drive's rate, and the lost steps when there are any."""
    from matplotlib.lines import Line2D

    t = chart.t
    ax2.plot(t, chart.rate, color="#2c7fb8", lw=1.1, label=chart.rate_label)
    ax2.axhline(0, color="#555555", lw=0.6)
    ax2.set_ylabel("drive (deg/s)")
    ax2.set_xlabel("time (s)")
    ax2.grid(True, color="white", lw=0.9, alpha=0.9)
    h = [Line2D([], [], color="#2c7fb8", lw=1.1, label=chart.rate_label + " (deg/s)")]
    if chart.lost is not None and any(v > 0 for v in chart.lost if v == v):
        ax3 = ax2.twinx()
        ax3.plot(t, chart.lost, color="#d62728", lw=1.4)
        ax3.set_ylabel("lost steps", color="#d62728")
        ax3.tick_params(axis="y", colors="#d62728")
        h.append(Line2D([], [], color="#d62728", lw=1.4, label="lost steps (cumulative)"))
    ax2.legend(handles=h, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
               framealpha=0.95, borderaxespad=0.0)
    ax2.set_xlim(t[0], t[-1])
