"""The lift check's refusal as the person sees it (issue #18): a clear console message,
the event in the log, and a table that never went head-down.

Runs scenarios/lift_check_refuses_heavy.toml (150 kg, 800 mm toward the head: beyond
what the drive lifts at its slowest speed) through the real App on the simulated board.
"""

import os

import app

from host_tools import scenario
from host_tools.paths import ROOT


def test_a_refused_load_is_told_on_the_console_and_logged():
    """Covers: HZ-05"""
    sc = scenario.load(os.path.join(ROOT, "scenarios", "lift_check_refuses_heavy.toml"))
    result = scenario.run(sc)
    assert not result.failures, result.failures
    text = " ".join(line for _t, line in result.console)
    assert "refused: the drive could not lift this load at its slowest speed" in text
    assert app.LIFT_REFUSED_TEXT[:60] in text
    assert result.stats["deepest_true_mdeg"] <= 500  # never head-down
    logged = [e for e in result.recorder.events if e[1] == "fw" and e[2] == "lift_check"]
    assert len(logged) == 1 and "refused" in logged[0][3], logged
