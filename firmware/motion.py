"""Integer trapezoidal motion plan: where the actuator should be, tick by tick.

Owns: the planned position (steps), velocity (steps/s) and the mode's limits; the
step rate the generator should run at to follow the plan (closing the loop on the
hardware's emitted-step count); and the dead-man window the generator may not pass.

Units: steps, sps (steps/s, signed, + = head-down), sps2 (steps/s^2), ms. Time is
passed in; nothing here reads a clock. update(), rate_for() and window() allocate
nothing on MicroPython: every value stays a small int (|n| < 2**30) and results are
written into attributes.

How a tick's velocity is chosen (time-optimal, discrete): with dv = amax*dt/1000 the
allowed change of speed this tick, the new speed v is the largest one within
[v_prev - dv, min(v_prev + dv, vmax)] from which braking at dv per tick still stops
at or before the target. The braking distance is summed exactly over the discrete
ticks (v-dv, v-2dv, ... , > 0), so the plan never overshoots a target it can reach,
and because v_prev - dv always passes that test when the previous tick did, speed
and acceleration limits and exact landing hold together. When the target moves
closer than the braking distance (a re-plan), the plan brakes at dv, passes the
target and comes back: no step change of speed, ever.

Rounding, documented:
- dv = floor(amax * dt / 1000), but at least 1 sps: when amax*dt < 1000 the change
  per tick exceeds amax*dt/1000 by less than 1 sps.
- Landing: the last tick absorbs the leftover fraction of a step (< dt/1000 steps,
  i.e. less than 1 sps for one tick) so pos == target exactly.
- The plan's velocity is exact; pos is the floor of the planned position (a
  milli-step remainder is kept internally).

Ticks of varying length: shorter ticks brake over a (slightly) longer distance, so
braking is planned with the shortest tick seen lately (see update()). A move then
never passes its target unless a tick arrives earlier than any in the last ~1.3 s
while braking is tight; that costs at most v * (tick - dt) / 2000 steps (about 11
steps, 8 mdeg, for a 2 ms early tick at emergency speed), which the plan brakes
through and returns from exactly (tests/host/test_motion_props.py).
"""

from commissioning import unhomed_max_mdeg
from micropython import const
from restguard import RestGuard

# Fastest step rate the plan accepts. v*v must stay a small int (v <= 32767) in the
# braking sum; 30000 sps is 11.25 deg/s on the default drive (2.67 steps per mdeg), more
# than twice anything the configuration allows at the table (4 deg/s).
MAX_SPS = const(30000)
# Largest acceleration accepted: amax*dt (dt <= 50 ms) stays far below 2**30, and the
# default drive needs at most 53333 sps^2 (config: <= 20 deg/s^2).
MAX_SPS2 = const(1000000)
# update() accepts ticks of 1..50 ms: the loop runs at 5..50 ms (config tick_ms), and
# a late tick is clamped rather than allowed to plan one huge jump.
_DT_MIN_MS = const(1)
_DT_MAX_MS = const(50)
# Milli-steps per step: the internal position remainder keeps v*dt exact.
_U = const(1000)
# Distances beyond this many steps are treated as "far": d*1000 must stay a small int.
# Only braking distances above one million steps (none on any real table) would make
# the plan brake earlier than needed - conservative, never an overshoot.
_D_CAP = const(1000000)
_D_CAP_U = const(1000000000)
# rate_for() may exceed the planned speed by this much to catch up the emitted count:
# 200 sps is 2 steps per 10 ms tick, enough for the generator's frequency quantisation
# and the short pause at a direction change; small enough that a counter glitch can
# only ask for a gentle speed change (0.075 deg/s at the table on the default drive).
CORR_SPS = const(200)
# After an early (short) tick, braking stays planned with it for 128 ticks (1.3 s at
# 10 ms) per millisecond of recovery: long enough to cover a jittery stretch of loop.
_DTP_RECOVER_TICKS = const(128)
# The dead-man window allows this many ticks of motion at the commanded rate.
_WINDOW_TICKS = const(2)


def _brake_ticks_sps(v, dv):
    """Sum of the speeds of a braking run from v at dv per tick: sum (v - k*dv), k >= 1,
    positive terms only. Times dt gives the braking distance in milli-steps.
    v <= MAX_SPS keeps every product below 2**30."""
    if v <= dv:
        return 0
    m = (v - 1) // dv  # number of positive terms
    return m * v - dv * ((m * (m + 1)) >> 1)


def _fits(v, d, dt, dtp, dvp):
    """True if moving at v for this tick (dt ms) and then braking at dvp per planning
    tick (dtp ms) stops within d milli-steps."""
    if v <= 0:
        return True
    r = d - v * dt
    if r < 0:
        return False
    return r // dtp >= _brake_ticks_sps(v, dvp)


def _clamp_dt(dt_ms):
    if dt_ms < _DT_MIN_MS:
        return _DT_MIN_MS
    if dt_ms > _DT_MAX_MS:
        return _DT_MAX_MS
    return dt_ms


class MotionPlan:
    """Planned motion of the actuator, in steps. See the module docstring."""

    def __init__(self, tick_ms):
        self.tick_ms = _clamp_dt(tick_ms)  # nominal tick (braking is planned with <= this)
        self.pos = 0  # planned position at the end of the current tick, steps (floor)
        self.vel_sps = 0  # planned velocity during the current tick, signed
        self.target = 0  # steps
        self.rate_sps = 0  # output of rate_for(): the generator's rate for the coming tick
        self.limit_lo = 0  # output of window(): dead-man limits, steps
        self.limit_hi = 0
        self._frac = 0  # planned position remainder, milli-steps, 0..999
        self._braking = False  # the last update() lowered the speed
        self._stopping = False  # the target is a stop() point, re-planned on new limits
        self._dtp = self.tick_ms  # planning tick for braking (see update())
        self._ap = 1  # planning deceleration, sps^2 (see update())
        self._dtp_age = 0
        self._vmax = 1
        self._amax = 1

    def reset(self, pos_steps):
        """Stand still at pos_steps (after homing, or when the drive is de-energised)."""
        self.pos = pos_steps
        self.target = pos_steps
        self.vel_sps = 0
        self.rate_sps = 0
        self._frac = 0
        self._braking = False
        self._stopping = False
        self.limit_lo = pos_steps
        self.limit_hi = pos_steps

    def rebase(self, pos_steps):
        """Stand still at pos_steps but keep what was asked: a stop stays a stop (from
        there), a target stays the target. For a plan that ran on while the drive did
        not follow (a stalled loop): it ramps up again from rest."""
        target = self.target
        stopping = self._stopping
        self.reset(pos_steps)
        if stopping:
            self.stop()
        else:
            self.set_target(target)

    def set_limits(self, vmax_sps, amax_sps2):
        """Limits of the current mode. Out-of-range values are clamped to 1..MAX_SPS and
        1..MAX_SPS2 (the kinematics refuses configurations that would need more).
        A speed above a new lower vmax is braked at amax, never cut."""
        self._vmax = 1 if vmax_sps < 1 else MAX_SPS if vmax_sps > MAX_SPS else vmax_sps
        self._amax = 1 if amax_sps2 < 1 else MAX_SPS2 if amax_sps2 > MAX_SPS2 else amax_sps2
        self._ap = self._dv(self._dtp) * 1000 // self._dtp  # re-learnt by update()
        if self._stopping:
            self.stop()  # a stop means "at rest as soon as the limits now in force allow"

    def set_target(self, target_steps):
        """New target; the next update() re-plans from the current position and speed."""
        self.target = target_steps
        self._stopping = False

    def _dv(self, dt_ms):
        dv = self._amax * dt_ms // 1000
        return dv if dv > 0 else 1

    def _dvp(self):
        """Speed decrement per planning tick: the lowest effective deceleration seen
        lately (amax*dt/1000 is floored, so it differs slightly with dt) at _dtp."""
        dvp = self._ap * self._dtp // 1000
        return dvp if dvp > 0 else 1

    def stop(self):
        """Brake to rest at amax from now on: the target becomes the stopping point
        (rounded to the next whole step in the direction of motion). New limits
        before it is at rest re-plan the stop with them."""
        self._stopping = True
        v = self.vel_sps
        if v == 0:
            self.target = self.pos
            return
        dt = self._dtp  # the planning tick: what update() brakes with
        s = _brake_ticks_sps(v if v > 0 else -v, self._dvp())
        # braking distance = s * dt milli-steps, split so the product stays small
        q = s // _U
        r = (s - q * _U) * dt
        if v > 0:
            self.target = self.pos + q * dt + (self._frac + r + _U - 1) // _U
        else:
            self.target = self.pos - q * dt + (self._frac - r) // _U

    def stopping_steps(self):
        """Steps needed to come to rest from the current velocity at amax (>= 0)."""
        v = self.vel_sps
        if v < 0:
            v = -v
        dt = self._dtp  # the planning tick: what update() brakes with
        s = _brake_ticks_sps(v, self._dvp())
        q = s // _U
        return q * dt + ((s - q * _U) * dt + _U - 1) // _U

    def done(self):
        return self.pos == self.target and self.vel_sps == 0 and self._frac == 0

    def update(self, dt_ms):
        """Advance the plan by one tick of dt_ms (clamped to 1..50). Allocation-free."""
        dt = _clamp_dt(dt_ms)
        dv = self._dv(dt)
        dsteps = self.target - self.pos
        exact = True
        if dsteps > _D_CAP:
            d = _D_CAP_U
            exact = False
        elif dsteps < -_D_CAP:
            d = -_D_CAP_U
            exact = False
        else:
            d = dsteps * _U - self._frac
        v = self.vel_sps
        if d == 0 and v == 0:
            self._braking = False  # at rest: the count may be corrected either way
            return
        # Work in the frame where the target lies ahead (or, exactly on it, where we move).
        if d > 0 or (d == 0 and v > 0):
            s = 1
        else:
            s = -1
            d = -d
            v = -v
        lo = v - dv
        hi = v + dv
        cap = self._vmax if self._vmax > lo else lo  # above vmax: brake at dv, not a cut
        if hi > cap:
            hi = cap
        self._learn_planning_tick(dt, dv)
        vn = self._choose(lo, hi, d, dt)
        rest = d - vn * dt
        if exact and 0 <= vn <= dv and 0 <= rest < dt:
            # Arrive: the leftover (< 1 sps for this tick) is absorbed, pos is exact.
            self.pos = self.target
            self._frac = 0
        else:
            f = self._frac + s * vn * dt
            c = f // _U  # floor, also for negative f
            self.pos += c
            self._frac = f - c * _U
        vo = self.vel_sps
        self._braking = vn < (vo if vo >= 0 else -vo)  # slower than the last tick
        self.vel_sps = s * vn

    def _learn_planning_tick(self, dt, dv):
        """Braking is planned with the shortest tick seen lately: shorter ticks brake
        over a longer distance, so a plan made with a long (late) tick would overshoot
        when short ones follow. The planning tick creeps back toward the nominal one
        by 1 ms after _DTP_RECOVER_TICKS ticks all longer than it.
        Likewise with the effective deceleration dv*1000/dt (sps^2), which the floor
        in dv makes depend on dt: the lowest seen lately is planned with."""
        a_now = dv * 1000 // dt
        if dt <= self._dtp or a_now <= self._ap:
            if dt < self._dtp:
                self._dtp = dt
            if a_now < self._ap:
                self._ap = a_now
            self._dtp_age = 0
        else:
            self._dtp_age += 1
            if self._dtp_age >= _DTP_RECOVER_TICKS:
                if self._dtp < self.tick_ms:
                    self._dtp += 1
                self._ap = a_now
                self._dtp_age = 0

    def _choose(self, lo, hi, d, dt):
        """The fastest speed in [lo, hi] from which braking still stops within d."""
        dtp = self._dtp
        dvp = self._dvp()
        if _fits(hi, d, dt, dtp, dvp):
            return hi
        if not _fits(lo, d, dt, dtp, dvp):
            return lo  # the target is inside the braking distance: brake, pass, come back
        if not _fits(lo + 1, d, dt, dtp, dvp):
            return lo  # the usual braking tick: full deceleration
        while hi - lo > 1:  # lo fits, hi does not
            mid = (lo + hi) >> 1
            if _fits(mid, d, dt, dtp, dvp):
                lo = mid
            else:
                hi = mid
        return lo

    def rate_for(self, count_steps, dt_ms):
        """Step rate (sps, signed) for the coming tick so the emitted count reaches pos.

        rate = (pos - count) * 1000 / dt, truncated toward zero, then bounded:
        - |rate| <= |vel_sps| + CORR_SPS: a counter glitch can only ask for a small
          change of speed; a large plan-vs-count error is left for the supervisor to
          flag (faults.STEPGEN), not caught up at speed.
        - while the plan moves, never against its direction (a count one step ahead
          pauses instead of reversing the motor); at rest both signs correct the count.
        Stored in rate_sps and returned. Allocation-free.
        """
        dt = _clamp_dt(dt_ms)
        v = self.vel_sps
        av = v if v >= 0 else -v
        bound = av + CORR_SPS
        if self._braking:
            # While braking, slower than the last tick's rate (but never below the plan):
            # the deceleration shows in the emitted rate in the same tick - an e-stop's
            # reaction - instead of waiting for the next 100 sps quantum of (pos-count).
            last = self.rate_sps if self.rate_sps >= 0 else -self.rate_sps
            if last - 1 < bound:
                bound = last - 1 if last - 1 > av else av
        e = self.pos - count_steps
        # |e| beyond what `bound` moves in one tick saturates (keeps e*1000 small)
        e_max = bound * dt // _U + 1
        if e >= e_max:
            r = bound
        elif e <= -e_max:
            r = -bound
        else:
            r = e * _U // dt if e >= 0 else -((-e * _U) // dt)
            if r > bound:
                r = bound
            elif r < -bound:
                r = -bound
        if v > 0 and r < 0:
            r = 0
        elif v < 0 and r > 0:
            r = 0
        self.rate_sps = r
        return r

    def window(self, count_steps, dt_ms):
        """Dead-man limits for the generator: limit_lo/limit_hi (steps).

        From the current count, at most _WINDOW_TICKS ticks of motion at the commanded
        rate_sps (call rate_for() first), rounded up to whole steps, in the direction of
        motion; zero in the other direction; lo == hi == count at rest. If the loop
        stops refreshing them, the generator stops within two ticks.
        """
        dt = _clamp_dt(dt_ms)
        r = self.rate_sps
        if r > 0:
            self.limit_lo = count_steps
            self.limit_hi = count_steps + (r * _WINDOW_TICKS * dt + _U - 1) // _U
        elif r < 0:
            self.limit_lo = count_steps - (-r * _WINDOW_TICKS * dt + _U - 1) // _U
            self.limit_hi = count_steps
        else:
            self.limit_lo = count_steps
            self.limit_hi = count_steps


class Targets:
    """Where the table is sent, and how fast: the clamp every target goes through, and the
    speed of each kind of motion.

    Owns: the speeds and accelerations of each kind of motion in step units (converted from
    the validated configuration's mdeg/s and mdeg/s^2 once per configuration change), the
    clamp - [loading angle, min(profile max, soft max)], no further than horizontal
    until the profile's contraindication consent is given or while the ankle lock is
    not engaged (anklelock.py), and no further head-up than
    the rest angle while the person is owed the rest there (`rest`, restguard.py) - and
    the last target planned (`target_mdeg`, for the invariant checks). Every move the
    core, its safe reactions and homing make goes through go() (clamped) or, for
    homing's seek and its retract off the switch, aim() (as given); retarget() moves a
    move under way's target.
    Allocation-free.
    """

    def __init__(self, cfg, kin, profile, plan, switches, pos):
        self._cfg = cfg
        self._switches = switches  # ankle_open is read live
        self._pos = pos  # position.Position: not homed, the IMU-error margin applies
        self._kin = kin
        self._profile = profile  # max_mdeg and consent are read live
        self._plan = plan
        self.target_mdeg = 0  # last target planned
        # where the safe return under way goes (reactions.py): the rest angle, or
        # horizontal for the ankle lock's emergency return; its arrival is judged there
        self.return_mdeg = cfg.rest_angle_mdeg
        self.rest = RestGuard(cfg)
        self.configure(cfg, kin)

    def use_profile(self, profile):
        self._profile = profile

    def configure(self, cfg, kin):
        self.v_normal = kin.sps_from_mdeg_s(cfg.normal_speed_mdeg_s)
        self.a_normal = kin.sps2_from_mdeg_s2(cfg.normal_accel_mdeg_s2)
        self.v_jog = kin.sps_from_mdeg_s(cfg.jog_speed_mdeg_s)  # also recovery and faults
        self.a_jog = kin.sps2_from_mdeg_s2(cfg.jog_accel_mdeg_s2)
        self.v_emergency = kin.sps_from_mdeg_s(cfg.emergency_speed_mdeg_s)
        self.a_emergency = kin.sps2_from_mdeg_s2(cfg.emergency_accel_mdeg_s2)
        self.v_home = kin.sps_from_mdeg_s(cfg.homing_slow_mdeg_s)

    def clamp(self, target_mdeg, back=False):
        """target_mdeg inside the limits. back: a return to the rest angle (its target is
        horizontal by the best source there is, so the not-homed margin does not apply)."""
        cfg = self._cfg
        hi = self._profile.max_mdeg
        if hi > cfg.soft_max_mdeg:
            hi = cfg.soft_max_mdeg
        # no consent, not commissioned (commissioning.py), or the ankle lock not engaged
        # (anklelock.py): nothing head-down of rest
        if (not self._profile.consent or not cfg.imu_calibrated
                or self._switches.ankle_open) and hi > cfg.rest_angle_mdeg:
            hi = cfg.rest_angle_mdeg
        pos = self._pos
        if not back and not pos.homed:
            u = unhomed_max_mdeg(cfg)
            if hi > u:
                hi = u
        if target_mdeg > hi:
            return hi
        lo = self.rest.low_mdeg(cfg.loading_angle_mdeg)
        if target_mdeg < lo:
            return lo
        return target_mdeg

    def go(self, target_mdeg, vmax, amax):
        """Move to target_mdeg, clamped: the way every target goes."""
        self.aim(self.clamp(target_mdeg), vmax, amax)

    def go_back(self, target_mdeg, vmax, amax):
        """A return toward the rest angle, clamped without the not-homed margin."""
        self.aim(self.clamp(target_mdeg, True), vmax, amax)

    def aim(self, target_mdeg, vmax, amax):
        """Plan the move to target_mdeg as given (homing's seek and retract, and the
        further try of a return ending short, reactions._end_at_rest, alone skip the
        clamp)."""
        self.target_mdeg = target_mdeg
        plan = self._plan
        plan.set_limits(vmax, amax)
        plan.set_target(self._kin.steps_from_mdeg(target_mdeg))

    def retarget(self, target_mdeg):
        """Move to target_mdeg (as given) with the limits of the move under way."""
        self.target_mdeg = target_mdeg
        self._plan.set_target(self._kin.steps_from_mdeg(target_mdeg))

    def stay(self, angle_mdeg, vmax, amax):
        """Stop where the table is (at angle_mdeg), with these limits for the braking."""
        plan = self._plan
        plan.set_limits(vmax, amax)
        plan.stop()
        self.target_mdeg = angle_mdeg
