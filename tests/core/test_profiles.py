"""Profiles: bounds, all-or-nothing updates, progression rules, persistence."""

import profiles
import store
from fakes import MemFS
from profiles import (
    ABORTED,
    COMPLETED,
    DISCOMFORT,
    EMERGENCY,
    FAULT,
    LEVEL_ANGLE_MDEG,
    LEVEL_HOLD_MS,
    NUM_LEVELS,
    Profile,
    ProfileError,
    record_session,
)
from support import make_config, raises


def test_defaults_are_a_beginner_without_consent():
    p = Profile()
    p.check(make_config())
    assert p.max_mdeg == 30000 and p.hold_max_ms == 120000 and p.session_cap_ms == 180000
    assert p.level == 0 and p.advance_after == 3 and p.consent is False


def test_field_bounds_follow_the_level_table_and_the_absolute_max():
    # the FIELDS text takes these bounds from the level table and ABS_MAX_MDEG
    from config import field

    assert field("max_mdeg", profiles.FIELDS)[2:] == (LEVEL_ANGLE_MDEG[0], profiles.ABS_MAX_MDEG)
    assert field("level", profiles.FIELDS)[2:] == (0, NUM_LEVELS - 1)
    p = Profile()
    assert field("max_mdeg", profiles.FIELDS)[1] == p.max_mdeg


def test_level_table_follows_the_guidance():
    assert len(LEVEL_ANGLE_MDEG) == NUM_LEVELS == len(LEVEL_HOLD_MS)
    # first level in "15-30 deg for 1-2 minutes", last about 60 deg for about 5 minutes
    assert 15000 <= LEVEL_ANGLE_MDEG[0] <= 30000 and 60000 <= LEVEL_HOLD_MS[0] <= 120000
    assert LEVEL_ANGLE_MDEG[-1] == 60000 and LEVEL_HOLD_MS[-1] == 300000
    for i in range(1, NUM_LEVELS):  # gentle, monotonic steps
        assert 0 < LEVEL_ANGLE_MDEG[i] - LEVEL_ANGLE_MDEG[i - 1] <= 10000
        assert 0 <= LEVEL_HOLD_MS[i] - LEVEL_HOLD_MS[i - 1] <= 60000


def test_max_angle_never_above_60_deg_nor_the_soft_max():
    cfg = make_config()
    p = Profile()
    e = raises(ProfileError, p.set, "max_mdeg", 61000, cfg)
    assert "max_mdeg" in str(e)
    low = make_config(soft_max_mdeg=45000)
    e = raises(ProfileError, p.set, "max_mdeg", 50000, low)
    assert "soft max" in str(e)
    p.set("max_mdeg", 45000, low)
    assert profiles.max_limit_mdeg(cfg) == 60000 and profiles.max_limit_mdeg(low) == 45000


def test_bad_values_are_refused_and_change_nothing():
    cfg = make_config()
    p = Profile("ann")
    before = p.to_dict()
    for field, bad in (("hold_max_ms", 5000), ("hold_max_ms", 1.5), ("level", NUM_LEVELS),
                       ("advance_after", 0), ("max_mdeg", True), ("consent", 1),
                       ("name", ""), ("name", "a b"), ("name", "x" * 17), ("colour", 3)):
        raises(ProfileError, p.set, field, bad, cfg)
        assert p.to_dict() == before, field
    # cross-field: a hold longer than the whole session, rolled back with the valid part
    e = raises(ProfileError, p.update, {"session_cap_ms": 60000, "hold_max_ms": 90000}, cfg)
    assert "session_cap_ms" in str(e)
    assert p.to_dict() == before


def test_level_deeper_than_max_is_refused_and_lowering_max_lowers_the_level():
    cfg = make_config()
    p = Profile()
    raises(ProfileError, p.set, "level", 5, cfg)  # 40 deg > default max 30 deg
    p.update({"max_mdeg": 60000, "level": 6, "sessions_at_level": 2}, cfg)
    p.set("max_mdeg", 32000, cfg)
    assert p.level == 3 and p.sessions_at_level == 0
    p.set("sessions_at_level", 2, cfg)
    p.set("level", 2, cfg)  # set by hand: the count starts afresh
    assert p.level == 2 and p.sessions_at_level == 0


def test_dict_round_trip():
    cfg = make_config()
    p = Profile("bob")
    p.update({"max_mdeg": 45000, "level": 4, "consent": True, "hold_max_ms": 180000}, cfg)
    q = profiles.from_dict(p.to_dict(), cfg)
    assert q.to_dict() == p.to_dict()
    raises(ProfileError, profiles.from_dict, [1, 2], cfg)


def test_advance_after_consecutive_completed_sessions():
    p = Profile()
    p.max_mdeg = 60000
    assert record_session(p, COMPLETED, 15000, 60000) == 0
    assert record_session(p, COMPLETED, 15000, 60000) == 0
    assert record_session(p, COMPLETED, 15000, 60000) == 1
    assert p.level == 1 and p.sessions_at_level == 0


def test_emergency_or_discomfort_steps_back_and_restarts_the_count():
    p = Profile()
    p.max_mdeg = 60000
    p.level = 2
    record_session(p, COMPLETED, 25000, 60000)
    record_session(p, COMPLETED, 25000, 60000)
    assert record_session(p, DISCOMFORT, 12000, 30000) == -1
    assert p.level == 1 and p.sessions_at_level == 0
    assert record_session(p, EMERGENCY, 20000, 1000) == -1
    assert record_session(p, EMERGENCY, 15000, 1000) == 0  # not below level 0
    assert p.level == 0


def test_aborted_breaks_the_run_fault_and_shallow_sessions_do_not_count():
    p = Profile()
    record_session(p, COMPLETED, 15000, 60000)
    record_session(p, COMPLETED, 15000, 60000)
    assert record_session(p, FAULT, 15000, 60000) == 0 and p.sessions_at_level == 2
    assert record_session(p, ABORTED, 15000, 10000) == 0 and p.sessions_at_level == 0
    p.level = 3
    assert record_session(p, COMPLETED, 20000, 90000) == 0 and p.sessions_at_level == 0
    raises(ValueError, record_session, p, 99, 0, 0)


def test_never_advances_past_the_profile_max():
    p = Profile()  # max 30 deg: level 3 at most
    for _ in range(30):
        record_session(p, COMPLETED, LEVEL_ANGLE_MDEG[p.level], 60000)
    assert p.level == 3 and LEVEL_ANGLE_MDEG[p.level] <= p.max_mdeg
    assert p.sessions_at_level == p.advance_after  # saturated: ready once max is raised
    p.max_mdeg = 35000
    assert record_session(p, COMPLETED, 30000, 60000) == 1 and p.level == 4


def test_a_month_of_sessions():
    # Four sessions a week for four weeks; a dizzy spell in week 3.
    p = Profile()
    p.max_mdeg = 60000
    levels = []
    for day in range(16):
        how = DISCOMFORT if day == 10 else COMPLETED
        record_session(p, how, LEVEL_ANGLE_MDEG[p.level], LEVEL_HOLD_MS[p.level])
        levels.append(p.level)
    assert levels == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 2, 2, 2, 3, 3, 3]
    p.check(make_config())


def test_profiles_persist_and_bad_entries_fall_back_to_the_lowest_limits():
    cfg = make_config()
    fs = MemFS()
    got, status = profiles.load_profiles(fs, cfg)
    assert status == store.MISSING and len(got) == 1 and got[0].consent is False
    a = Profile("ann")
    a.update({"max_mdeg": 50000, "level": 6, "consent": True}, cfg)
    b = Profile("bob")
    b.pid = 2
    assert profiles.save_profiles(fs, [a, b]) == store.OK
    got, status = profiles.load_profiles(fs, cfg)
    assert status == store.OK and [p.to_dict() for p in got] == [a.to_dict(), b.to_dict()]
    # the soft max was lowered since: ann's profile no longer fits, and must not raise a limit
    got, status = profiles.load_profiles(fs, make_config(soft_max_mdeg=40000))
    assert status == store.CORRUPT
    # the stored limits are unknown: only the lowest bounds can never be a raise
    assert got[0].name == "ann" and got[0].max_mdeg == 15000 and got[0].consent is False
    assert got[0].hold_max_ms == 10000 and got[0].session_cap_ms == 10000
    assert got[0].level == 0
