"""Issue #18, fourth tester attack (branch reattack18d, on fix18c): reproductions that FAIL.

Each test is one finding of the acceptance tester (cases of my own, not in the suite), run
on the real firmware in the simulator (host_tools/faultinject.Harness, the invariant
checker off: each test judges the one number the issue's acceptance or the brief's pass
criterion names). The docstring says the setup, what happened, what should happen, and
the numbers. They are meant to fail until the firmware is fixed; not regression tests yet.
"""

import states as S
from events import E_IMU_UNCALIBRATED

from host_tools import faultinject as fi
from tests.host.test_attack18 import _say


def _harness(setup=None, commissioned=True, pin_setup=False):
    s = {"seed": 9, "mass_kg": 80, "offset_mm": 20, "hold_s": 10, "max_deg": 30,
         "consent": True}
    s.update(setup or {})
    # pin_setup: booted after the physical reset, so the first `pin set` works
    return fi.Harness(s, check=False, commissioned=commissioned, pin_setup=pin_setup)


def _in(state, phase=None):
    def pred(r):
        c = r.app.core
        return c.state == state and (phase is None or c.phase == phase)

    return pred


def _where(h):
    c = h.core
    return "%s (phase %d, fault %d) at %.3f deg true, core %.3f, IMU %.3f, homed %s" % (
        S.STATE_NAMES[c.state], c.phase, c.fault, h.board.true_angle_mdeg / 1000,
        c.angle_mdeg / 1000, c.est.angle_mdeg / 1000, bool(c.homed))


def _deepest_over(h, seconds):
    deepest = h.board.true_angle_mdeg
    for _ in range(seconds * 4):
        h.run_ms(250)
        deepest = max(deepest, h.board.true_angle_mdeg)
    return deepest


def _logged(h, code):
    log = h.core.log
    return any(ev is not None and ev[1] == code
               for ev in (log.get(q) for q in range(log.oldest_seq(), log.seq)))


def _threshold(h, mdeg):
    for line in ("pin set 2468", "login 2468", "config set head_down_mdeg %d" % mdeg):
        assert "ok" in _say(h, line), line


def test_a_20_ms_home_wire_glitch_at_the_end_of_homings_retract_latches_homing():
    """Setup: commissioned table (the simulator's calibrated part), 80 kg, READY at the
    loading stop; `start` (every start homes first). Homing's first retract backs the table
    off the switch (-60 -> -58 deg); as it arrives (true angle past -58.03 deg) the home
    switch's NC wire opens for 40 ms (a loose crimp: the glitch attack18c used; 20 ms
    already does it, as does any longer intermittent that covers the retract's end).
    Happened: H_RETRACT sees the switch "pressed" on the tick the retract is done and
    fails homing at once, WHY_STUCK: FAULT HOMING (22), why 2, tries 0 - no retry. Glitches
    of the same length in the slow approach are retried (3 tries, fix18c); here one
    glitch is a latched fault on a good table at the start of a session.
    Should: no false fault (homing included) with parts in tolerance: a switch that
    reads pressed once at the retract's end is re-checked (it must stay pressed, as the
    dwell demands of the edge) or the retract retried before WHY_STUCK."""
    h = _harness()
    try:
        h.run_ms(500)
        h.act(("console", "start"))
        assert h.runner.run_until(_in(S.HOMING, S.H_RETRACT), 60000)
        n = 0
        while h.board.true_angle_mdeg < -58030 and h.core.phase == S.H_RETRACT and n < 5000:
            h.run_ms(1)
            n += 1
        h.act(("switch_wire", "HOME", True))
        h.run_ms(40)
        h.act(("switch_wire", "HOME", False))
        h.run_ms(3000)
        c = h.core
        assert c.fault == 0 and c.state != S.FAULT, (
            "a 40 ms glitch at the retract's end: %s, homing why %d, tries %d"
            % (_where(h), c.homing.why, c.homing.tries))
    finally:
        h.close()


def test_head_down_threshold_at_its_allowed_1_deg_holds_0_94_deg_head_down_without_a_cap():
    """Setup: commissioned table, 80 kg, session cap 10 s, hold cap 10 s; the therapist
    (PIN) sets `config set head_down_mdeg 1000` - accepted, fix18c's new range is 0..1 deg;
    `goto 0.95`.
    Happened: HOLDING at 0.939 deg true (core 0.950) for the 35 s the test runs (a minute
    and more in a longer run; session head-down clock 0): under the threshold there is no
    hold timer, no cap, no lift check - attack18c finding 2 (goto 1.9 with the old 2 deg
    threshold) again, half the size, inside the new range.
    Should: the brief's pass criterion counts > +0.5 deg as head-down, and issue #18 counts
    all the time below horizontal against the cap: the person is back at horizontal
    within the cap whatever the setting (or the range stops at 0.5 deg).
    (The test: 35 s, counted in 5 s steps.)
    fix18d: the range now stops at 0.5 deg (config.py), so the 1 deg setting of the
    finding is refused (asserted) and the test goes on with the largest one allowed."""
    h = _harness({"cap_s": 10, "hold_s": 10}, pin_setup=True)
    try:
        h.run_ms(500)
        for line in ("pin set 2468", "login 2468"):
            assert "ok" in _say(h, line), line
        assert "ok" not in _say(h, "config set head_down_mdeg 1000")
        assert "ok" in _say(h, "config set head_down_mdeg 500")
        h.act(("console", "goto 0.95"))
        head_down_ms = 0
        for _ in range(7):
            h.run_ms(5000)
            if h.board.true_angle_mdeg > 500:
                head_down_ms += 5000
        assert head_down_ms <= 10000, "%d s more than 0.5 deg head-down, cap 10 s: %s" % (
            head_down_ms // 1000, _where(h))
    finally:
        h.close()


def test_head_down_threshold_0_gives_a_false_runaway_at_the_end_of_a_normal_session():
    """Setup: commissioned table, 80 kg at 20 mm, simulator seed 1; the therapist sets
    `config set head_down_mdeg 0` (accepted: the range is 0..1 deg, and 0 is the strictest
    setting, "every degree counts"); `start` (beginner: 20 deg, hold 10 s).
    Happened: the normal return arrives at horizontal (true -0.011 deg) and
    reactions.arrived_short (fix18c) judges it "short of rest by more than the threshold":
    IMU + its at-rest offset exceeds both the steps and the rest angle by more than 0
    mdeg - any noise does - so FAULT RUNAWAY (20) is raised at horizontal, and the table
    is still latched FAULT (phase P_LATCHED) 70 s later (a 120 s run) instead of resting
    and going to the loading position (seed 2 the same; seed 3 passed).
    Should: no false fault in a normal session at any allowed setting: the arrival check
    needs a noise margin of its own (the IMU's calibrated tolerance), not the threshold."""
    h = _harness({"seed": 1}, pin_setup=True)
    try:
        h.run_ms(500)
        _threshold(h, 0)
        h.act(("console", "start"))
        h.runner.run_until(lambda r: r.app.core.fault or _in(S.READY)(r) and r.app.core.homed,
                           110000)
        h.run_ms(2000)  # latched, or resting on: the rest pause would take 10 s
        c = h.core
        assert c.fault == 0 and c.state == S.READY, "normal session, threshold 0: " + _where(h)
    finally:
        h.close()


def test_an_uncalibrated_imu_reading_1_deg_high_makes_homing_fail_after_a_power_cut():
    """Setup: a new table (not commissioned), 80 kg, an MPU-6050 well inside the datasheet
    tolerance (zero-g X -10 mg, Z +20 mg, no gyro bias: at -30 deg it reads -29.3, ~1.1 deg
    toward head-down); `goto -30` (homes, goes, holds); power cut 400 ms
    in the hold; back in RECOVERY, one UP tap (the recovery return).
    Happened: not homed, the count is referenced on the IMU; the way to the loading stop
    aims at the counted -60 deg, which is 1.1 deg further head-up: the table runs into the
    frame stop at -61.0 deg (steps lost there). Homing then starts on the switch, brakes,
    and retracts homing_retract_mdeg (2 deg) from the step count - which is ahead of the
    table by the lost steps - so the retract ends at -59.000 deg, exactly on the switch's
    edge: WHY_STUCK, FAULT HOMING (22) at the loading stop. With X -20/Z +30 mg, X -50/Z
    +80 mg and X 0/Z +80 mg the same. (Same retract logic on main: not a fix18c
    regression, but fix18c's retries do not cover it.)
    Should: no false fault (homing included) with parts inside their tolerances; the
    retract is measured from where the table stopped, or ends off the switch by more than
    the lost steps can take, or is retried."""
    h = _harness(commissioned=False)
    h.board.imu.accel_bias_g = [-0.01, 0.0, 0.02]
    h.board.imu.gyro_bias_dps = [0.0, 0.0, 0.0]
    try:
        h.run_ms(500)
        h.act(("console", "goto -30"))
        assert h.runner.run_until(lambda r: _in(S.HOLDING)(r) and r.app.core.plan.done(),
                                  90000)
        h.act(("power_cut", 3, 400, ()))
        h.run_ms(1500)
        assert h.core.state == S.RECOVERY
        h.act(("tap", "UP", 150))
        h.run_ms(25000)
        c = h.core
        assert c.fault == 0, "after the recovery return: %s, homing why %d" % (
            _where(h), c.homing.why)
    finally:
        h.close()


def test_an_imu_knocked_2_deg_is_measured_by_homing_then_trusted_to_rest_1_7_deg_head_down():
    """Setup: commissioned table (calibrated IMU), 80 kg; the IMU board is knocked after
    the calibration (mount 2 deg off: it now reads 2 deg low, toward head-up); `start`
    (beginner, 20 deg). Homing sees the calibrated IMU disagree by ~2.3 deg, retracts,
    the edge repeats, and it takes the switch (E_HOMED b logs the disagreement) - but the
    IMU stays "calibrated" (imu_calibrated 1, trusted to 0.5 deg). Power cut 400 ms in the
    hold; RECOVERY; one UP tap.
    Happened: not homed, the core takes the knocked IMU: the recovery return "rests at
    horizontal" at +1.71 deg true head-down (core -0.03) for the 30 s rest, then homing;
    in the same state `stop` + `goto 0` holds at +1.21 deg true (clamped to -0.5 by the
    IMU: the not-homed margin assumes the calibrated 0.5 deg) with no end.
    Should: ends at horizontal (within 0.5 deg); a disagreement homing measured beyond the
    calibrated tolerance is evidence the IMU (or the switch) moved: the IMU is no longer
    trusted as calibrated (the 5.4 deg margin, or no head-down session, until `calibrate`
    again) - it stays re-calibratable, which was fix18c's reason to take the edge.
    fix18d: homing now clears the IMU calibration mark when it takes a repeating edge the
    calibrated IMU disagrees with (the decision above): the `start` waiting for that
    homing is refused (commissioning: no head-down until `calibrate` again), so the hold,
    the power cut in it and the recovery return are unreachable. The test asserts what
    the finding asks for in their place: the person is never more than 0.5 deg
    head-down (the run's deepest true angle, 60 s), the mark is cleared and the reason
    logged (E_IMU_UNCALIBRATED)."""
    h = _harness()
    try:
        h.run_ms(500)
        h.board.imu.mount_offset_mdeg = -2000.0
        h.act(("console", "start"))
        deepest = _deepest_over(h, 60)
        assert deepest <= 500, "%d mdeg head-down by the knocked IMU: %s" % (
            deepest, _where(h))
        assert not h.core.cfg.imu_calibrated and _logged(h, E_IMU_UNCALIBRATED), _where(h)
    finally:
        h.close()


def test_a_home_switch_0_8_deg_off_is_taken_over_the_calibrated_imu_hold_0_79_deg_off():
    """Setup: commissioned table (calibrated IMU, correct), 80 kg; the home switch's bracket
    has moved 0.8 deg (it opens at -58.2 deg, not -59.0: knocked, or re-fitted after the
    commissioning); `start` (beginner: 20 deg, hold 10 s).
    Happened: homing's dwell sees the calibrated IMU disagree by ~0.7-0.8 deg (> 0.5),
    retracts, the edge repeats within 0.1 deg, and the switch is taken (fix18c's "a
    repeating edge is the switch"). Hold at 20.789 deg true, core 20.000 (error 789 mdeg),
    IMU 21.1; the return then rests at +0.79 deg true head-down, and parks at -59.21.
    With the switch 0.8 deg the other way: hold 19.19, rest at -0.81, park at -60.81.
    Should: hold estimate within 0.5 deg calibrated (issue #18 acceptance). The firmware
    cannot tell a moved switch from a moved IMU on one edge, but it has measured that one
    of them moved: a head-down session on that evidence is the failure (see the knocked-IMU
    test for the other side of the same decision).
    fix18d: homing clears the IMU calibration mark on that evidence, so the `start` is
    refused after the homing and no hold is reached (unreachable by the decision); the
    test asserts the person is never more than 0.5 deg head-down (60 s), the mark is
    cleared and the reason logged."""
    h = _harness()
    try:
        h.run_ms(500)
        h.board.switches.home_switch_mdeg = -58200
        h.act(("console", "start"))
        deepest = _deepest_over(h, 60)
        assert deepest <= 500, "%d mdeg head-down on the moved switch: %s" % (
            deepest, _where(h))
        assert not h.core.cfg.imu_calibrated and _logged(h, E_IMU_UNCALIBRATED), _where(h)
    finally:
        h.close()


def test_a_slide_early_in_the_hold_exceeds_the_documented_slowed_return_bound():
    """Setup: commissioned table, the design user (150 kg at 150 mm), beginner program (20
    deg, hold 10 s), session cap 30 s; 0.5 s into the hold the user slides on the bed to
    640 mm (liftable only at the slowest speed: 689 mm; issue #18's acceptance names
    "slides during holds").
    Happened: nothing notices the slide while the table stands; the hold runs its full
    10 s, the return at normal speed loses steps (RUNAWAY), and the lift path brings the
    person up at 0.5 deg/s. Session head-down clock at the end: 57.96 s (cap 30 s; the
    test stops 1 s past the bound); the
    README's documented limit ("at most the clock at the slide plus the way from there to
    0.5 deg at 0.5 deg/s plus about 4 s"): 6.53 + 38.98 + 4 = 49.51 s - exceeded by 8.5 s,
    the rest of the hold. (The same 58 s the README quotes for a slide as the return
    starts: the bound as written holds only for slides during the return.)
    Should: head-down time within the cap, or within the documented slowed-return bound;
    the bound (or the hold's budget once a slide is possible) has to cover a slide during
    the hold.
    fix18d (the lead's decision): by physics the hold cannot know the load changed, so
    the documented limit is restated to hold for a slide anywhere in the session: the
    cap is overrun by at most the way back at the slowest speed minus the way back as
    planned (normal speed), plus the detection (README "Time caps", hazards.md HZ-01),
    from the deepest angle, each way taken as its cruise (the same figure on both
    sides). The test asserts that bound: 30 + 39.0 - 5.6 + 4 = 67.4 s here."""
    h = _harness({"mass_kg": 150, "offset_mm": 150, "cap_s": 30, "hold_s": 10})
    try:
        h.run_ms(500)
        h.act(("console", "start"))
        assert h.runner.run_until(_in(S.HOLDING), 120000)
        h.run_ms(500)
        t0 = h.core.session.head_down_ms
        a0 = h.board.true_angle_mdeg
        cfg = h.core.cfg
        h.act(("overload", 150, 640))
        way = a0 - cfg.head_down_mdeg
        bound = (h.core.profile.session_cap_ms + way * 1000 // cfg.homing_slow_mdeg_s
                 - way * 1000 // cfg.normal_speed_mdeg_s + 4000)
        # up to horizontal, or 1 s past the bound (cheaper: the verdict is the same)
        h.runner.run_until(lambda r: r.app.core.session.head_down_ms > bound + 1000 or (
            r.board.true_angle_mdeg <= cfg.head_down_mdeg
            and r.app.core.state != S.HOLDING), 90000)
        h.run_ms(500)
        used = h.core.session.head_down_ms
        assert used <= bound, (
            "%.1f s head-down (cap 30 s; slide at %.1f s, %.2f deg): documented bound %.1f s;"
            " now %s" % (used / 1000, t0 / 1000, a0 / 1000, bound / 1000, _where(h)))
    finally:
        h.close()


def test_a_400_ms_home_wire_open_0_7_deg_before_the_edge_passes_both_homing_checks():
    """Setup: commissioned table, 80 kg; the calibrated IMU reads 0.38 deg head-up of the
    truth at the loading end (simulated as a 0.3 deg mount shift on the simulator's part:
    inside the 0.5 deg the firmware itself allows a calibrated IMU,
    commissioning.IMU_CAL_ERR_MDEG); `start`. In homing's slow approach, at true -58.30
    deg (0.7 deg before the switch's edge at -59.0), the home NC wire opens for 300 ms (an
    intermittent connector; the 30-40 ms glitch of attack18c, ten times longer).
    Happened: the approach stops on the glitch, the "switch" holds 200 ms standing still
    (the dwell), and the IMU says -58.68: 0.32 deg from the switch's -59.0, inside the
    0.5 deg agreement window - so the edge is taken on the first try. Hold at 20.683 deg
    true, core 20.000: error 683 mdeg (limit 500 calibrated); the rest at horizontal is
    then ~0.7 deg head-down. Even the simulator's stock part (no shift; it reads 0.08 deg
    low there) takes a 400 ms open at -58.42: 564 mdeg.
    Should: hold estimate within 0.5 deg calibrated: two witnesses each allowed 0.5 deg
    accept an edge up to 1 deg off - the agreement window has to be the reference's
    tolerance minus the IMU's, or the edge confirmed by a second approach.
    fix18h (attack18e 1): the window is now that (homing.AGREE_MDEG, 0.35 deg: the
    calibration leaves the IMU within 138 mdeg at the switch, bench_imu): the IMU
    remounted 0.3 deg since its calibration reads 0.38 deg off at the real edge, beyond
    it, so the calibration mark is cleared and by commissioning.py's rule the start
    waiting for that homing goes nowhere head-down until `calibrate` again; the
    assertion that it reaches HOLDING was wrong by that rule. Either outcome passes: a
    hold within 0.5 deg, or the mark cleared (E_IMU_UNCALIBRATED) and never head-down."""
    import events

    h = _harness()
    try:
        h.run_ms(500)
        h.board.imu.mount_offset_mdeg = -300.0
        h.act(("console", "start"))
        assert h.runner.run_until(_in(S.HOMING, S.H_SLOW), 60000)
        n = 0
        while h.board.true_angle_mdeg > -58300 and h.core.phase == S.H_SLOW and n < 10000:
            h.run_ms(1)
            n += 1
        h.act(("switch_wire", "HOME", True))
        h.run_ms(300)
        h.act(("switch_wire", "HOME", False))
        highest = [h.board.true_angle_mdeg]

        def holding(r):
            highest[0] = max(highest[0], r.board.true_angle_mdeg)
            return _in(S.HOLDING)(r)

        if not h.runner.run_until(holding, 90000):
            assert not h.core.cfg.imu_calibrated, _where(h)
            assert any(e[1] == events.E_IMU_UNCALIBRATED for e in h.core.log.since(0)), (
                _where(h))
            assert highest[0] <= 500, "head-down %d mdeg: %s" % (highest[0], _where(h))
            return
        h.run_ms(2000)
        err = h.core.angle_mdeg - h.board.true_angle_mdeg
        assert abs(err) <= 500, "hold off by %d mdeg after %d approach(es): %s" % (
            err, h.core.homing.tries, _where(h))
    finally:
        h.close()


def test_a_jog_down_then_the_cap_return_ends_in_a_false_runaway_at_horizontal():
    """Setup: commissioned table, the default user (80 kg at 20 mm), the simulator's stock
    calibrated part (seed 9: it reads 0.03 deg low at the loading stop, 0.24 deg high at
    horizontal - inside its 0.5 deg), session cap 10 s; `goto 0` (homes, rests there),
    then DOWN held 6 s (the lift check, then a jog to 6.3 deg head-down), released; the
    cap brings the person back.
    Happened: the normal return arrives at horizontal (true -0.03 deg) and fix18c's
    arrival check (reactions.arrived_short: IMU + RunawayCheck.safe_offset_mdeg() more
    than 0.5 deg head-down of the steps) fires: FAULT RUNAWAY (20), the lift path moves the
    table to -0.55 deg and latches FAULT there. safe_offset is the offset's part seen at
    rest (+232 mdeg, from the anchor at the loading stop); the part that changed along the
    moves (base -220: the IMU now reads high) is left out on purpose for re-references
    ("errs the safe way") - but in the arrival check leaving it out adds it: IMU 0.263 +
    0.232 = 0.495 vs steps 0.03. The same part, `goto 6` from READY: 428 of the 500 mdeg
    used; seeds 2, 5, 6 of this jog leave 230-265 mdeg of the same gap.
    Plain `start` sessions on seeds 1-10 leave 69-502 mdeg (seed 9: 69).
    Caveat: the simulator's "commissioned" part is not solved at these two points (a
    documented two-point calibration at loading and horizontal would leave this gap near
    0); a calibration at two other angles (allowed), a zero-g drift after it, or simply the
    firmware's own contract (IMU_CAL_ERR_MDEG: 0.5 deg at every angle, so up to 1 deg of
    change between the anchor and horizontal) give the same gap.
    Should: no false fault in a normal session with parts inside their tolerances: the
    arrival check has to allow for the offset's change along the travel (or use the full
    base)."""
    h = _harness({"cap_s": 10, "hold_s": 10})
    try:
        h.run_ms(500)
        h.act(("console", "goto 0"))
        assert h.runner.run_until(lambda r: _in(S.HOLDING)(r) and r.app.core.plan.done(),
                                  90000)
        h.run_ms(1000)
        h.act(("press", "DOWN"))
        h.run_ms(6000)
        h.act(("release", "DOWN"))
        h.runner.run_until(lambda r: r.app.core.fault or _in(S.RETURNING, S.P_RESTING)(r),
                           60000)
        h.run_ms(500)
        c = h.core
        assert c.fault == 0, "jog, cap, return: %s; safe offset %d, base %d" % (
            _where(h), c.sup.runaway.safe_offset_mdeg(), c.sup.runaway.base_mdeg)
    finally:
        h.close()
