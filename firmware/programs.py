"""Session programs: the sequence of (target angle, hold time) segments of a session.

Owns the program table (BEGINNER, PROGRESSION, INTERVAL, CUSTOM), the per-angle hold
cap hold_cap_ms(), and Runner, which the core's state machine steps through one
segment at a time. A segment means: move to target_mdeg, then hold there hold_ms.
After the last segment the core does the normal return (with the rest pause near
horizontal), so no program ends with its own return.

Every target is clamped to [0, profile.max_mdeg] and every hold to hold_cap_ms();
the planned head-down time - each hold with its way down from the head-down threshold
and its way back to it, at normal speed (headdown.py) - never adds up to more than
profile.session_cap_ms minus the time already spent head-down: a hold that does not fit
is shortened (`cap_hold_ms` says to what), a cycle that does not fit is left out. The
core still counts the real head-down time and starts the return in time (steps.py).

Runner.next() allocates nothing. Runner.start() may allocate (once per session), but
on success it does not (measured on the unix port): only a refusal builds a message.
Units: mdeg from horizontal, positive head-down; ms.
"""

import headdown
import profiles
from config import Config
from kinematics import make_kinematics
from micropython import const

BEGINNER = const(0)
PROGRESSION = const(1)
INTERVAL = const(2)
CUSTOM = const(3)
NAMES = {BEGINNER: "beginner", PROGRESSION: "progression", INTERVAL: "interval", CUSTOM: "custom"}
# START long-press cycle. CUSTOM is left out: it needs an angle and a time from the console.
_CYCLE = (BEGINNER, PROGRESSION, INTERVAL)

_BEGINNER_ANGLE_MDEG = const(20000)  # guidance: first sessions at 20-30 deg; take the low end
_BEGINNER_HOLD_MS = const(90000)  # 1.5 min, inside "1-2 minutes" for first sessions
_INTERVAL_HOLD_MS = const(30000)  # 30 s down: short holds are the point of intervals
_INTERVAL_REST_MS = const(30000)  # 30 s flat between holds lets blood pressure settle
_INTERVAL_CYCLES = const(4)  # 4 x 30 s = 2 min head-down, inside the default 3 min cap
_MAX_CYCLES = const(10)  # 10 cycles is already 10 holds; more is endurance, not therapy
_MIN_REST_MS = const(5000)  # shorter than a few seconds flat is no rest
_MAX_REST_MS = const(120000)  # 2 min flat: longer belongs in a new session
_MAX_SEGMENTS = const(20)  # 2 * _MAX_CYCLES - 1 rounded up
_HORIZONTAL_MDEG = const(0)  # interval rest: flat, not the loading position


def next_program_id(program_id):
    """The program after program_id in the START long-press cycle (BEGINNER if unknown)."""
    for i in range(len(_CYCLE)):
        if _CYCLE[i] == program_id:
            return _CYCLE[(i + 1) % len(_CYCLE)]
    return BEGINNER


def hold_cap_ms(angle_mdeg, profile, cfg):
    """The longest hold allowed at angle_mdeg: the profile's hold max, and beyond
    cfg.deep_angle_mdeg (about 60 deg) at most cfg.deep_hold_max_ms ("only seconds").
    Allocation-free: the core may call it every tick."""
    cap = profile.hold_max_ms
    if angle_mdeg > cfg.deep_angle_mdeg and cap > cfg.deep_hold_max_ms:
        cap = cfg.deep_hold_max_ms
    return cap


def clamp_angle_mdeg(angle_mdeg, profile, cfg):
    """angle_mdeg limited to [0, profile max] (and the soft max, which bounds the profile)."""
    top = profile.max_mdeg
    if top > cfg.soft_max_mdeg:
        top = cfg.soft_max_mdeg
    if angle_mdeg > top:
        return top
    if angle_mdeg < 0:
        return 0
    return angle_mdeg


def _arg(value, what):
    if type(value) is not int or value < 0:
        raise ValueError("%s must be a whole number >= 0, got %r" % (what, value))
    return value


class Runner:
    """Steps through the segments of one program. start() plans; next() advances."""

    def __init__(self, cfg=None):
        # Pass the live Config so therapist-set deep-angle caps apply; the defaults
        # (deep beyond 60 deg, 10 s) are used otherwise.
        self.cfg = cfg if cfg is not None else Config()
        # the drive's geometry, fixed like the core's own (the speeds are read live)
        self._kin = make_kinematics(self.cfg)
        self._target_mdeg = [0] * _MAX_SEGMENTS  # planned once per start(), read by next()
        self._hold_ms = [0] * _MAX_SEGMENTS
        self.count = 0  # segments in the plan
        self.active = False
        self.program_id = -1
        self.index = -1  # segment in progress; -1 before the first next()
        self.target_mdeg = 0
        self.hold_ms = 0
        self.clamped = False  # a requested angle or time was reduced to a limit
        self.cap_hold_ms = -1  # a hold shortened to fit the session cap (-1: none)

    def start(self, program_id, profile, arg_angle_mdeg=0, arg_hold_ms=0, cycles=0, rest_ms=0,
              spent_ms=0):
        """Plan a program for profile; ValueError (runner unchanged) if it cannot run.

        arg_angle_mdeg / arg_hold_ms: CUSTOM's angle and hold (both required), INTERVAL's
        angle and hold (0 = the profile's level angle, 30 s). cycles / rest_ms: INTERVAL
        only (0 = 4 cycles, 30 s). spent_ms: head-down time the session has already
        used. Call next() for the first segment.
        """
        if program_id not in NAMES:
            raise ValueError("unknown program %r" % (program_id,))
        if not profile.consent:
            raise ValueError("profile '%s': contraindications not acknowledged" % profile.name)
        angle = _arg(arg_angle_mdeg, "angle_mdeg")
        hold = _arg(arg_hold_ms, "hold_ms")
        n = _arg(cycles, "cycles")
        rest = _arg(rest_ms, "rest_ms")
        name = NAMES[program_id]
        if program_id != INTERVAL and (n or rest):
            raise ValueError("%s takes no cycles or rest" % name)
        if program_id == BEGINNER or program_id == PROGRESSION:
            if angle or hold:
                raise ValueError("%s takes no angle or time" % name)
            if program_id == BEGINNER:
                angle, hold = _BEGINNER_ANGLE_MDEG, _BEGINNER_HOLD_MS
            else:
                angle = profiles.LEVEL_ANGLE_MDEG[profile.level]
                hold = profiles.LEVEL_HOLD_MS[profile.level]
            n = 1
        elif program_id == CUSTOM:
            if not angle or not hold:
                raise ValueError("custom needs an angle and a time")
            n = 1
        else:
            angle = angle or profiles.LEVEL_ANGLE_MDEG[profile.level]
            hold = hold or _INTERVAL_HOLD_MS
            n = n or _INTERVAL_CYCLES
            rest = rest or _INTERVAL_REST_MS
            if n > _MAX_CYCLES:
                raise ValueError("interval cycles %d: at most %d" % (n, _MAX_CYCLES))
            if rest < _MIN_REST_MS or rest > _MAX_REST_MS:
                raise ValueError("interval rest_ms %d: outside [%d, %d]"
                                 % (rest, _MIN_REST_MS, _MAX_REST_MS))
        self._plan(program_id, profile, angle, hold, n, rest, spent_ms)

    def _travel_ms(self, target):
        """Head-down time of one dip to target, without its hold: down from the
        threshold (at most: a move passing it already under way is faster), back to it."""
        cfg = self.cfg
        kin = self._kin
        h = kin.steps_from_mdeg(cfg.head_down_mdeg)
        d = kin.steps_from_mdeg(target) - h
        v = kin.sps_from_mdeg_s(cfg.normal_speed_mdeg_s)
        a = kin.sps2_from_mdeg_s2(cfg.normal_accel_mdeg_s2)
        tail = h - kin.steps_from_mdeg(cfg.rest_angle_mdeg)
        return (headdown.descent_ms(d, v, a, cfg.tick_ms)
                + headdown.back_ms(d, 0, v, a, tail, cfg.tick_ms))

    def _plan(self, program_id, profile, angle, hold, cycles, rest, spent_ms):
        cfg = self.cfg
        target = clamp_angle_mdeg(angle, profile, cfg)
        clamped = target != angle
        held = hold_cap_ms(target, profile, cfg)
        if held >= hold:
            held = hold
        else:
            clamped = True
        rest_held = min(rest, hold_cap_ms(_HORIZONTAL_MDEG, profile, cfg))
        head_down = target > cfg.head_down_mdeg
        travel_ms = self._travel_ms(target) if head_down else 0
        budget_ms = profile.session_cap_ms - spent_ms  # planned head-down time left
        cap_hold = -1
        count = 0
        for c in range(cycles):
            h = held
            if head_down:
                fit = budget_ms - travel_ms
                if fit <= 0:
                    clamped = True
                    break
                if h > fit:
                    h = cap_hold = fit
                    clamped = True
                budget_ms -= h + travel_ms
            if c > 0:  # rest between holds; none after the last (the core's return rests)
                self._target_mdeg[count] = _HORIZONTAL_MDEG
                self._hold_ms[count] = rest_held
                count += 1
            self._target_mdeg[count] = target
            self._hold_ms[count] = h
            count += 1
        if count == 0:
            raise ValueError("no time left for a hold at %d mdeg in the session cap" % target)
        self.count = count
        self.cap_hold_ms = cap_hold
        self.program_id = program_id
        self.index = -1
        self.target_mdeg = 0
        self.hold_ms = 0
        self.clamped = clamped or rest_held != rest
        self.active = True

    def next(self):
        """Advance to the next segment (target_mdeg, hold_ms); False when the program
        is over, after which the core does the normal return. Allocation-free."""
        if not self.active:
            return False
        i = self.index + 1
        if i >= self.count:
            self.active = False
            return False
        self.index = i
        self.target_mdeg = self._target_mdeg[i]
        self.hold_ms = self._hold_ms[i]
        return True

    def stop(self):
        """End the program early (emergency, discomfort, stop): next() returns False."""
        self.active = False

    def plan(self):
        """The planned segments as a list of (target_mdeg, hold_ms), for the console."""
        return [(self._target_mdeg[i], self._hold_ms[i]) for i in range(self.count)]
