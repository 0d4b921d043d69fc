"""One session on the table: its head-down clock, deepest angle, cap, and how it ended.

Owns the session's bookkeeping from the first motion command at the loading position to
the return there: the program it ran (set by the core's commands), time spent head-down
(beyond cfg.head_down_mdeg), the deepest angle reached, whether the profile's session
cap was reached (or is about to be: the time used plus the way back reaches it,
return_due), and the flags that decide the end reason (profiles.EMERGENCY > DISCOMFORT >
FAULT > ABORTED > COMPLETED). The core logs the events and decides what the cap means.
Allocation-free.
"""

from profiles import ABORTED, COMPLETED, DISCOMFORT, EMERGENCY
from profiles import FAULT as ENDED_BY_FAULT


class Session:
    def __init__(self, cfg):
        self._cfg = cfg
        self.active = False
        self.program = -1  # the program it ran (programs.NAMES), -1 manual: the history's
        self.head_down_ms = 0
        self.deepest_mdeg = 0
        self.cap_reached = False  # the profile's session_cap_ms of head-down time used up
        self.emergency = False  # what happened during it (the end reason)
        self.discomfort = False
        self.fault = False
        self.aborted = False

    def begin(self, angle_mdeg):
        """Start a session at angle_mdeg; False if one is already running."""
        if self.active:
            return False
        self.active = True
        self.head_down_ms = 0
        self.deepest_mdeg = angle_mdeg if angle_mdeg > 0 else 0
        self.emergency = self.discomfort = self.fault = self.aborted = False
        self.cap_reached = False
        return True

    def clock(self, dt_ms, angle_mdeg, cap_ms):
        """One tick at a trusted angle; True on the tick the head-down cap is reached."""
        if angle_mdeg > self.deepest_mdeg:
            self.deepest_mdeg = angle_mdeg
        if angle_mdeg > self._cfg.head_down_mdeg:
            self.head_down_ms += dt_ms
            if self.head_down_ms >= cap_ms and not self.cap_reached:
                self.cap_reached = True
                return True
        return False

    def return_due(self, back_ms, cap_ms):
        """True if the head-down time used plus back_ms (the way back, headdown.py)
        reaches cap_ms: the return must start now, and the cap counts as reached."""
        if self.head_down_ms + back_ms < cap_ms:
            return False
        self.cap_reached = True
        return True

    def end(self):
        """Close the session; returns how it ended (a profiles end code)."""
        self.active = False
        if self.emergency:
            return EMERGENCY
        if self.discomfort:
            return DISCOMFORT
        if self.fault:
            return ENDED_BY_FAULT
        if self.aborted:
            return ABORTED
        return COMPLETED
