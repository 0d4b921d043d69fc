"""Where the table is: the step count and its reference, the IMU, and which is trusted.

Owns: the emitted step count, the offset that makes it table steps (known once
`referenced`: from the IMU at boot or after a fault, or from the home switch, then also
`homed`), whether the steps and the IMU may be trusted, and the best trusted angle of
each tick: the steps' when homed and trusted (the count from the switch is exact to a
microstep while no step is lost, and the runaway check - supervisor.RunawayCheck - takes
their trust away when the evidence says steps were lost; an uncalibrated IMU at its
datasheet offsets can be 4 deg off), else the IMU's when trusted and valid, else the
steps' (referenced on the IMU). The core and its
supervisor decide when a source loses trust; this part only keeps the books.
measure() allocates nothing.
"""


class Position:
    def __init__(self, kin):
        self._kin = kin
        self.count = 0  # emitted steps since boot (hardware counter)
        self.offset = 0  # table steps = count + offset
        self.referenced = False  # offset known (from the IMU at boot, or from homing)
        self.homed = False  # offset set on the home switch
        self.steps_trusted = False
        self.imu_trusted = True
        self.steps_mdeg = 0  # the angle the referenced step count says
        self.angle_mdeg = 0  # best trusted angle
        self.angle_ok = False  # some trusted source gives angle_mdeg

    def measure(self, count, est):
        """Take this tick's step count and estimator (firmware/estimator.py)."""
        self.count = count
        if self.referenced:
            self.steps_mdeg = self._kin.mdeg_from_steps(count + self.offset)
        if self.homed and self.steps_trusted:
            self.angle_mdeg = self.steps_mdeg
            self.angle_ok = True
        elif self.imu_trusted and est.valid:
            self.angle_mdeg = est.angle_mdeg
            self.angle_ok = True
        elif self.steps_trusted:
            self.angle_mdeg = self.steps_mdeg
            self.angle_ok = True
        else:
            self.angle_ok = False

    def reference(self, angle_mdeg, at_count=None):
        """The current count (or at_count, one seen earlier) is at angle_mdeg: the steps
        are referenced and trusted."""
        if at_count is None:
            at_count = self.count
        self.offset = self._kin.steps_from_mdeg(angle_mdeg) - at_count
        self.referenced = True
        self.steps_trusted = True

    def reference_from_imu(self, est, imu_offset_mdeg=0):
        """Take the step reference from the IMU's (valid) angle, corrected by the offset
        the IMU was seen to take while the table stood still (supervisor.RunawayCheck)."""
        a = est.angle_mdeg + imu_offset_mdeg
        self.reference(a)
        self.steps_mdeg = a
