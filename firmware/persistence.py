"""Persistence: the one place that turns the core's events into stored records.

Owns reacting to the event log after each loop pass (outside the tick): a session's end
becomes a history entry and the profile's progression; a consent or a calibration (the
core changed profile.consent or cfg.imu_zero_mdeg) saves the profiles and the settings
that differ from the hardware defaults; a fault goes into the fault history.
"""

import profiles
import store
from events import E_CALIBRATED, E_CONSENT, E_FAULT, E_IMU_UNCALIBRATED, E_SESSION_END

SETTINGS = "settings"  # stored overrides of config fields (validated like any input)


class Persistence:
    def __init__(self, fs, cfg, base_settings, profile_list, history, faultlog, core):
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
            elif code == E_CONSENT or code == E_CALIBRATED or code == E_IMU_UNCALIBRATED:
                self.save_profiles_and_settings()
            elif code == E_FAULT:
                self._faultlog.add(ev[2], self._history.count)

    def _session_end(self, how, deepest_mdeg):
        core = self._core
        p = core.profile
        level = p.level
        head_down_ms = core.session.head_down_ms
        profiles.record_session(p, how, deepest_mdeg, head_down_ms)
        self._history.add(core.program_id, level, deepest_mdeg, head_down_ms, how)
        self.save_profiles_and_settings()

    def save_profiles_and_settings(self):
        """Persist profiles and the settings that differ from the hardware defaults.
        Returns store.OK, or store.WRITE_FAILED if either write failed."""
        a = profiles.save_profiles(self._fs, self._profiles)
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
