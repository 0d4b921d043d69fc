"""IMU math and estimator on CPython: accuracy against math.*, properties, and datasheet noise.

- atan2_mdeg against math.atan2 over the whole circle (dense sweep + hypothesis);
  sin_q15/cos_q15 against math.sin/cos; isqrt against math.isqrt.
- The drivers' integer scaling against exact fractions for every int16.
- Estimator invariants over random fault sequences (hypothesis).
- Noise: synthetic samples with the datasheet noise densities from
  hardware/table_params.json (imu section) and the worst-case gyro zero-rate offset,
  static and moving at the normal 4 dps: steady-state error <= 500 mdeg static and
  <= 1000 mdeg in motion. Run with `pytest -s` to see the measured max and RMS.
"""

import json
import math
import random
import struct
from fractions import Fraction

import faults
import mpu6050
from estimator import Estimator, sample_for_angle_into
from hypothesis import given, settings
from hypothesis import strategies as st
from imath import atan2_mdeg, cos_q15, isqrt, sin_q15
from mpu6050 import GYRO_DEN, GYRO_NUM, raw_to_mdps, raw_to_mg
from signals import Inputs
from support import make_config

from host_tools.paths import TABLE_PARAMS

ATAN2_DOC_MAX_MDEG = 3  # imath's docstring, for |x|, |y| < 32768 (the requirement: 20)


def _atan2_err(y, x):
    e = atan2_mdeg(y, x) - math.degrees(math.atan2(y, x)) * 1000
    if e > 180000:
        e -= 360000
    elif e < -180000:
        e += 360000
    return abs(e)


def test_atan2_dense_sweep_whole_circle():
    worst = 0.0
    radians, cos, sin, err = math.radians, math.cos, math.sin, _atan2_err  # 1e6 rounds
    for radius in (1000, 16000, 32767):  # 1 g in mg, 16 g in mg, int16 full scale
        for k in range(0, 360000, 1):  # every millidegree of direction
            a = radians(k / 1000)
            e = err(round(radius * sin(a)), round(radius * cos(a)))
            if e > worst:
                worst = e
    print("\natan2_mdeg dense sweep: worst error %.2f mdeg" % worst)
    assert worst <= ATAN2_DOC_MAX_MDEG


# The pure-math properties: hypothesis (its edge-seeking draws and shrinking) plus a
# seeded sweep many times larger, which costs microseconds a case instead of a millisecond.
INT16_EDGES = (0, 1, -1, 2, -2, 181, -181, 16384, -16384, 32766, -32766, 32767, -32767)


def test_atan2_int16_edges_and_a_seeded_sweep():
    rng = random.Random(23)
    pairs = [(y, x) for y in INT16_EDGES for x in INT16_EDGES]
    pairs += [(rng.randint(-32767, 32767), rng.randint(-32767, 32767)) for _ in range(50000)]
    for y, x in pairs:
        _check_atan2_int16(y, x)


@settings(max_examples=500, deadline=None)
@given(st.integers(-32767, 32767), st.integers(-32767, 32767))
def test_atan2_any_int16_vector(y, x):
    _check_atan2_int16(y, x)


def _check_atan2_int16(y, x):
    if x == 0 and y == 0:
        assert atan2_mdeg(0, 0) == 0
        return
    a = atan2_mdeg(y, x)
    assert -180000 < a <= 180000
    assert _atan2_err(y, x) <= ATAN2_DOC_MAX_MDEG


def test_atan2_large_vectors_seeded_sweep():
    rng = random.Random(29)
    for _ in range(30000):
        # magnitudes spread over every bit length up to 2**40, not bunched near the top
        y = rng.getrandbits(rng.randint(0, 40)) * rng.choice((1, -1))
        x = rng.getrandbits(rng.randint(0, 40)) * rng.choice((1, -1))
        _check_atan2_large(y, x)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**40), 2**40), st.integers(-(2**40), 2**40))
def test_atan2_large_vectors(y, x):
    _check_atan2_large(y, x)


def _check_atan2_large(y, x):
    if x == 0 and y == 0:
        return
    # inputs >= 2**15 are shifted down: up to 2**-14 relative loss on the smaller one
    assert _atan2_err(y, x) <= 10  # imath's docstring for large inputs


def test_sin_cos_against_math():
    worst = 0.0
    for a in range(-360000, 360001, 7):
        r = math.radians(a / 1000)
        worst = max(worst, abs(sin_q15(a) - 32768 * math.sin(r)),
                    abs(cos_q15(a) - 32768 * math.cos(r)))
    print("\nsin_q15/cos_q15: worst error %.2f LSB" % worst)
    assert worst <= 1.3


def _square_edges(rng, count):
    """n = k*k - 1, k*k, k*k + 1 for roots k of every bit length up to 31 (n < 2**62):
    where a floor square root is off by one if anywhere."""
    out = []
    for _ in range(count):
        k = rng.getrandbits(rng.randint(1, 31))
        out += [n for n in (k * k - 1, k * k, k * k + 1) if n >= 0]
    return out


def test_isqrt_every_n_below_2_16_and_the_square_edges():
    for n in range(1 << 16):
        assert isqrt(n) == math.isqrt(n), n
    for n in _square_edges(random.Random(31), 20000) + [2**62 - 1, 2**62]:
        assert isqrt(n) == math.isqrt(n), n


def test_isqrt_from_guesses_at_the_square_edges():
    rng = random.Random(37)
    for n in _square_edges(rng, 10000):
        r = math.isqrt(n)
        for guess in (1, max(r, 1), r + 1, r + 6, rng.randint(1, 2**40)):
            assert isqrt(n, guess) == r, (n, guess)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**62))
def test_isqrt_against_math(n):
    assert isqrt(n) == math.isqrt(n)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**62), st.integers(1, 2**40))
def test_isqrt_from_any_guess_against_math(n, guess):
    r = math.isqrt(n)
    assert isqrt(n, guess) == r
    assert isqrt(n, r + guess % 7) == r  # and from close above the root


def _round_half_up(f):
    return math.floor(f + Fraction(1, 2))


def _round_half_away(f):
    return _round_half_up(f) if f >= 0 else -_round_half_up(-f)


def test_driver_read_into_decodes_every_int16_as_the_helpers_do():
    # read_into() puts each register word, sign-extended and scaled, on its axis: against
    # int16_be, raw_to_mg and raw_to_mdps, for every int16 on every axis and full scale
    class Bus:
        data = bytes(14)

        def readfrom_mem_into(self, addr, reg, buf):
            buf[:] = self.data

    words = list(range(-32768, 32768))
    rng = random.Random(5)
    for afs in (2, 4, 8, 16):
        for gfs in (250, 500, 1000, 2000):
            drv = mpu6050.MPU6050(Bus(), accel_fs_g=afs, gyro_fs_dps=gfs)
            inp = Inputs()
            rng.shuffle(words)
            for i in range(0, len(words), 6):
                raw = [words[(i + j) % len(words)] for j in range(6)]
                drv._i2c.data = struct.pack(">7h", raw[0], raw[1], raw[2], 0, raw[3], raw[4],
                                            raw[5])
                drv.read_into(inp)
                b = drv._i2c.data
                s = drv._acc_shift
                n = drv._g_num
                d = drv._g_den
                assert [mpu6050.int16_be(b, k) for k in (0, 2, 4, 8, 10, 12)] == raw
                assert (inp.acc_x_mg, inp.acc_y_mg, inp.acc_z_mg, inp.gyro_x_mdps,
                        inp.gyro_y_mdps, inp.gyro_z_mdps) == (
                    raw_to_mg(raw[0], s), raw_to_mg(raw[1], s), raw_to_mg(raw[2], s),
                    raw_to_mdps(raw[3], n, d), raw_to_mdps(raw[4], n, d),
                    raw_to_mdps(raw[5], n, d))


def _div_half_up(p, q):
    """floor(p / q + 1/2) for integers, q > 0: _round_half_up(Fraction(p, q)) without
    building a Fraction (this runs for every int16, 4 x 2 times)."""
    return (2 * p + q) // (2 * q)


def _div_half_away(p, q):
    """_round_half_away(Fraction(p, q)) for integers, q > 0."""
    return _div_half_up(p, q) if p >= 0 else -_div_half_up(-p, q)


def test_the_integer_rounding_matches_the_fractions():
    for p in list(range(-400, 401)) + [-32768000, 32767000, -327680000, 327670000]:
        for q in (1, 2, 3, 131, 328, 164, 16384, 2048):
            assert _div_half_up(p, q) == _round_half_up(Fraction(p, q)), (p, q)
            assert _div_half_away(p, q) == _round_half_away(Fraction(p, q)), (p, q)


def test_driver_scaling_is_exact_for_every_int16():
    # the exact figures: raw * 1000 / lsb, lsb_per_dps as the fraction num / den
    lsb_per_dps = ((131, 1), (131, 2), (328, 10), (164, 10))
    for fs_index in range(4):
        lsb_per_g = 16384 >> fs_index
        shift = 14 - fs_index
        num, den = lsb_per_dps[fs_index]
        g_num, g_den = GYRO_NUM[fs_index], GYRO_DEN[fs_index]
        for raw in range(-32768, 32768):
            assert raw_to_mg(raw, shift) == _div_half_up(raw * 1000, lsb_per_g)
            want = _div_half_away(raw * 1000 * den, num)
            assert raw_to_mdps(raw, g_num, g_den) == want


# ---------------------------------------------------------------- estimator properties

EVENTS = st.sampled_from(("good", "good", "good", "bus", "gravity", "rate", "frozen", "jump"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(EVENTS, st.integers(1, 60)), min_size=1, max_size=12),
       st.integers(-60000, 65000))
def test_estimator_invariants_over_fault_sequences(script, angle):
    cfg = make_config()
    est = Estimator(cfg)
    inp = Inputs()
    rnd = random.Random(angle)
    good_run = 0
    for event, n in script:
        for _ in range(n):
            good_run = good_run + 1 if event == "good" else 0
            sample_for_angle_into(inp, angle, 0, cfg)
            inp.acc_x_mg += rnd.randint(-3, 3)
            inp.gyro_x_mdps += rnd.randint(-30, 30)
            if event == "bus":
                inp.imu_error = 110
            elif event == "gravity":
                inp.acc_z_mg += 600
            elif event == "rate":
                inp.gyro_y_mdps = 60000
            elif event == "frozen":
                inp.acc_x_mg, inp.acc_y_mg, inp.acc_z_mg = -500, 0, 866
                inp.gyro_x_mdps = inp.gyro_y_mdps = inp.gyro_z_mdps = 0
            elif event == "jump":
                sample_for_angle_into(inp, angle + 30000, 0, cfg)
            est.update(10, inp, True)
            assert not (est.valid and est.fault != faults.NONE)
            assert -180000 < est.angle_mdeg <= 180000
            for v in (est.rate_mdeg_s, est.gyro_bias_mdps, est.gravity_mg):
                assert -(2**30) < v < 2**30
            # whatever came before, 70 good samples (rate fault 100 ms + recovery 500 ms)
            # later the estimator is valid and right
            if good_run >= 70:
                assert est.valid and abs(est.angle_mdeg - angle) <= 1500


# ---------------------------------------------------------------- datasheet noise

def _imu_params():
    with open(TABLE_PARAMS) as f:
        p = json.load(f)
    return {k: v[0] for k, v in p["imu"].items()}, {k: v[0] for k, v in p["physics"].items()}


class NoisySensor:
    """Ideal samples plus white noise at the datasheet density over the DLPF bandwidth.

    sigma = density * sqrt(pi/2 * bandwidth) (the equivalent noise bandwidth of a
    first-order low-pass); samples are rounded to whole mg / mdps as the driver gives them.
    """

    def __init__(self, cfg, seed, vibration_mg=0, gyro_scale=1.0):
        imu, _ = _imu_params()
        enbw = math.pi / 2 * imu["dlpf_hz"]
        self.acc_sigma_mg = imu["accel_noise_ug_rthz"] / 1000 * math.sqrt(enbw)
        self.gyro_sigma_mdps = imu["gyro_noise_mdps_rthz"] * math.sqrt(enbw)
        self.bias_mdps = imu["gyro_zero_offset_mdps"]  # worst-case ZRO, learned while still
        self.tick_ms = 1000 // imu["sample_rate_hz"]
        self.vibration_mg = vibration_mg
        self.gyro_scale = gyro_scale
        self.cfg = cfg
        self.rnd = random.Random(seed)
        self.inp = Inputs()

    def sample(self, angle_mdeg, rate_mdeg_s):
        inp = self.inp
        sample_for_angle_into(inp, round(angle_mdeg), round(rate_mdeg_s * self.gyro_scale),
                              self.cfg)
        g = self.rnd.gauss
        acc_sigma = math.hypot(self.acc_sigma_mg, self.vibration_mg)
        inp.acc_x_mg += round(g(0, acc_sigma))
        inp.acc_y_mg += round(g(0, acc_sigma))
        inp.acc_z_mg += round(g(0, acc_sigma))
        inp.gyro_x_mdps += round(g(0, self.gyro_sigma_mdps) + self.bias_mdps)
        inp.gyro_y_mdps += round(g(0, self.gyro_sigma_mdps) + self.bias_mdps)
        inp.gyro_z_mdps += round(g(0, self.gyro_sigma_mdps) + self.bias_mdps)
        return inp


def _stats(errs):
    return max(abs(e) for e in errs), math.sqrt(sum(e * e for e in errs) / len(errs))


def test_noise_static_error_within_500_mdeg():
    cfg = make_config()
    worst = []
    for angle in (-60000, -30000, 0, 30000, 60000):
        sensor = NoisySensor(cfg, seed=angle)
        est = Estimator(cfg)
        errs = []
        for i in range(4000):  # 5 s to settle, then 35 s measured
            est.update(sensor.tick_ms, sensor.sample(angle, 0), True)
            assert est.valid and est.fault == faults.NONE
            if i >= 500:
                errs.append(est.angle_mdeg - angle)
        worst.append(_stats(errs))
    mx = max(w[0] for w in worst)
    rms = math.sqrt(sum(w[1] ** 2 for w in worst) / len(worst))
    print("\nstatic (5 angles x 35 s, %.2f mg / %.1f mdps rms per sample): "
          "max %d mdeg, rms %.1f mdeg" % (sensor.acc_sigma_mg, sensor.gyro_sigma_mdps, mx, rms))
    assert mx <= 500


def test_noise_moving_at_4_dps_error_within_1000_mdeg():
    cfg = make_config()
    _, physics = _imu_params()
    rate = cfg.normal_speed_mdeg_s  # 4 dps
    # 1.0: the datasheet noise alone (plus drive vibration). 0.97 / 1.03: the gyro
    # sensitivity off by the datasheet's +-3% initial tolerance (PS-MPU-6000A table 6.1),
    # which the bias learning cannot remove.
    for scale in (1.0, 0.97, 1.03):
        results = []
        for seed in range(3):
            sensor = NoisySensor(cfg, seed, vibration_mg=physics["vibration_mg"],
                                 gyro_scale=scale)
            est = Estimator(cfg)
            angle = -60000.0
            for _ in range(500):  # 5 s still at the loading position: the bias is learned
                est.update(sensor.tick_ms, sensor.sample(angle, 0), True)
            errs = []
            while angle < 60000:  # loading to 60 deg head-down at 4 dps (30 s)
                angle += rate * sensor.tick_ms / 1000
                est.update(sensor.tick_ms, sensor.sample(angle, rate), False)
                assert est.valid and est.fault == faults.NONE
                errs.append(est.angle_mdeg - angle)
            results.append(_stats(errs))
        mx = max(r[0] for r in results)
        rms = math.sqrt(sum(r[1] ** 2 for r in results) / len(results))
        print("\nmoving at 4 dps (3 runs x 30 s, %d mg vibration, gyro scale %.2f): "
              "max %.0f mdeg, rms %.1f mdeg" % (physics["vibration_mg"], scale, mx, rms))
        assert mx <= 1000
