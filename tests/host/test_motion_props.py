"""Property tests of the step profile (hypothesis) and of the step generator's logic
against a simulated ESP32 (fake machine/time: LEDC edges, PCNT, soft Timer).

CPython only. The invariants are the core tests' Checker (tests/core/support.py).
"""

import sys

import pins
import stepgen
from hypothesis import given, settings
from hypothesis import strategies as st
from motion import MAX_SPS, MotionPlan
from support import Checker

# (vmax sps, amax sps^2): normal, jog, emergency and homing on the default drive,
# plus the extremes the profile accepts.
MODES = ((5333, 5333), (2666, 5333), (10666, 10666), (666, 5333), (MAX_SPS, 1000000), (50, 40))
FINISH = MODES[:3]  # end a sequence in a real mode so it lands in bounded time

events = st.lists(
    st.tuples(
        st.integers(0, 400),  # ticks before the event
        st.sampled_from(("target", "target", "limits", "emergency", "stop")),
        st.integers(-60000, 60000),
        st.integers(0, len(MODES) - 1),
    ),
    max_size=8,
)


# ------------------------------------------------------------ profile properties


@settings(max_examples=300, deadline=None)
@given(
    dt=st.integers(1, 50),
    start=st.integers(-80000, 80000),
    first=st.integers(-80000, 80000),
    mode=st.integers(0, len(MODES) - 2),
    evs=events,
    finish=st.integers(0, len(FINISH) - 1),
)
def test_replanning_keeps_limits_and_lands_exactly(dt, start, first, mode, evs, finish):
    p = MotionPlan(dt)
    vmax, amax = MODES[mode]
    p.set_limits(vmax, amax)
    p.reset(start)
    p.set_target(first)
    chk = Checker(p)
    for wait, what, target, m in evs:
        for _ in range(wait):
            chk.step(dt, vmax, amax)
        if what == "target":
            p.set_target(target)
        elif what == "limits":
            vmax, amax = MODES[m]
            p.set_limits(vmax, amax)
        elif what == "emergency":  # e-stop: emergency limits, reverse toward rest
            vmax, amax = MODES[2]
            p.set_limits(vmax, amax)
            p.set_target(0)
        else:
            before = p.stopping_steps()
            at = p.pos
            p.stop()
            assert abs(abs(p.target - at) - before) <= 1
    vmax, amax = FINISH[finish]
    p.set_limits(vmax, amax)
    target = p.target
    limit = 200000 // dt + 100000 // dt + 1000
    while not p.done():
        chk.step(dt, vmax, amax)
        assert chk.ticks < limit
    assert p.pos == target and p.vel_sps == 0


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(-50000, 50000),
    target=st.integers(-50000, 50000),
    mode=st.integers(0, len(MODES) - 1),
    dt=st.integers(2, 50),
)
def test_a_move_from_rest_never_overshoots(start, target, mode, dt):
    p = MotionPlan(dt)
    vmax, amax = MODES[mode]
    if abs(target - start) * 1000 > vmax * 60000:  # keep slow modes' runs short
        target = start + (target - start) // 100
    p.set_limits(vmax, amax)
    p.reset(start)
    p.set_target(target)
    lo, hi = min(start, target), max(start, target)
    chk = Checker(p)
    while not p.done():
        chk.step(dt, vmax, amax)
        assert lo <= p.pos <= hi
    assert p.pos == target


# ------------------------------------------------------------ closed loop, quantised


def simulate_counter(p, dt, ticks, quantum, first_edge_now, count, acc, running):
    """A generator whose rate is rounded to a multiple of `quantum` sps and that emits
    rate*dt/1000 steps per tick with its phase carried; starting from rest it emits the
    first edge at once (first_edge_now) or after a full period. Returns the state."""
    for _ in range(ticks):
        p.update(dt)
        r = p.rate_for(count, dt)
        p.window(count, dt)
        lo, hi = p.limit_lo, p.limit_hi
        q = (abs(r) + quantum // 2) // quantum * quantum
        q = q if r >= 0 else -q
        if q == 0:
            acc = 0
            running = False
        else:
            if not running and first_edge_now:
                acc = 999 if q > 0 else -999
            running = True
            acc += q * dt
        n = acc // 1000 if acc >= 0 else -((-acc) // 1000)
        acc -= n * 1000
        count += n
        assert lo <= count <= hi, (lo, count, hi)  # never past the dead-man window
        assert abs(p.pos - count) <= 3
    return count, acc, running


@settings(max_examples=200, deadline=None)
@given(
    targets=st.lists(st.integers(-30000, 30000), min_size=1, max_size=4),
    waits=st.lists(st.integers(0, 300), min_size=4, max_size=4),
    mode=st.integers(0, 3),
    quantum=st.sampled_from((1, 7, 13, 50)),
    first_edge_now=st.booleans(),
    dt=st.sampled_from((5, 10, 20)),
)
def test_quantised_generator_still_ends_exactly_on_target(
    targets, waits, mode, quantum, first_edge_now, dt
):
    p = MotionPlan(dt)
    p.set_limits(*MODES[mode])
    p.reset(0)
    count = acc = 0
    running = False
    for i, t in enumerate(targets):
        p.set_target(t)
        count, acc, running = simulate_counter(
            p, dt, waits[i], quantum, first_edge_now, count, acc, running)
    for _ in range(20000):
        count, acc, running = simulate_counter(
            p, dt, 1, quantum, first_edge_now, count, acc, running)
        if p.done() and count == p.target:
            break
    assert p.done() and count == targets[-1]
    # and it stays there
    count, acc, running = simulate_counter(p, dt, 50, quantum, first_edge_now, count, acc,
                                           running)
    assert count == targets[-1] and p.rate_sps == 0


# ------------------------------------------------------------ the step generator


_MASK = (1 << 30) - 1
_HALF = 1 << 29


class World:
    """A simulated ESP32 around one StepGen: time, LEDC edges, PCNT, a soft Timer.

    LEDC model: rising edges at the start of each period of the running timer; a duty
    written now takes effect from the next period boundary, so after duty 0 no further
    edge occurs; a frequency change restarts the period. Each edge moves the motor one
    step in the direction of the DIR level at that instant."""

    def __init__(self):
        self.t_us = 0
        self.pins = {}
        self.pwm = None
        self.ctr = None
        self.timer_cb = None
        self.timer_period_us = 0
        self.next_timer = 0
        self.true_pos = 0  # what the motor did
        self.counter_works = True
        self.dir_pin = None
        self.dir_changed_us = -10**9
        self.min_dir_setup_us = 10**9  # smallest DIR-change-to-edge time seen
        self.en_at_pwm = None
        self.edges = 0
        # the over-travel STEP gate (hardware/safety_wiring.md): with the switch open it
        # swallows head-down pulses before the driver and before the STEP-sense counter
        self.gate_blocks_head_down = False

    # time module
    def ticks_us(self):
        return self.t_us & _MASK

    def ticks_ms(self):
        return (self.t_us // 1000) & _MASK

    def ticks_diff(self, a, b):
        return ((a - b + _HALF) & _MASK) - _HALF

    def ticks_add(self, a, b):
        return (a + b) & _MASK

    def sleep_us(self, us):
        self.advance(us)  # like mp_hal_delay_us, pending callbacks may run meanwhile

    def sleep_ms(self, ms):
        self.advance(ms * 1000)

    # the hardware
    def advance(self, us):
        end = self.t_us + us
        while True:
            pwm = self.pwm
            nxt_edge = pwm.next_edge if pwm and pwm.freq_hz else None
            nxt = end
            if nxt_edge is not None and nxt_edge < nxt:
                nxt = nxt_edge
            if self.timer_cb and self.next_timer < nxt:
                nxt = self.next_timer
            if nxt >= end and not (nxt == end and nxt_edge == end):
                self.t_us = end
                return
            self.t_us = nxt
            if nxt_edge == nxt:
                pwm.boundary(self)
            if self.timer_cb and self.next_timer == nxt:
                self.next_timer += self.timer_period_us
                self.timer_cb(None)
            if nxt == end:
                return

    def edge(self):
        self.edges += 1
        level = self.dir_pin.v
        if level == 1 and self.gate_blocks_head_down:
            return
        self.min_dir_setup_us = min(self.min_dir_setup_us, self.t_us - self.dir_changed_us)
        self.true_pos += 1 if level == 1 else -1
        if self.counter_works:
            self.ctr.n += 1

    def machine(self):
        world = self

        class Pin:
            OUT = 3
            IN = 1

            def __init__(self, pin_id, mode=-1, pull=-1, value=None):
                self.id = pin_id
                self.v = value if value is not None else 0
                world.pins[pin_id] = self

            def value(self, v=None):
                if v is None:
                    return self.v
                if self is world.dir_pin and v != self.v:
                    world.dir_changed_us = world.t_us
                self.v = v

        class PWM:
            def __init__(self, pin, freq=1000, duty_u16=0, invert=False):
                world.pwm = self
                world.en_at_pwm = {k: p.v for k, p in world.pins.items()}
                self.freq_hz = freq
                self.duty = duty_u16
                self.next_edge = world.t_us + 1000000 // freq

            def freq(self, f):
                self.freq_hz = f
                self.next_edge = world.t_us + 1000000 // f

            def duty_u16(self, d):
                self.duty = d

            def boundary(self, w):
                if self.duty:
                    w.edge()
                self.next_edge = w.t_us + 1000000 // self.freq_hz

        class Counter:
            RISING = 1
            FALLING = 2
            UP = 1

            def __init__(self, cid, src, edge=1, direction=1, filter_ns=0):
                world.ctr = self
                world.ctr_src = src
                world.ctr_edge = edge
                self.n = 0
                self.filter_ns = filter_ns

            def value(self, v=None):
                n = self.n
                if v is not None:
                    self.n = v
                return n

        class Timer:
            PERIODIC = 1

            def __init__(self, tid):
                pass

            def init(self, mode=1, period=0, callback=None):
                world.timer_cb = callback
                world.timer_period_us = period * 1000
                world.next_timer = world.t_us + period * 1000

            def deinit(self):
                world.timer_cb = None

        class Machine:
            pass

        m = Machine()
        m.Pin, m.PWM, m.Counter, m.Timer = Pin, PWM, Counter, Timer
        return m


def make_gen(driver="a4988", sense_pin=None):
    world = World()
    saved = sys.modules.get("machine")
    sys.modules["machine"] = world.machine()
    old_time = stepgen.time
    stepgen.time = world
    try:
        sg = stepgen.StepGen(25, 26, 27, 0, driver, tick_ms=10, timer_id=0,
                             sense_pin=sense_pin)
    finally:
        if saved is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved
    world.dir_pin = world.pins[26]
    return world, sg, old_time


def with_gen(fn, driver="a4988", sense_pin=None):
    world, sg, old_time = make_gen(driver, sense_pin)
    try:
        fn(world, sg)
    finally:
        stepgen.time = old_time


def drive(world, sg, p, ticks, enable=True):
    for _ in range(ticks):
        c = sg.count()
        p.update(10)
        p.rate_for(c, 10)
        p.window(c, 10)
        sg.apply(p.rate_sps, p.limit_lo, p.limit_hi, enable)
        world.advance(10000)
        assert sg.count() == world.true_pos  # the count is what the motor did


def test_stepgen_starts_safe_and_follows_a_profile_with_reversals():
    def run(world, sg):
        assert world.en_at_pwm[27] == stepgen.EN_SAFE  # driver off before any PWM
        assert stepgen.EN_SAFE == 1 - pins.ENABLE_ACTIVE
        assert world.ctr.filter_ns == stepgen.timing("a4988")[0]
        assert world.ctr_src is world.pins[25] and world.ctr_edge == 1  # STEP, leading edge
        p = MotionPlan(10)
        p.set_limits(5333, 5333)
        p.reset(0)
        for target in (3000, -2000, 150, 149, 0):
            p.set_target(target)
            drive(world, sg, p, 400)
            assert p.done() and sg.count() == target == world.true_pos, target
        assert world.pins[27].v != stepgen.EN_SAFE
        assert world.min_dir_setup_us >= stepgen.setup_us("a4988")
        sg.apply(0, 0, 0, False)
        assert world.pins[27].v == stepgen.EN_SAFE and sg.trips == 0

    with_gen(run)


def test_board_wiring_counts_the_gated_sense_line_on_its_leading_edge():
    def run(world, sg):
        # pins.STEP_SENSE sees the pulse after the over-travel gate, low-going
        assert world.ctr_src is world.pins[pins.STEP_SENSE]
        want = 1 if pins.STEP_SENSE_ACTIVE else 2  # Counter.RISING / Counter.FALLING
        assert world.ctr_edge == want
        assert sg.self_test() and sg.count() == 0

    with_gen(run, "dm542", sense_pin=pins.STEP_SENSE)


def test_reversal_mid_move_keeps_the_count_true():
    def run(world, sg):
        p = MotionPlan(10)
        p.set_limits(10666, 10666)
        p.reset(0)
        p.set_target(20000)
        drive(world, sg, p, 120)
        p.set_target(-5000)  # reverse from full speed (emergency-style)
        drive(world, sg, p, 600)
        assert p.done() and sg.count() == -5000 == world.true_pos
        assert sg.fault == stepgen.FAULT_NONE

    with_gen(run, "dm542")


def test_deadman_stops_when_apply_is_no_longer_called():
    def run(world, sg):
        c = sg.count()
        sg.apply(2000, c - 1000, c + 1000, True)
        world.advance(10000)
        moved = world.true_pos
        assert 15 <= moved <= 25
        world.advance(200000)  # the loop died
        assert world.true_pos - moved <= 2000 * 25 // 1000 + 1  # stopped within ~2 ticks
        assert sg.trips == 1

    with_gen(run)


def test_deadman_stops_at_the_window_edge():
    def run(world, sg):
        sg.apply(5000, 0, 12, True)
        for _ in range(4):  # the loop keeps the heartbeat but never moves the window
            world.advance(5000)
            sg.apply(5000, 0, 12, True)
        assert 12 <= world.true_pos <= 12 + 5000 * 5 // 1000 + 1
        assert sg.trips >= 1

    with_gen(run)


def test_frozen_counter_latches_the_direction_then_both():
    def run(world, sg):
        world.counter_works = False  # e.g. the over-travel gate swallowing head-down pulses
        for _ in range(6):
            sg.apply(2000, -100000, 100000, True)
            world.advance(10000)
        assert sg.fault == stepgen.FAULT_FROZEN_POS
        at = world.true_pos
        assert at <= 2000 * 45 // 1000
        sg.apply(2000, -100000, 100000, True)
        world.advance(20000)
        assert world.true_pos == at  # head-down latched until clear_fault()
        for _ in range(6):  # the way back stays open...
            sg.apply(-2000, -100000, 100000, True)
            world.advance(10000)
        assert world.true_pos < at
        # ...but a counter that is dead both ways stops everything: nothing moves blind
        assert sg.fault == stepgen.FAULT_COUNTER
        at = world.true_pos
        sg.apply(-2000, -100000, 100000, True)
        world.advance(20000)
        assert world.true_pos == at
        sg.clear_fault()
        world.counter_works = True
        sg.apply(-2000, -100000, 100000, True)
        world.advance(20000)
        assert world.true_pos < at

    with_gen(run)


def test_self_test_passes_with_a_counter_and_fails_without():
    def ok(world, sg):
        assert sg.self_test()
        assert sg.count() == 0 and world.true_pos == 0  # net zero move
        assert world.edges >= 30

    def broken(world, sg):
        world.counter_works = False
        assert not sg.self_test()
        assert sg.fault == stepgen.FAULT_COUNTER

    with_gen(ok)
    with_gen(broken)


def test_self_test_past_the_overtravel_switch_leaves_the_way_back_open():
    # Powered up past the over-travel switch: the gate swallows the head-down leg. The
    # head-up leg is counted, so only head-down is refused and the slow return to
    # horizontal stays possible (issue #18: the self-test never blocks the way back).
    def gated(world, sg):
        world.gate_blocks_head_down = True
        assert not sg.self_test()
        assert sg.fault == stepgen.FAULT_FROZEN_POS
        assert world.true_pos < 0  # only head-up pulses reached the motor
        sg.apply(-1000, sg.count() - 100, sg.count(), True)  # head-up still runs
        world.advance(30000)
        assert world.true_pos < -20

    with_gen(gated)


@settings(max_examples=200, deadline=None)
@given(
    dts=st.lists(st.integers(5, 25), min_size=1, max_size=12),
    target=st.integers(1, 40000),
    mode=st.integers(0, 3),
)
def test_jittered_ticks_overshoot_at_most_one_early_tick(dts, target, mode):
    """Braking is planned with the shortest tick seen lately, so a move from rest
    overshoots only if a tick comes earlier than any before it in the braking phase:
    at most v * (10 - dt) / 2000 steps, and it comes back exactly."""
    p = MotionPlan(10)
    vmax, amax = MODES[mode]
    p.set_limits(vmax, amax)
    p.reset(0)
    p.set_target(target)
    chk = Checker(p)
    furthest = 0
    i = 0
    while not p.done():
        dt = dts[i % len(dts)]
        i += 1
        chk.step(dt, vmax, amax)
        furthest = max(furthest, p.pos)
        assert chk.ticks < 100000
    assert p.pos == target
    assert furthest - target <= vmax * (10 - min(dts + [10])) // 2000 + 1
    if min(dts) >= 10 or dts[0] == min(dts):
        assert furthest == target  # the shortest tick was seen before braking began
