"""The reliability campaign's short profile: a hypothesis state machine against the whole
simulated system, the checker's own tests, and the firmware bugs the campaign found.

The machine drives the real firmware App on the simulated board (host_tools/runner.py)
with random user actions (buttons, console commands, programs) interleaved with random
faults (host_tools/faultinject.py: IMU dropout, frozen or spiking readings, overload and
lost steps, a cut e-stop wire, stuck buttons, switch noise, watchdog resets by a hang or
a crash, power cuts at any millisecond with stored files damaged while the power is off),
and every invariant of host_tools/invariants.py is checked at every simulated
millisecond. Each run ends with the recovery probe: the world healthy again,
acknowledgements and START presses bring the table to READY (after a clean reset: at
most one acknowledgement and ONE press).

Below the machine: tests that the checker is not vacuous, then the firmware bugs the
campaign found, each as the exact reproduction - regular tests now that they are fixed;
xfail(strict=True) marks any still open (faultinject.KNOWN_BUGS). A violation
classified as invariants.KnownBug ends a machine run without failing it (hypothesis
reports it as an event). `make soak` runs the long campaign (host_tools/soak.py).
"""

import os

import faults
import hypothesis.strategies as st
import pytest
import reactions
import states as S
from hypothesis import HealthCheck, event, seed, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from host_tools import faultinject as fi
from host_tools import imu_model, invariants

BUTTONS = st.sampled_from(fi.BUTTONS)
ANGLES = st.sampled_from((-70, -10, 0, 5, 15, 25, 30, 45, 60, 75))
LINES = st.one_of(
    st.sampled_from(("start", "stop", "return", "ack", "estop", "consent", "consent yes",
                     "discomfort", "home", "status", "program beginner", "program progression",
                     "program interval", "program custom", "faults", "log 5")),
    ANGLES.map(lambda a: "goto %d" % a),
    st.sampled_from((5, 30, 600)).map(lambda s: "hold %d" % s),
    ANGLES.map(lambda a: "start %d 10" % a),
)
SETUPS = st.fixed_dictionaries({
    "seed": st.integers(0, 2 ** 20),
    "mass_kg": st.sampled_from((50, 80, 120, 150)),
    "offset_mm": st.sampled_from((20, -30, 60, 100)),
    "start_mdeg": st.sampled_from((None, None, 0, 15000, 25000, 40000)),
    "max_deg": st.sampled_from((30, 45, 60)),
    "consent": st.booleans(),
    "hold_s": st.sampled_from((10, 20)),
    "cap_s": st.sampled_from((30, 180)),
})


class SystemMachine(RuleBasedStateMachine):
    """Random actions and faults against the firmware on the simulated table."""

    @initialize(setup=SETUPS)
    def boot(self, setup):
        self.h = fi.Harness(setup)
        self.known = None
        self._do(("wait", 500))

    def _do(self, action):
        if self.known is not None:
            return  # a known firmware bug ended the checks of this run
        try:
            self.h.act(action)
        except invariants.KnownBug as e:
            self.known = e.bug
            event("known firmware bug: %s" % e.bug)

    # ------------------------------------------------------------ the user

    @rule(ms=st.sampled_from((100, 1000, 5000, 20000)))
    def wait(self, ms):
        self._do(("wait", ms))

    @rule(line=LINES)
    def console(self, line):
        self._do(("console", line))

    @rule(button=BUTTONS, ms=st.sampled_from((60, 200, 1200, fi.LONG_PRESS_MS, 4000)))
    def tap(self, button, ms):
        self._do(("tap", button, ms))

    @rule(ms=st.sampled_from((500, 3500)))
    def chord(self, ms):
        self._do(("chord", ms))

    @rule()
    def recover(self):
        self._do(("recover",))

    @rule(in_ms=st.integers(1, 10))
    def reset_then_one_press(self, in_ms):
        self._do(("reset_recover", in_ms))

    # ------------------------------------------------------------ faults

    @rule(kind=st.sampled_from(("estop_press", "estop_release", "cut_wire", "repair_wire")))
    def estop(self, kind):
        self._do((kind,))

    @rule(ms=st.sampled_from((2, 15)))
    def estop_blip(self, ms):
        self._do(("estop_blip", ms))

    @rule(name=st.sampled_from(imu_model.FAULTS), on=st.booleans())
    def imu(self, name, on):
        self._do(("imu", name, on))

    @rule(bits=st.sampled_from(fi.SPIKE_BITS))
    def spike(self, bits):
        self._do(("spike", bits))

    @rule(rate=st.sampled_from((0.001, 0.05)))
    def noise(self, rate):
        self._do(("noise", rate, 500))

    @rule(mass=st.sampled_from((120, 150)), offset=st.sampled_from((60, 140, 200)))
    def overload(self, mass, offset):
        self._do(("overload", mass, offset))

    @rule(ms=st.sampled_from((300, 1500)))
    def hang(self, ms):
        self._do(("hang", ms))

    @rule()
    def crash(self):
        self._do(("crash",))

    @rule(in_ms=st.integers(1, 10), off_ms=st.sampled_from((5, 500)),
          damage=st.one_of(st.just(()), st.tuples(st.tuples(
              st.sampled_from(fi.RANDOM_FILES), st.sampled_from(fi.CORRUPTIONS),
              st.integers(0, 999)))))
    def power_cut(self, in_ms, off_ms, damage):
        self._do(("power_cut", in_ms, off_ms, damage))

    @rule()
    def hard_reset(self):
        self._do(("hard_reset",))

    @rule(name=st.sampled_from(fi.RANDOM_FILES), how=st.sampled_from(fi.CORRUPTIONS))
    def corrupt(self, name, how):
        self._do(("corrupt", name, how, 0))

    @rule(button=BUTTONS)
    def stuck(self, button):
        self._do(("stuck", button, 125000))  # past stuck_button_ms (120 s)

    def teardown(self):
        h = getattr(self, "h", None)
        if h is None:
            return
        try:
            self._do(("recover",))
        finally:
            h.close()


# make test runs the machine in PARTS parts, each derandomized by its own seed, so that
# pytest-xdist spreads them over the cores and every run is the same; RELIABILITY_N is the
# total number of runs (examples) over all the parts: 12 in make test (60, 30, then 18,
# before issue #17's 2-minute make test; a run costs about 1.4 CPU s, most of it the
# stuck-button rule's 125 s of simulated time checked every ms), 60 with SOAK=1 (make
# soak, which then runs host_tools/soak.py's thousands of sequences of the same actions).
EXAMPLES = int(os.environ.get("RELIABILITY_N", "60" if os.environ.get("SOAK") == "1" else "12"))
PARTS = 6
_SETTINGS = settings(
    max_examples=-(-EXAMPLES // PARTS),
    stateful_step_count=20,
    deadline=None,
    derandomize=True,  # make test is deterministic; make soak explores
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("part", range(PARTS))
def test_system_machine(part):
    def machine():
        return SystemMachine()

    run_state_machine_as_test(seed(part)(machine), settings=_SETTINGS)


# ---------------------------------------------------------------- the checker is not vacuous


def _harness(**setup):
    h = fi.Harness(setup)
    h.run_ms(500)
    return h


def test_checker_catches_motion_without_a_command():
    """A table that starts moving by itself in READY breaks I3."""
    h = _harness()
    try:
        with pytest.raises(invariants.Violation) as e:
            def runaway_tick(now, inp, out):  # a firmware that drives head-down by itself
                out.rate_sps, out.limit_lo, out.limit_hi = 2000, -10 ** 6, 10 ** 6
                out.enable = out.feed_ok = True

            h.core.tick = runaway_tick
            h.run_ms(3000)
        assert e.value.inv == "I3"
    finally:
        h.close()


def test_checker_catches_an_emergency_return_that_does_not_happen(monkeypatch):
    """An e-stop the firmware ignores breaks I2 (the deadline of the return)."""
    h = _harness(start_mdeg=30000)
    try:
        monkeypatch.setattr(reactions, "emergency", lambda core, source, goal_mdeg: None)
        h.core.command = lambda *a: 0
        with pytest.raises(invariants.Violation) as e:
            h.act(("estop_press",))
            h.act(("console", "estop"))
            h.run_ms(30000)
        assert e.value.inv in ("I2", "I3")
    finally:
        h.close()


def test_checker_catches_a_table_beyond_the_profile_max():
    """Past the profile max (+1 deg) breaks I1 even with a licence to move."""
    h = _harness(max_deg=30)
    try:
        h.core.profile.max_mdeg = 45000  # a firmware that lost its limit
        h.core.cfg.soft_max_mdeg = 65000
        with pytest.raises(invariants.Violation) as e:
            h.act(("console", "goto 45"))
            h.run_ms(60000)
        assert e.value.inv == "I1"
    finally:
        h.close()


def test_a_clean_session_keeps_every_invariant():
    """The reference run: homing, a beginner session, the return; nothing trips."""
    h = _harness(hold_s=10)
    try:
        h.act(("console", "start"))
        assert h.runner.run_until(lambda r: r.core.state == S.READY and not
                                  r.core.session_active and r.core.homed, 120000)
        assert h.checker.stats.ms_checked > 50000
    finally:
        h.close()


def test_estop_at_depth_meets_the_emergency_deadline_with_margin():
    """I2 on the plain case: the return from 40 deg at emergency speed arrives with slack."""
    h = _harness(start_mdeg=40000)
    try:
        h.act(("estop_press",))
        h.run_ms(15000)
        st = h.checker.stats
        assert st.emergencies == 1 and st.emergencies_met == 1
        assert st.worst_slack_ms >= invariants.EMERG_MARGIN_MS * 0.5
    finally:
        h.close()


# ---------------------------------------------------------------- firmware bugs found


def test_emergency_return_with_a_heavy_offcentre_user_reaches_horizontal():
    """150 kg, centre of mass 120 mm toward the head (the motor lifts it at jog speed, up
    to ~158 mm, but loses steps at emergency speed from ~114 mm). E-stop at 40 deg:
    runaway at ~2.7 s, then the table stands at ~38 deg with the alarm sounding."""
    h = fi.Harness({"start_mdeg": 40000, "mass_kg": 150, "offset_mm": 120}, check=False)
    try:
        h.run_ms(500)
        h.act(("estop_press",))
        h.run_ms(40000)  # jog speed from 40 deg: 21 s, plus the stop and re-reference
        assert h.board.true_angle_mdeg <= 1000 + 2500
    finally:
        h.close()


def test_a_short_loop_stall_during_the_emergency_return_is_harmless():
    """Default 80 kg user, e-stop at 40 deg, a 25 ms stall of the loop 2 s later (a
    flash write, a GC pause: one overrun, far below the watchdog)."""
    h = fi.Harness({"start_mdeg": 40000})
    try:
        h.run_ms(500)
        h.act(("estop_press",))
        h.run_ms(2000)
        h.act(("hang", 25))
        h.run_ms(20000)  # raises KnownBug (I2) at the deadline today
        assert h.board.true_angle_mdeg <= 1000
    finally:
        h.close()


def test_a_button_stuck_through_a_power_cut_does_not_move_the_table():
    h = fi.Harness({"consent": True})
    try:
        h.run_ms(500)
        h.act(("press", "DOWN"))  # stuck (or held) from now on
        h.act(("power_cut", 5, 500, ()))
        h.run_ms(20000)  # raises KnownBug (I3 or I5) today
        assert h.board.true_angle_mdeg < -55000
    finally:
        h.close()


def test_up_held_through_a_power_cut_is_not_the_recovery_press():
    h = fi.Harness({"start_mdeg": 25000})
    try:
        h.run_ms(500)
        h.act(("press", "UP"))
        h.act(("power_cut", 5, 500, ()))
        h.run_ms(3000)  # raises KnownBug today
        assert h.core.state == S.RECOVERY
    finally:
        h.close()


def test_a_damaged_authstate_file_leaves_the_way_back_open():
    template = fi.populated_files(0)
    try:
        h = fi.check_damaged_boot(template, "authstate", "garbage", 1, start_mdeg=25000)
        assert h.core.state == S.READY
    finally:
        import shutil

        shutil.rmtree(template, ignore_errors=True)


def test_a_damaged_profiles_file_never_raises_the_max():
    h = fi.Harness({"max_deg": 20})
    try:
        h.run_ms(500)
        h.act(("power_cut", 3, 200, (("profiles", "garbage", 1),)))
        h.run_ms(1000)  # raises Violation I1 (the profile max check) today
        assert h.core.profile.max_mdeg <= 20000
    finally:
        h.close()


def test_the_recovery_return_after_a_power_cut_ends_in_ready():
    """A 50 kg user left at 40 deg (seed 9: an IMU reference 0.4 deg off at boot): one
    START press, the slow return, the rest, the homing - which faults at -59.07 deg."""
    h = fi.Harness({"seed": 9, "mass_kg": 50, "start_mdeg": 40000})
    try:
        h.run_ms(500)
        assert h.core.state == S.RECOVERY
        h.recover(clear=False, max_acks=0, max_presses=1)
    finally:
        h.close()


def test_an_imu_frozen_through_a_watchdog_reset_does_not_misguide_the_return():
    """The IMU freezes while the table is at 25 deg (RECOVERY), the press brings the table
    to horizontal on the steps, then the loop crashes: after the watchdog reset the frozen
    part still reads 25 deg, the steps are referenced from it, IMU_FROZEN fires, and the
    fault's return to 'horizontal' drives the table 25 deg head-up past it."""
    h = fi.Harness({"start_mdeg": 25000})
    try:
        h.run_ms(500)
        h.act(("imu", "frozen", True))
        h.act(("tap", "START", 150))
        h.run_ms(20000)
        h.act(("crash",))
        h.run_ms(30000)  # raises KnownBug (I3) today
        assert h.board.true_angle_mdeg >= -1000 - invariants.STILL_TOL_MDEG
    finally:
        h.close()


def test_a_return_with_a_few_lost_steps_still_finds_the_home_switch():
    """150 kg, 100 mm toward the head, e-stop at 25 deg, ack at horizontal, one START
    press: the normal-speed lift loses ~1780 steps (1.3 deg, below the 2.5 deg runaway
    tolerance), the approach ends 1.5 deg short of the switch: HOMING fault at -58.5."""
    h = fi.Harness({"seed": 3, "mass_kg": 150, "offset_mm": 100, "start_mdeg": 25000})
    try:
        h.run_ms(500)
        h.act(("console", "estop"))
        h.run_ms(15000)
        h.act(("console", "ack"))
        h.run_ms(500)
        assert h.core.state == S.HOLDING
        h.recover(clear=False, max_acks=0, max_presses=1)
    finally:
        h.close()


def test_steps_lost_at_the_end_of_the_emergency_return_are_detected():
    """E-stop at 10 deg; at 5 deg the user (150 kg) shifts 130 mm toward the head: the
    motor (emergency speed) slips for the rest of the move, the steps reach 'rest', the
    driver turns off and the 4.8 deg error is never judged (no fault, no alarm)."""
    h = fi.Harness({"start_mdeg": 10000, "mass_kg": 50})
    try:
        h.run_ms(500)
        h.act(("estop_press",))
        assert h.runner.run_until(lambda r: r.board.true_angle_mdeg < 5000, 10000)
        h.act(("overload", 150, 130))
        h.run_ms(8000)  # raises KnownBug (I2) at the emergency deadline today
        assert h.core.fault != faults.NONE or h.board.true_angle_mdeg <= 1000
    finally:
        h.close()


def test_a_300ms_loop_stall_during_the_emergency_return_is_survived():
    """120 kg user at 15 deg, console estop, a 300 ms stall 600 ms later (below the 1 s
    watchdog): STEPGEN in EMERGENCY_RETURN, the table stands at about 14 deg."""
    h = fi.Harness({"seed": 674942268, "mass_kg": 120, "start_mdeg": 15000})
    try:
        h.run_ms(500)
        h.act(("console", "estop"))
        h.run_ms(600)
        h.act(("hang", 300))
        h.run_ms(15000)  # raises KnownBug (I2) today
        assert h.board.true_angle_mdeg <= 1000
    finally:
        h.close()


def test_a_console_estop_during_boot_does_not_skip_the_self_test():
    """Power-on at 25 deg on a damaged settings file: a normal boot latches FAULT
    (storage). With the console's estop in the first tick the emergency return runs,
    but no fault is ever latched: the damage is only in the start-up text."""
    template = fi.populated_files(0)
    h = fi.Harness({"start_mdeg": 25000}, files_from=template,
                   damage=(("settings", "garbage", 1),))
    try:
        h.act(("console", "estop"))  # processed by the first tick: still BOOT
        h.run_ms(10000)
        assert h.app.startup_errors
        assert h.core.fault == faults.STORAGE  # as without the estop
    finally:
        h.close()
        import shutil

        shutil.rmtree(template, ignore_errors=True)


def test_the_boot_after_a_damaged_profiles_file_keeps_the_lowest_limits():
    h = fi.Harness({"max_deg": 20})
    try:
        h.run_ms(500)
        h.act(("power_cut", 3, 200, (("profiles", "flip", 1),)))
        h.run_ms(1000)
        assert h.core.profile.max_mdeg <= 20000  # the fix for damaged files holds
        h.act(("power_cut", 3, 200, ()))
        h.run_ms(1000)  # was 30 deg: the beginner default (fixed in 9978f9f)
        assert h.core.profile.max_mdeg <= 20000
    finally:
        h.close()


def test_a_deleted_profiles_file_never_raises_the_max():
    h = fi.Harness({"max_deg": 20})
    try:
        h.run_ms(500)
        h.act(("power_cut", 3, 200, (("profiles", "delete", 1),)))
        h.run_ms(1000)
        assert h.core.profile.max_mdeg <= 20000
    finally:
        h.close()


# ---------------------------------------------------------------- soak counterexamples
# Shrunk by `make soak` (seed 31): a console estop that lands in BOOT. Since firmware f142745
# it fails the self-test (FAULT, standing still) like the e-stop circuit in BOOT; the checker
# then owed no emergency return, and now knows it. They stay as regular tests.


def test_soak_counterexample_estop_in_boot_after_a_hard_reset():
    setup = {"seed": 389409775, "mass_kg": 150, "offset_mm": 20, "start_mdeg": 15000,
             "max_deg": 30, "consent": False, "hold_s": 20, "cap_s": 30, "level": 1}
    fi.run_sequence(setup, [("hard_reset",), ("spike", 8), ("console", "estop")])


def test_soak_counterexample_estop_in_boot_after_a_watchdog_reset():
    setup = {"seed": 87175012, "mass_kg": 80, "offset_mm": 100, "start_mdeg": 40000,
             "max_deg": 60, "consent": True, "hold_s": 30, "cap_s": 180, "level": 0}
    fi.run_sequence(setup, [("cut_wire",), ("hang", 1500), ("console", "estop"),
                            ("stuck", "START", 5000)])


def test_soak_counterexample_estop_in_boot_after_a_power_cut():
    setup = {"seed": 270961123, "mass_kg": 80, "offset_mm": 60, "start_mdeg": 40000,
             "max_deg": 30, "consent": True, "hold_s": 20, "cap_s": 60, "level": 0}
    fi.run_sequence(setup, [("power_cut", 6, 3000, ()), ("noise", 0.05, 200),
                            ("console", "estop")])


_REPLAY = r"""
import hashlib, random, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/firmware", sys.argv[1] + "/host_tools/cpython_shims"]
from host_tools import faultinject as fi
rng = random.Random(int(sys.argv[2]))
h = fi.Harness(fi.random_setup(rng), check=False)
trace = hashlib.sha256()
def hook(r):
    c = r.app.core
    o = r.app.outputs
    trace.update(repr((r.board.now_ms, c.state, c.phase, c.target_mdeg, o.rate_sps,
                       o.led, o.enable)).encode())
h.runner.tick_hooks.append(hook)
try:
    h.run_ms(500)
    h.run(fi.random_sequence(rng, 40))
finally:
    h.close()
print(trace.hexdigest())
"""


def test_a_seed_replays_the_same_run_under_any_hash_seed():
    # Python randomises the order of a set of strings per process: the campaign must not
    # depend on it, or a shrunk counterexample would not replay (seed 9 switched its IMU
    # faults on in set order, and its run differed between hash seeds 0 and 3).
    import os
    import subprocess
    import sys

    from host_tools import paths

    digests = set()
    for hash_seed in ("0", "3"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        r = subprocess.run([sys.executable, "-c", _REPLAY, paths.ROOT, "9"], env=env,
                           capture_output=True, text=True, timeout=120, check=True)
        digests.add(r.stdout.strip())
    assert len(digests) == 1
