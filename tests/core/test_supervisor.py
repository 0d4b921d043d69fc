"""Supervisor: each check reports once, in order, and goes on after the core's reaction.

Real parts around it: an Estimator fed ideal samples, a Position, a MotionPlan, the
Switches. Defaults: overrun_limit from the config, runaway 2.5 deg for 1 s.
"""

import faults
from estimator import Estimator, sample_for_angle_into
from kinematics import make_kinematics
from motion import MotionPlan
from position import Position
from signals import SW_HOME, SW_OVERTRAVEL, Inputs
from states import HOLDING, HOMING, READY
from supervisor import (
    K_IMU,
    K_NONE,
    K_OVERRUN,
    K_OVERTRAVEL,
    K_PLAN,
    K_RUNAWAY,
    K_STEPGEN,
    K_SWITCH,
    Supervisor,
)
from support import make_config
from switches import HOME_LIE_MS, Switches


class _World:
    def __init__(self, angle_mdeg=20000, **overrides):
        self.cfg = cfg = make_config(**overrides)
        self.kin = make_kinematics(cfg)
        self.est = Estimator(cfg)
        self.pos = Position(self.kin)
        self.plan = MotionPlan(cfg.tick_ms)
        self.sw = Switches(cfg)
        self.sup = Supervisor(cfg, self.est, self.pos, self.plan, self.sw)
        self.sup.configure(1000, cfg.tick_ms)  # tolerance 1000*10*5/1000 + 20 = 70 steps
        self.inp = Inputs()
        self.angle_mdeg = angle_mdeg
        self.n = 0
        self.sample()
        self.pos.measure(0, self.est)
        self.pos.reference_from_imu(self.est)
        self.plan.reset(self.pos.count + self.pos.offset)

    def sample(self):
        sample_for_angle_into(self.inp, self.angle_mdeg, 0, self.cfg)
        self.n += 1
        self.inp.acc_z_mg += self.n & 3  # a real sensor is never perfectly still
        self.inp.gyro_x_mdps += self.n & 7
        self.est.update(10, self.inp, True)
        self.pos.measure(self.pos.count, self.est)
        self.sw.update(self.inp)

    def check(self, state=HOLDING, after=K_NONE):
        return self.sup.check(10, self.inp, state, after)


def test_quiet_when_all_is_well():
    w = _World()
    for _ in range(200):
        w.sample()
        assert w.check() == K_NONE


def test_overrun_fires_once_at_the_limit_and_a_good_pass_restarts_the_count():
    w = _World()
    n = w.cfg.overrun_limit
    w.inp.overrun = 1
    for _ in range(n - 1):
        assert w.check() == K_NONE
    assert w.check() == K_OVERRUN and w.sup.code == faults.OVERRUN
    assert w.check() == K_NONE  # past the limit: not again
    w.inp.overrun = 0
    assert w.check() == K_NONE and w.sup.overruns == 0


def test_stepgen_flag_fires_on_each_change_to_failed():
    w = _World()
    w.inp.stepgen_fault = 1
    assert w.check() == K_STEPGEN and w.sup.code == faults.STEPGEN and w.sup.sg_seen == 1
    assert w.check() == K_NONE
    w.inp.stepgen_fault = 0
    assert w.check() == K_NONE
    w.inp.stepgen_fault = 2
    assert w.check() == K_STEPGEN and w.sup.sg_seen == 2


def test_plan_error_beyond_the_tolerance_while_the_steps_are_trusted():
    w = _World()
    w.plan.reset(w.pos.count + w.pos.offset + 70)
    assert w.check() == K_NONE  # at the tolerance
    w.plan.reset(w.pos.count + w.pos.offset - 71)
    assert w.check() == K_PLAN and w.sup.code == faults.STEPGEN
    w.pos.steps_trusted = False  # the core's reaction: no more judged
    assert w.check() == K_NONE


def test_overtravel_fires_on_the_switch_closing_only():
    w = _World(66000)  # within the tolerance of the switch: the angle agrees
    w.inp.switches = SW_OVERTRAVEL
    for _ in range(w.cfg.switch_samples - 1):
        w.sw.update(w.inp)
        assert w.check() == K_NONE
    w.sw.update(w.inp)
    assert w.check() == K_OVERTRAVEL and w.sup.code == faults.OVERTRAVEL
    w.sw.update(w.inp)
    assert w.check() == K_NONE


def _debounced(w, bits):
    w.inp.switches = bits
    for _ in range(w.cfg.switch_samples):
        w.sw.update(w.inp)


def test_a_switch_contradicted_by_steps_and_imu_is_a_switch_fault_once():
    """Issue #18: a cut home wire reads "at the loading stop" at 20 deg; a cut
    over-travel wire reads "past it" at 20 deg. Each is a switch fault, reported once."""
    w = _World()
    _debounced(w, SW_HOME)
    # the home switch's lie counts once it has lasted longer than HOME_LIE_MS
    for _ in range(HOME_LIE_MS // w.cfg.tick_ms):  # sampled for 200 ms: still a glitch
        assert w.check() == K_NONE
        assert not w.sw.at_loading
    assert w.check() == K_SWITCH and w.sup.code == faults.HOME_SWITCH
    assert not w.sw.at_loading
    assert w.check() == K_NONE  # reported once, while it goes on lying
    _debounced(w, SW_HOME | SW_OVERTRAVEL)
    assert w.check() == K_SWITCH and w.sup.code == faults.OVERTRAVEL_SWITCH
    assert w.check() == K_NONE


def test_a_switch_agreed_with_by_one_source_is_no_switch_fault():
    w = _World()
    _debounced(w, SW_HOME)
    w.pos.steps_mdeg = -60000  # the steps say loading (the IMU still says 20 deg)
    assert w.check() == K_NONE
    assert not w.sw.at_loading  # but READY needs every trusted source to agree
    w.pos.imu_trusted = False
    assert w.check() == K_NONE
    assert w.sw.at_loading
    w.pos.steps_trusted = False  # no trusted source: the switch alone is not enough
    assert w.check() == K_NONE
    assert not w.sw.at_loading


def test_an_overtravel_switch_that_stays_closed_past_its_point_is_a_switch_fault():
    w = _World(73000)  # the over-travel switch (68 deg) never opened: welded
    assert w.check() == K_SWITCH and w.sup.code == faults.OVERTRAVEL_SWITCH


def test_runaway_is_judged_except_in_ready_and_homing():
    w = _World()
    w.pos.offset += w.kin.steps_from_mdeg(5000) - w.kin.steps_from_mdeg(0)  # steps 5 deg off
    w.plan.reset(w.pos.count + w.pos.offset)
    window = w.cfg.runaway_window_ms // 10
    for _ in range(window + 5):
        w.sample()
        assert w.check(READY) == K_NONE
        assert w.check(HOMING) == K_NONE
    assert not w.sup.runaway.tripped
    for _ in range(window - 1):
        w.sample()
        assert w.check() == K_NONE
    w.sample()
    assert w.check() == K_RUNAWAY and w.sup.code == faults.RUNAWAY


def test_several_faults_of_one_tick_are_reported_in_order_after_the_reaction():
    w = _World()
    w.inp.stepgen_fault = 1
    w.inp.overrun = 1
    w.sup.overruns = w.cfg.overrun_limit - 1
    w.est.fault = faults.IMU_BUS  # the estimator reports; the IMU is still trusted
    k = w.check()
    assert k == K_OVERRUN
    k = w.check(after=k)
    assert k == K_IMU and w.sup.code == faults.IMU_BUS
    w.pos.imu_trusted = False  # the core's reaction to K_IMU
    k = w.check(after=k)
    assert k == K_STEPGEN
    assert w.check(after=k) == K_NONE
