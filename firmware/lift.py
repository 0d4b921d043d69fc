"""The return that keeps trying: a load the drive can only just lift.

Owns the memory of one fault return that loses steps on its way up (the runaway check
trips again during the return of its own fault): whether the return now runs at the
speed with the most torque (the slowest, cfg.homing_slow_mdeg_s: a stepper's pull-out
torque falls with speed), the IMU angle the current try started from, and whether the
return gave up. reactions.py decides with it; this part only keeps the books.

The rule (issue #18). Each try starts with the steps re-referenced on the IMU, and ends
when the runaway check trips again: the steps ran ahead of the table by the runaway
tolerance for its window (at the slowest speed, with the table not moving at all, about
2.5 deg / 0.5 deg/s + 1 s = 6 s). A try that brought the table at least
PROGRESS_MIN_MDEG toward horizontal (by the IMU) earns another; one that did not, at the
slowest speed, means the drive cannot move the table: give up (driver off, the
self-locking worm holds, the alarm, the hand-crank instructions). Allocation-free.
"""

from micropython import const

# Progress a try must show, by the IMU, to earn another: above the IMU's noise over a
# few seconds at rest (tens of mdeg) and the gearbox backlash (0.3 deg) taken up when
# the drive turns from head-down to head-up, so a table that only takes up the lash
# does not count as moving.
PROGRESS_MIN_MDEG = const(500)


class Lift:
    def __init__(self):
        self.reset()

    def reset(self):
        """A new fault episode: nothing tried yet."""
        self.active = False  # a runaway's return is under way (its repeats are retries)
        self.slow = False  # the return runs at the slowest speed
        self.from_mdeg = 0  # the IMU angle where the current try started
        self.tries = 0  # tries started (each after a re-reference on the IMU)
        self.gave_up = False  # the table could not be moved even at the slowest speed
        # the one further try a return ending 0.5-1 deg short by the IMU gets (reactions)
        self.tried_end = False
        # the return moved head-up with no IMU to witness it (reactions.return_to_rest):
        # lost steps could not be seen, so its end cannot be called arrived
        self.blind = False
        # latched where nothing confirms the table is at horizontal (a blind return's end,
        # or no trusted angle at all): the console asks for the angle to be checked
        self.unconfirmed = False

    def start_try(self, imu_mdeg):
        self.from_mdeg = imu_mdeg
        self.tries += 1

    def progressed(self, imu_mdeg):
        """True if the table came PROGRESS_MIN_MDEG up since the try started."""
        return self.from_mdeg - imu_mdeg >= PROGRESS_MIN_MDEG
