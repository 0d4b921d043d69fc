"""The configured speeds and accelerations of each kind of motion, in step units.

Owns: converting the (validated) configuration's mdeg/s and mdeg/s^2 limits into the
sps and sps^2 the motion plan works in, once per configuration change.
"""


class Speeds:
    def __init__(self, cfg, kin):
        self.configure(cfg, kin)

    def configure(self, cfg, kin):
        self.v_normal = kin.sps_from_mdeg_s(cfg.normal_speed_mdeg_s)
        self.a_normal = kin.sps2_from_mdeg_s2(cfg.normal_accel_mdeg_s2)
        self.v_jog = kin.sps_from_mdeg_s(cfg.jog_speed_mdeg_s)  # also recovery and faults
        self.a_jog = kin.sps2_from_mdeg_s2(cfg.jog_accel_mdeg_s2)
        self.v_emergency = kin.sps_from_mdeg_s(cfg.emergency_speed_mdeg_s)
        self.a_emergency = kin.sps2_from_mdeg_s2(cfg.emergency_accel_mdeg_s2)
        self.v_home = kin.sps_from_mdeg_s(cfg.homing_slow_mdeg_s)
