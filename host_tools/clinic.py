"""The clinic's records on the host: each patient's session history as CSV and as a
progress chart over the weeks.

Owns reading the history from the table (the console's `profile list` and
`history <name> <n>`, JSON mode, through host_tools/console.py's ConsoleClient), the
CSV layout, and the progress chart's data (level, deepest angle and head-down time
against the date; drawn by host_tools/plotting.py, the one plotting module). The
client's --export DIR writes DIR/<name>.csv and DIR/<name>_progress.png for every
patient (or the one --patient names).

Sessions recorded before the table's clock was set have no date: they are in the CSV
(date empty, the firmware's "clock not set, uptime ..." in the time column) but not on
the chart, whose title counts them.
"""

import csv
import datetime
import os

HISTORY_MAX = 999  # the console's largest `history` count: everything the table keeps
CSV_FIELDS = ("session", "date", "time", "program", "level", "deepest_deg", "head_down_s",
              "ended")


class ClinicError(Exception):
    """The table refused a request (the reply's error)."""


def _ok(reply, what):
    if not reply.get("ok"):
        raise ClinicError("%s: %s" % (what, reply.get("error", "?")))
    return reply


def patients(client):
    """The table's profile names, in its order."""
    return [p[0] for p in _ok(client.request("profile list"), "profile list")["profiles"]]


def history(client, name):
    """A patient's sessions as the table reports them, oldest first."""
    r = _ok(client.request("history %s %d" % (name, HISTORY_MAX)), "history %s" % name)
    return list(reversed(r["sessions"]))


def csv_rows(sessions):
    """The CSV rows (dicts of CSV_FIELDS) of a history, units in the column names."""
    return [{"session": s["session"], "date": s["date"] or "", "time": s["time"],
             "program": s["program"], "level": s["level"],
             "deepest_deg": "%.3f" % (s["deepest_mdeg"] / 1000.0),
             "head_down_s": "%.3f" % (s["head_down_ms"] / 1000.0), "ended": s["ended"]}
            for s in sessions]


def write_csv(sessions, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(csv_rows(sessions))
    return path


def _date(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")


def plot_progress(sessions, path, name):
    """Level, deepest angle (deg) and head-down time (min) against the date, one
    patient; a PNG. Returns the number of dated sessions plotted."""
    from host_tools import plotting

    dated = [s for s in sessions if s["date"]]
    undated = len(sessions) - len(dated)
    rows = ([s["level"] for s in dated], [s["deepest_mdeg"] / 1000.0 for s in dated],
            [s["head_down_ms"] / 60000.0 for s in dated])
    subtitle = "%d sessions" % len(dated)
    if undated:
        subtitle += " (%d more without a date: the table's clock was not set)" % undated
    plotting.progress([_date(s["date"]) for s in dated], rows, path,
                      "progress of %s" % name, subtitle)
    return len(dated)


def export(client, directory, names=None):
    """Every patient's (or those named) CSV and progress chart into directory; a list of
    (name, sessions, csv path, png path)."""
    os.makedirs(directory, exist_ok=True)
    out = []
    for name in names or patients(client):
        sessions = history(client, name)
        c = write_csv(sessions, os.path.join(directory, "%s.csv" % name))
        p = os.path.join(directory, "%s_progress.png" % name)
        plot_progress(sessions, p, name)
        out.append((name, len(sessions), c, p))
    return out
