"""Issue #18 acceptance, IMU accuracy: for any MPU-6050 inside the datasheet tolerances
(accelerometer zero-g offsets X/Y +-50 mg, Z +-80 mg; gyro zero-rate offsets +-20 dps on
every axis) and any noise draw, the real firmware on the simulated table
(host_tools/bench_imu.py's flow: homing, an uncalibrated hold, the documented two-point
calibration at horizontal and at the loading stop, a calibrated hold at a random depth,
the return):
- latches no fault and refuses no command (no false runaway, no false switch fault);
- during the uncalibrated hold the estimate the core acts on is within 1 deg of the true
  angle; during the calibrated hold it and the IMU's own angle are within 0.5 deg;
- ends resting at horizontal.

Each example is a ~70 s session (~0.45 s CPU); the example count is the price of the
property (test-time budget, issue #17).
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools import bench_imu

ACC = bench_imu.ACC_TOL_MG
GYRO = bench_imu.GYRO_TOL_MDPS
UNCAL_MAX_MDEG = 1000
CAL_MAX_MDEG = 500


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(*(st.integers(-t, t) for t in ACC)),
       st.tuples(*(st.integers(-GYRO, GYRO) for _ in range(3))),
       st.integers(10, 30), st.integers(0, 2**16))
def test_any_part_inside_the_tolerances_holds_within_1_deg_and_calibrated_within_half(
        acc, gyro, angle_deg, seed):
    res = bench_imu.run_session(acc, gyro, angle_deg=angle_deg, seed=seed, hold_ms=1000,
                                uncal_at_depth=False)
    assert not res.faults and not res.refusals, (res.faults, res.refusals)
    assert res.uncal_core_max <= UNCAL_MAX_MDEG, res.uncal_core_max
    assert res.cal_est_max <= CAL_MAX_MDEG, (res.cal_est_max, res.offsets)
    assert res.cal_core_max <= CAL_MAX_MDEG, res.cal_core_max
    assert abs(res.final_true_mdeg) <= UNCAL_MAX_MDEG, res.final_true_mdeg


def test_the_uncalibrated_imu_alone_is_degrees_off_at_the_tolerance_corner():
    """The property above is not vacuous: at a corner of the tolerances the IMU alone is
    several degrees off before the calibration, and within 0.5 deg after it. (The
    uncalibrated hold is at horizontal: homing clears the commissioning mark of a part
    this far off the switch, fix18d, so it may not go head-down before the calibration.)"""
    res = bench_imu.run_session((-50, 50, -80), (20000, -20000, 20000), angle_deg=30,
                                hold_ms=500, uncal_at_depth=False)
    assert not res.faults and not res.refusals
    assert res.uncal_est_max > 3000, res.uncal_est_max
    assert res.uncal_core_max <= UNCAL_MAX_MDEG
    assert res.cal_est_max <= CAL_MAX_MDEG
    assert abs(res.offsets[0] - 50) <= 5 and abs(res.offsets[1] + 80) <= 5, res.offsets
