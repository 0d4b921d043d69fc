"""The simulator's command line (host_tools/sim.py): a program run writes the documented
trace and a real PNG, prints the summary, exits 0 when the session ends as expected,
1 when an expectation fails and 2 for usage errors; plain progress lines under CI.
"""

import csv
import os
import subprocess
import sys

import pytest

from host_tools import sim, trace
from host_tools.paths import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "host_tools.sim", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def beginner(tmp_path_factory):
    """`make sim` exactly (the Makefile's command), into a temporary directory."""
    d = tmp_path_factory.mktemp("sim")
    png, csv_path = str(d / "sim.png"), str(d / "sim.csv")
    r = run_cli("--program", "beginner", "--plot", png, "--trace", csv_path)
    return r, png, csv_path


def test_make_sim_runs_the_documented_command():
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    assert ("python -m host_tools.sim --program beginner --plot build/sim.png "
            "--trace build/sim.csv") in text


def test_a_beginner_run_ends_at_loading_and_exits_0(beginner):
    r, _, _ = beginner
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for words in ("deepest angle", "time head-down", "emergency returns", "faults",
                  "lost steps", "final state", "sessions recorded", "wall time", "realtime"):
        assert words in out, out
    assert "READY at -60.0 deg" in out
    assert "sessions recorded  1" in out
    assert "Traceback" not in r.stderr


def test_without_a_terminal_progress_is_plain_lines(beginner):
    r, _, _ = beginner
    lines = [ln for ln in r.stderr.splitlines() if "t=" in ln]
    assert lines, r.stderr
    assert "\x1b[" not in r.stderr  # no terminal control codes in a CI log
    assert any("HOLDING" in ln for ln in lines)


def test_the_trace_has_the_documented_columns(beginner):
    _, _, path = beginner
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == trace.COLUMNS
    for col in ("t_ms", "state", "phase", "true_angle_mdeg", "est_angle_mdeg", "target_mdeg",
                "step_count", "rate_sps", "fault", "lost_steps", "est_valid", "buttons",
                "estop", "events"):
        assert col in header
    # every documented column is described in the module docstring
    for col in trace.COLUMNS:
        assert "    %s " % col in trace.__doc__, col
    rows = trace.read_csv(path)
    assert rows[-1]["state"] == "READY"
    assert max(r["true_angle_mdeg"] for r in rows) <= 30000
    ts = [r["t_ms"] for r in rows]
    assert ts == sorted(ts) and ts[1] - ts[0] == 10
    assert any("session_end" in r["events"] for r in rows)
    assert any("consent" in r["events"] for r in rows)


def test_the_plot_is_a_png(beginner):
    _, path, _ = beginner
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    assert w >= 1000 and h >= 600


def test_an_expectation_that_fails_exits_1(tmp_path):
    p = tmp_path / "too_deep.toml"
    p.write_text('duration_s = 40\n[profile]\nconsent = true\n[program]\nname = "beginner"\n'
                 '[expect]\nmax_true_angle_deg = 10\n')
    r = run_cli("--scenario", str(p), "--quiet")
    assert r.returncode == 1
    assert "FAIL" in r.stdout and "max_true_angle_deg: the table reached" in r.stdout


def test_a_session_cut_short_by_duration_exits_1():
    assert sim.main(["--program", "beginner", "--duration", "5", "--quiet"]) == 1


@pytest.mark.parametrize("args,words", [
    (["--program", "custom"], "needs --angle"),
    (["--program", "beginner", "--angle", "20"], "--angle/--hold go with"),
    (["--program", "beginner", "--level", "3"], "--level goes with"),
    (["--program", "beginner", "--mass", "20"], "--mass: 20.0 is out of range"),
    (["--program", "progression", "--level", "9"], "--level: 9 is out of range"),
    (["--scenario", "scenarios/beginner_session.toml", "--program", "beginner"],
     "--scenario runs the file's own program"),
    (["--scenario", "no/such/file.toml"], "no/such/file.toml: cannot read"),
    (["--scenario", "scenarios/beginner_session.toml", "--offset", "-1200"],
     "--offset: -1200.0 is out of range"),
])
def test_usage_errors_exit_2_with_a_message(args, words, capsys):
    assert sim.main(args + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert "Traceback" not in err


def test_a_custom_program_with_overrides(tmp_path, capsys):
    png = str(tmp_path / "c.png")
    code = sim.main(["--program", "custom", "--angle", "40", "--hold", "20", "--mass", "110",
                     "--height", "1900", "--offset", "40", "--seed", "3", "--plot", png,
                     "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.out
    assert "profile max raised to 40 deg" in out.err
    assert "custom 40 deg 20 s" in out.out and "110 kg, 1900 mm tall" in out.out
    assert "40.0 deg true" in out.out
    assert os.path.getsize(png) > 10000


def test_a_scenario_file_run(tmp_path, capsys):
    csv_path = str(tmp_path / "t.csv")
    code = sim.main(["--scenario", os.path.join(ROOT, "scenarios", "estop_bounce.toml"),
                     "--trace", csv_path, "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "emergency returns  1" in out
    assert any(r["state"] == "EMERGENCY_RETURN" for r in trace.read_csv(csv_path))


def test_realtime_paces_to_the_wall_clock(capsys):
    import time

    t0 = time.perf_counter()
    assert sim.main(["--program", "none", "--duration", "0.6", "--realtime", "--quiet"]) == 0
    assert time.perf_counter() - t0 >= 0.55
    assert "speed" in capsys.readouterr().out
