"""The scenario format (host_tools/scenario.py): malformed files give one clear error
naming the file, the line and the key, never a traceback; the README documents every key;
and each kind of expectation really fails when the run contradicts it.
"""

import os
import re
import subprocess
import sys
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools import scenario
from host_tools.paths import ROOT
from host_tools.scenario import ScenarioError

README = os.path.join(ROOT, "scenarios", "README.md")


def parse(text, path="t.toml"):
    return scenario.parse(text, path)


def error_of(text):
    with pytest.raises(ScenarioError) as ei:
        parse(text)
    return ei.value


# ------------------------------------------------------------------ malformed files

# (TOML text, line, key, words the message must contain)
MALFORMED = [
    ("name = \"x\"\n[user\nmass_kg = 80\n", 2, None, ["not valid TOML"]),
    ("name = \"x\"\nnme2 = 3\n", 2, "nme2", ["unknown key"]),
    ("[expect]\nfualt = \"runaway\"\n", 2, "expect.fualt", ["unknown key", "did you mean 'fault'"]),
    ("[user]\nmass_kg = \"heavy\"\n", 2, "user.mass_kg", ["must be a number", "'heavy'"]),
    ("[user]\nmass_kg = 300\n", 2, "user.mass_kg", ["out of range", "40", "150", "kg"]),
    ("[user]\nmass_kg = 39.5\n", 2, "user.mass_kg", ["out of range"]),
    ("[profile]\nconsent = 1\n", 2, "profile.consent", ["true or false"]),
    ("[profile]\nmax_angle_deg = 75\n", 2, "profile.max_angle_deg", ["out of range"]),
    ("[table]\nseed = 1.5\n", 2, "table.seed", ["whole number"]),
    ("[table]\nstart_angle_deg = 80\n", 2, "table.start_angle_deg", ["out of range"]),
    ("[[events]]\nat_s = 10\npress = \"UP\"\n\n[[events]]\nat_s = 5\npress = \"DOWN\"\n",
     6, "events[2].at_s", ["out of order", "5 s", "10 s"]),
    ("[[events]]\nat_s = 1\npress = \"LEFT\"\n", 3, "events[1].press",
     ["unknown button 'LEFT'", "UP", "DOWN", "START"]),
    ("[[events]]\nat_s = 1\nimu_fault = \"melted\"\n", 3, "events[1].imu_fault",
     ["unknown IMU fault 'melted'", "no_response"]),
    ("[[events]]\nat_s = 1\nswitch_spike = [\"HOME\", \"DOOR\"]\n", 3, "events[1].switch_spike",
     ["unknown input 'DOOR'"]),
    ("[[events]]\nat_s = 1\nestop = \"smash\"\n", 3, "events[1].estop", ["unknown e-stop action"]),
    ("[[events]]\nat_s = 1\nswitch_wire = \"cut_estop\"\n", 3, "events[1].switch_wire",
     ["unknown switch wire action 'cut_estop'", "cut_home"]),
    ("[[events]]\npress = \"UP\"\n", 1, "events[1]", ["needs a time"]),
    ("[[events]]\nat_s = 1\nat_ms = 1000\npress = \"UP\"\n", 3, "events[1].at_ms",
     ["not both"]),
    ("[[events]]\nat_s = 1\npress = \"UP\"\nestop = \"press\"\n", 1, "events[1]",
     ["one action per event"]),
    ("[[events]]\nat_s = 1\nlabel = \"x\"\n", 1, "events[1]", ["no action"]),
    ("[[events]]\nat_s = 1\nrelease = \"UP\"\nfor_s = 2\n", 4, "events[1].for_s",
     ["does not go with release"]),
    ("[[events]]\nat_s = 1\npower_cut = false\n", 3, "events[1].power_cut",
     ["power_cut = true"]),
    ("[[events]]\nat_s = 1\ncommand = \"fly\"\n", 3, "events[1].command",
     ["unknown core command 'fly'"]),
    ("[[events]]\nwhen_state = \"FLYING\"\npress = \"UP\"\n", 2, "events[1].when_state",
     ["unknown state 'FLYING'"]),
    ("duration_s = 10\n[[events]]\nat_s = 20\npress = \"UP\"\n", 3, "events[1].at_s",
     ["after the end of the run"]),
    ("[[events]]\nat_s = 1\nuser_load = {mass_kg = 500}\n", 3, "events[1].user_load",
     ["out of range"]),
    ("[[events]]\nat_s = 1\nlabel = \"a\"\npress = \"UP\"\n[[events]]\nat_s = 2\n"
     "label = \"a\"\npress = \"UP\"\n", 7, "events[2].label", ["used twice"]),
    ("[[events]]\nat_s = 1\nlabel = \"start\"\npress = \"UP\"\n", 3, "events[1].label",
     ["reserved"]),
    ("[expect]\nfault = \"melted\"\n", 2, "expect.fault", ["unknown fault 'melted'",
                                                           "runaway"]),
    ("[expect]\nfinal_state = \"Ready\"\n", 2, "expect.final_state",
     ["unknown state 'Ready'", "did you mean 'READY'"]),
    ("[expect]\nstate_seen = \"RECOVERY\"\nstate_never = [1]\n", 3, "expect.state_never",
     ["must be a string"]),
    ("[expect]\nreaches_angle_deg = {angle = 0, after = \"estop\", within_s = 5}\n", 2,
     "expect.reaches_angle_deg", ["names no event"]),
    ("[expect]\nreaches_angle_deg = {angle = 0}\n", 2, "expect.reaches_angle_deg",
     ["within_s", "speed"]),
    ("[expect]\nreaches_angle_deg = {angle = 0, speed = \"warp\"}\n", 2,
     "expect.reaches_angle_deg", ["unknown speed 'warp'"]),
    ("[expect]\nlost_steps_detected = false\n", 2, "expect.lost_steps_detected",
     ["only true", "max_lost_steps = 0"]),
    ("[program]\nname = \"yoga\"\n", 2, "program.name", ["unknown program 'yoga'", "beginner"]),
    ("[program]\nname = \"custom\"\nangle_deg = 30\n", 1, "program",
     ["needs angle_deg and hold_s"]),
    ("[program]\nname = \"beginner\"\nlevel = 2\n", 3, "program.level", ["only the progression"]),
    ("[program]\nname = \"progression\"\nlevel = 4\n[profile]\nmax_angle_deg = 30\n", 3,
     "program.level", ["firmware's profile rules", "deeper than max_mdeg"]),
    ("[settings]\nemergency_speed_mdeg_s = 99999\n", 2, "settings.emergency_speed_mdeg_s",
     ["firmware's configuration", "outside"]),
    ("[settings]\nwarp_factor = 9\n", 2, "settings.warp_factor", ["unknown key"]),
    ("[[checks]]\nat_s = 5\n", 1, "checks[1]", ["checks nothing"]),
    ("[[checks]]\nat_s = 5\nstate = \"OFF\"\nfault = \"nope\"\n", 4, "checks[1].fault",
     ["unknown fault"]),
    ("events = 3\n", 1, "events", ["array of tables"]),
    ("user = 3\n", 1, "user", ["must be a table"]),
    ("xfail = \"\"\n", 1, "xfail", ["give the reason"]),
]


@pytest.mark.parametrize("text,line,key,words", MALFORMED,
                         ids=["%02d" % i for i in range(len(MALFORMED))])
def test_malformed_files_name_the_file_line_key_and_problem(text, line, key, words):
    e = error_of(text)
    msg = str(e)
    assert msg.startswith("t.toml"), msg
    assert e.line == line, msg
    assert e.key == key, msg
    if line is not None:
        assert msg.startswith("t.toml:%d: " % line), msg
    for w in words:
        assert w in msg, "%r not in %r" % (w, msg)
    assert "Traceback" not in msg


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError) as ei:
        scenario.load(str(tmp_path / "nope.toml"))
    assert "nope.toml" in str(ei.value) and "cannot read" in str(ei.value)


def test_a_binary_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError) as ei:
        scenario.load(str(p))
    assert "bin.toml" in str(ei.value) and "UTF-8" in str(ei.value)


def test_the_cli_reports_a_malformed_file_without_a_traceback(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[[events]]\nat_s = 1\npress = \"LEFT\"\n")
    r = subprocess.run([sys.executable, "-m", "host_tools.sim", "--scenario", str(p)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "%s:3: events[1].press: unknown button 'LEFT'" % p in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


# A TOML-shaped value of any type, to throw at every key.
_values = st.recursive(
    st.none().map(lambda _: 0) | st.booleans() | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["UP", "press", "READY", "runaway", "beginner", "estop", "HOME", "off"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["angle", "within_s", "after", "per_s", "inputs", "mass_kg", "x"]),
        inner, max_size=3),
    max_leaves=6)


def _section(name):
    keys = [k for k in scenario.KEYS[name]]
    return st.dictionaries(st.sampled_from(keys + ["bogus"]), _values, max_size=4)


_doc = st.fixed_dictionaries({}, optional={
    "name": _values, "duration_s": _values, "until": _values, "user": _section("user"),
    "table": _section("table"), "profile": _section("profile"),
    "program": _section("program"), "expect": _section("expect"),
    "events": st.lists(_section("events"), max_size=3),
    "checks": st.lists(_section("checks"), max_size=2),
})


@settings(max_examples=400, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=_doc)
def test_any_document_is_accepted_or_refused_with_a_scenario_error(doc):
    """Whatever a person writes, the parser answers with a Scenario or a ScenarioError."""
    try:
        sc = scenario.from_dict(doc, "fuzz.toml")
    except ScenarioError as e:
        assert str(e).startswith("fuzz.toml")
        return
    assert isinstance(sc, scenario.Scenario)


# ------------------------------------------------------------------ documentation


def _readme():
    with open(README) as f:
        return f.read()


def test_the_readme_documents_every_key():
    text = _readme()
    missing = []
    for section, keys in scenario.KEYS.items():
        for k in keys:
            forms = ("`%s`" % k, "`%s =" % k, "%s = " % k, "`[%s]`" % k, "`[[%s]]`" % k)
            if not any(f in text for f in forms):
                missing.append("%s.%s" % (section, k) if section else k)
    assert not missing, "scenarios/README.md does not document: %s" % ", ".join(missing)


def test_the_readme_documents_every_name_a_value_can_take():
    text = _readme()
    names = (scenario.BUTTONS + scenario.ESTOP_ACTIONS + scenario.PROGRAMS + scenario.VIA
             + scenario.UNTIL + scenario.SPEEDS + scenario.ACTIONS + scenario.FAULT_NAMES
             + tuple(scenario.INPUTS) + scenario.COMMANDS + tuple(scenario.STATE_NAMES))
    from host_tools import imu_model
    from host_tools.scenario_format import SWITCH_WIRES

    names += tuple(imu_model.FAULTS) + tuple(SWITCH_WIRES)
    missing = [n for n in names if n not in text]
    assert not missing, "scenarios/README.md does not mention: %s" % ", ".join(missing)


def test_the_readme_examples_are_valid_toml_and_the_first_is_a_passing_scenario():
    blocks = re.findall(r"```toml\n(.*?)```", _readme(), re.S)
    assert len(blocks) >= 5
    for b in blocks:
        tomllib.loads(b)
    result = scenario.run(parse(blocks[0], "README.md"))
    assert result.passed, result.failures


# ------------------------------------------------------------------ expectations fail


def run_text(text):
    return scenario.run(parse(text))


CONSENTED = "[profile]\nconsent = true\n"


def test_expectations_that_contradict_the_run_fail_with_what_happened():
    r = run_text("duration_s = 40\n" + CONSENTED + """
[program]
name = "beginner"

[expect]
max_true_angle_deg = 15
min_true_angle_deg = -50
final_state = "FAULT"
state_seen = ["RECOVERY"]
state_never = ["MOVING"]
fault = "runaway"
faults_seen = ["imu_bus"]
no_faults = false
refused = true
lost_steps_detected = true
sessions_recorded = 2
boots = 2
max_head_down_s = 1
final_true_angle_deg = {angle = -60, tol = 1}
reaches_angle_deg = {angle = 25, within_s = 20, after = "start"}

[[checks]]
at_s = 20
state = "READY"
""")
    text = "\n".join(r.failures)
    for key in ("max_true_angle_deg: the table reached 19.9", "min_true_angle_deg",
                "final_state: ended in HOLDING", "state_seen: RECOVERY never happened",
                "state_never: MOVING happened at t=", "fault: ended with fault none",
                "faults_seen: imu_bus was never raised", "no_faults = false",
                "refused: every command was accepted", "lost_steps_detected: the motor never",
                "sessions_recorded: 0 sessions", "boots: the firmware booted 1 times",
                "max_head_down_s", "final_true_angle_deg: ended at 19.9",
                "reaches_angle_deg 25", "checks[1] at 20 s: state is MOVING"):
        assert key in text, "%r missing from:\n%s" % (key, text)
    assert r.verdict == "FAIL" and not r.ok


def test_refused_false_fails_on_a_clamped_goto():
    r = run_text("duration_s = 30\n" + CONSENTED + """
[[events]]
at_s = 1
console = "goto 80"

[expect]
refused = false
""")
    assert len(r.failures) == 1 and "refused = false" in r.failures[0], r.failures
    assert "clamped" in r.failures[0]


def test_a_start_without_consent_is_refused_and_nothing_moves():
    r = run_text("""
duration_s = 8
[program]
name = "beginner"
[expect]
refused = true
no_motion_without_command = true
max_true_angle_deg = -59
""")
    assert r.passed, r.failures
    assert any(ev[2] == "command" for ev in r.recorder.events if ev[1] == "fw")


def test_no_motion_without_command_sees_motion_before_any_input():
    """A command issued with no input event (a stand-in for firmware moving by itself):
    bypassing the scenario's inputs, the check must flag the motion."""
    sc = parse("duration_s = 20\n" + CONSENTED + "[expect]\nno_motion_without_command = true\n")
    run = scenario._Run(sc)
    run.build()
    from states import C_GOTO

    run.runner.run_ms(1000)
    run.runner.core.command(C_GOTO, 0)  # not recorded as an input
    res = run.go()
    assert any("no_motion_without_command" in f for f in res.failures), res.failures


def test_events_that_never_fire_and_a_session_that_never_ends_are_failures():
    r = run_text("""
duration_s = 5
until = "session_end"
[program]
name = "beginner"
[[events]]
when_state = "RECOVERY"
press = "UP"
""")
    text = "\n".join(r.failures)
    assert "events[1] (press UP) never fired: state RECOVERY was never reached" in text
    assert "the session did not end" in text


def test_xfail_verdicts():
    sc = parse("duration_s = 2\nxfail = \"known bug\"\n[expect]\nfinal_state = \"FAULT\"\n")
    r = scenario.run(sc)
    assert r.verdict == "XFAIL" and r.ok
    sc = parse("duration_s = 2\nxfail = \"known bug\"\n[expect]\nfinal_state = \"READY\"\n")
    r = scenario.run(sc)
    assert r.verdict == "XPASS" and not r.ok


def test_reaches_angle_with_speed_uses_the_firmware_limits():
    """The bound is the emergency trapezoid from where the table was, plus the margin."""
    base = "duration_s = 60\n" + CONSENTED + """
[program]
name = "beginner"
[[events]]
when_state = "HOLDING"
delay_s = 1
estop = "press"
label = "e"
[expect]
reaches_angle_deg = {angle = %s, speed = "emergency", margin_s = 0.5, after = "e"}
"""
    assert run_text(base % "0").passed
    # the emergency return stops at horizontal: the loading position is never reached
    r = run_text(base % "-60")
    assert len(r.failures) == 1
    cfg = scenario._hardware_config()
    v, a = cfg.emergency_speed_mdeg_s, cfg.emergency_accel_mdeg_s2
    t = scenario.trapezoid_ms(80000, v, a)
    assert ("reaches_angle_deg -60 within %.2f s after e (80.0 deg at %g deg/s, %g deg/s^2 = "
            "%.2f s, + 0.5 s margin)" % ((t + 500) / 1000, v / 1000, a / 1000, t / 1000)
            ) in r.failures[0], r.failures
    # hand-worked: 20 deg at 5 deg/s, 6 deg/s^2 = 4 s cruise-equivalent + 5/6 s of ramps
    assert scenario.trapezoid_ms(20000, 5000, 6000) == round(1000 * (20 / 5 + 5 / 6))
    assert scenario.trapezoid_ms(1000, 5000, 6000) == round(1000 * 2 * (1 / 6) ** 0.5)


def test_a_power_cut_without_restore_ends_at_the_duration():
    r = run_text("duration_s = 20\n" + CONSENTED + """
[[events]]
at_s = 5
power_cut = true
[[checks]]
at_s = 10
state = "OFF"
[expect]
boots = 1
""")
    assert r.passed, r.failures
    assert r.stats["sim_ms"] >= 20000


def test_a_simulator_exception_is_a_failure_with_its_traceback():
    run = scenario._Run(parse("duration_s = 2\n"))
    run.build()

    def broken(_runner):
        raise ZeroDivisionError("a bug in a hook")

    run.runner.tick_hooks.append(broken)
    res = run.go()
    assert any("the simulation raised ZeroDivisionError: a bug in a hook" in f
               for f in res.failures), res.failures
    assert "Traceback" in res.error_traceback and "broken" in res.error_traceback
