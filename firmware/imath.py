"""Integer trigonometry for the control core: atan2, sin, cos and square root.

Owns: the angle arithmetic the core needs without floats (floats are boxed on the
ESP32, so every float result allocates). Angles are millidegrees (mdeg); sin and
cos return Q15 (value * 32768, so sin_q15(90000) == 32768).

None of these functions allocates on MicroPython as long as arguments and
intermediate values stay small ints (|n| < 2**30): they index module-level tuples
and use shifts, adds and small products only.

Accuracy (measured by tests/host/test_imu_props.py against math.atan2/sin/cos over
the whole circle, dense sweep plus hypothesis):
- atan2_mdeg: worst-case error 3 mdeg for every integer vector with |x|, |y| < 32768
  (every accelerometer reading; measured 2.7). The error comes from the 64-segment
  table's linear interpolation (<= 1.1 mdeg), rounding the ratio to Q15 (<= 0.9 mdeg)
  and rounding the table and the result (<= 1 mdeg). Larger inputs are first shifted
  below 2**15, which can add up to 2**-14 rad (3.5 mdeg): worst case under 10 mdeg
  (measured 5).
- sin_q15 / cos_q15: within 1.3 LSB (1.3/32768) of 32768 * sin: 0.3 from the
  interpolation, 0.5 from the table's rounding, 0.5 from the result's.
- isqrt: exact floor square root.
"""

from micropython import const

# atan(i / 64) in mdeg, i = 0..64: round(degrees(atan(i / 64)) * 1000).
# 64 segments keep the linear-interpolation error at h^2/8 * max|atan''|
# = (1/64)^2 / 8 * 0.65 rad = 1.1 mdeg, well under the 20 mdeg target.
_ATAN_TABLE = (
    0, 895, 1790, 2684, 3576, 4467, 5356, 6242, 7125, 8005, 8881, 9752, 10620, 11482, 12339,
    13191, 14036, 14876, 15709, 16535, 17354, 18166, 18970, 19767, 20556, 21337, 22109, 22874,
    23629, 24376, 25115, 25844, 26565, 27277, 27979, 28673, 29358, 30033, 30700, 31357, 32005,
    32645, 33275, 33896, 34509, 35112, 35707, 36293, 36870, 37439, 37999, 38550, 39094, 39629,
    40156, 40675, 41186, 41689, 42184, 42672, 43152, 43625, 44091, 44549, 45000
)
_RATIO_BITS = const(15)  # the ratio min/max in Q15: 0..32768
_SEG_BITS = const(9)  # Q15 ratio >> 9 = segment index 0..64 (2**15 / 64 = 2**9)
_SEG_MASK = const(511)
_SEG_HALF = const(256)  # rounds the interpolation
# Both magnitudes are shifted below 2**15 so (min << 15) stays a small int (< 2**30).
_MAG_LIMIT = const(32768)

# sin(i * 0.5 deg) in Q15, i = 0..180: round(32768 * sin(radians(i / 2))).
# Half-degree steps keep the interpolation error at (pi/360)^2 / 8 * 32768 = 0.3 LSB.
_SIN_TABLE = (
    0, 286, 572, 858, 1144, 1429, 1715, 2000, 2286, 2571, 2856, 3141, 3425, 3709, 3993, 4277,
    4560, 4843, 5126, 5408, 5690, 5971, 6252, 6533, 6813, 7092, 7371, 7650, 7927, 8204, 8481,
    8757, 9032, 9307, 9580, 9854, 10126, 10397, 10668, 10938, 11207, 11476, 11743, 12010, 12275,
    12540, 12803, 13066, 13328, 13589, 13848, 14107, 14365, 14621, 14876, 15131, 15384, 15636,
    15886, 16136, 16384, 16631, 16877, 17121, 17364, 17606, 17847, 18086, 18324, 18560, 18795,
    19028, 19261, 19491, 19720, 19948, 20174, 20399, 20622, 20843, 21063, 21281, 21498, 21713,
    21926, 22138, 22348, 22556, 22763, 22967, 23170, 23372, 23571, 23769, 23965, 24159, 24351,
    24542, 24730, 24917, 25102, 25285, 25466, 25645, 25822, 25997, 26170, 26341, 26510, 26677,
    26842, 27005, 27166, 27325, 27482, 27636, 27789, 27939, 28088, 28234, 28378, 28520, 28660,
    28797, 28932, 29066, 29197, 29325, 29452, 29576, 29698, 29818, 29935, 30050, 30163, 30274,
    30382, 30488, 30592, 30693, 30792, 30888, 30983, 31075, 31164, 31251, 31336, 31419, 31499,
    31576, 31651, 31724, 31795, 31863, 31928, 31991, 32052, 32110, 32166, 32219, 32270, 32319,
    32365, 32408, 32449, 32488, 32524, 32557, 32588, 32617, 32643, 32667, 32688, 32707, 32723,
    32737, 32748, 32757, 32763, 32767, 32768
)
_SIN_STEP_MDEG = const(500)  # table spacing
_SIN_HALF_STEP = const(250)  # rounds the interpolation
_QUARTER_MDEG = const(90000)
_HALF_MDEG = const(180000)
_FULL_MDEG = const(360000)

# isqrt's first trial bit: the highest power of 4 that is a small int on MicroPython.
_ISQRT_TOP_BIT = const(1 << 28)


def atan2_mdeg(y, x):
    """Angle of the vector (x, y) in mdeg, in (-180000, 180000]; atan2_mdeg(0, 0) == 0.

    Same argument order and quadrant convention as math.atan2(y, x).
    """
    ax = x if x >= 0 else -x
    ay = y if y >= 0 else -y
    if ax == 0 and ay == 0:
        return 0
    # Keep the ratio's numerator a small int; dropping low bits of large inputs
    # costs at most 2**-15 relative error (<= 1.75 mdeg).
    while ax >= _MAG_LIMIT or ay >= _MAG_LIMIT:
        ax >>= 1
        ay >>= 1
    # atan(min/max), 0..45 deg, interpolated in the table (0 < den < 2**15); above
    # 45 deg, 90 deg minus atan of the inverse ratio
    if ay <= ax:
        num = ay
        den = ax
    else:
        num = ax
        den = ay
    r = ((num << _RATIO_BITS) + (den >> 1)) // den  # rounded Q15 ratio, 0..32768
    i = r >> _SEG_BITS
    if i >= 64:  # r == 32768 exactly: atan(1)
        a = _ATAN_TABLE[64]
    else:
        lo = _ATAN_TABLE[i]
        a = lo + (((_ATAN_TABLE[i + 1] - lo) * (r & _SEG_MASK) + _SEG_HALF) >> _SEG_BITS)
    if ay > ax:
        a = _QUARTER_MDEG - a
    if x < 0:
        a = _HALF_MDEG - a
    if y < 0:
        a = -a
    return a


def _sin_quarter_q15(a):
    """sin of 0 <= a <= 90000 mdeg, Q15, by interpolating the half-degree table."""
    i = a // _SIN_STEP_MDEG
    if i >= 180:
        return _SIN_TABLE[180]
    frac = a - i * _SIN_STEP_MDEG
    lo = _SIN_TABLE[i]
    return lo + ((_SIN_TABLE[i + 1] - lo) * frac + _SIN_HALF_STEP) // _SIN_STEP_MDEG


def sin_q15(angle_mdeg):
    """sin(angle) * 32768, rounded; any angle whose value is a small int."""
    a = angle_mdeg % _FULL_MDEG  # 0..359999 (floor modulo, also on MicroPython)
    if a < _QUARTER_MDEG:
        return _sin_quarter_q15(a)
    if a < _HALF_MDEG:
        return _sin_quarter_q15(_HALF_MDEG - a)
    if a < _HALF_MDEG + _QUARTER_MDEG:
        return -_sin_quarter_q15(a - _HALF_MDEG)
    return -_sin_quarter_q15(_FULL_MDEG - a)


def cos_q15(angle_mdeg):
    """cos(angle) * 32768, rounded; cos(a) = sin(a + 90 deg)."""
    return sin_q15((angle_mdeg % _FULL_MDEG) + _QUARTER_MDEG)


def isqrt(n, guess=0):
    """floor(sqrt(n)) for an int n >= 0 (ValueError if negative).

    guess > 0: Newton's iteration from it (the previous result, say): exact from any
    positive guess, two or three passes from a close one. Otherwise the digit-by-digit
    method: shifts and adds only, about 15 passes for n < 2**30.
    """
    if n < 0:
        raise ValueError("isqrt of a negative number")
    if guess > 0 and n > 0:
        # One step from any x > 0 lands at or above the root (the mean of x and n/x is
        # at least sqrt(n)); from there the iteration falls strictly until the root.
        x = (guess + n // guess) >> 1
        while True:
            y = (x + n // x) >> 1
            if y >= x:
                return x
            x = y
    bit = _ISQRT_TOP_BIT
    if n >> 30:  # n >= 2**30: a big int, allocates on MicroPython; never done per tick
        while (n >> 2) >= bit:
            bit <<= 2
    else:
        while bit > n:
            bit >>= 2
    res = 0
    while bit:
        if n >= res + bit:
            n -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    return res
