"""What the simulator tells about a run besides the trace (host_tools/session_plan.py,
sim.py, scenario_eval.plot_title): which cap shortened a program's hold and by how much,
a progress bar as long as the session, a plot title that says each thing once, the
build identity in the summary, and the client's telemetry drawn by the same chart.

Short sessions (holds of seconds) so the file stays cheap.
"""

import os

from host_tools import paths, plotting, scenario, sim, telemetry, version
from host_tools.scenario_eval import plot_title

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _custom(angle_deg, hold_s, profile=None, settings=None):
    data = {"name": "custom program", "until": "session_end", "duration_s": 300,
            "profile": dict({"consent": True}, **(profile or {})),
            "program": {"name": "custom", "angle_deg": angle_deg, "hold_s": hold_s},
            "expect": {"final_state": "READY"}}
    if settings:
        data["settings"] = settings
    return scenario.from_dict(data, "<command line>")


def _hold(sc, progress=None):
    r = scenario.run(sc, progress=progress)
    assert r.ok, r.failures
    return r.stats["hold"], r


def test_the_profiles_hold_cap_is_named_with_its_numbers():
    text, _ = _hold(_custom(10, 20, {"hold_max_s": 12}))
    assert text == ("12 s at 10 deg, 20 s asked: shortened by the profile's hold cap "
                    "(hold_max_ms 12 s)")


def test_the_session_cap_is_named_with_its_numbers():
    text, _ = _hold(_custom(10, 14, {"hold_max_s": 14, "session_cap_s": 14}))
    held = float(text.split(" s at ")[0])
    assert 0 < held < 14, text
    assert text.endswith("14 s asked: shortened by the session cap (session_cap_ms 14 s of "
                         "head-down time, the ways down and up included)")


def test_the_head_down_cap_is_named_with_its_numbers():
    text, _ = _hold(_custom(35, 8, {"max_angle_deg": 35},
                            {"deep_angle_mdeg": 30000, "deep_hold_max_ms": 5000}))
    assert text == ("5 s at 35 deg, 8 s asked: shortened by the head-down cap beyond 30 deg "
                    "(deep_hold_max_ms 5 s)")


def test_a_hold_that_fits_is_said_as_asked_and_the_bar_is_as_long_as_the_session():
    calls = []
    text, r = _hold(_custom(10, 5), lambda now, end, st, a: calls.append((now, end)))
    assert text == "5 s at 10 deg, as asked"
    session_end = r.stats["sim_ms"]
    mid = [end for now, end in calls if session_end * 0.4 < now < session_end * 0.6]
    assert mid and all(abs(end - session_end) < 0.1 * session_end for end in mid), (
        mid, session_end)  # not the 300 s the run may last at most
    assert calls[-1][0] == calls[-1][1] == session_end  # full at the end


def test_the_summary_names_the_build_and_the_hold(capsys):
    args = sim.build_parser().parse_args(["--program", "custom", "--angle", "10", "--hold",
                                          "2"])
    sc, _ = sim.program_scenario(args)
    r = scenario.run(sc)
    rows = dict(sim.summary_rows(r))
    assert rows["build"] == version.identity()
    assert rows["hold"] == "2 s at 10 deg, as asked"


def test_plot_titles_say_each_thing_once():
    args = sim.build_parser().parse_args(["--program", "beginner"])
    assert plot_title(sim.program_scenario(args)[0]) == "beginner program"
    args = sim.build_parser().parse_args(["--program", "progression", "--level", "7"])
    assert plot_title(sim.program_scenario(args)[0]) == "progression level 7 program"
    level3 = scenario.load(os.path.join(paths.SCENARIOS, "progression_level3.toml"))
    assert plot_title(level3) == "progression at level 3"
    cap = scenario.load(os.path.join(paths.SCENARIOS, "session_cap.toml"))
    assert plot_title(cap) == "the session cap ends the session - interval 30 deg 60 s"


def test_telemetry_is_drawn_by_the_one_chart(tmp_path, monkeypatch):
    samples = [{"t_ms": 1000 + 100 * i, "state": "MOVING" if i < 5 else "HOLDING",
                "angle_mdeg": 1000 * i, "target_mdeg": 5000, "rate_mdeg_s": 1000,
                "fault": "none" if i < 8 else "RUNAWAY"} for i in range(10)]
    drawn = []
    real = plotting.plot
    monkeypatch.setattr(plotting, "plot", lambda chart, path, title, subtitle="": (
        drawn.append(chart), real(chart, path, title, subtitle))[1])
    path = str(tmp_path / "tel.png")
    telemetry.plot(samples, path)
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    chart = drawn[0]
    assert [b[2] for b in chart.bands] == ["MOVING", "HOLDING"]
    assert chart.markers == [(0.8, "fault", "RUNAWAY")]
