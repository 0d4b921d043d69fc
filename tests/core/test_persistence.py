"""Persistence: each core event that changes what is stored is written once, in order.

A real Core, History, FaultLog and profile list over an in-memory file system.
"""

import faults
import profiles
import store
from control import Core
from events import E_CALIBRATED, E_CONSENT, E_FAULT, E_SESSION_END, E_STATE
from fakes import MemFS
from history import FaultLog, History
from persistence import SETTINGS, Persistence
from support import make_config


def _parts():
    fs = MemFS()
    cfg = make_config()
    base = cfg.as_dict()
    plist = [profiles.default_profile("ann", cfg)]
    history = History(fs)
    history.load()
    faultlog = FaultLog(fs)
    faultlog.load()
    core = Core(cfg, plist[0])
    p = Persistence(fs, cfg, base, plist, history, faultlog, core)
    return fs, cfg, plist, history, faultlog, core, p


def test_nothing_new_writes_nothing():
    fs, cfg, plist, history, faultlog, core, p = _parts()
    core.log.add(0, E_STATE, 0, 3)  # not a stored thing
    p.service()
    p.service()
    assert fs.files == {}


def test_consent_and_calibration_save_profiles_and_the_changed_settings():
    fs, cfg, plist, history, faultlog, core, p = _parts()
    plist[0].consent = True  # what the core's C_CONSENT did to the shared profile
    core.log.add(0, E_CONSENT)
    p.service()
    loaded, status = profiles.load_profiles(fs, cfg)
    assert status == store.OK and loaded[0].consent
    assert store.load(fs, SETTINGS, None)[0] == {}  # no setting differs yet
    cfg.set("imu_zero_mdeg", 1234)  # what C_CALIBRATE did to the shared config
    core.log.add(0, E_CALIBRATED, 1234)
    p.service()
    assert store.load(fs, SETTINGS, None)[0] == {"imu_zero_mdeg": 1234}


def test_a_session_end_is_recorded_once_and_a_fault_goes_to_the_fault_history():
    fs, cfg, plist, history, faultlog, core, p = _parts()
    core.session.head_down_ms = 90000
    core.log.add(0, E_SESSION_END, profiles.COMPLETED, 20000)
    core.log.add(0, E_FAULT, faults.RUNAWAY, 4)
    p.service()
    p.service()
    assert history.count == 1
    e = history.entries[-1]
    assert (e[3], e[4], e[5]) == (20000, 90000, profiles.COMPLETED)
    # the profile's progression was updated and saved with it
    assert profiles.load_profiles(fs, cfg)[0][0].to_dict() == plist[0].to_dict()
    # the clock was never set: "clock not set", uptime 0 s (-1) at the core's time 0
    assert faultlog.entries == [[faults.RUNAWAY, faultlog.count, 1, -1]]


def test_events_pushed_out_of_the_ring_are_skipped_not_replayed():
    fs, cfg, plist, history, faultlog, core, p = _parts()
    for _ in range(core.log.size + 5):
        core.log.add(0, E_FAULT, faults.OVERRUN, 4)
    p.service()
    assert len(faultlog.entries) == min(core.log.size, faultlog.size)
