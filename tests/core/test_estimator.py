"""Estimator: angle convention, fusion, bias learning, how each plausibility fault fires and clears.

Defaults from make_config(): pivot axis y, sign +1, fusion_tau_ms 500, gravity window
850..1150 mg, rate_max 20 dps, frozen_samples 50, bus_error_limit 5; 10 ms ticks.
"""

import gc
import sys

import faults
from estimator import Estimator, sample_for_angle_into
from signals import Inputs
from support import make_config, raises

ON_MPY = sys.implementation.name == "micropython"
TICK = 10


class EstimatorRig:
    """An Estimator fed ideal samples plus a little deterministic noise (real sensors are noisy)."""

    def __init__(self, cfg=None, sensor_cfg=None):
        self.cfg = cfg if cfg is not None else make_config()
        # how the sensor is really mounted (defaults to what the estimator is told)
        self.sensor_cfg = sensor_cfg if sensor_cfg is not None else self.cfg
        self.est = Estimator(self.cfg)
        self.inp = Inputs()
        self._x = 1

    def _noise(self, amp):
        self._x = (self._x * 75 + 74) % 65537  # ZX81 LCG: small ints only
        return self._x % (2 * amp + 1) - amp if amp else 0

    def step(self, angle, rate=0, still=True, noise=3, bias=0, g=1000, dt=TICK):
        inp = self.inp
        sample_for_angle_into(inp, angle, rate, self.sensor_cfg, g)
        inp.acc_x_mg += self._noise(noise)
        inp.acc_y_mg += self._noise(noise)
        inp.acc_z_mg += self._noise(noise)
        inp.gyro_x_mdps += self._noise(noise * 10)
        inp.gyro_y_mdps += self._noise(noise * 10) + bias
        inp.gyro_z_mdps += self._noise(noise * 10)
        self.est.update(dt, inp, still)
        return self.est

    def bus_error(self, errno=110):
        self.inp.imu_error = errno
        self.est.update(TICK, self.inp, True)
        return self.est

    def run(self, n, angle, **kw):
        for _ in range(n):
            self.step(angle, **kw)
        return self.est


def test_not_valid_before_the_first_sample():
    est = Estimator(make_config())
    assert not est.valid and est.fault == faults.NONE


def test_hand_worked_sample_board_flat_pivot_y():
    # pivot y, board flat: tilting head-down by 30 deg puts -sin(30) g on x, cos(30) g on z
    cfg = make_config()
    est = Estimator(cfg)
    inp = Inputs()
    inp.acc_x_mg, inp.acc_y_mg, inp.acc_z_mg = -500, 0, 866
    est.update(TICK, inp, True)
    assert est.valid and est.fault == faults.NONE
    assert est.angle_mdeg == est.acc_angle_mdeg == 30000
    assert est.gravity_mg == 999  # isqrt(500**2 + 866**2) = 999.98


def test_first_valid_sample_initialises_from_the_accelerometer():
    r = EstimatorRig()
    est = r.step(-60000)  # loading position
    assert est.valid
    assert abs(est.angle_mdeg + 60000) <= 400  # one sample's noise


def test_convention_for_every_axis_sign_and_zero():
    for axis in (0, 1, 2):
        for sign in (1, -1):
            cfg = make_config(imu_axis=axis, imu_sign=sign, imu_zero_mdeg=1500)
            for angle in (-60000, -1000, 0, 30000, 65000):
                r = EstimatorRig(cfg)
                est = r.step(angle, noise=0)
                # whole-mg samples: 1 mg at 1 g is 57 mdeg of tilt
                assert abs(est.angle_mdeg - angle) <= 60, (axis, sign, angle, est.angle_mdeg)
                assert abs(est.acc_angle_mdeg - angle) <= 60
            r = EstimatorRig(cfg)
            r.step(0, noise=0)
            est = r.step(0, rate=4000, still=False, noise=0)
            assert est.rate_mdeg_s == 4000  # the gyro is signed the same way


def test_converges_from_a_wrong_start():
    # The first sample is 4 deg off (a knock at power-up): more than 3 deg from the
    # start-up running mean, so the mean restarts from the next sample; valid throughout.
    r = EstimatorRig()
    r.step(0, noise=0)
    assert r.est.angle_mdeg == 0
    errs = []
    for _ in range(300):
        est = r.step(4000)
        assert est.valid and est.fault == faults.NONE
        errs.append(4000 - est.angle_mdeg)
    assert max(abs(e) for e in errs) < 200  # within the noise from the second sample on
    assert abs(errs[249]) < 60


def test_start_up_running_mean_averages_a_small_first_error_away():
    # 2 deg off (below the restart threshold): averaged as a running mean, the error
    # falls like 2000/n over the start-up phase instead of e**(-t/tau).
    r = EstimatorRig()
    r.step(0, noise=0)
    errs = []
    for _ in range(120):
        r.step(2000)
        errs.append(2000 - r.est.angle_mdeg)
    assert 700 < errs[1] < 1300  # (2000 + 2 * 0) / 3 of the way after three samples
    assert errs[49] < 150  # ~2000 / 51
    assert abs(errs[119]) < 80


def test_bias_is_learned_while_still_and_only_then():
    r = EstimatorRig()
    r.run(200, 10000, bias=20000)  # ZRO tolerance: up to +-20 dps
    assert abs(r.est.gyro_bias_mdps - 20000) <= 10
    assert abs(r.est.rate_mdeg_s) <= 40
    r.run(100, 10000, bias=25000, still=False)  # not still: the bias is not touched
    assert abs(r.est.gyro_bias_mdps - 20000) <= 10


def test_spikes_while_still_do_not_leak_into_a_settled_bias():
    r = EstimatorRig()
    r.run(300, 0, bias=5000)  # 3 s still: settled
    b = r.est.gyro_bias_mdps
    r.run(4, 0, bias=60000)  # beyond the datasheet ZRO tolerance: never a bias
    r.step(0, bias=5000)
    r.run(4, 0, bias=28000)  # within it, but 23 dps from the settled bias
    assert abs(r.est.gyro_bias_mdps - b) <= 5
    assert r.est.fault == faults.NONE


def test_tracks_motion_with_a_learned_bias():
    r = EstimatorRig()
    r.run(100, -20000, bias=20000)  # one second still at power-up
    a = -20000
    worst = 0
    for _ in range(500):  # 5 s at 4 dps
        a += 40
        est = r.step(a, rate=4000, still=False, bias=20000)
        assert est.valid
        worst = max(worst, abs(est.angle_mdeg - a))
    assert worst <= 100, worst


def test_unlearned_large_bias_is_reported_not_integrated():
    r = EstimatorRig()
    for i in range(10):
        est = r.step(0, still=False, bias=25000)  # never still: bias cannot be learned
        if i < 9:
            assert est.fault == faults.NONE
    assert est.fault == faults.IMU_RATE and not est.valid


def test_bus_errors_fire_at_the_limit_and_clear_after_tau():
    r = EstimatorRig()
    r.run(20, 20000)
    held = r.est.angle_mdeg
    for _ in range(4):
        est = r.bus_error()
        assert est.valid and est.fault == faults.NONE  # an isolated error holds the angle
        assert est.angle_mdeg == held and est.bus_errors > 0
    est = r.bus_error(19)
    assert est.fault == faults.IMU_BUS and not est.valid
    r.bus_error()
    for i in range(50):
        est = r.step(20000)
        if i < 49:
            assert est.fault == faults.IMU_BUS and not est.valid
    assert est.fault == faults.NONE and est.valid  # 50 good samples = fusion_tau_ms
    assert abs(est.angle_mdeg - 20000) <= 200


def test_fewer_bus_errors_than_the_limit_never_fire():
    r = EstimatorRig()
    r.run(10, 0)
    for _ in range(30):
        for _ in range(4):
            assert r.bus_error().fault == faults.NONE
        r.step(0)
    assert r.est.valid


def test_gravity_out_of_window_fires_after_200_ms_and_gyro_carries_the_angle():
    r = EstimatorRig()
    r.run(100, 0)
    a = 0
    for i in range(20):
        a += 40  # moving at 4 dps; the accelerometer reads 0.7 g (free fall, a knock)
        est = r.step(a, rate=4000, still=False, g=700)
        if i < 19:
            assert est.valid and est.fault == faults.NONE
            assert abs(est.angle_mdeg - a) <= 30  # integrated from the gyro
    assert est.fault == faults.IMU_GRAVITY and not est.valid
    for i in range(50):
        est = r.step(a)
        assert est.fault == (faults.IMU_GRAVITY if i < 49 else faults.NONE)
    assert est.valid


def test_gravity_too_high_also_fires():
    r = EstimatorRig()
    r.run(10, 0)
    r.run(20, 0, g=1200)
    assert r.est.fault == faults.IMU_GRAVITY


def test_brief_gravity_disturbance_does_not_fire():
    r = EstimatorRig()
    r.run(10, 0)
    for _ in range(5):
        r.run(19, 0, g=1300)  # 190 ms knocks
        r.step(0)
        assert r.est.fault == faults.NONE and r.est.valid


def test_gyro_rate_above_max_fires_after_100_ms_and_is_not_integrated():
    r = EstimatorRig()
    r.run(100, 10000)
    for i in range(10):
        est = r.step(10000, rate=30000, still=False)  # gyro says 30 dps, accel says still
        if i < 9:
            assert est.valid and abs(est.angle_mdeg - 10000) <= 100
    assert est.fault == faults.IMU_RATE and not est.valid
    assert est.rate_mdeg_s > 20000


def test_accelerometer_jump_fires_rate_fault_then_reinitialises():
    r = EstimatorRig()
    r.run(100, 0)
    for i in range(10):
        est = r.step(20000, still=False)  # accel jumps 20 deg, gyro saw nothing
        if i < 9:
            assert est.valid and abs(est.angle_mdeg) <= 100  # outliers are left out
    assert est.fault == faults.IMU_RATE
    est = r.run(50, 20000)
    assert est.fault == faults.NONE and est.valid
    assert abs(est.angle_mdeg - 20000) <= 200  # restarted from the accelerometer


def test_brief_rate_spike_does_not_fire():
    r = EstimatorRig()
    r.run(100, 0)
    for _ in range(5):
        r.run(9, 0, rate=50000, still=False)
        r.step(0, still=False)
        assert r.est.fault == faults.NONE


def test_frozen_sensor_fires_at_frozen_samples():
    r = EstimatorRig()
    r.run(10, 5000)
    n = r.cfg.frozen_samples
    for i in range(n):
        est = r.step(5000, noise=0)  # bit-identical samples
        if i < n - 1:
            assert est.fault == faults.NONE, i
    assert est.fault == faults.IMU_FROZEN and not est.valid
    est = r.run(50, 5000)
    assert est.fault == faults.NONE and est.valid


def test_frozen_gyro_alone_fires():
    r = EstimatorRig()
    r.run(10, 5000)
    est = r.est
    inp = r.inp
    n = r.cfg.frozen_samples
    for i in range(n):
        sample_for_angle_into(inp, 5000, 0, r.cfg)  # the gyro reads exactly 0 on all axes
        inp.acc_x_mg += i % 3 - 1  # while the accelerometer is alive
        est.update(TICK, inp, True)
        if i < n - 1:
            assert est.fault == faults.NONE, i
    assert est.fault == faults.IMU_FROZEN


def test_calibrate_returns_the_zero_that_reads_the_reference():
    cfg = make_config()
    r = EstimatorRig(cfg, make_config())  # the sensor itself stays as mounted
    r.run(300, -58800)  # the table reads 1.2 deg off at the loading stop
    zero = r.est.calibrate(-60000)
    assert abs(zero - 1200) <= 40
    cfg.set("imu_zero_mdeg", zero)
    est = r.step(-58800)
    assert abs(est.angle_mdeg + 60000) <= 60  # takes effect at once
    assert est.valid and est.fault == faults.NONE
    est = r.run(100, -58800)
    assert est.fault == faults.NONE and abs(est.angle_mdeg + 60000) <= 60


def test_calibrate_refuses_an_invalid_angle():
    r = EstimatorRig()
    raises(ValueError, r.est.calibrate, 0)
    r.run(5, 0)
    for _ in range(5):
        r.bus_error()
    raises(ValueError, r.est.calibrate, 0)


def test_wraps_through_180_degrees():
    # not a table angle, but the arithmetic must not jump at the seam
    r = EstimatorRig()
    r.run(100, 178000)
    a = 178000
    for _ in range(100):
        a += 40
        est = r.step(a if a <= 180000 else a - 360000, rate=4000, still=False)
        assert est.valid
        d = est.angle_mdeg - (a if a <= 180000 else a - 360000)
        assert abs(d) <= 100 or abs(abs(d) - 360000) <= 100


def test_changing_the_axis_restarts_the_estimator():
    cfg = make_config()
    r = EstimatorRig(cfg)
    r.run(10, 10000)
    cfg.set("imu_axis", 0)
    est = r.step(-20000)
    assert est.valid and abs(est.angle_mdeg + 20000) <= 400


def test_odd_time_steps_are_safe():
    r = EstimatorRig()
    r.run(10, 30000)
    for dt in (0, -5, 100000, 0, 10):
        est = r.step(30000, dt=dt)
        assert est.valid
        assert abs(est.angle_mdeg - 30000) <= 500
        assert -(2**30) < est.angle_mdeg < 2**30


def test_update_allocates_nothing_on_micropython():
    if not ON_MPY:
        return  # gc.mem_alloc() is MicroPython's
    r = EstimatorRig()
    r.run(50, 0, bias=3000)
    est = r.est
    inp = r.inp
    cfg = r.cfg
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    a = -60000
    seen = 0  # bit per fault code seen (IMU_BUS..IMU_FROZEN = 10..13)
    for i in range(2000):
        a += 40
        sample_for_angle_into(inp, a, 4000, cfg)
        inp.acc_x_mg += i % 5 - 2
        inp.gyro_z_mdps += i % 3
        phase = i % 400  # each fault fires, then clears in the good stretch after it
        if phase < 10:
            inp.imu_error = 110  # bus errors up to IMU_BUS
        elif 100 <= phase < 130:
            inp.acc_z_mg += 900  # out of the gravity window
        elif 200 <= phase < 220:
            inp.gyro_y_mdps = 90000  # rate fault
        elif 300 <= phase < 360:
            inp.gyro_x_mdps = 1  # frozen gyro
            inp.gyro_y_mdps = 2
            inp.gyro_z_mdps = 3
        est.update(TICK, inp, i % 2 == 0)
        if est.fault:
            seen |= 1 << (est.fault - faults.IMU_BUS)
    used = gc.mem_alloc() - before
    gc.enable()
    assert used == 0, used
    assert seen == 0b1111  # every fault path ran inside the measurement
