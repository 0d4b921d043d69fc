"""Scenario files: parse, validate, run on the simulated table, check the expectations.

The entry points of the scenario machinery, one module per job behind them:

    host_tools/scenario_format.py  the format: vocabulary, ranges, Scenario, ScenarioError
    host_tools/scenario_parse.py   a file's sections parsed and validated (load, parse)
    host_tools/scenario_events.py  the [[events]] section
    host_tools/scenario_run.py     a run on the simulated table (run)
    host_tools/scenario_eval.py    the run judged: its Result, stats and expectations

    from host_tools import scenario
    sc = scenario.load("scenarios/estop_at_depth.toml")   # ScenarioError if malformed
    result = scenario.run(sc)                             # runs the real firmware App
    result.passed, result.failures, result.stats, result.recorder (host_tools/trace.py)

A malformed file raises ScenarioError whose text names the file, the line (when it can be
found) and the key: "scenarios/x.toml:12: events[3].press: unknown button 'LEFT' ...".
Everything runs in virtual time and is deterministic for a given file (seeded).
"""

import os

from host_tools.scenario_eval import Result, trapezoid_ms
from host_tools.scenario_format import (
    ACTIONS,
    BUTTONS,
    COMMANDS,
    ESTOP_ACTIONS,
    FAULT_NAMES,
    INPUTS,
    KEYS,
    PROGRAMS,
    SPEEDS,
    STATE_NAMES,
    UNTIL,
    VIA,
    Event,
    Scenario,
    ScenarioError,
    hardware_config,
)
from host_tools.scenario_parse import from_dict, load, parse
from host_tools.scenario_run import _Run, run

# The name tests use for the hardware Config of a scenario's settings.
_hardware_config = hardware_config


def discover(directory=None):
    """The scenario files of scenarios/ (sorted)."""
    from host_tools.paths import SCENARIOS

    directory = directory or SCENARIOS
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.endswith(".toml"))


__all__ = ["ScenarioError", "Scenario", "Event", "Result", "load", "parse", "from_dict", "run",
           "discover", "trapezoid_ms", "ACTIONS", "BUTTONS", "COMMANDS", "ESTOP_ACTIONS",
           "FAULT_NAMES", "INPUTS", "KEYS", "PROGRAMS", "SPEEDS", "STATE_NAMES", "UNTIL", "VIA",
           "_Run"]
