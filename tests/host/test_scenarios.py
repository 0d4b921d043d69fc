"""Every scenario file in scenarios/ runs on the simulated table and its expectations hold.

A file marked `xfail = "reason"` documents a firmware bug it found: it is reported as an
expected failure with that reason, and as a failure once it passes (strict), so the
marker is removed when the bug is fixed. A malformed file fails here with its message.
"""

import os
import re

import pytest

from host_tools import scenario
from host_tools.paths import ROOT

FILES = scenario.discover()
README = os.path.join(ROOT, "scenarios", "README.md")

# The behaviours the scenario set must keep covering (issue 3), by file.
REQUIRED = (
    "beginner_session.toml",
    "estop_at_depth.toml",
    "power_cut_inverted.toml",
    "heavy_offcentre_runaway.toml",
    "estop_cut_wire.toml",
    "estop_bounce.toml",
    "watchdog_crash.toml",
    "stuck_down_button.toml",
    "switch_noise.toml",
    "imu_dropout.toml",
    "goto_beyond_max.toml",
    "start_without_consent.toml",
    "interval_within_angles.toml",
    "ankle_lock_open_no_head_down.toml",  # issue #22's acceptance
    "ankle_lock_opened_at_depth.toml",
    "ankle_lock_wire_cut_at_depth.toml",
    "ankle_lock_glitch.toml",
)


def _params():
    out = []
    for path in FILES:
        marks = []
        try:
            sc = scenario.load(path)
            if sc.xfail:
                marks.append(pytest.mark.xfail(reason=sc.xfail, strict=True))
        except scenario.ScenarioError:
            pass  # test_scenario reports the problem
        out.append(pytest.param(path, id=os.path.basename(path), marks=marks))
    return out


@pytest.mark.parametrize("path", _params())
def test_scenario(path):
    try:
        sc = scenario.load(path)
    except scenario.ScenarioError as e:
        pytest.fail("malformed scenario: %s" % e, pytrace=False)
    result = scenario.run(sc)
    if result.failures:
        st = result.stats
        pytest.fail("%s: %d expectation(s) failed:\n  - %s\n(final %s, fault %s, deepest "
                    "%.1f deg, lost steps %d, %.1f s simulated)" % (
                        os.path.basename(path), len(result.failures),
                        "\n  - ".join(result.failures), st["final_state"],
                        st["final_fault"], st["deepest_true_mdeg"] / 1000, st["lost_steps"],
                        st["sim_ms"] / 1000) + (
                        "\n" + result.error_traceback if result.error_traceback else ""),
                    pytrace=False)


def test_the_required_scenarios_exist():
    names = {os.path.basename(f) for f in FILES}
    missing = [n for n in REQUIRED if n not in names]
    assert not missing, "scenario files missing: %s" % ", ".join(missing)


def test_the_readme_lists_every_scenario_file():
    with open(README) as f:
        text = f.read()
    listed = set(re.findall(r"`([a-z0-9_]+\.toml)`", text))
    names = {os.path.basename(f) for f in FILES}
    assert names - listed == set(), "not in scenarios/README.md: %s" % sorted(names - listed)
    assert listed - names == set(), "README lists missing files: %s" % sorted(listed - names)


def test_a_run_is_deterministic():
    """Same file, same seed: the same trace, row for row."""
    sc = scenario.load(os.path.join(ROOT, "scenarios", "estop_bounce.toml"))
    a = scenario.run(sc)
    b = scenario.run(scenario.load(os.path.join(ROOT, "scenarios", "estop_bounce.toml")))
    assert a.recorder.rows == b.recorder.rows
