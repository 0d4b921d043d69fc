"""Persistence: the one place that turns the core's events into stored records.

Owns reacting to the event log after each loop pass (outside the tick): a session's end
becomes a history entry of the selected profile (patient) and its progression; a
consent (dated, with who gave it) or a calibration (the core changed profile.consent or
cfg.imu_zero_mdeg) saves the profiles and the settings that differ from the hardware
defaults; a fault goes into the fault history. Every record is stamped here with the
wall clock's record time (firmware/wallclock.py): the core never reads a clock.

Writes happen only at standstill for sessions (the session ends on entering READY, at
the loading stop) and at a consent (READY or HOLDING: console only); a fault's record
is written when it latches, as before (issue #19's guard is the board's).
"""

import profiles
import store
from events import E_CALIBRATED, E_CONSENT, E_FAULT, E_IMU_UNCALIBRATED, E_SESSION_END
from wallclock import WallClock

SETTINGS = "settings"  # stored overrides of config fields (validated like any input)


class Persistence:
    def __init__(self, fs, cfg, base_settings, profile_list, history, faultlog, core,
                 clock=None):
        self.clock = clock if clock is not None else WallClock()
        self.consent_by = ""  # who the console said gives the next consent ("": patient)
        self._fs = fs
        self._cfg = cfg
        self._base = base_settings  # what a save compares against (cfg.as_dict())
        self._profiles = profile_list
        self._history = history
        self._faultlog = faultlog
        self._core = core
        self._seen = 0  # event log sequence already turned into records

    def service(self):
        """Turn new core events into stored records."""
        log = self._core.log
        if self._seen == log.seq:
            return
        start = log.oldest_seq()
        if self._seen < start:
            self._seen = start
        while self._seen < log.seq:
            ev = log.get(self._seen)
            self._seen += 1
            if ev is None:
                continue
            code = ev[1]
            if code == E_SESSION_END:
                self._session_end(ev[2], ev[3])
            elif code == E_CONSENT:
                p = self._core.profile
                p.consent_t = self.now()
                p.consent_by = self.consent_by or "patient"
                self.consent_by = ""
                self.save_profiles_and_settings()
            elif code == E_CALIBRATED or code == E_IMU_UNCALIBRATED:
                self.save_profiles_and_settings()
            elif code == E_FAULT:
                self._faultlog.add(ev[2], self._history.count, self.now())

    def now(self):
        """The record time of now (the core's last tick)."""
        return self.clock.now(self._core.now_ms)

    def _session_end(self, how, deepest_mdeg):
        core = self._core
        p = core.profile
        level = p.level
        head_down_ms = core.session.head_down_ms
        profiles.record_session(p, how, deepest_mdeg, head_down_ms)
        self._history.add(core.session.program, level, deepest_mdeg, head_down_ms, how,
                          p.pid, self.now())
        self.save_profiles_and_settings()

    def save_profiles_and_settings(self):
        """Persist profiles (with the selected one) and the settings that differ from
        the hardware defaults. Returns store.OK, or store.WRITE_FAILED if either failed."""
        a = profiles.save_profiles(self._fs, self._profiles, self._core.profile)
        b = store.save(self._fs, SETTINGS, self.stored_settings())
        return a if a != store.OK else b

    def stored_settings(self):
        """The settings that differ from the defaults plus the hardware file."""
        base = self._base
        cur = self._cfg.as_dict()
        out = {}
        for k in cur:
            if cur[k] != base[k]:
                out[k] = cur[k]
        return out
