"""Step profile: a hand-worked move, invariant sweeps, the closed loop on the count,
the dead-man window, allocation on the unix port; the step generator's pure helpers."""

import gc
import sys

import stepgen
from motion import CORR_SPS, MAX_SPS, MotionPlan
from support import Checker, raises

MPY = sys.implementation.name == "micropython"


class Lcg:
    """Deterministic pseudo-random numbers, identical on CPython and MicroPython."""

    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)


def run_to_done(p, chk, dt, vmax, amax, max_ticks):
    while not p.done():
        chk.step(dt, vmax, amax)
        assert chk.ticks <= max_ticks, "did not land"


# ------------------------------------------------------------ hand-worked move


def test_hand_worked_trapezoid():
    # vmax 1000 sps, amax 1000 sps^2, 10 ms ticks: dv = 10 sps per tick.
    # Accelerate 10, 20, ... 1000 (ticks 1..100): 10 ms * 10 * (1+...+100) = 505 steps.
    # Brake 990, 980, ... 10 (99 ticks): 10 ms * 10 * (1+...+99) = 495 steps.
    # Cruise the rest, 2000 - 505 - 495 = 1000 steps at 10 steps per tick: 100 ticks.
    # So 100 + 100 + 99 ticks move; tick 300 sets the speed to 0 at exactly 2000:
    # 3.0 s, the same as the continuous trapezoid (1 s + 1 s + 1 s).
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(0)
    p.set_target(2000)
    for k in range(1, 301):
        p.update(10)
        if k <= 100:
            want = 10 * k
            assert p.pos == k * (k + 1) // 20, (k, p.pos)
        elif k <= 200:
            want = 1000
            assert p.pos == 505 + 10 * (k - 100)
        else:
            want = 1000 - 10 * (k - 200)
        assert p.vel_sps == want, (k, p.vel_sps, want)
        assert p.done() == (k == 300)
    assert p.pos == 2000
    p.update(10)  # stays put
    assert p.pos == 2000 and p.vel_sps == 0 and p.done()


def test_hand_worked_move_down_is_the_mirror_image():
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(500)
    p.set_target(-1500)
    speeds = []
    while not p.done():
        p.update(10)
        speeds.append(p.vel_sps)
    assert len(speeds) == 300
    assert speeds[99] == -1000 and speeds[200] == -990 and speeds[-1] == 0
    assert p.pos == -1500


def test_short_move_is_a_triangle_and_exact():
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(0)
    p.set_target(100)  # too short to reach 1000 sps
    chk = Checker(p)
    peak = 0
    while not p.done():
        chk.step(10, 1000, 1000)
        peak = max(peak, p.vel_sps)
        assert chk.ticks < 1000
    assert p.pos == 100
    assert 0 < peak < 1000


def test_one_step_and_zero_step_moves():
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(7)
    p.set_target(7)
    p.update(10)
    assert p.done() and p.pos == 7
    p.set_target(8)
    n = 0
    while not p.done():
        p.update(10)
        n += 1
        assert n < 20
    assert p.pos == 8


# ------------------------------------------------------------ sweeps


def test_sweep_random_targets_and_modes_land_exactly():
    rnd = Lcg(12345)
    for case in range(60):
        vmax = rnd.between(50, MAX_SPS)
        amax = rnd.between(vmax // 10 + 1, vmax * 20)
        dt = rnd.between(1, 50)
        start = rnd.between(-100000, 100000)
        dist = rnd.between(-3 * vmax, 3 * vmax)
        p = MotionPlan(dt)
        p.set_limits(vmax, amax)
        p.reset(start)
        p.set_target(start + dist)
        chk = Checker(p)
        lo = min(start, start + dist)
        hi = max(start, start + dist)
        while not p.done():
            chk.step(dt, vmax, amax)
            assert lo <= p.pos <= hi, "a move planned from rest never overshoots"
            assert chk.ticks < 100000 // dt + 2000, (case, vmax, amax, dt, dist)
        assert p.pos == start + dist and p.vel_sps == 0


def test_sweep_replanning_reversals_and_mode_changes():
    rnd = Lcg(777)
    modes = ((5333, 5333), (2667, 5333), (10667, 10667), (667, 5333), (30000, 1000000), (1, 1))
    for _ in range(40):
        dt = rnd.between(5, 20)
        p = MotionPlan(dt)
        vmax, amax = modes[rnd.below(4)]
        p.set_limits(vmax, amax)
        p.reset(0)
        p.set_target(rnd.between(-20000, 20000))
        chk = Checker(p)
        for _ in range(rnd.between(1, 6)):
            for _ in range(rnd.below(300)):
                chk.step(dt, vmax, amax)
            what = rnd.below(4)
            if what == 0:
                vmax, amax = modes[rnd.below(len(modes) - 1)]
                p.set_limits(vmax, amax)
            elif what == 1:
                p.stop()
            else:
                p.set_target(rnd.between(-20000, 20000))
        vmax, amax = modes[rnd.below(3)]  # finish in a real mode so the run is short
        p.set_limits(vmax, amax)
        target = p.target
        run_to_done(p, chk, dt, vmax, amax, 20000)
        assert p.pos == target


def test_jittered_ticks_keep_limits_and_land():
    rnd = Lcg(4242)
    p = MotionPlan(10)
    p.set_limits(5333, 5333)
    p.reset(0)
    p.set_target(12345)
    chk = Checker(p)
    while not p.done():
        chk.step(rnd.between(1, 50), 5333, 5333)
        assert chk.ticks < 5000
    assert p.pos == 12345


# ------------------------------------------------------------ stop, limits


def test_stop_brakes_at_amax_and_lands_on_the_stopping_point():
    p = MotionPlan(10)
    p.set_limits(2000, 1000)
    p.reset(0)
    p.set_target(100000)
    for _ in range(150):
        p.update(10)
    assert p.vel_sps == 1500
    need = p.stopping_steps()
    start = p.pos
    p.stop()
    assert p.target - start == need or p.target - start == need + 1
    speeds = []
    while not p.done():
        p.update(10)
        speeds.append(p.vel_sps)
    # 1490, 1480, ... 10, 0: every tick at the full deceleration
    assert speeds[0] == 1490 and speeds[-2] == 10 and speeds[-1] == 0
    assert len(speeds) == 150
    assert p.pos == p.target


def test_stop_at_rest_and_moving_down():
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(50)
    p.stop()
    assert p.target == 50 and p.done() and p.stopping_steps() == 0
    p.set_target(-5000)
    for _ in range(60):
        p.update(10)
    v = p.vel_sps
    assert v == -600
    p.stop()
    assert p.target < p.pos
    while not p.done():
        p.update(10)
        assert p.vel_sps <= 0
    assert p.pos == p.target


def test_lower_vmax_mid_move_brakes_at_amax_no_step():
    p = MotionPlan(10)
    p.set_limits(3000, 2000)
    p.reset(0)
    p.set_target(50000)
    for _ in range(200):
        p.update(10)
    assert p.vel_sps == 3000
    p.set_limits(1000, 2000)  # e.g. a switch to jog speed
    seen = []
    for _ in range(120):
        p.update(10)
        seen.append(p.vel_sps)
    assert seen[0] == 2980 and seen[99] == 1000 and seen[-1] == 1000


def test_reversal_brakes_through_zero_and_comes_back():
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(0)
    p.set_target(10000)
    for _ in range(150):
        p.update(10)
    assert p.vel_sps == 1000
    p.set_target(0)  # behind us: brake, stop, return
    chk = Checker(p)
    run_to_done(p, chk, 10, 1000, 1000, 2000)
    assert p.pos == 0


def test_set_limits_clamps_nonsense():
    p = MotionPlan(10)
    p.set_limits(0, -5)
    p.reset(0)
    p.set_target(3)
    n = 0
    while not p.done():
        p.update(10)
        assert abs(p.vel_sps) <= 1
        n += 1
    assert p.pos == 3 and n > 100
    p.set_limits(10**6, 10**9)  # clamped to MAX_SPS / MAX_SPS2
    p.set_target(10**6)
    for _ in range(100):
        p.update(10)
        assert abs(p.vel_sps) <= MAX_SPS


# ------------------------------------------------------------ closed loop, window


def follow(p, count, dt, acc):
    """An ideal generator: emits rate*dt/1000 steps, carrying the fraction."""
    r = p.rate_for(count, dt)
    acc += r * dt
    n = acc // 1000 if acc >= 0 else -((-acc) // 1000)
    return count + n, acc - n * 1000


def test_closed_loop_counter_ends_exactly_on_target():
    p = MotionPlan(10)
    p.set_limits(5333, 5333)
    p.reset(0)
    p.set_target(23456)
    count = acc = 0
    for _ in range(2000):
        p.update(10)
        count, acc = follow(p, count, 10, acc)
        assert abs(p.pos - count) <= 2
        if p.done() and count == p.pos:
            break
    assert count == 23456 and p.done()


def test_rate_for_is_bounded_and_never_reverses_a_moving_plan():
    p = MotionPlan(10)
    p.set_limits(1000, 1000)
    p.reset(0)
    p.set_target(5000)
    for _ in range(50):
        p.update(10)
    v = p.vel_sps
    assert v == 500
    assert p.rate_for(p.pos - 1000000, 10) == v + CORR_SPS  # glitch far behind
    assert p.rate_for(p.pos + 1000000, 10) == 0  # glitch far ahead: pause, never reverse
    assert p.rate_for(p.pos - 5, 10) == 500  # 5 steps in 10 ms
    assert p.rate_for(p.pos, 10) == 0
    p.reset(100)
    assert p.rate_for(97, 10) == 200  # at rest: corrections both ways, bounded
    assert p.rate_for(101, 10) == -100
    assert p.rate_for(-10**8, 10) == CORR_SPS and p.rate_sps == CORR_SPS


def test_window_two_ticks_ahead_in_the_direction_of_motion():
    p = MotionPlan(10)
    p.reset(0)
    p.rate_sps = 1234
    p.window(100, 10)
    assert p.limit_lo == 100 and p.limit_hi == 100 + 25  # ceil(1234 * 0.02)
    p.rate_sps = -1
    p.window(-7, 10)
    assert p.limit_lo == -8 and p.limit_hi == -7  # never zero while moving
    p.rate_sps = 0
    p.window(55, 10)
    assert p.limit_lo == 55 and p.limit_hi == 55


def test_update_rate_for_window_allocate_nothing():
    p = MotionPlan(10)
    p.set_limits(10667, 10667)
    p.reset(0)
    p.set_target(60000)
    count = 0
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc() if MPY else 0
        for i in range(1500):
            if i == 400:
                p.set_target(-20000)  # a reversal on the way
            if i == 900:
                p.stop()
            p.update(10)
            p.rate_for(count, 10)
            p.window(count, 10)
            count += p.rate_sps // 100
        p.stopping_steps()
        used = gc.mem_alloc() - before if MPY else 0
    finally:
        gc.enable()
    assert used == 0, used


# ------------------------------------------------------------ step generator helpers


def test_driver_table_holds_datasheet_timing():
    # (min STEP high ns, min STEP low ns, DIR setup ns) from each datasheet
    assert stepgen.timing("tmc2209")[:3] == (100, 100, 20)
    assert stepgen.timing("drv8825")[:3] == (1900, 1900, 650)
    assert stepgen.timing("a4988")[:3] == (1000, 1000, 200)
    assert stepgen.timing("dm542")[:3] == (2500, 2500, 5000)
    raises(ValueError, stepgen.timing, "l298n")


def test_pulse_width_duty_and_rate_limits_respect_the_driver():
    for name in stepgen.DRIVER_NAMES:
        t_high, t_low, t_dir, _ = stepgen.timing(name)
        high = stepgen.pulse_high_ns(name)
        assert high >= 2 * t_high and high >= 2000
        top = stepgen.max_rate_sps(name)
        assert 1000 <= top <= MAX_SPS
        for f in (1, 7, 100, 999, 5000, top):
            d = stepgen.duty_u16_for(f, high)
            assert 1 <= d <= 65535
            high_ns = d * 1000000000 // 65536 // f
            period_ns = 1000000000 // f
            assert high_ns >= high - 1, (name, f, d)
            assert period_ns - high_ns >= 2 * t_low, (name, f, d)
        assert stepgen.setup_us(name) * 1000 >= 2 * t_dir
    assert stepgen.duty_u16_for(0, 2000) == 0


class _FakePin:
    OUT = 3
    IN = 1

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.v = value if value is not None else 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


class _FakePWM:
    def __init__(self, pin, freq=1000, duty_u16=0, invert=False):
        self.f = freq
        self.d = duty_u16

    def freq(self, f):
        self.f = f

    def duty_u16(self, d):
        self.d = d


class _FakeCounter:
    RISING = 1
    FALLING = 2
    UP = 1

    def __init__(self, cid, src, edge=1, direction=1, filter_ns=0):
        self.n = 0

    def value(self, v=None):
        n = self.n
        if v is not None:
            self.n = v
        return n


class _FakeTimer:
    PERIODIC = 1

    def __init__(self, tid):
        self.cb = None

    def init(self, mode=1, period=0, callback=None):
        self.cb = callback

    def deinit(self):
        self.cb = None


class _FakeMachine:
    Pin = _FakePin
    PWM = _FakePWM
    Counter = _FakeCounter
    Timer = _FakeTimer


def test_stepgen_tick_allocates_nothing_on_the_unix_port():
    # The generator's own code (apply, count, the dead-man callback, the e-stop block)
    # with non-allocating stand-ins for machine; CPython lacks time.sleep_us, and
    # tests/host/test_motion_props.py drives the same code there on a simulated board.
    if not MPY:
        return
    saved = sys.modules.get("machine")
    sys.modules["machine"] = _FakeMachine()
    try:
        sg = stepgen.StepGen(25, 26, 27, 0, "dm542", sense_pin=18)
    finally:
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved
    p = MotionPlan(10)
    p.set_limits(10666, 10666)
    p.reset(0)
    p.set_target(30000)
    ctr = sg._ctr
    deadman = sg._deadman
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for i in range(1500):
            if i == 500:
                p.set_target(-3000)  # a reversal: the direction-change path
            c = sg.count()
            p.update(10)
            p.rate_for(c, 10)
            p.window(c, 10)
            sg.apply(p.rate_sps, p.limit_lo, p.limit_hi, True)
            ctr.n += abs(p.rate_sps) // 100  # the pulses of this tick
            deadman(None)
            deadman(None)
        sg.apply(0, 0, 0, False)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    sg.deinit()
    assert used == 0, used
    assert sg.fault == stepgen.FAULT_NONE


def test_stop_is_replanned_when_the_limits_change():
    """Found by hypothesis: a stop planned under a tiny deceleration kept its far-away
    stopping point after the limits were raised again, travelling ~1.6 million steps."""
    p = MotionPlan(6)
    p.set_limits(30000, 1000000)
    p.reset(0)
    p.set_target(565)
    for _ in range(4):
        p.update(6)
    p.set_limits(50, 40)
    p.stop()
    far = p.target
    p.set_limits(5333, 5333)  # back to normal limits while still braking
    assert p.target < far
    ticks = 0
    while not p.done():
        p.update(6)
        ticks += 1
        assert ticks < 2000
    assert p.pos == p.target
