"""Position: which source gives the angle, and the step reference.

The estimator is the real one, fed the ideal sample of a table angle: its first usable
sample makes it valid at that angle (within atan2's few mdeg).
"""

from estimator import Estimator, sample_for_angle_into
from kinematics import make_kinematics
from position import Position
from signals import Inputs
from support import make_config


def _parts(angle_mdeg):
    cfg = make_config()
    kin = make_kinematics(cfg)
    est = Estimator(cfg)
    inp = Inputs()
    sample_for_angle_into(inp, angle_mdeg, 0, cfg)
    est.update(10, inp, True)
    assert est.valid
    return kin, est, Position(kin)


def test_nothing_trusted_before_a_reference_but_the_imu():
    kin, est, pos = _parts(20000)
    pos.imu_trusted = False
    pos.measure(0, est)
    assert not pos.angle_ok  # steps not referenced, IMU not trusted
    pos.imu_trusted = True
    pos.measure(0, est)
    assert pos.angle_ok and pos.angle_mdeg == est.angle_mdeg


def test_reference_from_imu_makes_the_count_read_the_imu_angle():
    kin, est, pos = _parts(20000)
    pos.measure(500, est)
    pos.reference_from_imu(est)
    assert pos.referenced and pos.steps_trusted and not pos.homed
    assert pos.steps_mdeg == est.angle_mdeg
    assert pos.count + pos.offset == kin.steps_from_mdeg(est.angle_mdeg)
    # 1000 steps further head-down: the steps' angle follows the count
    pos.measure(1500, est)
    assert pos.steps_mdeg == kin.mdeg_from_steps(kin.steps_from_mdeg(est.angle_mdeg) + 1000)


def test_the_steps_carry_the_angle_when_the_imu_is_not_trusted():
    kin, est, pos = _parts(20000)
    pos.measure(0, est)
    pos.reference(10000)  # count 0 is at 10 deg
    pos.imu_trusted = False
    pos.measure(0, est)
    assert pos.angle_ok and pos.angle_mdeg == pos.steps_mdeg
    assert abs(pos.angle_mdeg - 10000) <= 1  # one step of rounding
    pos.steps_trusted = False
    pos.measure(0, est)
    assert not pos.angle_ok
