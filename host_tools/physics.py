"""The physical table: a rigid body on its pivot, its worm drive and stepper, and the step
generator twin, integrated in fixed 1 ms steps. Host only (CPython floats).

Owns: the true angle and rate of the table, the drive's position, which step pulses the
motor followed and which it lost, and the pulse count a PCNT unit would read.

Units and conventions
- Internally SI: angles in radians, rates in rad/s, torques in N m, inertia in kg m^2.
  The public read-outs carry their unit in the name: `true_angle_mdeg`, `true_rate_mdeg_s`.
- Angle 0 = horizontal, positive = head-down (docs: shared safety reference). Step counts
  and step rates are positive head-down too.
- Every table/drive/user number comes from hardware/table_params.json (host_tools.params);
  the constants below are physics or modelling choices, each with its reason.

The model, per millisecond
1. The step generator twin (StepGenerator) emits the pulses of this millisecond: the
   commanded rate with fractional accumulation, only while enabled, never so that the
   emitted count leaves the dead-man window [limit_lo, limit_hi]. The PCNT twin is its
   signed `count`: every emitted pulse, followed by the motor or not.
2. The rotor's speed is the pulse rate seen through two 4 ms poles (a real rotor cannot
   follow the jitter of individual pulses); its derivative is the acceleration demand.
3. If the table leans on the drive (it sits at one edge of the backlash band), the torque
   the drive must give the table is  J*alpha + c*omega + F*sign(omega) - gravity.  Reflected
   to the motor through the worm: driving the load costs tau/(ratio*eff); lowering an
   overhauling load through a self-locking worm still costs |tau|*(1/eff - 2)/ratio in the
   direction of motion (for a worm eff = tan(l)/tan(l+r), lowering needs tan(r-l)/tan(l),
   about 1/eff - 2 for small angles). Plus the rotor's own inertia. If that exceeds the
   pull-out torque T0/(1 + rpm/corner) the motor slips: the pulses of this millisecond are
   lost (`lost_steps`), the rotor falls back to rest, the drive does not move.
4. The worm is self-locking: the drive never moves unless the motor turns it, energised or
   not. The table moves freely inside the backlash band (gravity, damping, Coulomb
   friction) and is carried by the drive at the band's edges. A table falling onto an
   edge is stopped by the worm (self-locking: the motor feels nothing); a drive that
   crosses the lash and strikes the table must give it its own speed within
   _LASH_TAKEUP_S, which can stall the motor (a step-start at high rate does). Mechanical
   end stops bound the true angle; a drive pushing the table into a stop stalls there
   (lost steps again).
5. Gravity torque = g * (m_user*offset_user + m_table*offset_table) * cos(angle): a centre
   of mass toward the head (positive offset) pulls head-down; at +90 deg the centre of
   mass hangs under the pivot and the torque is zero. The user is a uniform rod of their
   height about their own centre (m*L^2/12) plus the parallel-axis term m*offset^2.
   The file has no table centre-of-mass offset; an optional physics.table_com_offset_mm
   entry is read if present, else the bed is taken as balanced on the pivot.

Statistics of the true angle, per millisecond (TablePhysics.watch()): the highest and
lowest angle and when they were first reached, the milliseconds spent above a threshold,
and the first millisecond that lost steps. They are kept in the step itself (advance()'s
loop, and coast() at rest), so they see every millisecond however the board steps the
world: a scenario reads them instead of hooking every simulated millisecond.
"""

import math

_cos = math.cos
_copysign = math.copysign

G_M_S2 = 9.80665  # standard gravity (a physical constant, not a table number)
DT_MS = 1  # the fixed integration step
_DT_S = DT_MS / 1000.0
_NO_LIMIT_LO = -math.inf  # step(): no switch angle to stop at
_NO_LIMIT_HI = math.inf
RAD_TO_MDEG = 180000.0 / math.pi
# Rotor speed = pulse rate through two first-order poles of this time constant: removes
# the +-1 pulse/ms jitter of the pulse train (which no rotor follows) while a commanded
# ramp passes with ~8 ms delay. A step change of rate still demands a large acceleration,
# so the model keeps a real stepper's limited start rate.
_ROTOR_TAU_S = 0.004
_K = _DT_S / _ROTOR_TAU_S
_REST_SPS = 0.5  # below this the rotor counts as stopped (filter tail)
# When the drive crosses the backlash and strikes the table, tooth, shaft and frame
# compliance spread the table's change of speed over about this long (an estimate; a
# rigid 1 ms impact would stall the motor on every reversal, no compliance never would).
_LASH_TAKEUP_S = 0.010


def mdeg_to_rad(mdeg):
    return mdeg / RAD_TO_MDEG


def rad_to_mdeg(rad):
    return rad * RAD_TO_MDEG


class StepGenerator:
    """Twin of the firmware's step generator and of the PCNT unit counting its STEP pin.

    `command()` takes what Outputs carries (rate_sps, limit_lo, limit_hi, enable); `tick()`
    emits one millisecond of pulses and returns them (signed). `count` is the PCNT twin.
    A pulse is emitted only if the count it makes lies inside [limit_lo, limit_hi]; when the
    window stops a train the fractional remainder is dropped, so nothing builds up.
    `block_head_down` is the over-travel STEP gate (hardware, set by the board from the
    over-travel switch contact): it suppresses head-down pulses before the pin PCNT counts.
    """

    def __init__(self):
        self.rate_sps = 0
        self.limit_lo = 0
        self.limit_hi = 0
        self.enabled = False
        self.block_head_down = False
        self.count = 0
        self._acc = 0  # accumulated rate*ms; 1000 makes one pulse

    def command(self, rate_sps, limit_lo, limit_hi, enable):
        self.rate_sps = int(rate_sps)
        self.limit_lo = int(limit_lo)
        self.limit_hi = int(limit_hi)
        self.enabled = bool(enable)
        if not self.enabled:
            self._acc = 0

    def off(self):
        """De-energise and stop (power cut, reset): the driver's safe state."""
        self.rate_sps = 0
        self.enabled = False
        self._acc = 0

    def reset(self):
        """A board reset: outputs back to their safe state and the PCNT count to 0."""
        self.off()
        self.limit_lo = 0
        self.limit_hi = 0
        self.count = 0

    def tick(self):
        rate = self.rate_sps
        if not self.enabled or rate == 0:
            return 0
        acc = self._acc + rate
        n = acc // 1000 if acc >= 0 else -((-acc) // 1000)
        if n == 0:
            self._acc = acc
            return 0
        acc -= n * 1000
        count = self.count
        if n > 0:
            if self.block_head_down or count + 1 < self.limit_lo:
                k = 0
            else:
                room = self.limit_hi - count
                k = n if n <= room else room  # max(0, min(n, room))
                if k < 0:
                    k = 0
        else:
            if count - 1 > self.limit_hi:
                k = 0
            else:
                room = count - self.limit_lo
                k = -n if -n <= room else room  # -max(0, min(-n, room))
                k = -k if k > 0 else 0
        if k != n:
            acc = 0
        self._acc = acc
        self.count = count + k
        return k


class TablePhysics:
    """The table, user, worm drive and stepper. Call `step()` once per simulated ms."""

    def __init__(
        self,
        params,
        user_mass_kg=None,
        user_height_mm=None,
        user_com_offset_mm=None,
        angle_mdeg=0.0,
    ):
        phys = params.physics
        m = float(phys.user_mass_kg if user_mass_kg is None else user_mass_kg)
        height_mm = float(phys.user_height_mm if user_height_mm is None else user_height_mm)
        offset_mm = float(phys.user_com_offset_mm if user_com_offset_mm is None
                          else user_com_offset_mm)
        if m <= 0 or height_mm <= 0:
            raise ValueError("user mass and height must be positive")
        self._set_body(phys, m, height_mm, offset_mm)
        self._set_drive(params.drive, params.frame)
        theta = mdeg_to_rad(angle_mdeg)
        if not self.stop_head_up_rad <= theta <= self.stop_head_down_rad:
            raise ValueError("start angle %r mdeg is outside the end stops" % angle_mdeg)
        self.stepgen = StepGenerator()
        self.theta = theta  # true table angle, rad
        self.omega = 0.0  # true table rate, rad/s
        # The table starts at rest leaning on the drive on the side gravity pushes it.
        side = _sign(self.gravity_torque_Nm(theta))
        self._side = side  # -1: table at the band's low edge (drive pushes +), +1: high, 0: free
        self._phi0 = theta - side * self.half_lash_rad
        self.drive_steps = 0  # microsteps the rotor actually followed since construction
        self.lost_steps = 0  # emitted pulses the rotor did not follow (absolute)
        self._x1 = 0.0  # rotor speed filter, steps/s
        self._x2 = 0.0
        self.stalled = False  # the motor slipped during the last millisecond
        self.motor_load_Nm = 0.0  # torque the motor had to give in the last millisecond
        self.time_ms = 0
        self._rest = None  # the fixed point step_settled() found (see at_rest())
        self.watch()

    def _set_body(self, phys, m, height_mm, offset_mm):
        """The table and its user: inertia about the pivot, gravity's moment, friction."""
        self.user_mass_kg = m
        self.user_height_mm = height_mm
        self.user_com_offset_mm = offset_mm
        length_m = height_mm / 1000.0
        offset_m = offset_mm / 1000.0
        table_offset_m = phys.get("table_com_offset_mm", 0) / 1000.0
        self.inertia_kgm2 = (
            phys.table_inertia_kgm2 + m * length_m * length_m / 12.0 + m * offset_m * offset_m
        )
        self.gravity_moment_Nm = G_M_S2 * (m * offset_m + phys.table_mass_kg * table_offset_m)
        self.damping_Nms = float(phys.damping_Nms_per_rad)
        self.friction_Nm = float(phys.friction_Nm)

    def _set_drive(self, drive, frame):
        """The worm drive, the motor and the end stops."""
        self.ratio = float(drive.gear_ratio)
        self.efficiency = drive.gear_efficiency_pct / 100.0
        if not 0.0 < self.efficiency < 0.5:
            raise ValueError("the model needs a self-locking worm drive (efficiency < 50%)")
        self.usteps_per_motor_rev = drive.motor_steps_per_rev * drive.microsteps
        self.ustep_rad = 2.0 * math.pi / (self.usteps_per_motor_rev * self.ratio)
        self._ustep_motor_rad = 2.0 * math.pi / self.usteps_per_motor_rev
        self.half_lash_rad = mdeg_to_rad(drive.backlash_mdeg) / 2.0
        self.pullout0_Nm = drive.motor_pullout_torque_mNm / 1000.0
        self.corner_rpm = float(drive.motor_pullout_corner_rpm)
        self.rotor_inertia_kgm2 = drive.motor_rotor_inertia_gcm2 * 1e-7  # g cm^2 -> kg m^2
        self.stop_head_up_rad = mdeg_to_rad(frame.stop_head_up_mdeg)
        self.stop_head_down_rad = mdeg_to_rad(frame.stop_head_down_mdeg)

    # ------------------------------------------------------------------ statistics

    def watch(self, above_mdeg=math.inf):
        """Start the per-millisecond statistics of the true angle afresh, from now.

        Every millisecond stepped from here on counts, by its angle at its end
        (true_angle_mdeg, as a per-ms hook would read it) and its time (time_ms):
            max_angle_mdeg, max_angle_ms   the highest angle and the first ms it was
            min_angle_mdeg, min_angle_ms   reached (the lowest); to begin with, the
                                           current angle at the current time
            above_ms                       the milliseconds that ended above above_mdeg
            first_lost_ms                  the first ms that lost steps (None: none yet)
        """
        a = self.theta * RAD_TO_MDEG
        self.watch_above_mdeg = above_mdeg
        self.max_angle_mdeg = self.min_angle_mdeg = a
        self.max_angle_ms = self.min_angle_ms = self.time_ms
        self.above_ms = 0
        self.first_lost_ms = None

    # ------------------------------------------------------------------ read-outs

    @property
    def true_angle_mdeg(self):
        return self.theta * RAD_TO_MDEG

    @property
    def true_rate_mdeg_s(self):
        return self.omega * RAD_TO_MDEG

    @property
    def emitted_count(self):
        return self.stepgen.count

    @property
    def drive_angle_mdeg(self):
        """Centre of the backlash band: where the drive holds the table."""
        return self._phi() * RAD_TO_MDEG

    @property
    def motor_rate_sps(self):
        return self._x2

    @property
    def motor_turning(self):
        return self.stepgen.enabled and abs(self._x2) > _REST_SPS

    def gravity_torque_Nm(self, theta=None):
        if theta is None:
            theta = self.theta
        return self.gravity_moment_Nm * math.cos(theta)

    def pullout_Nm(self, rate_sps):
        rpm = abs(rate_sps) * 60.0 / self.usteps_per_motor_rev
        return self.pullout0_Nm / (1.0 + rpm / self.corner_rpm)

    # ------------------------------------------------------------------ the step

    def run(self, ms):
        """ms steps; the same as calling step() ms times (at rest it only counts time)."""
        while ms > 0:
            if self.at_rest():
                self.coast(ms)
                return
            if self.might_rest():
                self.step_settled()
            else:
                self.step()
            ms -= 1

    def step(self):
        """Advance the world by one millisecond: advance() for one ms, with no switch to
        watch (the one implementation of the model's arithmetic). Returns the pulses the
        drive was given this ms."""
        count = self.stepgen.count
        self.advance(1, _NO_LIMIT_LO, _NO_LIMIT_HI, False)
        return self.stepgen.count - count

    def advance(self, k, lo_mdeg, hi_mdeg, stop_at_rest):
        """Up to k milliseconds of the world in one call: the model's arithmetic (the
        module docstring's model, operation for operation; step() is one ms of it). Written
        for speed, as it runs every simulated ms while the motor turns: the state is held
        in locals across the milliseconds, gravity and the drive's angle recomputed only
        when they change. The drive's command and the over-travel gate must not change
        meanwhile (no firmware runs): SimBoard's fast path steps a moving table with it.

        Stops after the millisecond whose angle (true_angle_mdeg) lies on the other side
        of lo_mdeg (<=) or hi_mdeg (>=) than where it started (a limit switch's contact
        would change), and with stop_at_rest before a millisecond that starts with the
        table still (omega 0: might_rest(), for a drive giving no pulses; the caller
        checks for rest). Returns (milliseconds stepped, True if stopped at a crossing).
        tests/host/test_sim_speed_equivalence.py holds advance(k) to k calls of step() bit
        for bit."""
        sg_tick = self.stepgen.tick
        energised = self.stepgen.enabled
        rate = self.stepgen.rate_sps if energised else 0
        # the state and the watch() statistics, carried in locals; its ms j ends at
        # t0 + j * DT_MS
        theta, omega, side, x1, x2 = self.theta, self.omega, self._side, self._x1, self._x2
        drive_steps, lost, stalled = self.drive_steps, self.lost_steps, self.stalled
        motor_load = self.motor_load_Nm
        t0, a_max, a_min = self.time_ms, self.max_angle_mdeg, self.min_angle_mdeg
        n_above, above, first_lost = self.above_ms, self.watch_above_mdeg, self.first_lost_ms
        drive = self._drive_constants()
        h, ustep, stop_dn, stop_up, J, c, f = drive[:7]
        gm, phi0 = self.gravity_moment_Nm, self._phi0
        a = theta * RAD_TO_MDEG
        lo_side, hi_side = a <= lo_mdeg, a >= hi_mdeg
        cos_of = phi_of = None  # the angle tg, the drive_steps phi_d were computed for
        tg = phi_d = 0.0
        crossed = False
        j = 0
        for j in range(1, k + 1):  # j: the milliseconds stepped
            if stop_at_rest and omega == 0.0:
                j -= 1
                break
            n = sg_tick() if rate else 0  # the drive's pulses this ms
            if theta != cos_of:
                tg = gm * _cos(theta)
                cos_of = theta
            if drive_steps != phi_of:
                phi_d = phi0 + drive_steps * ustep
                phi_of = drive_steps
            phi = phi_d
            theta_f, omega_f = _table_alone(theta, omega, tg, J, c, f)
            if energised:  # the rotor's speed: the pulse rate through two poles
                x2_old = x2
                x1 = x1 + (n * 1000.0 - x1) * _K
                x2 = x2_old + (x1 - x2_old) * _K
                acc = (x2 - x2_old) / _DT_S
                moving = n != 0 or x2 > _REST_SPS or x2 < -_REST_SPS  # abs(x2) > ...
            else:
                x1 = x2 = acc = 0.0
                moving = False
            follows = True
            motor_load = 0.0
            tau_edge = None
            if moving:
                phi_c = phi + n * ustep
                follows, motor_load, tau_edge = _motor_ms(n, phi_c, side, theta_f, omega_f,
                                                          x2, acc, tg, drive)
                if follows:
                    drive_steps += n
                    phi = phi_c
                else:  # the rotor slipped: the pulses are lost, the rotor stands
                    lost += abs(n)
                    if first_lost is None and lost:
                        first_lost = t0 + j * DT_MS
                    x1 = x2 = acc = 0.0
                    tau_edge = None
            stalled = not follows
            wd = x2 * ustep
            if side != 0:  # the table leaning on the drive: does the drive still hold it?
                if tau_edge is None:
                    tau_edge = _drive_torque(J, c, f, tg, wd, acc * ustep)
                if (tau_edge >= 0.0) if side < 0 else (tau_edge <= 0.0):
                    theta = phi + h if side > 0 else phi - h  # phi + side * h
                    omega = wd
                else:
                    side = 0
            if side == 0:
                theta, omega, side = _in_band(theta_f, omega_f, phi, h, wd)
            if theta > stop_dn or theta < stop_up:  # an end stop holds the table
                theta = stop_dn if theta > stop_dn else stop_up
                omega = 0.0
                if theta != phi + side * h:
                    side = 0
            a = theta * RAD_TO_MDEG
            if a > a_max:
                a_max = a
                self.max_angle_ms = t0 + j * DT_MS
            elif a < a_min:
                a_min = a
                self.min_angle_ms = t0 + j * DT_MS
            n_above += a > above
            if (a <= lo_mdeg) != lo_side or (a >= hi_mdeg) != hi_side:
                crossed = True
                break
        # the locals back into the state
        self.theta = theta
        self.omega = omega
        self._side = side
        self._x1 = x1
        self._x2 = x2
        self.drive_steps = drive_steps
        self.lost_steps = lost
        self.stalled = stalled
        self.motor_load_Nm = motor_load
        self.time_ms += j * DT_MS
        self.max_angle_mdeg = a_max
        self.min_angle_mdeg = a_min
        self.above_ms = n_above
        self.first_lost_ms = first_lost
        return j, crossed

    def _drive_constants(self):
        """What _motor_ms() needs of the table, the drive and the motor, in its order."""
        f = self.friction_Nm
        return (self.half_lash_rad, self.ustep_rad, self.stop_head_down_rad,
                self.stop_head_up_rad, self.inertia_kgm2, self.damping_Nms, f, abs(f),
                self.ratio * self.efficiency, 1.0 / self.efficiency - 2.0, self.ratio,
                self.rotor_inertia_kgm2, self._ustep_motor_rad, self.pullout0_Nm,
                self.corner_rpm, self.usteps_per_motor_rev)

    # ------------------------------------------------------------------ at rest

    # A table standing still with a motor that gets no pulses is a fixed point of step():
    # the same state in, the same state out, millisecond after millisecond (the worm is
    # self-locking; the rotor filter has decayed). The simulator then only counts time
    # (SimBoard's fast path). Rest is recognised exactly, never estimated: a step whose
    # state and inputs before and after compare equal proves it; the record of that state
    # is compared again before every skip, so any change (a command, a new user load, an
    # edited parameter) ends the rest at once.

    def might_rest(self):
        """Cheap pre-check: no pulses can come and the table does not move."""
        sg = self.stepgen
        return (not sg.enabled or sg.rate_sps == 0) and self.omega == 0.0

    def step_settled(self):
        """step(), and True if it changed nothing but time_ms (a fixed point: then
        at_rest() holds until a state, input or parameter changes)."""
        before = self._rest_key()
        self.step()
        after = self._rest_key()
        # repr as well: == takes -0.0 for 0.0; the bits must not change either
        if before == after and repr(before) == repr(after):
            self._rest = after
            return True
        self._rest = None
        return False

    def at_rest(self):
        """True while the state is the fixed point step_settled() found: another step()
        would change nothing but time_ms."""
        rest = self._rest
        if rest is None:
            return False
        if rest == self._rest_key():
            return True
        self._rest = None  # something changed: only step_settled() can find rest again
        return False

    def coast(self, ms):
        """ms steps at rest (only valid while at_rest()): only the time moves, and the
        statistics count ms more milliseconds at the same angle (already counted in the
        highest and lowest: the step that proved rest, or watch(), ended there)."""
        if self.theta * RAD_TO_MDEG > self.watch_above_mdeg:
            self.above_ms += ms
        self.time_ms += ms * DT_MS

    def _rest_key(self):
        """Everything step() reads or writes, except time_ms."""
        sg = self.stepgen
        return (
            self.theta, self.omega, self._side, self.drive_steps, self.lost_steps,
            self._x1, self._x2, self.stalled, self.motor_load_Nm,
            sg.enabled, sg.rate_sps, sg.limit_lo, sg.limit_hi, sg.block_head_down, sg.count,
            sg._acc,
            self.gravity_moment_Nm, self.inertia_kgm2, self.damping_Nms, self.friction_Nm,
            self._phi0, self.ustep_rad, self.half_lash_rad, self.stop_head_up_rad,
            self.stop_head_down_rad, self.ratio, self.efficiency, self.rotor_inertia_kgm2,
            self._ustep_motor_rad, self.pullout0_Nm, self.corner_rpm,
            self.usteps_per_motor_rev,
        )

    # ------------------------------------------------------------------ helpers

    def _phi(self):
        return self._phi0 + self.drive_steps * self.ustep_rad


def _drive_torque(J, c, f, tg, wd, ad):
    """Torque the drive must give the table to move it at wd with ad (+ = head-down):
    J inertia, c viscous damping, f Coulomb friction, tg gravity torque."""
    if wd == 0.0:
        need = J * ad - tg
        if abs(need) <= f:
            return 0.0  # static friction takes it
        return need - _copysign(f, need)
    return J * ad + c * wd + _copysign(f, wd) - tg


def _table_alone(theta, omega, tg, J, c, f):
    """The table alone for one ms (gravity torque tg, inertia J, viscous damping c,
    Coulomb friction f): its angle and rate at the end of the ms."""
    free = tg - c * omega
    if omega == 0.0:
        if abs(free) <= f:
            return theta, 0.0
        omega_f = (free - _copysign(f, free)) / J * _DT_S
        return theta + omega_f * _DT_S, omega_f
    omega_f = omega + (free - _copysign(f, omega)) / J * _DT_S
    if omega_f * omega < 0.0:
        omega_f = 0.0  # friction stops the table, it does not reverse it
    return theta + omega_f * _DT_S, omega_f


def _motor_ms(n, phi_c, side, theta_f, omega_f, x2, acc, tg, drive):
    """One ms of a turning motor that is given n pulses (the drive then at phi_c; the
    table alone would reach theta_f, omega_f; rotor speed x2, acceleration acc; gravity
    torque tg; drive: TablePhysics._drive_constants()). Returns (follows, the motor's
    torque, the torque at the band's edge or None): the rotor does not follow pulses
    that would drive the table into an end stop, nor when the torque exceeds pull-out.
    Per-ms hot path: _drive_torque() is inlined where the table leans on the drive."""
    h, ustep, stop_dn, stop_up, J, c, f, fa, ratio_eff, lower_k, ratio, rotor, umr, pull0, \
        corner, upr = drive
    if (n > 0 and phi_c - h > stop_dn) or (n < 0 and phi_c + h < stop_up):
        return False, 0.0, None
    wd = x2 * ustep
    ad = acc * ustep
    load = 0.0
    tau_edge = None
    if side != 0:
        if wd == 0.0:
            need = J * ad - tg
            tau_edge = 0.0 if abs(need) <= f else need - _copysign(f, need)
        else:
            tau_edge = J * ad + c * wd + (fa if wd > 0.0 else -fa) - tg
        if (tau_edge >= 0.0) if side < 0 else (tau_edge <= 0.0):
            load = tau_edge
    elif (wd > 0.0 and theta_f <= phi_c - h) or (wd < 0.0 and theta_f >= phi_c + h):
        load = _drive_torque(J, c, f, tg, wd, ad) + J * (wd - omega_f) / _LASH_TAKEUP_S
    if load * wd >= 0.0:
        t_motor = load / ratio_eff
    else:  # the self-locking worm: lowering a load the motor pays only part of it
        t_motor = _copysign(abs(load) * lower_k / ratio, wd)
    t_motor = t_motor + rotor * acc * umr
    p = pull0 / (1.0 + (x2 if x2 >= 0.0 else -x2) * 60.0 / upr / corner)  # pullout_Nm(x2)
    return not (t_motor > p or t_motor < -p), t_motor, tau_edge


def _in_band(theta_f, omega_f, phi, h, wd):
    """The table free inside the backlash band (drive at phi, half-width h): where it
    ends the ms, and the side it then leans on (0: free, -1/+1: the low/high edge)."""
    if theta_f <= phi - h:
        return phi - h, wd, -1
    if theta_f >= phi + h:
        return phi + h, wd, 1
    return theta_f, omega_f, 0


def _sign(x):
    return 1 if x > 0 else (-1 if x < 0 else 0)
