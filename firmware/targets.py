"""Where the table is sent, and how fast: the clamp every target goes through, and the
speed of each kind of motion.

Owns: the speeds and accelerations of each kind of motion in step units (converted from
the validated configuration's mdeg/s and mdeg/s^2 once per configuration change), the
clamp - [loading angle, min(profile max, soft max)], and no further than horizontal
until the profile's contraindication consent is given - and the last target planned
(`target_mdeg`, for the invariant checks). Every move the core, its safe reactions and
homing make goes through go() (clamped) or, for homing's seek alone, aim() (as given).
Allocation-free.
"""


class Targets:
    def __init__(self, cfg, kin, profile, plan):
        self._cfg = cfg
        self._kin = kin
        self._profile = profile  # max_mdeg and consent are read live
        self._plan = plan
        self.target_mdeg = 0  # last target planned
        self.configure(cfg, kin)

    def configure(self, cfg, kin):
        self.v_normal = kin.sps_from_mdeg_s(cfg.normal_speed_mdeg_s)
        self.a_normal = kin.sps2_from_mdeg_s2(cfg.normal_accel_mdeg_s2)
        self.v_jog = kin.sps_from_mdeg_s(cfg.jog_speed_mdeg_s)  # also recovery and faults
        self.a_jog = kin.sps2_from_mdeg_s2(cfg.jog_accel_mdeg_s2)
        self.v_emergency = kin.sps_from_mdeg_s(cfg.emergency_speed_mdeg_s)
        self.a_emergency = kin.sps2_from_mdeg_s2(cfg.emergency_accel_mdeg_s2)
        self.v_home = kin.sps_from_mdeg_s(cfg.homing_slow_mdeg_s)

    def clamp(self, target_mdeg):
        cfg = self._cfg
        hi = self._profile.max_mdeg
        if hi > cfg.soft_max_mdeg:
            hi = cfg.soft_max_mdeg
        if not self._profile.consent and hi > cfg.rest_angle_mdeg:
            hi = cfg.rest_angle_mdeg
        if target_mdeg > hi:
            return hi
        if target_mdeg < cfg.loading_angle_mdeg:
            return cfg.loading_angle_mdeg
        return target_mdeg

    def go(self, target_mdeg, vmax, amax):
        """Move to target_mdeg, clamped: the way every target goes."""
        self.aim(self.clamp(target_mdeg), vmax, amax)

    def aim(self, target_mdeg, vmax, amax):
        """Plan the move to target_mdeg as given (homing's seek alone skips the clamp)."""
        self.target_mdeg = target_mdeg
        plan = self._plan
        plan.set_limits(vmax, amax)
        plan.set_target(self._kin.steps_from_mdeg(target_mdeg))

    def stay(self, angle_mdeg, vmax, amax):
        """Stop where the table is (at angle_mdeg), with these limits for the braking."""
        plan = self._plan
        plan.set_limits(vmax, amax)
        plan.stop()
        self.target_mdeg = angle_mdeg
