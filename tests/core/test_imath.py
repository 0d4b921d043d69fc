"""Integer trigonometry: hand-worked values, a whole-circle round trip, exact isqrt, no allocation.

Runs on CPython and the MicroPython unix port; the comparison against math.atan2 over the
whole circle is in tests/host/test_imu_props.py.
"""

import gc
import sys

from imath import atan2_mdeg, cos_q15, isqrt, sin_q15
from support import raises

ON_MPY = sys.implementation.name == "micropython"


def test_atan2_hand_worked_values():
    assert atan2_mdeg(0, 1000) == 0
    assert atan2_mdeg(1000, 1000) == 45000
    assert atan2_mdeg(1000, 0) == 90000
    assert atan2_mdeg(1000, -1000) == 135000
    assert atan2_mdeg(0, -1000) == 180000  # the half-open range includes +180 deg
    assert atan2_mdeg(-1000, -1000) == -135000
    assert atan2_mdeg(-1000, 0) == -90000
    assert atan2_mdeg(-1000, 1000) == -45000
    assert atan2_mdeg(0, 0) == 0
    # 30 deg from the accelerometer: (500, 866) mg is 30.0007 deg
    assert atan2_mdeg(500, 866) == 30000
    # large inputs (> 2**15) are scaled down, not overflowed
    assert atan2_mdeg(3 * 10**8, 3 * 10**8) == 45000


def test_atan2_range_is_half_open():
    for y, x in ((0, -1), (0, -30000), (-1, -30000), (1, -30000)):
        a = atan2_mdeg(y, x)
        assert -180000 < a <= 180000
    assert atan2_mdeg(-1, -30000) < 0 < atan2_mdeg(1, -30000)


def test_sin_cos_hand_worked_values():
    assert sin_q15(0) == 0
    assert sin_q15(30000) == 16384
    assert sin_q15(90000) == 32768
    assert sin_q15(150000) == 16384
    assert sin_q15(180000) == 0
    assert sin_q15(210000) == -16384
    assert sin_q15(-30000) == -16384
    assert sin_q15(270000) == -32768
    assert sin_q15(390000) == 16384  # periodic
    assert cos_q15(0) == 32768
    assert cos_q15(60000) == 16384
    assert cos_q15(-60000) == 16384
    assert cos_q15(90000) == 0
    assert cos_q15(180000) == -32768
    assert abs(sin_q15(45000) - 23170) <= 1  # 32768 / sqrt(2) = 23170.5


def test_round_trip_over_the_whole_circle():
    # atan2(sin a, cos a) == a: covers every octant and quadrant of all three functions.
    # Tolerance 20 mdeg: atan2's own error plus the Q15 rounding of sin and cos (~2 mdeg).
    worst = 0
    for a in range(-179990, 180001, 997):
        back = atan2_mdeg(sin_q15(a), cos_q15(a))
        err = back - a
        if err > 180000:
            err -= 360000
        elif err < -180000:
            err += 360000
        if abs(err) > worst:
            worst = abs(err)
    assert worst <= 20, worst


def test_round_trip_at_accelerometer_scale():
    # mg-sized vectors (1 g = 1000 mg): the case the estimator uses
    worst = 0
    for a in range(-179000, 180001, 1009):
        y = (1000 * sin_q15(a) + 16384) >> 15
        x = (1000 * cos_q15(a) + 16384) >> 15
        # quantising to whole mg moves the true angle by up to ~0.04 deg at 1 g
        err = atan2_mdeg(y, x) - a
        if err > 180000:
            err -= 360000
        elif err < -180000:
            err += 360000
        worst = max(worst, abs(err))
    assert worst <= 60, worst


def test_sin_squared_plus_cos_squared_is_one():
    for a in range(0, 360000, 1237):
        s = sin_q15(a)
        c = cos_q15(a)
        assert abs(s * s + c * c - 32768 * 32768) <= 3 * 32768


def test_isqrt_is_exact():
    for n in range(0, 5000):
        r = isqrt(n)
        assert r * r <= n < (r + 1) * (r + 1)
    for r in (1000, 1732, 16383, 27712, 32767):
        assert isqrt(r * r) == r
        assert isqrt(r * r - 1) == r - 1
    assert isqrt(2**30 - 1) == 32767
    assert isqrt(3 * 16000 * 16000) == 27712  # the estimator's largest argument


def test_isqrt_of_big_and_negative_numbers():
    assert isqrt(2**40) == 2**20
    assert isqrt(10**18) == 10**9
    raises(ValueError, isqrt, -1)
    raises(ValueError, isqrt, -1, 1000)


def test_isqrt_from_a_guess_is_exact():
    # Newton's iteration from any positive guess: near the root (the estimator passes
    # the previous |acc|), far below and far above it
    for n in (0, 1, 2, 3, 4, 999999, 1000000, 1000001, 1002001, 3 * 16000 * 16000, 2**30 - 1):
        r = isqrt(n)
        for guess in (1, 2, r - 1, r, r + 1, r + 2, 2 * r + 5, 1 << 29):
            if guess > 0:
                assert isqrt(n, guess) == r, (n, guess)
    g = 1000
    x = 12345
    for _ in range(2000):  # a walk of |acc|**2 around 1 g, each from the last result
        x = (x * 75 + 74) % 65537
        n = (1000 + x % 61 - 30) ** 2 + x % 1000
        g = isqrt(n, g)
        assert g * g <= n < (g + 1) * (g + 1)


def test_no_allocation_on_micropython():
    if not ON_MPY:
        return  # gc.mem_alloc() is MicroPython's
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    acc = 0
    for i in range(-500, 500):
        acc += atan2_mdeg(i * 37, 1000 - i) + sin_q15(i * 719) + cos_q15(i * 359)
        acc += isqrt(i * i * 3000 + 7) + isqrt(i * i + 1000000, 1000)
        acc &= 0xFFFF  # keep the sum a small int
    used = gc.mem_alloc() - before
    gc.enable()
    assert used == 0, used
