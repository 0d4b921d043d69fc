"""IMU calibration in the tilt plane: the IMU zero and the accelerometer's zero-g offsets,
from the table standing still at known angles.

Owns: the calibration point of this power-up (RAM only), solving one or two points for
the config (cfg.imu_zero_mdeg, cfg.imu_acc_sin_off_mg, cfg.imu_acc_cos_off_mg), and the
checks that refuse a calibration that cannot be right. The core decides when one may be
taken (commands.py: standing still); persistence.py stores the result.

Why two points (issue #18): the MPU-6050's zero-g offsets (X/Y +-50 mg, Z +-80 mg,
PS-MPU-6000A table 6.2) on the two axes in the tilt plane, (os, oc), make the tilt
error os*cos(t) - oc*sin(t) rad: up to 4 deg, and different at every angle. One known
angle fixes the error there only (the IMU zero). Two known angles fix all of it: the
averaged raw readings are m_i = G * (sin t_i, cos t_i) + (os, oc) with the sensor tilt
t_i = imu_sign * (angle_i + zero), so
  - m_1 - m_2 = 2 G sin(d/2) * (cos u, -sin u), d = t_1 - t_2, u = (t_1 + t_2) / 2:
    its direction gives u (hence the zero) and its length G (the gain, a check: |g|);
  - (os, oc) = the mean of m_i - G * (sin t_i, cos t_i).
The documented points are the loading stop (homed, READY: cfg.loading_angle_mdeg) and
horizontal by a level (goto 0, then `calibrate 0`); any two at least _SPREAD_MIN_MDEG
apart work. Each `calibrate` solves with the previous point of this power-up if there
is one far enough away, else takes the zero alone (the offsets are kept).

The sensitivity (gain) per axis is not solved: with the axes' gains differing by the
datasheet's +-3%, the tilt error is up to 0.86 deg at 45 deg; that needs a third point
and is left for later (README, Known limits). The common gain G only checks the input.
"""

from imath import atan2_mdeg, cos_q15, isqrt, sin_q15
from micropython import const

# The still average behind a point must cover this much time (estimator avg_ms): as long
# as the fused angle's time constant (fusion_tau_ms' default), bringing the accelerometer
# noise (~2.6 mg rms per sample) to ~0.4 mg (0.02 deg).
_AVG_MIN_MS = const(500)
# Two points closer than this leave the offsets ill-determined (the difference of the
# readings is 2 G sin(d/2): at 20 deg, 0.35 g against ~0.5 mg of noise).
_SPREAD_MIN_MDEG = const(20000)
# |g| seen by the two points: the accelerometer's sensitivity tolerance (+-3%) plus the
# local gravity (+-0.3%) and margin. Outside, an angle given is not where the table was.
_GAIN_MIN_MG = const(940)
_GAIN_MAX_MG = const(1060)

ONE_POINT = const(1)
TWO_POINTS = const(2)


def _wrap(a):
    while a > 180000:
        a -= 360000
    while a <= -180000:
        a += 360000
    return a


class ImuCal:
    """The point kept from the previous `calibrate`; take() calibrates."""

    def __init__(self):
        self.have = False  # a previous point of this power-up
        self.angle_mdeg = 0  # its table angle
        self._s = 0  # its raw in-plane readings, mg (estimator.avg_s_mg, avg_c_mg)
        self._c = 0
        self.why = ""  # why the last take() refused, for the console
        self.gain_mg = 0  # |g| seen by the last two-point solution

    def take(self, est, cfg, angle_mdeg):
        """Calibrate with the table standing still at angle_mdeg (est: the estimator).

        Returns ONE_POINT or TWO_POINTS and changes cfg; or raises ValueError with the
        reason (also in `why`), cfg and the kept point unchanged. The point is kept for
        a second one only if the still average covers _AVG_MIN_MS (`have`)."""
        self.why = ""
        self.gain_mg = 0
        if not est.valid:
            return self._refuse("the IMU angle is not valid")
        settled = est.avg_ms >= _AVG_MIN_MS
        s = est.avg_s_mg
        c = est.avg_c_mg
        spread = angle_mdeg - self.angle_mdeg
        if self.have and (spread >= _SPREAD_MIN_MDEG or spread <= -_SPREAD_MIN_MDEG):
            if not settled:
                return self._refuse("not standing still long enough: wait half a second")
            values = self._two(cfg, angle_mdeg, s, c)
            n = TWO_POINTS
        else:
            # the zero alone, from the fused angle (the accelerometer averaged over
            # fusion_tau_ms at rest), through the offsets already stored
            values = {"imu_zero_mdeg": est.calibrate(angle_mdeg)}
            n = ONE_POINT
        try:
            cfg.update(values)
        except ValueError as e:
            return self._refuse(str(e))
        if settled:  # kept for a second point (not settled: too noisy for the offsets)
            self.have = True
            self.angle_mdeg = angle_mdeg
            self._s = s
            self._c = c
        est.retilt()
        return n

    def _two(self, cfg, angle_mdeg, s, c):
        """The zero and both offsets from the kept point and this one (module doc)."""
        sign = cfg.imu_sign
        ds = self._s - s
        dc = self._c - c
        d = sign * (self.angle_mdeg - angle_mdeg)  # t_1 - t_2, mdeg
        sh = sin_q15(d // 2)
        if sh < 0:
            sh = -sh
        gain = isqrt(ds * ds + dc * dc) * 16384 // sh  # |m_1 - m_2| / (2 sin(d/2))
        if not _GAIN_MIN_MG <= gain <= _GAIN_MAX_MG:
            self._refuse("the readings at %d and %d mdeg give |g| = %d mg: the table was "
                         "not at the angles given" % (self.angle_mdeg, angle_mdeg, gain))
        u = atan2_mdeg(ds, dc) + (-90000 if d > 0 else 90000)
        zero = _wrap(sign * _wrap(u) - (self.angle_mdeg + angle_mdeg) // 2)
        t1 = sign * (self.angle_mdeg + zero)
        t2 = sign * (angle_mdeg + zero)
        # gain <= 1060, sin/cos q15 <= 32768: the products stay below 2**26
        off_s = (self._s + s - ((gain * (sin_q15(t1) + sin_q15(t2)) + 16384) >> 15)) // 2
        off_c = (self._c + c - ((gain * (cos_q15(t1) + cos_q15(t2)) + 16384) >> 15)) // 2
        self.gain_mg = gain
        # the commissioning mark (commissioning.py): only a two-point solution sets it
        return {"imu_zero_mdeg": zero, "imu_acc_sin_off_mg": off_s,
                "imu_acc_cos_off_mg": off_c, "imu_calibrated": 1}

    def _refuse(self, why):
        self.why = why
        raise ValueError(why)
