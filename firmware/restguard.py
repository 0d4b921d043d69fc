"""The rest at horizontal a person is owed after being head-down.

Owns one fact and its clock: whether the person on the table is owed a rest near
horizontal before going on head-up (the guidance: rest there before standing up, against
dizziness), and where a goto goes on to once that rest is over. The rest is owed from the
first tick the table is head-down (beyond cfg.head_down_mdeg), and paid by
cfg.rest_pause_ms spent without a break within cfg.arrive_tol_mdeg of cfg.rest_angle_mdeg.
While it is owed, motion.Targets.clamp keeps every target at or head-down of the rest
angle, so no path (jog, goto, program end, return, recovery, a fault's or an e-stop's
return) passes horizontal head-up without the pause. A fresh guard owes nothing: after a
power cut the first tick at a head-down angle sets it again.

The angle it judges is the step count's when the steps are trusted (the frame the plan
lands in: an IMU offset cannot make a table standing at the rest angle look away from
it forever), else the IMU's. A table found head-up of the rest angle's band owes nothing
more: only a hand crank gets it there while a rest is owed, and the pause is not worth
sending the person back down. Allocation-free.
"""

from micropython import const

NO_TARGET = const(-(1 << 29))  # then_mdeg when no goto waits for the rest


class RestGuard:
    def __init__(self, cfg):
        self._cfg = cfg  # read live: rest angle, pause, tolerance, head-down threshold
        self.owed = False
        self.rested_ms = 0  # unbroken time near the rest angle since it became owed
        self.then_mdeg = NO_TARGET  # a goto's target, to go on to once rested

    def update(self, dt_ms, angle_mdeg):
        """One tick with the table at angle_mdeg."""
        cfg = self._cfg
        if angle_mdeg > cfg.head_down_mdeg:
            self.owed = True
            self.rested_ms = 0
        elif self.owed:
            d = angle_mdeg - cfg.rest_angle_mdeg
            if d < -cfg.arrive_tol_mdeg:
                # head-up of the rest angle by other means (cranked by hand while
                # latched): sending the table back down for the pause would be worse
                self.owed = False
            elif d > cfg.arrive_tol_mdeg:
                self.rested_ms = 0  # the pause is one unbroken stretch
            else:
                self.rested_ms += dt_ms
                if self.rested_ms >= cfg.rest_pause_ms:
                    self.owed = False

    def low_mdeg(self, low_mdeg):
        """The lowest (most head-up) target allowed, given the table's own low_mdeg."""
        rest = self._cfg.rest_angle_mdeg
        if self.owed and rest > low_mdeg:
            return rest
        return low_mdeg
