"""The reliability campaign's safety invariants, checked at every simulated millisecond.

Owns the definitions of "safe" that the property tests (tests/host/test_reliability.py,
test_powercut_sweep.py) and the soak (host_tools/soak.py) check against the whole
simulated system: the real firmware App (host_tools/runner.py) on the simulated board
(host_tools/simboard.py). `Checker.attach(harness)` installs a SimBoard ms hook (the
physical checks, every millisecond, even while the power is off) and a runner tick hook
(the firmware's event log, after every firmware tick). A broken invariant raises
`Violation` from inside the simulation, at the millisecond it happened.

What counts as truth: the physics (true angle and rate, lost steps, the pin readings)
and what the outside world did (harness.py notes every console line, button edge and
injected fault). The firmware's own reports are used only (a) as *revocations*, which can
only make a check stricter (READY reached), (b) as the firmware's answer to a user
command (an accepted E_COMMAND licenses motion only if a user input really happened in
the last USER_WINDOW_MS), and (c) to tell the automatic, allowed reactions apart
(E_FAULT starts a safe return toward horizontal; a HOME_SWITCH fault logged on the way
to the loading position, head-up of the rest angle, one that goes on there).

Angles in mdeg from horizontal, positive head-down (firmware convention); times in ms
of virtual time (board.now_ms, which never wraps).

The invariants (exact definitions; the numbers are the constants below):

I1 depth. At every ms: true angle <= max(L, A_boot) + DEPTH_MARGIN_MDEG (1 deg). L is the
   running maximum over the sequence of the clamp's upper limit as configured: min(the
   profile max the harness stored, soft max) while the firmware's profile carries the
   consent, else the rest angle. A_boot is the true angle at the latest reset (a table
   left deeper than L must never go deeper than where it started).
   I1b, after every tick: the firmware's profile max never exceeds the max the harness
   stored (a damaged or forged file never raises a limit).

I2 emergency return. A trigger is: the e-stop circuit opened by the outside world (a
   press, a cut wire, a blip of >= ESTOP_BLIP_MIN_MS; shorter ones can fall between two
   polls while the IRQ is disarmed) while the firmware runs past BOOT; or any emergency
   the firmware takes after BOOT (E_ESTOP: the console's estop, the circuit, its IRQ,
   noise too; one taken during BOOT fails the self-test and the table stands still).
   From the true angle A and rate v at the trigger:
       deadline = t0 + T * (1 + EMERG_MARGIN_PCT/100) + EMERG_MARGIN_MS,
       T = v/a_e + T_trap(A - rest + v^2/(2 a_e), v_e, a_e)   (braking only if v > 0)
   with v_e, a_e the emergency speed and acceleration, or jog speed and acceleration if
   a fault is latched at the trigger. A fault logged during the return may push the
   deadline to the same formula from that moment at jog speed plus the time to stop (the
   firmware degrades to jog speed and may stop to re-reference; at the slowest speed,
   homing_slow_mdeg_s, if steps were lost since the trigger). By the deadline the
   true angle must be <= rest + ARRIVE_TOL_MDEG (+ the angle of steps lost since the
   trigger, up to runaway_tol_mdeg: an error the firmware's own cross-check cannot see).
   The deadline waits while the loop is stalled; a reset voids the obligation (I5 then
   applies). Excused ("a fault makes motion impossible"): an IMU fault during this boot
   AND steps lost during this boot, or an IMU fault present during BOOT (no trustworthy
   step reference),
   or an overload past what the motor lifts at jog speed at any time during the return
   (the firmware may latch standing still then, and stays latched); then at the deadline the
   table must not move head-down (and I3 keeps it from going deeper).

I3 no motion without a reason. A licence: two bounds on the true angle, hd (deepest
   allowed) and hu (highest-up allowed), checked every ms.
   - A reset revokes everything: hu/hd = the angle at the reset -/+ STILL_TOL_MDEG.
   - An accepted command (E_COMMAND ok) counts as the user's if a console line or button
     edge came in the last USER_WINDOW_MS, or (jogs) its button is held right now:
     goto lifts both bounds, head-down to max(angle, typed target) + ARRIVE_TOL_MDEG;
     start and a DOWN jog lift both entirely (I1 still bounds the depth); home lifts
     them up to the homing retract; return, recover, UP jog, discomfort lift hu only.
   - Head-up only means hd ratchets every ms: hd = min(hd, angle + r), r =
     RATCHET_TOL_MDEG, or the braking allowance below while moving head-down.
   - An emergency (trigger above) or a fault logged after BOOT: head-up to the rest
     angle only: hu = min(rest, angle) - allowance, hd ratchets.
   - stop, a DOWN jog's release, an emergency, a fault revoke head-down with a braking
     allowance v * REACTION_S + v^2/(2 a_min) + STILL_TOL_MDEG (a_min the smallest
     configured acceleration, v the larger of the true rate and the STEP pulse rate: a
     stalled motor braked along the ramp follows the ramp's pulses). Near the loading
     stop the homing retract stays allowed (hd >= home switch + homing_retract +
     RATCHET_TOL_MDEG).
   - READY reached (and still READY after the tick) revokes everything.
   - An ack starts nothing: it grants head-up only after ACK_QUIET_MS, and only if the
     table is head-down (a released latch holds, then the hold timer returns it).
   Timer motions (hold expired, next program segment, rest pause over, session cap, the
   homing after a return) run inside the licence of the command that started them.

I4 faults are latched and logged. After every tick: each new E_FAULT (but the App's
   own crash record) leaves the state FAULT or EMERGENCY_RETURN; the state leaves FAULT
   or EMERGENCY_RETURN for HOLDING, READY or RECOVERY only in a tick that logged E_ACK.
   An IMU bus fault (no_response, timeout) present IMU_BUS_DETECT_MS, or a frozen IMU
   IMU_FROZEN_DETECT_MS, of a running firmware past BOOT: the state latched and an
   E_FAULT logged since the fault began (or since the boot). Steps lost worth
   LOST_DETECT_MDEG within LOST_WINDOW_MS with the IMU healthy all boot: a fault latched
   within LOST_DETECT_MS.

I5 resets. After every reset: no motion until a user input (I3's revocation);
   BOOT_SETTLE_MS after the new firmware started, if nothing happened meanwhile (no
   action, no fault still injected, no button held, the e-stop closed), the state is
   RECOVERY, READY or FAULT. The one-press return is checked by
   faultinject.Harness.recover(max_acks, max_presses) and the power-cut sweep.
"""

import math

from host_tools.paths import use_firmware

use_firmware()

import events as ev  # noqa: E402  (firmware/, importable once use_firmware() ran)
import faults  # noqa: E402
import states as S  # noqa: E402

INF = float("inf")

ESTOP_BLIP_MIN_MS = 15  # a tick (10 ms) + contact bounce (<= 5 ms): the poll must see it
DEPTH_MARGIN_MDEG = 1000  # I1: "never exceeds the profile max by more than 1 degree"
# I2: arrival at rest. The firmware's arrive tolerance (0.5 deg) + backlash (0.3 deg)
# + the IMU's reference error at boot (about 0.2 deg with the default part).
ARRIVE_TOL_MDEG = 1000
# I2 margin: detection (a 10 ms tick + <= 5 ms bounce), the rotor's ~8 ms lag, the
# profile's integer ticks and its re-plan from the current speed, backlash take-up, the
# firmware's arrival tolerance; observed worst slack is reported by the soak.
EMERG_MARGIN_MS = 500
EMERG_MARGIN_PCT = 5
# I3 numbers.
STILL_TOL_MDEG = 800  # backlash (0.3 deg) + table settling inside it + 0.5 deg margin
RATCHET_TOL_MDEG = 1000  # "moving back head-down" beyond this while licensed head-up only
REACTION_S = 0.1  # debounce (30 ms) + a tick + the rotor lag, rounded up
USER_WINDOW_MS = 500  # an accepted command counts as the user's if an input came this recently
ACK_QUIET_MS = 9000  # shortest hold cap (deep_hold_max 10 s) minus a tick's margin
# I4 detection deadlines: bus_error_limit (5) ticks + margin; frozen_samples (50) ticks +
# the estimator's window; runaway_window (1 s) + the time the error needs to grow.
IMU_BUS_DETECT_MS = 600
IMU_FROZEN_DETECT_MS = 2000
LOST_DETECT_MDEG = 4000  # runaway_tol_mdeg (2.5 deg) + 1.5 deg
LOST_WINDOW_MS = 2000
LOST_DETECT_MS = 3000
BOOT_SETTLE_MS = 600  # BOOT's self-test is 300 ms


class Violation(AssertionError):
    """An invariant broke. `inv` names it (I1..I5), `t_ms` is the virtual time."""

    def __init__(self, inv, t_ms, text):
        super().__init__("%s at t=%d ms: %s" % (inv, t_ms, text))
        self.inv = inv
        self.t_ms = t_ms
        self.text = text


class KnownBug(Violation):
    """A violation with the signature of a firmware bug that has an xfail(strict) test
    (faultinject.KNOWN_BUGS). `bug` is its key. Remove the classifier with the fix."""

    def __init__(self, bug, inv, t_ms, text):
        super().__init__(inv, t_ms, "[known bug %s] %s" % (bug, text))
        self.bug = bug


def trapezoid_ms(distance_mdeg, speed_mdeg_s, accel_mdeg_s2):
    """Rest-to-rest move time (ms) with a trapezoidal or triangular speed profile."""
    d = abs(distance_mdeg)
    v = float(speed_mdeg_s)
    a = float(accel_mdeg_s2)
    if d >= v * v / a:
        t = d / v + v / a
    else:
        t = 2.0 * math.sqrt(d / a)
    return 1000.0 * t


def return_time_ms(angle_mdeg, rate_mdeg_s, rest_mdeg, speed, accel):
    """Physics time to bring a table at angle (moving at rate) to rest_mdeg: brake a
    head-down motion first, then a trapezoid to rest."""
    t = 0.0
    d = angle_mdeg - rest_mdeg
    if rate_mdeg_s > 0:
        t += 1000.0 * rate_mdeg_s / accel
        d += rate_mdeg_s * rate_mdeg_s / (2.0 * accel)
    if d <= 0:
        return t
    return t + trapezoid_ms(d, speed, accel)


class Limits:
    """The numbers the invariants use, read once from the firmware's validated config."""

    def __init__(self, cfg, lost_impossible_mm=None):
        self.rest = cfg.rest_angle_mdeg
        self.loading = cfg.loading_angle_mdeg
        self.home_switch = cfg.home_switch_mdeg
        self.soft_max = cfg.soft_max_mdeg
        self.head_down = cfg.head_down_mdeg
        self.retract = cfg.homing_retract_mdeg
        self.v_e = cfg.emergency_speed_mdeg_s
        self.a_e = cfg.emergency_accel_mdeg_s2
        self.v_jog = cfg.jog_speed_mdeg_s
        self.a_jog = cfg.jog_accel_mdeg_s2
        self.v_slow = cfg.homing_slow_mdeg_s  # a return that lost steps goes on at it
        self.v_normal = cfg.normal_speed_mdeg_s
        self.a_min = min(cfg.jog_accel_mdeg_s2, cfg.normal_accel_mdeg_s2,
                         cfg.emergency_accel_mdeg_s2)
        self.runaway_tol = cfg.runaway_tol_mdeg
        self.ustep_mdeg = 360000.0 / (cfg.motor_steps_per_rev * cfg.microsteps * cfg.gear_ratio)
        # the loading stop's neighbourhood, where homing may retract head-down
        self.homing_zone = self.home_switch + self.retract + 2000
        self.homing_top = self.home_switch + self.retract + RATCHET_TOL_MDEG

    def allowance(self, rate_mdeg_s):
        """How far a table moving at rate may still travel after a revocation."""
        v = abs(rate_mdeg_s)
        return v * REACTION_S + v * v / (2.0 * self.a_min) + STILL_TOL_MDEG


class Stats:
    def __init__(self):
        self.ms_checked = 0
        self.ticks_checked = 0
        self.emergencies = 0
        self.emergencies_met = 0
        self.emergencies_excused = 0
        self.emergencies_void = 0
        self.worst_slack_ms = None  # smallest (deadline - arrival) seen
        self.worst_slack_frac = None  # the same as a fraction of the physics time
        self.worst_case = ""
        self.worst_slack_e_ms = None  # among returns judged at emergency speed only
        self.resets = 0
        self.faults_logged = {}
        self.detections = 0

    def merge(self, other):
        for k in ("ms_checked", "ticks_checked", "emergencies", "emergencies_met",
                  "emergencies_excused", "emergencies_void", "resets", "detections"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k, v in other.faults_logged.items():
            self.faults_logged[k] = self.faults_logged.get(k, 0) + v
        if other.worst_slack_ms is not None and (self.worst_slack_ms is None
                                                 or other.worst_slack_ms < self.worst_slack_ms):
            self.worst_slack_ms = other.worst_slack_ms
            self.worst_case = other.worst_case
        if other.worst_slack_e_ms is not None and (
                self.worst_slack_e_ms is None or other.worst_slack_e_ms < self.worst_slack_e_ms):
            self.worst_slack_e_ms = other.worst_slack_e_ms
        if other.worst_slack_frac is not None and (
                self.worst_slack_frac is None or other.worst_slack_frac < self.worst_slack_frac):
            self.worst_slack_frac = other.worst_slack_frac


class _Obligation:
    """I2: the table must reach rest by `deadline`."""

    def __init__(self, t0, angle, rate, deadline, physics_ms, jog):
        self.t0 = t0
        self.angle = angle
        self.rate = rate
        self.deadline = deadline
        self.physics_ms = physics_ms
        self.jog = jog


class Checker:
    """The invariants above, attached to a harness (host_tools/faultinject.Harness)."""

    def __init__(self, harness):
        self.h = harness
        self.runner = harness.runner
        self.board = harness.runner.board
        self.lim = Limits(harness.runner.app.cfg)
        self.stats = Stats()
        b = self.board
        a = b.true_angle_mdeg
        self.limit_high = -INF  # I1's L
        self.boot_angle = a
        self.boot_ms = b.now_ms
        self.n_resets = len(b.resets)
        # I3 licence
        self.hd = a + STILL_TOL_MDEG
        self.hu = a - STILL_TOL_MDEG
        self.hd_ratchet = False
        self.ack_grant_at = None
        self.last_user_ms = -10 ** 9
        self.goto_mdeg = -INF
        self.hd_source = None  # what lifted the head-down bound: "jog" or "command"
        self.user_since_boot = False
        # I2
        self.obligation = None
        # I4 bookkeeping
        self.app = None
        self.seq = 0
        self.fault_logged_ms = []  # E_FAULT times of this boot
        self.lost_hist = []  # (now_ms, lost_steps) samples for the lost-step window
        self.lost_obligation = None
        self.boot_checked = False
        self.app_start_ms = b.now_ms
        self._update_limit()

    def attach(self):
        self.board.ms_hooks.append(self.on_ms)
        self.runner.tick_hooks.append(self.on_tick)
        self._new_app(self.runner.app)

    def detach(self):
        if self.on_ms in self.board.ms_hooks:
            self.board.ms_hooks.remove(self.on_ms)
        if self.on_tick in self.runner.tick_hooks:
            self.runner.tick_hooks.remove(self.on_tick)

    # ------------------------------------------------------------ notes from outside

    def note_user(self):
        """A user input happened now (console line, button edge)."""
        self.last_user_ms = self.board.now_ms
        self.user_since_boot = True

    def note_impossible(self):
        """The user became too heavy off-centre for the motor even at jog speed."""
        if self.obligation is not None:
            self.obligation.impossible = True

    def note_goto(self, angle_mdeg):
        """The user typed goto <angle>: the deepest a goto accepted now may go."""
        self.goto_mdeg = angle_mdeg

    def note_event(self):
        """Something other than time passing happened (any action but a wait)."""
        self.user_since_boot = True

    def note_button(self, name, pressed):
        self.note_user()
        if name == "DOWN" and not pressed and self.hd_source == "jog":
            self._revoke_head_down()  # hold-to-run: letting go stops the head-down jog

    # ------------------------------------------------------------ licence changes

    def _fail(self, inv, text):
        raise Violation(inv, self.board.now_ms, text)

    def _rate(self):
        """The table's speed for the braking allowances, mdeg/s (+ head-down): the true
        rate, or the rate of the pulses on the STEP pin if that is faster (a stalled
        motor that the firmware then brakes along its ramp follows the ramp's pulses)."""
        b = self.board
        v = b.true_rate_mdeg_s
        sg = b.physics.stepgen
        p = sg.rate_sps * self.lim.ustep_mdeg if sg.enabled else 0.0
        return p if abs(p) > abs(v) else v

    def _revoke_head_down(self):
        a = self.board.true_angle_mdeg
        lim = a + self.lim.allowance(self._rate())
        if a <= self.lim.homing_zone:
            lim = max(lim, self.lim.homing_top)  # a homing under way may still retract
        if self.hd > lim:
            self.hd = lim
        self.hd_ratchet = True

    def _revoke_all(self, rate=None):
        b = self.board
        a = b.true_angle_mdeg
        r = self._rate() if rate is None else rate
        allow = self.lim.allowance(r)
        self.hd = min(self.hd, a + allow) if self.hd_ratchet else a + allow
        self.hu = a - allow
        self.hd_ratchet = False
        self.ack_grant_at = None

    def _grant_head_up(self):
        self._revoke_head_down()
        self.hu = -INF
        if self.board.true_angle_mdeg <= self.lim.homing_zone:
            self.hd = max(self.hd, self.lim.homing_top)  # homing retracts off the switch

    def _grant_to_rest(self):
        a = self.board.true_angle_mdeg
        allow = self.lim.allowance(self._rate())
        self._revoke_head_down()
        hu = min(self.lim.rest, a) - allow
        if self.hu == -INF or hu < self.hu:
            self.hu = hu

    def _grant_any(self, hd):
        a = self.board.true_angle_mdeg
        self.hd = max(hd, a + self.lim.allowance(self._rate()))
        self.hu = -INF
        self.hd_ratchet = False
        self.ack_grant_at = None

    def _update_limit(self):
        app = self.runner.app
        prof = app.core.profile
        if prof.consent:
            hi = min(self.h.profile_max_mdeg, app.cfg.soft_max_mdeg)
        else:
            hi = app.cfg.rest_angle_mdeg
        if hi > self.limit_high:
            self.limit_high = hi
        return prof

    # ------------------------------------------------------------ every millisecond

    def on_ms(self, board):
        st = self.stats
        st.ms_checked += 1
        now = board.now_ms
        a = board.true_angle_mdeg
        if len(board.resets) != self.n_resets:
            self.n_resets = len(board.resets)
            self._on_reset(now, a)
        elif not board.powered and self.obligation is not None:
            self._void()
        # I1 depth
        hi, boot = self.limit_high, self.boot_angle
        bound = (boot if boot > hi else hi) + DEPTH_MARGIN_MDEG  # max(), without the call
        if a > bound:
            self._fail("I1", "true angle %.0f mdeg deeper than the limit %.0f (profile max "
                       "%.0f, angle at the last reset %.0f, +%d)" % (
                           a, bound, self.limit_high, self.boot_angle, DEPTH_MARGIN_MDEG))
        self._check_licence(now, a)
        ob = self.obligation
        if ob is not None:
            if not self._firmware_live(board):
                ob.deadline += 1  # a stalled loop: the deadline waits for it (or a reset)
            if a <= self.lim.rest + self._arrive_tol(ob):
                self._met(now, ob)
            elif now >= ob.deadline:
                self._deadline(now, ob, a)
        # lost steps (I4)
        if now % 50 == 0:
            self._lost_sample(now, board)

    def _check_licence(self, now, a):
        """I3: the table stays within the angles a reason allows (the licence bounds)."""
        if self.ack_grant_at is not None and now >= self.ack_grant_at:
            self.ack_grant_at = None
            self._grant_head_up()
        if self.hd_ratchet:
            # never deeper than where a table braking from here could stop
            v = self._rate()
            r = a + (max(RATCHET_TOL_MDEG, self.lim.allowance(v)) if v > 0 else RATCHET_TOL_MDEG)
            if a <= self.lim.homing_zone:
                r = max(r, self.lim.homing_top)
            if r < self.hd:
                self.hd = r
        if a > self.hd:
            self._fail("I3", "table moved head-down to %.0f mdeg without a reason (allowed "
                       "down to %.0f)" % (a, self.hd))
        if a < self.hu:
            self._fail("I3", "table moved head-up to %.0f mdeg without a reason (allowed "
                       "up to %.0f)" % (a, self.hu))

    def _firmware_live(self, board):
        h = self.h
        if not board.powered or h.hanging or self.runner.app.crashed:
            return False
        return not (board.resets and board.resets[-1][0] == board.now_ms)

    def _on_reset(self, now, a):
        self.stats.resets += 1
        self._void()
        self.boot_angle = a
        self.boot_ms = now
        self.user_since_boot = False
        self.boot_checked = False
        self.fault_logged_ms = []
        self.lost_obligation = None
        self.lost_hist = []
        self.h.on_reset()
        self._revoke_all(rate=0.0)  # the driver is off at the reset: only backlash moves

    # ------------------------------------------------------------ I2

    def note_estop_opened(self):
        """The e-stop circuit was opened by a person or a cut wire (closed -> open), or
        opened for >= ESTOP_BLIP_MIN_MS. A trigger if the firmware runs past BOOT."""
        b = self.board
        if self._firmware_live(b) and self.runner.app.core.state != S.BOOT:
            self._trigger(b.now_ms, "e-stop circuit opened")

    def _trigger(self, now, why):
        self._grant_to_rest()
        if self.obligation is not None:
            return  # the first trigger's deadline binds
        b = self.board
        a = b.true_angle_mdeg
        v = b.true_rate_mdeg_s
        self.stats.emergencies += 1
        jog = self.runner.app.core.fault != faults.NONE
        ob = self._make_obligation(now, a, v, jog)
        self.obligation = ob

    def _make_obligation(self, now, a, v, jog, slow=False):
        lim = self.lim
        speed, accel = (lim.v_jog, lim.a_jog) if jog else (lim.v_e, lim.a_e)
        if slow:
            speed = lim.v_slow
        phys = return_time_ms(a, v, lim.rest, speed, accel)
        deadline = now + phys * (1 + EMERG_MARGIN_PCT / 100.0) + EMERG_MARGIN_MS
        ob = _Obligation(now, a, v, deadline, phys, jog)
        ob.lost0 = self.board.lost_steps
        ob.impossible = self.h.overload_impossible  # sticky: set if it ever was
        return ob

    def _arrive_tol(self, ob):
        """1 deg, plus the angle of the steps lost during this boot up to the firmware's
        own cross-check tolerance (runaway_tol_mdeg): an error the firmware cannot see."""
        lost = (self.board.lost_steps - self.h.lost_at_boot) * self.lim.ustep_mdeg
        return ARRIVE_TOL_MDEG + min(lost, self.lim.runaway_tol)

    def _fault_during_obligation(self, now):
        ob = self.obligation
        if ob is None or ob.jog:
            return
        b = self.board
        # steps lost on the way up: the return goes on at the slowest speed (issue #18,
        # firmware/lift.py), re-referenced on the IMU first
        slow = b.lost_steps > ob.lost0
        alt = self._make_obligation(now, b.true_angle_mdeg, b.true_rate_mdeg_s, True, slow)
        alt.deadline += 1000.0 * abs(b.true_rate_mdeg_s) / self.lim.a_jog  # stop, re-reference
        if alt.deadline > ob.deadline:
            ob.deadline = alt.deadline
            ob.jog = True

    def _met(self, now, ob):
        st = self.stats
        st.emergencies_met += 1
        if ob.angle <= self.lim.rest + ARRIVE_TOL_MDEG:
            self.obligation = None  # already at rest when triggered: no return to time
            return
        slack = ob.deadline - now
        frac = slack / max(ob.deadline - ob.t0, 1.0)
        if not ob.jog and (st.worst_slack_e_ms is None or slack < st.worst_slack_e_ms):
            st.worst_slack_e_ms = slack
        if st.worst_slack_ms is None or slack < st.worst_slack_ms:
            st.worst_slack_ms = slack
            st.worst_case = "from %.0f mdeg at %.0f mdeg/s, %s speed: arrived after %d ms, " \
                "physics time %.0f ms, deadline %.0f ms" % (
                    ob.angle, ob.rate, "jog" if ob.jog else "emergency", now - ob.t0,
                    ob.physics_ms, ob.deadline - ob.t0)
        if st.worst_slack_frac is None or frac < st.worst_slack_frac:
            st.worst_slack_frac = frac
        self.obligation = None

    def _void(self):
        if self.obligation is not None:
            self.stats.emergencies_void += 1
            self.obligation = None

    def _deadline(self, now, ob, a):
        h = self.h
        if not self._firmware_live(self.board):
            self._void()
            return
        if h.imu_faulted_this_boot and self.board.lost_steps > h.lost_at_boot:
            excuse = "both angle sources doubtful"
        elif h.imu_bad_at_boot:
            excuse = "the IMU was faulty at boot: no trustworthy step reference"
        elif h.overload_impossible or ob.impossible:
            excuse = "overload beyond the motor's jog-speed torque during the return"
        else:
            excuse = None
        if excuse is None:
            self._fail("I2", "emergency return at t=%d from %.0f mdeg (rate %.0f mdeg/s) has "
                       "not reached rest (+%d) by its deadline %d ms (%s speed): table at "
                       "%.0f mdeg, state %s" % (
                           ob.t0, ob.angle, ob.rate, ARRIVE_TOL_MDEG, ob.deadline - ob.t0,
                           "jog" if ob.jog else "emergency", a,
                           S.STATE_NAMES[self.runner.app.core.state]))
        if self.board.true_rate_mdeg_s > 50:
            self._fail("I2", "emergency return excused (%s) but the table moves head-down"
                       % excuse)
        self.stats.emergencies_excused += 1
        self.obligation = None

    # ------------------------------------------------------------ after every tick

    def _new_app(self, app):
        self.app = app
        self.seq = app.log.seq

    def on_tick(self, runner):
        st = self.stats
        st.ticks_checked += 1
        app = runner.app
        if app is not self.app:
            self._new_app(app)
            self.seq = 0  # a fresh firmware: everything it logged is new
            self.app_start_ms = self.board.now_ms
        core = app.core
        prof = self._update_limit()
        if prof.max_mdeg > self.h.profile_max_mdeg:
            text = "the firmware's profile max %d exceeds the configured %d" % (
                prof.max_mdeg, self.h.profile_max_mdeg)
            self._fail("I1", text)
        now = self.board.now_ms
        log = app.log
        new = log.since(self.seq)
        self.seq = log.seq
        ready_entered = self._read_log(new, app, core, now)
        if ready_entered and core.state == S.READY:
            self._revoke_all()
        self._detections(now, core)
        if not self.boot_checked and now - self.app_start_ms >= BOOT_SETTLE_MS:
            self.boot_checked = True
            self._check_boot_settled(now, core)

    def _read_log(self, new, app, core, now):
        """The firmware's new log entries: faults, acknowledgements, latches left, e-stops
        and the user's commands; True if READY was entered."""
        acked = False
        ready_entered = False
        user_recent = now - self.last_user_ms <= USER_WINDOW_MS
        held = self.h.held
        for e in new:
            code = e[1]
            if code == ev.E_FAULT:
                self._fault_logged(e, app, core, now)
            elif code == ev.E_ACK:
                acked = True
            elif code == ev.E_STATE:
                frm, to = e[2], e[3]
                if (frm in (S.FAULT, S.EMERGENCY_RETURN)
                        and to in (S.HOLDING, S.READY, S.RECOVERY) and not acked):
                    self._fail("I4", "latch %s left for %s without an acknowledgement" % (
                        S.STATE_NAMES[frm], S.STATE_NAMES[to]))
                if to == S.READY:
                    ready_entered = True
            elif code == ev.E_ESTOP and core.state != S.BOOT:
                # the firmware took an emergency (the console's estop, the circuit or its
                # IRQ, noise included): a safety reason, and the return must complete.
                # During BOOT it is the self-test's: a latched fault, standing still.
                self._trigger(now, "firmware emergency (source %d)" % e[2])
            elif code == ev.E_COMMAND and e[3] == S.OK and (
                    user_recent or (e[2] == S.C_JOG_DOWN and "DOWN" in held)
                    or (e[2] == S.C_JOG_UP and "UP" in held)):
                # the user's: a recent input, or the hold-to-run button held right now
                self._command_licence(e[2], core)
        return ready_entered

    def _fault_logged(self, e, app, core, now):
        st = self.stats
        if app.crashed:
            st.faults_logged["crash"] = st.faults_logged.get("crash", 0) + 1
            return
        name = faults.name(e[2])
        st.faults_logged[name] = st.faults_logged.get(name, 0) + 1
        self.fault_logged_ms.append(now)
        if core.state not in (S.FAULT, S.EMERGENCY_RETURN):
            self._fail("I4", "fault %s logged but the state is %s" % (
                name, S.STATE_NAMES[core.state]))
        if e[3] != S.BOOT and not app.core.fault_at_boot:
            if (e[3] in (S.RETURNING, S.HOMING)
                    and self.board.true_angle_mdeg < self.lim.rest):
                # a fault on the way to the loading position: its return goes on there
                # (firmware/reactions.py fault_goal)
                self._grant_head_up()
            else:
                self._grant_to_rest()
        self._fault_during_obligation(now)
        self.lost_obligation = None

    def _check_boot_settled(self, now, core):
        """I5: with nothing disturbing it, a booted table settles in RECOVERY, READY or a
        fault (or is on an obligation's way back)."""
        h = self.h
        quiet = not (self.user_since_boot or h.imu_on or h.held
                     or self.board.switch_spike_rate > 0 or h._estop_open())
        if quiet and core.state not in (S.RECOVERY, S.READY, S.FAULT):
            if self.obligation is None:
                self._fail("I5", "%d ms after the reset the state is %s" % (
                    now - self.boot_ms, S.STATE_NAMES[core.state]))

    def _command_licence(self, cmd, core):
        lim = self.lim
        if cmd == S.C_GOTO:
            a = self.board.true_angle_mdeg
            hd = max(core.target_mdeg, a, self.goto_mdeg) + ARRIVE_TOL_MDEG
            if a <= lim.homing_zone:
                hd = max(hd, lim.homing_top)  # homing first: it retracts off the switch
            self._grant_any(hd)
            self.hd_source = "command"
        elif cmd == S.C_START or cmd == S.C_JOG_DOWN:
            self._grant_any(INF)
            self.hd_source = "jog" if cmd == S.C_JOG_DOWN else "command"
        elif cmd == S.C_HOME:
            self._grant_any(max(self.board.true_angle_mdeg, lim.homing_top))
            self.hd_source = "command"
        elif cmd in (S.C_RETURN, S.C_RECOVER, S.C_JOG_UP, S.C_DISCOMFORT):
            self._grant_head_up()
        elif cmd == S.C_STOP or cmd == S.C_JOG_RELEASE:
            self._revoke_head_down()
        elif cmd == S.C_ACK:
            if self.board.true_angle_mdeg > lim.head_down:
                self.ack_grant_at = self.board.now_ms + ACK_QUIET_MS

    # ------------------------------------------------------------ I4 detections

    def _latched_since(self, t0):
        core = self.runner.app.core
        if core.state not in (S.FAULT, S.EMERGENCY_RETURN):
            return False
        return any(t >= t0 for t in self.fault_logged_ms) or core.fault != faults.NONE

    def _detections(self, now, core):
        h = self.h
        if not self._firmware_live(self.board) or core.state == S.BOOT:
            return
        for name, since in h.imu_active.items():
            if since is None:
                continue
            limit = IMU_FROZEN_DETECT_MS if name == "frozen" else IMU_BUS_DETECT_MS
            if name == "spikes":
                continue  # random: detection is not certain, safety is (I1-I3)
            t0 = max(since, self.app_start_ms)  # a hang may delay the new firmware's start
            if now - t0 >= limit:
                if not self._latched_since(t0 - 20):
                    self._fail("I4", "IMU fault %s present since t=%d ms, not latched and "
                               "logged after %d ms (state %s)" % (
                                   name, since, now - t0, S.STATE_NAMES[core.state]))
                self.stats.detections += 1
                h.imu_active[name] = None  # checked once per onset
        lo = self.lost_obligation
        if lo is not None and now >= lo:
            self.lost_obligation = None
            if not self._latched_since(lo - LOST_DETECT_MS - LOST_WINDOW_MS):
                self._fail("I4", "lost steps worth %d mdeg (IMU healthy) not latched as a "
                           "fault within %d ms (state %s)" % (
                               LOST_DETECT_MDEG, LOST_DETECT_MS, S.STATE_NAMES[core.state]))
            self.stats.detections += 1

    def _lost_sample(self, now, board):
        hist = self.lost_hist
        hist.append((now, board.lost_steps))
        while hist and now - hist[0][0] > LOST_WINDOW_MS:
            hist.pop(0)
        if (self.lost_obligation is None and not self.h.imu_faulted_this_boot and hist
                and (hist[-1][1] - hist[0][1]) * self.lim.ustep_mdeg >= LOST_DETECT_MDEG
                and self._firmware_live(board)):
            if not self._latched_since(hist[0][0]):
                self.lost_obligation = now + LOST_DETECT_MS
            hist[:] = [(now, board.lost_steps)]
