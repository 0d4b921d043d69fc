"""Patients (issue #23): profiles created, selected, renamed and removed from the console,
the clock records are stamped with, and the history per patient. Against the real App
and Core (the rig of tests/core/test_console.py). Runs on CPython and the MicroPython
ports: no pytest features.
"""

from test_console import Rig, snapshot  # noqa: I001

import sys

import civil
import profiles
import store
import wallclock
from fakes import MemFS
from history import FIRST_PID, History, FaultLog
from states import C_PROFILE, C_START, HOLDING, R_CONSENT, READY
from support import make_config

T0 = 1796313600  # 2026-12-03 16:00:00 UTC


def _clinic(homed=True):
    r = Rig(json_mode=True, homed=homed, pin_setup=True)
    r.login()
    assert r.cmd("clock set %d" % T0)["date"] == "2026-12-03T16:00:00Z"
    return r


def _session(r, deg):
    """consent, goto deg, return; back in READY (a manual session of the selected)."""
    r.send("consent")
    assert r.cmd("consent yes")["ok"]
    assert r.cmd("goto %d" % deg)["ok"]
    r.step_until(lambda r: r.core.state == HOLDING, 60000)
    assert r.cmd("return")["ok"]
    r.step_until(lambda r: r.core.state == READY, 60000)
    r.step(2)  # the record layer writes it


def test_patients_each_with_their_own_history_and_consent():
    r = _clinic()
    for name in ("ann", "bob"):
        o = r.cmd("profile new %s" % name)
        assert o["ok"] and o["selected"] == "default", o
    assert r.cmd("profile select ann")["ok"]
    assert r.cmd("status")["profile"] == "ann" and r.core.profile.name == "ann"
    assert r.calls[-1] == (C_PROFILE, 1, 0)  # through the core's command, by index
    _session(r, 5)
    assert r.cmd("profile select bob")["ok"]
    assert r.cmd("profile")["consent"] is False  # ann's consent is hers
    # the table's START button asks the core for the same command: bob has no consent
    assert r.core.command(C_START) == R_CONSENT
    assert r.cmd("history")["sessions"] == []
    o = r.cmd("history ann")
    s = o["sessions"]
    assert o["profile"] == "ann" and len(s) == 1
    assert s[0]["program"] == "manual" and s[0]["ended"] == "completed"
    assert s[0]["date"].startswith("2026-12-03T16:")
    assert 4000 <= s[0]["deepest_mdeg"] <= 6000
    o = r.cmd("profile list")
    assert o["selected"] == "bob" and [p[0] for p in o["profiles"]] == ["default", "ann", "bob"]
    ann = r.app.profiles[1]
    assert ann.consent and ann.consent_by == "therapist"
    assert civil.iso(ann.consent_t).startswith("2026-12-03T16:")
    # a reset keeps the patients, the selection and the dated records
    again = Rig(json_mode=True, fs_root=r.board.fs_root)
    assert again.core.profile.name == "bob"
    assert again.cmd("history ann 5")["sessions"] == s


def test_refusals_are_clear_and_change_nothing():
    r = _clinic(homed=False)
    assert r.cmd("profile new ann")["ok"]
    before = snapshot(r)
    names = [p.name for p in r.app.profiles]
    for line, why in (
        ("profile new ann", "already"),
        ("profile new 9lives", "start with a letter"),
        ("profile new a.b", "letters, digits"),
        ("profile new abcdefghijklmnopq", "1-16"),
        ("profile remove default", "selected"),
        ("profile remove nobody", "no profile called"),
        ("profile select nobody", "no profile called"),
        ("profile rename ann default", "already"),
        ("history nobody", "no profile called"),
        ("profile new", "usage"),
        ("profile rename ann", "usage"),
        ("clock set 1600000000", "2024-2058"),
        ("clock set 17963136OO", "Unix seconds"),
    ):
        o = r.cmd(line)
        assert o["ok"] is False and why in o["error"], (line, o)
        assert snapshot(r) == before and [p.name for p in r.app.profiles] == names, line
    for i in range(profiles.MAX_PROFILES - 2):
        assert r.cmd("profile new p%d" % i)["ok"]
    o = r.cmd("profile new one-too-many")
    assert o["ok"] is False and "all 8 profiles" in o["error"]
    r2 = Rig(json_mode=True)  # no therapist session
    o = r2.cmd("profile new zed")
    assert o["ok"] is False and "therapist" in o["error"]


def test_the_last_profile_cannot_go_and_a_removed_one_takes_its_sessions():
    r = _clinic()
    assert r.cmd("profile remove default")["ok"] is False  # selected and the last
    assert r.cmd("profile new ann")["ok"] and r.cmd("profile select ann")["ok"]
    _session(r, 5)
    assert r.cmd("profile select default")["ok"]
    assert r.cmd("profile rename ann anna")["ok"]
    assert len(r.cmd("history anna")["sessions"]) == 1  # the sessions follow the number
    assert r.cmd("profile remove anna")["ok"]
    assert r.app.history.n == 0 and len(r.app.profiles) == 1


def test_records_before_the_clock_is_set_say_so():
    r = Rig(json_mode=True, homed=True)
    _session(r, 5)
    s = r.cmd("history")["sessions"][0]
    assert s["date"] is None and s["time"].startswith("clock not set, uptime ")
    o = r.cmd("clock")
    assert o["clock_set"] is False and o["uptime_s"] >= 0
    # the records' handlers were loaded for the command and are off the heap again
    assert "console_records" not in sys.modules and "civil" not in sys.modules
    r.send("json off")
    assert "clock not set" in r.send("history")
    assert "manual" in r.send("log 40") and "program -1" not in r.send("log 40")


def test_older_records_migrate_to_patient_one():
    fs = MemFS()
    cfg = make_config()
    # the older formats: a profile without an id, sessions without one or a date
    store.save(fs, "profiles", {"profiles": [{"name": "ann", "consent": True}]})
    store.save(fs, "history", {"sessions": 7, "entries": [[7, 0, 2, 25000, 120000, 0]]})
    store.save(fs, "faults", {"boots": 3, "entries": [[12, 2, 6]]})
    got, status = profiles.load_profiles(fs, cfg)
    assert status == store.OK and got[0].pid == FIRST_PID and got[0].consent
    assert got[0].consent_t == wallclock.NO_TIME and got[0].consent_by == ""
    h = History(fs)
    assert h.load() == store.OK and h.count == 7
    assert h.entries == [(7, 0, 2, 25000, 120000, 0, FIRST_PID, wallclock.NO_TIME)]
    f = FaultLog(fs)
    assert f.load() == store.OK and f.entries == [[12, 2, 6, wallclock.NO_TIME]]


def test_dates_of_record_times():
    # (record time, date): the epoch, a leap day, the last second a record holds
    for t, text in ((0, "2024-01-01 00:00:00 UTC"), (131371200, "2028-02-29 12:00:00 UTC"),
                    (wallclock.MAX_T, "2058-01-09 13:37:02 UTC")):
        assert civil.text(t) == text, (t, civil.text(t))
        y, m, d = civil.parts(t)[:3]
        assert civil.days_from_civil(y, m, d) == t // 86400 + wallclock.EPOCH_DAYS
    assert civil.days_from_civil(2100, 3, 1) - civil.days_from_civil(2100, 2, 28) == 1
    assert civil.text(-1) == "clock not set, uptime 0 s"
    assert civil.iso(-5) is None and civil.iso(0) == "2024-01-01T00:00:00Z"
    assert civil.text(wallclock.NO_TIME).startswith("no time")


def test_wall_clock_without_and_with_an_rtc():
    c = wallclock.WallClock(None, 1000)
    assert c.now(11000) == -11  # 10 s up, not set
    c.set(T0 - wallclock.EPOCH_UNIX_S, 11000)
    assert c.now(71500) == T0 - wallclock.EPOCH_UNIX_S + 60
    assert civil.text(c.now(71500)) == "2026-12-03 16:01:00 UTC"

    class Rtc:  # machine.RTC's datetime(): (y, m, d, weekday, h, min, s, subseconds)
        dt = (2000, 1, 1, 5, 0, 2, 5, 0)  # an unset ESP32 RTC, 125 s after power-on

        def datetime(self, dt=None):
            if dt is None:
                return self.dt
            self.dt = dt

    rtc = Rtc()
    c = wallclock.WallClock(rtc)
    assert c.now(0) == -126
    c.set(T0 - wallclock.EPOCH_UNIX_S, 0)
    assert rtc.dt[:3] == (2026, 12, 3) and rtc.dt[4:7] == (16, 0, 0)
    assert c.now(0) == T0 - wallclock.EPOCH_UNIX_S
