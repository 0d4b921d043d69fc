"""Issue #18, fifth tester attack (branch attack18e, on fix18e): reproductions that FAIL.

Each test is one finding of the acceptance tester (cases of my own, not in the suite or
the earlier rounds' files), run on the real firmware in the simulator
(host_tools/faultinject.Harness, the invariant checker off: each test judges the one
number the issue's acceptance or the brief's pass criterion names). The docstring says
the setup, what happened, what should happen, and the numbers. They are meant to fail
until the firmware is fixed (or the lead decides otherwise); not regression tests yet.
"""

import states as S

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


def test_a_home_switch_moved_0_6_deg_since_commissioning_holds_0_59_deg_off():
    """Setup: commissioned table, the simulator's stock calibrated part (seed 9, no shift:
    it reads ~0.1 deg low at the loading end, well inside the 0.5 deg the firmware allows
    a calibrated IMU, commissioning.IMU_CAL_ERR_MDEG), 80 kg; the home switch's bracket
    has moved 0.6 deg head-down since commissioning (it opens at -58.4 deg, not -59.0);
    `start` (beginner: 20 deg, hold 10 s).
    Happened: homing's two slow approaches meet the moved edge at the same count (fix18e
    A: it repeats, as a real edge does) and the calibrated IMU puts the table 0.49 deg
    from the configured -59.0: inside its 0.5 deg, so E_HOMED b = 0, no disagreement, the
    calibration mark kept. Hold at 20.589 deg true, core 20.000: error 589 mdeg; the
    return then rests at +0.589 deg true head-down (core 0.000). At 0.7 deg the IMU
    disagrees (610 mdeg) and the mark is cleared (attack18d 6's fix): the gap is the
    band where the switch's move and the IMU's own allowed error add up. With the IMU
    0.3 deg off the other way (mount -0.3 deg, still inside 0.5) a switch moved 0.9 deg
    holds 889 mdeg off, calibration kept (moved 0.5-0.6 deg the other way, IMU +0.3:
    511-611 mdeg).
    Should: hold estimate within 0.5 deg calibrated (issue #18 acceptance); a switch
    edge moved after commissioning is in the brief's list. Two witnesses each allowed
    0.5 deg confirm a reference only to 1 deg: the agreement window for keeping the
    calibration has to be the hold tolerance minus the IMU's (or the edge checked against
    the commissioning record's count, or the calibration re-checked at horizontal).
    fix18h: the window is now homing.AGREE_MDEG (0.35 deg: 0.5 minus the calibrated IMU's
    worst error at the switch, 138 mdeg measured over bench_imu's parts): the mark is
    cleared, so by the rule this file's first version asserted against (commissioning.py:
    nothing head-down until `calibrate` again, the start waiting for that homing
    included) the session cannot reach HOLDING. The assertion that it reaches HOLDING was
    wrong by that spec; the test now takes either outcome: a hold within 0.5 deg, or the
    calibration mark cleared (E_IMU_UNCALIBRATED logged) and the table never head-down."""
    import events

    h = _harness()
    try:
        h.board.switches.home_switch_mdeg = -58400
        h.run_ms(500)
        h.act(("console", "start"))
        highest = [h.board.true_angle_mdeg]

        def holding_or_idle(r):
            highest[0] = max(highest[0], r.board.true_angle_mdeg)
            return _in(S.HOLDING)(r)

        if not h.runner.run_until(holding_or_idle, 60000):
            assert not h.core.cfg.imu_calibrated, _where(h)
            assert any(e[1] == events.E_IMU_UNCALIBRATED for e in h.core.log.since(0)), (
                _where(h))
            assert highest[0] <= 500, "head-down %d mdeg: %s" % (highest[0], _where(h))
            return
        h.run_ms(2000)
        err = h.core.angle_mdeg - h.board.true_angle_mdeg
        assert abs(err) <= 500, "hold off by %d mdeg, IMU calibration kept %d: %s" % (
            err, h.core.cfg.imu_calibrated, _where(h))
    finally:
        h.close()


def test_imu_bus_lost_after_a_slide_in_the_hold_latches_the_person_8_deg_head_down():
    """Setup: commissioned table, the design user (150 kg at 150 mm), beginner program (20
    deg), hold 30 s; 1 s into the hold the user slides on the bed to 500 mm (issue #18:
    "slides during holds"; liftable at the slowest speed up to 689 mm, at jog speed only
    to 477 mm - host_tools.mechanics), and 200 ms later the IMU's I2C wire is cut (the
    MPU-6050 stops answering: imu no_response; the brief's "wires cut at any moment").
    Happened: FAULT IMU_BUS (10) is raised in the hold; its return goes at jog speed (the
    degraded cap in reactions.return_to_rest), loses steps under the 500 mm load, and
    with the IMU gone nothing sees it: the count "arrives" at 0.000, the fault latches
    there (P_LATCHED) with the true table at 8.457 deg head-down; no E_GAVE_UP, no alarm,
    no crank instructions. IMU cut first, slide 200 ms later: 6.645 deg; slides to 600 and
    680 mm: 12.3 and 19.7 deg head-down. (Slides up to 400 mm: back at horizontal.)
    Should: no fault latched head-down unless physics made any motion impossible at the
    slowest speed, and then with the alarm and the reason logged. With no IMU the return
    cannot see lost steps, so it has to go at the speed that lifts every liftable load
    (the lift path's slowest speed) - or at least give the alarm and the crank
    instructions, since it cannot know it arrived."""
    h = _harness({"mass_kg": 150, "offset_mm": 150, "cap_s": 60, "hold_s": 30, "seed": 7})
    try:
        h.run_ms(500)
        h.act(("console", "start"))
        assert h.runner.run_until(_in(S.HOLDING), 90000)
        h.run_ms(1000)
        h.act(("overload", 150, 500))
        h.run_ms(200)
        h.act(("imu", "no_response", True))
        h.runner.run_until(lambda r: r.app.core.phase == S.P_LATCHED, 60000)
        h.run_ms(2000)
        t = h.board.true_angle_mdeg
        assert t <= 500 or h.core.lift.gave_up, (
            "latched %.3f deg head-down, no alarm: %s" % (t / 1000, _where(h)))
    finally:
        h.close()


def test_a_30_ms_home_wire_glitch_on_the_way_to_loading_leaves_the_person_latched_at_20_deg():
    """Setup: commissioned table, 80 kg (seed 5), beginner program (20 deg); in the hold,
    `return`; after the rest at horizontal, on the way to the loading position at normal
    speed (RETURNING, P_TO_LOADING), as the table passes -20 deg the home switch's NC
    wire opens for 30 ms (a loose crimp: the glitch attack18c/18d used, which homing now
    tolerates; 60, 250 and 1000 ms the same).
    Happened: the glitch passes the 3-sample switch filter, the switch "contradicts" steps
    and IMU (more than HOME_TOL_MDEG from the switch): FAULT HOME_SWITCH (24) latched at
    once (phase P_LATCHED) - the table stands at -20.4 deg true, the person tipped 20 deg
    feet-down in the ankle lock, until someone acknowledges. The same at -45 deg, and not
    homed (the recovery return's way to loading after a power cut) at -20 and -45; within
    6 deg of the switch it is taken as the switch (homing sorts it out: READY).
    Should: the pass criterion: ends at horizontal or at the loading position, no false
    fault with parts inside tolerance; issue #18: a switch that contradicts both sources
    is "latched, logged, and the return goes on with the sources that still agree" -
    here the return stops. A head-up move with the steps and the IMU agreeing can go on
    to the loading stop (homing there checks the switch again), the fault logged."""
    h = _harness({"seed": 5})
    try:
        h.run_ms(500)
        h.act(("console", "start"))
        assert h.runner.run_until(_in(S.HOLDING), 90000)
        h.act(("console", "return"))
        assert h.runner.run_until(lambda r: r.board.true_angle_mdeg <= -20000, 90000)
        assert h.core.state == S.RETURNING and h.core.phase == S.P_TO_LOADING, _where(h)
        h.act(("switch_wire", "HOME", True))
        h.run_ms(30)
        h.act(("switch_wire", "HOME", False))
        h.runner.run_until(lambda r: r.app.core.state == S.READY
                           or r.app.core.phase == S.P_LATCHED, 60000)
        h.run_ms(1000)
        t = h.board.true_angle_mdeg
        assert abs(t) <= 500 or t <= -58500, "a 30 ms glitch: %s" % _where(h)
    finally:
        h.close()


def test_the_ankle_lock_opening_in_a_faults_return_lets_it_go_on_to_a_rest_angle_of_minus_10():
    """Setup: commissioned table, 80 kg (seed 3), the therapist sets `config set
    rest_angle_mdeg -10000` (allowed: 0..-10 deg); `start` (20 deg, hold 30 s); 1 s into
    the hold the IMU stops answering (I2C wire cut: FAULT IMU_BUS, its return at jog
    speed to the rest angle); as the table passes +3 deg the person opens the ankle lock.
    Happened: the fault's return goes on to -10.011 deg true and latches there: the
    unheld person tipped 10 deg feet-down (a frozen IMU the same; opening at +10, 0 or
    -3 deg the same). fix18e D gave the ankle lock's own emergency return the goal
    horizontal, and names as a known gap an e-stop return already under way; a fault's
    return is the same gap in the FAULT state (anklelock.watch skips the latched
    states), not named.
    Should: anklelock.py's rule: with the lock open the person is taken to horizontal,
    never below it (a rest angle below horizontal would tip the unheld person feet-down):
    the fault's return stops at horizontal (the lowest true angle here: >= -0.5 deg).
    fix18g: passes on main + attack18e (fix18f's reactions.regoal); the wait for +3 deg is
    60 s since the IMU-lost return runs at the slowest speed (attack18e 2)."""
    h = _harness({"seed": 3, "cap_s": 60, "hold_s": 30}, pin_setup=True)
    try:
        h.run_ms(500)
        for line in ("pin set 2468", "login 2468", "config set rest_angle_mdeg -10000"):
            assert "ok" in _say(h, line), line
        h.act(("console", "start"))
        assert h.runner.run_until(_in(S.HOLDING), 90000)
        h.run_ms(1000)
        h.act(("imu", "no_response", True))
        # 60 s (was 30): since fix18g the IMU-lost return runs at the slowest speed,
        # 0.5 deg/s (17 deg take 34 s); the assertion is unchanged
        assert h.runner.run_until(lambda r: r.board.true_angle_mdeg <= 3000, 60000)
        h.board.switches.ankle_lock("open")
        low = h.board.true_angle_mdeg
        for _ in range(40):
            h.run_ms(250)
            low = min(low, h.board.true_angle_mdeg)
        assert low >= -500, "lock open at +3 deg, lowest %.3f deg: %s" % (low / 1000,
                                                                            _where(h))
    finally:
        h.close()


def _powered_up_uncalibrated_at(start_mdeg, acc_mg):
    """A table without its IMU calibration (a new table, or one whose commissioning
    record was lost) powering up at start_mdeg with an MPU-6050 at the given zero-g
    offsets (mg, inside the datasheet's X/Y +-50, Z +-80; no gyro bias); one UP tap."""
    h = _harness({"start_mdeg": start_mdeg, "seed": 4}, commissioned=False)
    h.board.imu.accel_bias_g = [x / 1000.0 for x in acc_mg]
    h.board.imu.gyro_bias_dps = [0.0, 0.0, 0.0]
    h.run_ms(1500)
    h.act(("tap", "UP", 150))
    return h


def test_powered_up_past_over_travel_with_an_uncalibrated_imu_latches_at_68_deg_head_down():
    """Setup: an uncalibrated table (the brief: "power cuts at any angle (calibrated and
    not; over-travel pressed at power-up)") powers up at 70 deg, past the over-travel
    switch (68 deg); its MPU-6050 has zero-g offsets X -50 mg, Z -80 mg (the datasheet's
    limits): at 70 deg it reads 75.2 deg. Boot: FAULT OVERTRAVEL (21); one UP tap.
    Happened: the return starts head-up; the table leaves the over-travel switch at 68
    deg, and with the IMU still reading 73 deg (more than SWITCH_TOL_MDEG, 4 deg, past the
    switch) the released switch "contradicts" the IMU: FAULT OVERTRAVEL_SWITCH (25), the
    return stops, latched at 67.857 deg true head-down. The other corner (X +50, Z +80 mg,
    reads 64.6 at 70): the pressed switch contradicts the IMU once it reads under 64, and
    the table latches at 69.298 deg head-down. Issue #18 item 4 (the calibrated case is
    attack18's test_calibrated_power_up_past_overtravel_returns_to_horizontal).
    Should: ends at horizontal; no fault latched head-down unless physics made motion
    impossible. The switch-evidence tolerance for the over-travel switch (4 deg: "the IMU
    3 deg at typical offsets") is smaller than the uncalibrated IMU's own worst error
    (5.4 deg, commissioning.IMU_UNCAL_ERR_MDEG) that the home switch's HOME_TOL_MDEG
    allows for; not homed, the steps share the IMU's error."""
    h = _powered_up_uncalibrated_at(70000, (-50, 0, -80))
    try:
        h.runner.run_until(lambda r: r.app.core.phase == S.P_LATCHED
                           and r.board.true_angle_mdeg < 67900, 60000)
        h.run_ms(3000)
        t = h.board.true_angle_mdeg
        assert t <= 500, "latched %.3f deg head-down: %s" % (t / 1000, _where(h))
    finally:
        h.close()


def test_powered_up_at_45_deg_with_an_uncalibrated_imu_a_false_runaway_latches_3_deg_down():
    """Setup: an uncalibrated table powers up at 45 deg head-down (power cut there); its
    MPU-6050 has zero-g offsets X +50 mg, Z +80 mg (datasheet limits): it reads 39.85 at
    45 deg (5.1 deg low) and 0.04 at 3.07 (3.0 deg low) - the offset's error changes with
    the angle. RECOVERY; one UP tap (the recovery return).
    Happened: the count is referenced on the IMU at boot; along the return the IMU's
    error shrinks by ~2 deg, which the runaway check reads as lost steps: FAULT RUNAWAY
    (20) at true 5.0 deg; the steps are taken from the IMU again (0.04) and the fault's
    return, already at its goal by the IMU, latches: 3.066 deg true head-down, no alarm,
    no E_GAVE_UP, no crank message. At 64 deg: latched at 3.195 deg head-down. (The X -50,
    Z -80 mg corner and the stock part: READY at the loading stop.)
    Should: no fault latched head-down unless physics made motion impossible; the
    evidence rule of issue #18: a smooth, angle-dependent discrepancy is an offset, not
    lost steps; not homed and uncalibrated the rest is aimed the IMU's worst error
    head-up of horizontal (commissioning.unhomed_max_mdeg), the fault's return too."""
    h = _powered_up_uncalibrated_at(45000, (50, 0, 80))
    try:
        h.runner.run_until(lambda r: r.app.core.phase == S.P_LATCHED
                           or (r.app.core.state == S.READY and r.app.core.homed), 120000)
        h.run_ms(2000)
        t = h.board.true_angle_mdeg
        assert t <= 500, "latched %.3f deg head-down: %s" % (t / 1000, _where(h))
    finally:
        h.close()


def test_powered_up_at_20_deg_with_an_uncalibrated_imu_homing_stops_27_mdeg_short_of_the_switch():
    """Setup: an uncalibrated table powers up at 20 deg head-down; MPU-6050 zero-g X +50
    mg, Z +80 mg (datasheet limits): it reads 15.98 at 20 deg (4.0 deg low), 2.3 deg low
    near the loading stop. RECOVERY; one UP tap.
    Happened: the return rests at horizontal by the count - true +4.027 deg head-down for
    the 10 s rest - goes on to the not-homed loading leg (fix18e B: counted -53.6) and
    homes. The count's boot reference is 4.0 deg off, so the counted loading angle (-60)
    is true -56.4; the seek goes homing_travel_mdeg (3 deg) further, to true -58.973, and
    ends 27 mdeg short of the switch's edge (-59.0): FAULT HOMING (22), WHY_NO_SWITCH, at
    the loading end, on a table with every part inside its tolerance.
    Should: no false fault (homing included) with parts inside tolerance: the seek past
    the counted loading angle has to cover the uncalibrated IMU's worst error (5.4 deg,
    the frame stop is the limit) - and the rest should not be 4 deg head-down (the
    not-homed margin, commissioning.unhomed_max_mdeg, applied to the return's rest)."""
    h = _powered_up_uncalibrated_at(20000, (50, 0, 80))
    try:
        h.runner.run_until(lambda r: r.app.core.fault
                           or (r.app.core.state == S.READY and r.app.core.homed), 120000)
        c = h.core
        assert c.fault == 0 and c.homed, "homing why %d: %s" % (c.homing.why, _where(h))
    finally:
        h.close()
