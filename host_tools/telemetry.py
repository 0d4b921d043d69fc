"""Telemetry from the console's `stream`: record it to CSV, read it back, plot it (with
host_tools/plotting.py, the simulator's chart).

A sample is the firmware's telemetry object (firmware/console.py, JSON mode):
{"t_ms", "state", "angle_mdeg", "target_mdeg", "rate_mdeg_s", "fault"}, integers in the
firmware's units. The CSV has exactly these columns, in that order, so a recording is
the stream as the table sent it. `t_ms` is the board's ticks_ms(): it wraps at 2**30
and restarts at a reset; `elapsed_s()` turns a recording into a monotonic time axis.

    python -m host_tools.telemetry plot build/run.csv build/run.png
"""

import argparse
import csv
import sys

FIELDS = ("t_ms", "state", "angle_mdeg", "target_mdeg", "rate_mdeg_s", "fault")
_INT_FIELDS = ("t_ms", "angle_mdeg", "target_mdeg", "rate_mdeg_s")


class TelemetryError(ValueError):
    pass


def check_sample(obj):
    """The sample as a dict of exactly FIELDS with the right types; TelemetryError if not."""
    if not isinstance(obj, dict):
        raise TelemetryError("telemetry sample is not an object: %r" % (obj,))
    out = {}
    for k in FIELDS:
        if k not in obj:
            raise TelemetryError("telemetry sample without %s: %r" % (k, obj))
        v = obj[k]
        if k in _INT_FIELDS:
            if type(v) is not int:
                raise TelemetryError("telemetry %s is not an integer: %r" % (k, v))
        elif not isinstance(v, str):
            raise TelemetryError("telemetry %s is not text: %r" % (k, v))
        out[k] = v
    return out


class Recorder:
    """Collects samples in memory and, with a path, writes them to CSV as they come."""

    def __init__(self, path=None):
        self.samples = []
        self.path = path
        self._file = None
        self._writer = None
        if path:
            self._file = open(path, "w", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(FIELDS)

    def add(self, obj):
        s = check_sample(obj)
        self.samples.append(s)
        if self._writer is not None:
            self._writer.writerow([s[k] for k in FIELDS])
            self._file.flush()  # a crash or Ctrl-C keeps what was recorded
        return s

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_csv(path):
    """The samples of a recording, as dicts with int values where FIELDS says so."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != FIELDS:
        raise TelemetryError("%s: not a telemetry recording (header %r)" % (path, rows[:1]))
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(FIELDS):
            raise TelemetryError("%s:%d: %d columns, expected %d" % (path, n, len(row),
                                                                     len(FIELDS)))
        d = {}
        for k, v in zip(FIELDS, row):
            if k in _INT_FIELDS:
                try:
                    d[k] = int(v)
                except ValueError:
                    raise TelemetryError("%s:%d: %s=%r is not an integer" % (path, n, k, v)) \
                        from None
            else:
                d[k] = v
        out.append(d)
    return out


def elapsed_s(samples):
    """Seconds since the first sample, monotonic across a ticks wrap or a reset (where
    the board's clock jumps back, the time axis simply continues)."""
    out = []
    offset = 0
    prev = None
    for s in samples:
        t = s["t_ms"]
        if prev is not None and t + offset < prev:
            offset = prev - t
        out.append((t + offset) / 1000.0)
        prev = t + offset
    if out:
        t0 = out[0]
        out = [t - t0 for t in out]
    return out


def plot(samples, path, title=None):
    """The recording as host_tools/plotting.py's chart (the simulator's): the firmware's
    angle and target, the states as bands, faults and resets marked, the rate below.
    Writes a PNG."""
    if not samples:
        raise TelemetryError("nothing to plot: no telemetry samples")
    from host_tools import plotting

    t = elapsed_s(samples)
    t_ms = [int(round(v * 1000)) for v in t]
    angle = [s["angle_mdeg"] / 1000.0 for s in samples]
    target = [s["target_mdeg"] / 1000.0 for s in samples]
    rate = [s["rate_mdeg_s"] / 1000.0 for s in samples]
    markers = []
    for i in range(1, len(samples)):
        prev, s = samples[i - 1], samples[i]
        if s["fault"] != prev["fault"] and s["fault"] != "none":
            markers.append((t_ms[i], "fault", s["fault"]))
        if s["t_ms"] < prev["t_ms"] and prev["t_ms"] - s["t_ms"] < _WRAP_MS // 2:
            markers.append((t_ms[i], "boot", "reset"))  # the board's clock restarted
    if samples[0]["fault"] != "none":
        markers.append((0, "fault", samples[0]["fault"]))
    t, angle, target, rate = plotting.break_gaps(t, [angle, target, rate], _GAP_MS / 1000.0)
    chart = plotting.Chart(t, [("angle (firmware)", angle, plotting.MAIN)], target, rate,
                           bands=plotting.bands(t_ms, [s["state"] for s in samples], _GAP_MS),
                           markers=plotting.thinned(markers),
                           rate_label="rate between samples")
    return plotting.plot(chart, path, title or "inversion table telemetry")


_GAP_MS = 2500  # the stream runs at 1-50 Hz: a longer silence is a gap, not a line
_WRAP_MS = 1 << 30  # ticks_ms() wraps here (elapsed_s)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.telemetry",
                                 description="Plot a telemetry recording (CSV from the console).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plot", help="plot a CSV recording to a PNG")
    p.add_argument("csv")
    p.add_argument("png")
    p.add_argument("--title")
    args = ap.parse_args(argv)
    try:
        samples = read_csv(args.csv)
        plot(samples, args.png, args.title)
    except (OSError, TelemetryError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    print("%d samples plotted to %s" % (len(samples), args.png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
