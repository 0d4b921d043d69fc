"""Table angle from the IMU: complementary filter, gyro bias learning, plausibility checks.

Owns: turning one IMU sample per tick (signals.Inputs) into the fused table angle, and
deciding whether that angle can be trusted. It only reports; the core decides (and
latches) what a fault means.

Angle convention (safety reference): millidegrees from horizontal, positive = head-down.
The sensor tilt theta is the right-hand rotation about the pivot axis cfg.imu_axis,
zero when the sensor's "level" axis points up:
    pivot x (0): theta = atan2(acc_s, acc_c), acc_s = acc_y, acc_c = acc_z (board flat)
    pivot y (1): theta = atan2(acc_s, acc_c), acc_s = -acc_x, acc_c = acc_z (board flat)
    pivot z (2): theta = atan2(acc_s, acc_c), acc_s = acc_x, acc_c = acc_y (on edge)
(acc_s, acc_c: the two accelerometer axes in the tilt plane, each corrected by its
zero-g offset from the calibration, cfg.imu_acc_sin_off_mg and cfg.imu_acc_cos_off_mg -
firmware/imucal.py) and its rate is the gyro about the pivot axis. The table angle is
    angle_mdeg = cfg.imu_sign * theta - cfg.imu_zero_mdeg     (wrapped to +-180 deg)
sample_for_angle_into() is the exact inverse, for simulators and tests.

Filter: angle += rate * dt; angle += (acc_tilt - angle) * dt / (fusion_tau_ms + dt),
in integer mdeg with remainder accumulators, so nothing is lost to rounding (no drift,
no dead band). The gyro zero-rate bias (MPU-6050: up to +-20 dps, PS-MPU-6000A table
6.1) is learned while `still` (the drive is stationary and the worm gear is
self-locking, so the true rate is zero): a running mean from the first still sample,
then an exponential average over _BIAS_TAU_MS. Still readings beyond _ZRO_MAX_MDPS, or
(once settled) further than rate_max_mdeg_s from the bias, are spikes and not learned;
an IMU_RATE fault restarts the learning.

Per-sample plausibility and how each fault fires (attribute `fault`, faults.py codes):
- IMU_BUS: cfg.bus_error_limit consecutive samples with inp.imu_error != 0. Fewer
  errors just hold the angle (valid stays True).
- IMU_GRAVITY: |acc| (isqrt of the sum of squares, mg) outside
  [gravity_min_mg, gravity_max_mg] for _GRAVITY_PERSIST_MS. Meanwhile the gyro alone
  carries the angle.
- IMU_RATE: for _RATE_PERSIST_MS, either |gyro rate - bias| > rate_max_mdeg_s, or the
  accelerometer tilt is further from the fused angle than the filter could close at
  rate_max_mdeg_s (rate_max * fusion_tau, at least _DISAGREE_MIN_MDEG): an accelerometer
  that says the table jumped. Such samples are left out of the filter.
- IMU_FROZEN: cfg.frozen_samples identical readings in a row of the accelerometer (all
  three axes) or of the gyro (all three): real sensors always show noise.
For the calibration, the raw in-plane axes (acc_s, acc_c before the offsets) are
averaged while `still` with a usable accelerometer: a running mean from the first still
sample, then exponential over _AVG_TAU_MS (avg_s_mg, avg_c_mg, avg_ms: the still time
averaged, restarting at 0 whenever the table moves).
Once a fault fires, valid is False and the angle is re-initialised from the next usable
accelerometer sample. The fault clears (fault = NONE, valid = True) after
cfg.fusion_tau_ms of continuously good samples - by then the filter has settled again.
Before the first usable sample valid is False and fault is NONE; the first usable
sample sets the angle straight from the accelerometer, and for fusion_tau_ms after that
the accelerometer is blended as a running mean (gain dt/elapsed), restarting from a
sample more than 3 deg off it - so a knock at power-up cannot leave the angle
off for seconds while it claims to be valid.

Every update allocates nothing on MicroPython; all intermediate values stay below
2**30 (inputs are clamped to the sensors' full scales, dt to _DT_MAX_MS).
"""

import faults
from imath import atan2_mdeg, cos_q15, isqrt, sin_q15
from micropython import const

_FULL_MDEG = const(360000)
_HALF_MDEG = const(180000)

# A longer gap means missed ticks; integrating further would also push err * dt
# (<= 180000 * 100) and rate * dt (<= 250000 * 100) toward the small-int limit.
_DT_MAX_MS = const(100)
# Accelerometer inputs are clamped to +-16 g (the largest full scale): the sum of three
# squares stays below 3 * 16000**2 = 7.7e8 < 2**30.
_ACC_CLAMP_MG = const(16000)
# Gyro inputs clamped to +-250 dps (the configured full scale; the table turns <= 10 dps).
_GYRO_CLAMP_MDPS = const(250000)
# Bias learning time constant: long enough to average the rate noise (~40 mdps rms per
# sample at 44 Hz DLPF) down to a few mdps, short against the ZRO's temperature drift.
_BIAS_TAU_MS = const(2000)
# A still reading beyond the datasheet's ZRO tolerance (+-20 dps, PS-MPU-6000A table 6.1)
# plus margin is not a bias: it is not learned.
_ZRO_MAX_MDPS = const(30000)
# |acc| outside the gravity window this long is a fault: a knock on the frame or a person
# climbing on lasts less; the gyro carries the angle meanwhile.
_GRAVITY_PERSIST_MS = const(200)
# Implausible rate this long is a fault: at 20 dps, 100 ms is 2 deg of travel.
_RATE_PERSIST_MS = const(100)
# Floor of the accelerometer-vs-fused disagreement limit: about 8 sigma of the tilt noise
# with the widest DLPF (184 Hz: ~0.4 deg rms) plus 8 mg of drive vibration.
_DISAGREE_MIN_MDEG = const(5000)
# Start-up phase: a sample this far from the running mean restarts it. Tilt noise is
# ~0.2 deg rms at the 44 Hz DLPF plus ~0.5 deg of drive vibration: 3 deg is beyond both.
_SETTLE_JUMP_MDEG = const(3000)
_COUNT_MAX = const(0x3FFFFFFF)
# Averaging of the raw in-plane accelerometer axes for the calibration: 2 s of still
# samples bring the noise (~2.6 mg rms per sample at the 44 Hz DLPF) to ~0.3 mg (0.02 deg).
_AVG_TAU_MS = const(2000)
# A still sample this far from the average on either axis (about 3 deg, 20 sigma of the
# noise) means the table was moved (by hand, on the crank) with the drive stopped: the
# average restarts from it.
_AVG_JUMP_MG = const(50)


def _wrap(a):
    """a in mdeg folded into (-180000, 180000]."""
    while a > _HALF_MDEG:
        a -= _FULL_MDEG
    while a <= -_HALF_MDEG:
        a += _FULL_MDEG
    return a


def _clamp(v, lim):
    if v > lim:
        return lim
    if v < -lim:
        return -lim
    return v


class Estimator:
    """Fused table angle and its trust; update() once per tick."""

    def __init__(self, cfg):
        self._cfg = cfg
        self.reset()

    def reset(self):
        """Forget everything (bias included): as after power-up."""
        self._axis = self._cfg.imu_axis
        self.angle_mdeg = 0  # fused table angle, mdeg, + = head-down
        self.acc_angle_mdeg = 0  # accelerometer-only table angle of the latest sample
        self.rate_mdeg_s = 0  # bias-corrected gyro rate about the pivot, + = head-down
        self.gravity_mg = 0  # |acc| of the latest sample
        self.gyro_bias_mdps = 0  # learned zero-rate output about the pivot (sensor sign)
        self.valid = False  # the angle can be trusted
        self.fault = faults.NONE  # why it cannot (a faults code), NONE otherwise
        self.bus_errors = 0  # consecutive samples with a bus error
        self.avg_s_mg = 0  # raw in-plane accelerometer axes averaged while still (doc)
        self.avg_c_mg = 0
        self.avg_ms = 0  # still time in that average, up to _AVG_TAU_MS
        self._s_rem = self._c_rem_avg = 0  # their averaging remainders
        self._raw_s = self._raw_c = 0  # the latest raw in-plane axes, mg
        self._init = False
        self._settle_ms = 0  # time since the angle was (re)initialised, up to fusion_tau_ms
        self._theta = 0  # sensor tilt about the pivot axis, mdeg
        self._acc_theta = 0
        self._rate = 0  # bias-corrected, sensor sign, mdps
        self._g_rem = 0  # gyro integration remainder, mdeg/1000 (0..999)
        self._c_rem = 0  # correction remainder, in units of 1/(tau + dt) mdeg
        self._b_rem = 0  # bias averaging remainder
        self._bias_ms = 0  # still time learned so far, up to _BIAS_TAU_MS
        self._have_last = False
        self._lax = self._lay = self._laz = 0  # previous raw sample, for the frozen check
        self._lgx = self._lgy = self._lgz = 0
        self._acc_same = 0  # repeats of an identical accelerometer reading
        self._gyro_same = 0
        self._grav_bad_ms = 0
        self._rate_bad_ms = 0
        self._good_ms = 0

    def update(self, dt_ms, inp, still):
        """Take one sample. dt_ms: time since the previous update. inp: signals.Inputs.

        still: True when the drive is stationary (the gyro bias is learned then).
        """
        cfg = self._cfg
        dt = dt_ms
        if dt < 0:
            dt = 0
        elif dt > _DT_MAX_MS:
            dt = _DT_MAX_MS
        if cfg.imu_axis != self._axis:
            self.reset()
        if inp.imu_error:
            if self.bus_errors < _COUNT_MAX:
                self.bus_errors += 1
            self._good_ms = 0
            if self.bus_errors >= cfg.bus_error_limit:
                self._fire(faults.IMU_BUS)
            self._publish(cfg)
            return
        self.bus_errors = 0

        frozen = self._frozen_check(inp, cfg.frozen_samples - 1)
        gyro = self._sample(inp)
        g = self.gravity_mg
        g_ok = cfg.gravity_min_mg <= g <= cfg.gravity_max_mg
        tilt = self._acc_theta
        rate_max = cfg.rate_max_mdeg_s
        if still and g_ok and not frozen:
            if -_ZRO_MAX_MDPS <= gyro <= _ZRO_MAX_MDPS:
                # Once the bias is settled, a reading far from it is a spike, not a bias.
                d = gyro - self.gyro_bias_mdps
                if self._bias_ms < _BIAS_TAU_MS or -rate_max <= d <= rate_max:
                    self._learn_bias(gyro, dt)
            self._average(dt)
        else:
            self.avg_ms = 0
        rate = gyro - self.gyro_bias_mdps
        self._rate = rate
        rate_in = -rate_max <= rate <= rate_max
        agree = True
        if not self._init:
            if g_ok and rate_in and not frozen:
                self._theta = tilt
                self._g_rem = 0
                self._c_rem = 0
                self._settle_ms = 0
                self._init = True
        elif not frozen:
            agree = self._fuse(tilt, rate, rate_in, g_ok, dt, cfg)
        self._judge(g_ok, not rate_in or not agree, frozen, dt, cfg)
        self._publish(cfg)

    def _sample(self, inp):
        """Clamp the accelerometer, take |acc| and the tilt about the pivot (gravity_mg,
        _acc_theta); return the gyro rate about the pivot, clamped, sensor sign."""
        ax = _clamp(inp.acc_x_mg, _ACC_CLAMP_MG)
        ay = _clamp(inp.acc_y_mg, _ACC_CLAMP_MG)
        az = _clamp(inp.acc_z_mg, _ACC_CLAMP_MG)
        axis = self._axis
        if axis == 0:
            a_s = ay
            a_c = az
            a_o = ax
            gyro = inp.gyro_x_mdps
        elif axis == 1:
            a_s = -ax
            a_c = az
            a_o = ay
            gyro = inp.gyro_y_mdps
        else:
            a_s = ax
            a_c = ay
            a_o = az
            gyro = inp.gyro_z_mdps
        self._raw_s = a_s
        self._raw_c = a_c
        cfg = self._cfg
        a_s -= cfg.imu_acc_sin_off_mg
        a_c -= cfg.imu_acc_cos_off_mg
        # the previous |acc| is a close first guess: isqrt then takes two or three passes
        self.gravity_mg = isqrt(a_s * a_s + a_c * a_c + a_o * a_o, self.gravity_mg)
        self._acc_theta = atan2_mdeg(a_s, a_c)
        return _clamp(gyro, _GYRO_CLAMP_MDPS)

    def _fuse(self, tilt, rate, rate_in, g_ok, dt, cfg):
        """One step of the complementary filter; False if the accelerometer disagrees
        with the fused angle beyond what the filter could close (left out)."""
        agree = True
        if rate_in:
            r = self._g_rem + rate * dt  # micro-degrees
            step = r // 1000
            self._g_rem = r - step * 1000
            self._theta += step
        if g_ok:
            err = _wrap(tilt - self._theta)
            limit = cfg.rate_max_mdeg_s * cfg.fusion_tau_ms // 1000  # <= 1e5 * 5000: small
            if limit < _DISAGREE_MIN_MDEG:
                limit = _DISAGREE_MIN_MDEG
            # Start-up: for fusion_tau_ms after (re)initialisation the accelerometer is
            # averaged with weight dt/elapsed (a running mean), so a bad first sample is
            # averaged away instead of decaying with the full time constant, and when a
            # sample is more than _SETTLE_JUMP_MDEG off the mean, the mean restarts
            # from it (no fault: there was no settled angle yet to disagree with).
            tau = cfg.fusion_tau_ms
            settling = self._settle_ms < tau
            if settling and not -_SETTLE_JUMP_MDEG <= err <= _SETTLE_JUMP_MDEG:
                # still settling and far off: the early samples were the outliers
                self._theta = tilt
                self._c_rem = 0
                self._settle_ms = 0
                err = 0
            if settling:
                self._settle_ms += dt
                tau = self._settle_ms
            if settling or -limit <= err <= limit:
                den = tau + dt
                c = self._c_rem + err * dt
                corr = c // den
                self._c_rem = c - corr * den
                self._theta += corr
            else:
                agree = False
        self._theta = _wrap(self._theta)
        return agree

    def _judge(self, g_ok, rate_bad, frozen, dt, cfg):
        """The persistence timers of the plausibility checks; fire or clear the fault."""
        if g_ok:
            self._grav_bad_ms = 0
        elif self._grav_bad_ms < _COUNT_MAX:
            self._grav_bad_ms += dt
        if not rate_bad:
            self._rate_bad_ms = 0
        elif self._rate_bad_ms < _COUNT_MAX:
            self._rate_bad_ms += dt
        if g_ok and not rate_bad and not frozen:
            if self._good_ms < _COUNT_MAX:
                self._good_ms += dt
        else:
            self._good_ms = 0
        if self._grav_bad_ms >= _GRAVITY_PERSIST_MS:
            self._fire(faults.IMU_GRAVITY)
        if self._rate_bad_ms >= _RATE_PERSIST_MS:
            self._fire(faults.IMU_RATE)
            self._bias_ms = 0  # a wrongly learned bias is one cause: learn it afresh
        if frozen:
            self._fire(faults.IMU_FROZEN)
        if self.fault != faults.NONE and self._init and self._good_ms >= cfg.fusion_tau_ms:
            self.fault = faults.NONE

    def calibrate(self, reference_mdeg):
        """The cfg.imu_zero_mdeg that makes the current tilt read reference_mdeg.

        Uses the fused angle, which while the table stands still is the accelerometer
        tilt averaged over fusion_tau_ms (one raw sample is ~0.2 deg noisy). Raises
        ValueError if the angle is not valid. The caller stores the result in the config.
        """
        if not self.valid:
            raise ValueError("IMU angle not valid: cannot calibrate")
        return _wrap(self._cfg.imu_sign * self._theta - reference_mdeg)

    def retilt(self):
        """The calibration changed (imu_zero_mdeg, the offsets): take the fused tilt
        from the still average through the new offsets, so the angle does not creep
        over fusion_tau_ms from the old calibration to the new one."""
        cfg = self._cfg
        if self._init and self.avg_ms > 0:
            self._theta = atan2_mdeg(self.avg_s_mg - cfg.imu_acc_sin_off_mg,
                                     self.avg_c_mg - cfg.imu_acc_cos_off_mg)
            self._c_rem = 0
        self._publish(cfg)

    def _average(self, dt):
        """The still average of the raw in-plane axes (running mean, then exponential)."""
        n = self.avg_ms + dt
        if n > _AVG_TAU_MS:
            n = _AVG_TAU_MS
        if n <= 0:
            return
        ds = self._raw_s - self.avg_s_mg
        dc = self._raw_c - self.avg_c_mg
        if (self.avg_ms == 0 or not -_AVG_JUMP_MG <= ds <= _AVG_JUMP_MG
                or not -_AVG_JUMP_MG <= dc <= _AVG_JUMP_MG):
            n = dt
            self.avg_s_mg = self._raw_s
            self.avg_c_mg = self._raw_c
            self._s_rem = self._c_rem_avg = 0
        else:
            # |raw - avg| * dt <= 50 * 100: a small int
            v = self._s_rem + ds * dt
            q = v // n
            self._s_rem = v - q * n
            self.avg_s_mg += q
            v = self._c_rem_avg + dc * dt
            q = v // n
            self._c_rem_avg = v - q * n
            self.avg_c_mg += q
        self.avg_ms = n

    def _fire(self, code):
        if self.fault == faults.NONE:
            self.fault = code
        self._init = False  # the next usable sample restarts from the accelerometer
        self._good_ms = 0

    def _learn_bias(self, gyro, dt):
        n = self._bias_ms + dt
        if n > _BIAS_TAU_MS:
            n = _BIAS_TAU_MS
        self._bias_ms = n
        if n <= 0:
            return
        # Running mean until _BIAS_TAU_MS of still time, then exponential; the remainder
        # keeps the average unbiased. |gyro - bias| * dt <= 500000 * 100.
        b = self._b_rem + (gyro - self.gyro_bias_mdps) * dt
        step = b // n
        self._b_rem = b - step * n
        self.gyro_bias_mdps += step

    def _frozen_check(self, inp, repeats):
        """Count identical readings; True once either sensor repeated `repeats` times."""
        ax = inp.acc_x_mg
        ay = inp.acc_y_mg
        az = inp.acc_z_mg
        gx = inp.gyro_x_mdps
        gy = inp.gyro_y_mdps
        gz = inp.gyro_z_mdps
        if self._have_last and ax == self._lax and ay == self._lay and az == self._laz:
            if self._acc_same < _COUNT_MAX:
                self._acc_same += 1
        else:
            self._acc_same = 0
        if self._have_last and gx == self._lgx and gy == self._lgy and gz == self._lgz:
            if self._gyro_same < _COUNT_MAX:
                self._gyro_same += 1
        else:
            self._gyro_same = 0
        self._have_last = True
        self._lax = ax
        self._lay = ay
        self._laz = az
        self._lgx = gx
        self._lgy = gy
        self._lgz = gz
        return self._acc_same >= repeats or self._gyro_same >= repeats

    def _publish(self, cfg):
        sign = cfg.imu_sign
        zero = cfg.imu_zero_mdeg
        self.angle_mdeg = _wrap(sign * self._theta - zero)
        self.acc_angle_mdeg = _wrap(sign * self._acc_theta - zero)
        self.rate_mdeg_s = sign * self._rate
        self.valid = self._init and self.fault == faults.NONE


def sample_for_angle_into(inp, angle_mdeg, rate_mdeg_s, cfg, g_mg=1000):
    """Fill inp with the ideal IMU sample of a table at angle_mdeg turning at rate_mdeg_s.

    The exact inverse of the Estimator's convention, for simulators and tests: an
    Estimator with the same cfg reads angle_mdeg back (within atan2's few mdeg).
    Allocation-free; the axis along the pivot reads 0 mg.
    """
    theta = cfg.imu_sign * (angle_mdeg + cfg.imu_zero_mdeg)
    s = (g_mg * sin_q15(theta) + 16384) >> 15  # |g_mg| <= 16000: the product < 2**30
    c = (g_mg * cos_q15(theta) + 16384) >> 15
    rate = cfg.imu_sign * rate_mdeg_s
    axis = cfg.imu_axis
    inp.gyro_x_mdps = rate if axis == 0 else 0
    inp.gyro_y_mdps = rate if axis == 1 else 0
    inp.gyro_z_mdps = rate if axis == 2 else 0
    if axis == 0:
        inp.acc_x_mg = 0
        inp.acc_y_mg = s
        inp.acc_z_mg = c
    elif axis == 1:
        inp.acc_x_mg = -s
        inp.acc_y_mg = 0
        inp.acc_z_mg = c
    else:
        inp.acc_x_mg = s
        inp.acc_y_mg = c
        inp.acc_z_mg = 0
    inp.imu_error = 0
