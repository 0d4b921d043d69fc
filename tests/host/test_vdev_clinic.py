"""Issue #23's acceptance, short form: a clinic day on the virtual device, through the
console client as a therapist would run it - three patients created, a short session for
each, the history right per patient, exported to CSV, the progress charts written.

The real firmware on the MicroPython unix port (test_vdev.py's Vdev), virtual time paced
at SPEED times real time (the client's `until` counts wall time); the client
(host_tools/console.py main()) sets the table's clock at connect, so every session is
dated today.
"""

import csv
import datetime
import io
import os

import pytest
from test_vdev import MICROPYTHON, MPREMOTE, SESSION_HEAP, Vdev, reset_boot

from host_tools import console

pytestmark = pytest.mark.skipif(
    not (os.path.exists(MPREMOTE) and os.path.exists(MICROPYTHON)),
    reason="needs .venv's micropython and mpremote (make venv)")

# (name, custom program: angle deg, hold s): short sessions, each a different depth
PATIENTS = (("ann", 5, 2), ("bob", 8, 1), ("cleo", 3, 1))
# paced: a session is about 40 s of table time (3.5 deg/s each way), 1 s of wall time;
# `until READY` after `start` (answered MOVING) then waits for the session's end
SPEED = 40


def _client(port, *args):
    out = io.StringIO()
    rc = console.main(["--port", port, "--timeout", "20"] + list(args), out=out)
    return rc, out.getvalue()


def test_a_clinic_day(tmp_path, code_dir):
    # powered up with the physical reset at the table: its boot takes the first PIN
    v = Vdev(tmp_path, "--heapsize", SESSION_HEAP, "--speed", str(SPEED), "--on-fatal", "exit",
             "--security-reset", mpy_dir=code_dir)
    try:
        reset_boot(v)
        # no rest at horizontal on the way back: only the cost of this test, not the point
        day = ["pin set 4821", "login 4821", "config set rest_pause_ms 0", "home",
               "until READY 60", "program custom"]
        for name, _, _ in PATIENTS:
            day.append("profile new %s" % name)
        for name, deg, hold in PATIENTS:
            day += ["profile select %s" % name, "consent", "consent yes",
                    "start %d %d" % (deg, hold), "until READY 90"]
        export = str(tmp_path / "export")
        rc, said = _client(v.port, "--exec", "; ".join(day), "--export", export)
        assert rc == console.EXIT_OK, said
        rc, said2 = _client(v.port, "--exec", "status; profile list")
        assert rc == console.EXIT_OK and "profile: cleo" in said2, said2
    finally:
        rc_v, left = v.shut_down()
    assert rc_v == 0 and not left, v.output()
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    for name, deg, _ in PATIENTS:
        with open(os.path.join(export, "%s.csv" % name)) as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 1, (name, rows)  # each patient's own session, no one else's
        row = rows[0]
        assert row["program"] == "custom" and row["ended"] == "completed", row
        assert row["level"] == "0" and row["date"][:10] == today, row
        assert abs(float(row["deepest_deg"]) - deg) <= 1.0, row
        assert float(row["head_down_s"]) > 0, row
        png = os.path.join(export, "%s_progress.png" % name)
        with open(png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(export, "default.csv")) as f:
        assert list(csv.DictReader(f)) == []  # the table's first profile ran nothing
    assert "%s: 1 sessions" % PATIENTS[0][0] in said
