"""Progression over simulated months of sessions (CPython only, property-based).

A reference model written from the rule, not from the code, is stepped alongside
profiles.record_session: advance one level after `advance_after` qualifying completed
sessions in a row, one level back on an emergency or discomfort, an aborted session
breaks the run, a fault changes nothing, never deeper than the profile's max.
"""

import profiles
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import (
    ABORTED,
    COMPLETED,
    DISCOMFORT,
    EMERGENCY,
    FAULT,
    LEVEL_ANGLE_MDEG,
    NUM_LEVELS,
    Profile,
)
from programs import PROGRESSION, Runner, hold_cap_ms
from support import make_config

CFG = make_config()
endings = st.sampled_from((COMPLETED, COMPLETED, COMPLETED, COMPLETED, EMERGENCY, DISCOMFORT,
                           ABORTED, FAULT))
profile_limits = st.fixed_dictionaries({
    "max_mdeg": st.integers(15000, 60000),
    "advance_after": st.integers(1, 6),
    "hold_max_ms": st.integers(10000, 300000),
})
# a month: up to one session a day; the depth reached relative to the level's angle
months = st.lists(st.tuples(endings, st.integers(-10000, 2000), st.integers(0, 300000)),
                  min_size=1, max_size=31)


def _profile(limits):
    p = Profile("sim")
    values = dict(limits)
    values["consent"] = True
    values["session_cap_ms"] = 600000
    p.update(values, CFG)
    return p


@settings(max_examples=400, deadline=None)
@given(profile_limits, months)
def test_progression_follows_the_rule_over_a_month(limits, sessions):
    p = _profile(limits)
    level, run = 0, 0
    for how, depth_offset, head_down_ms in sessions:
        deepest = LEVEL_ANGLE_MDEG[p.level] + depth_offset
        change = profiles.record_session(p, how, deepest, head_down_ms)
        # the reference model
        before = level
        if how in (EMERGENCY, DISCOMFORT):
            level, run = max(0, level - 1), 0
        elif how == ABORTED:
            run = 0
        elif how == COMPLETED and depth_offset >= -3000 and head_down_ms > 0:
            run = min(run + 1, p.advance_after)
            if (run >= p.advance_after and level + 1 < NUM_LEVELS
                    and LEVEL_ANGLE_MDEG[level + 1] <= p.max_mdeg):
                level, run = level + 1, 0
        assert (p.level, p.sessions_at_level) == (level, run)
        assert change == level - before and -1 <= change <= 1
        assert LEVEL_ANGLE_MDEG[p.level] <= p.max_mdeg
        p.check(CFG)


@settings(max_examples=200, deadline=None)
@given(profile_limits, months)
def test_the_progression_program_stays_within_the_caps_as_the_level_moves(limits, sessions):
    p = _profile(limits)
    r = Runner(CFG)
    for how, _, head_down_ms in sessions:
        r.start(PROGRESSION, p)
        assert r.next()
        assert 0 <= r.target_mdeg <= p.max_mdeg
        assert r.hold_ms <= hold_cap_ms(r.target_mdeg, p, CFG)
        assert not r.next()
        profiles.record_session(p, how, r.target_mdeg, head_down_ms)


def test_a_careful_month_reaches_the_beginner_top_and_no_further():
    # 4 weeks, 5 sessions a week, all completed at the level's angle, default profile.
    p = _profile({"max_mdeg": 30000, "advance_after": 3, "hold_max_ms": 120000})
    for _ in range(20):
        profiles.record_session(p, COMPLETED, LEVEL_ANGLE_MDEG[p.level], 60000)
    assert p.level == 3 and LEVEL_ANGLE_MDEG[p.level] == 30000
