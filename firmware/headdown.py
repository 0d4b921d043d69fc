"""How long the way back from head-down takes: the time the session cap must keep in hand.

Owns the integer estimate of the time a return spends head-down: from where the table
is and how fast it moves, to the head-down threshold (cfg.head_down_mdeg) on the
return's trapezoid (brake if going head-down, accelerate to the return speed, cruise).
The session's cap counts every ms beyond that threshold (session.py), so the return
must start when the time used plus this estimate reaches the cap (steps.py), and a
hold is shortened at its start by the same figure (programs.py, steps.py).

Units: steps, steps/s (sps), steps/s^2 (sps2), ms: the plan's own units, so a rotary
and a lead-screw drive are both exact. Every product stays a small int (< 2**30) for
speeds up to motion.MAX_SPS and accelerations up to motion.MAX_SPS2; allocation-free.
"""

from imath import isqrt
from micropython import const

# The plan follows the estimate to within a few ticks: it starts on the tick after the
# decision, its speed changes per tick by a floored step, and the session clock counts
# the whole tick on which the table crosses the threshold.
_MARGIN_TICKS = const(4)


def _div_up(n, d):
    return -((-n) // d)


def _dist_ms(d_steps, v_sps):
    """ceil(d * 1000 / v) without the product leaving the small ints."""
    q = d_steps // v_sps
    return q * 1000 + _div_up((d_steps - q * v_sps) * 1000, v_sps)


def back_ms(d_steps, u_sps, v_sps, a_sps2, tail_steps, tick_ms):
    """The ms a return takes to get d_steps head-up, starting at u_sps (+ = head-down,
    away from the way back), at most v_sps, accelerating and braking at a_sps2; its
    target lies tail_steps beyond (head-up of) that point, so it may already be braking
    when it gets there. A few ticks of margin are included (the plan is discrete)."""
    if d_steps <= 0:
        return 0
    t = _MARGIN_TICKS * tick_ms
    w = -u_sps  # speed toward the way back
    if w < 0:
        # going head-down: brake to a stop first, which adds the braking distance
        t += _div_up(-w * 1000, a_sps2)
        d_steps += _div_up(w * w, 2 * a_sps2)
        w = 0
    if w > v_sps:
        w = v_sps
    ramp = (v_sps * v_sps - w * w) // (2 * a_sps2)  # to reach full speed
    if d_steps >= ramp:
        t += _div_up((v_sps - w) * 1000, a_sps2) + _dist_ms(d_steps - ramp, v_sps)
    else:
        peak = isqrt(w * w + 2 * a_sps2 * d_steps) + 1
        t += _div_up((peak - w) * 1000, a_sps2)
    if v_sps * v_sps // (2 * a_sps2) > tail_steps:
        # the return brakes for its target before it gets there: at most the whole
        # braking time longer
        t += _div_up(v_sps * 1000, a_sps2)
    return t


def descent_ms(d_steps, v_sps, a_sps2, tick_ms):
    """The ms a move from rest covers d_steps and stops (at most; a move already under
    way when it passes the threshold is faster), ticks of margin included."""
    if d_steps <= 0:
        return 0
    return back_ms(d_steps, 0, v_sps, a_sps2, 0, tick_ms)
