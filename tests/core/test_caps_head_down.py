"""Issue #18: the session cap counts all the time head-down (travel, hold, braking, return).

Hand-worked cases on the core rig (tests/core/rig.py) and a deterministic sweep over
targets and caps: the time the table spends beyond cfg.head_down_mdeg never exceeds the
profile's session_cap_ms.
"""

import sys

from cmdparse import fmt_milli
from rig import TICK_MS, Rig
from states import C_GOTO, C_START, HOLDING, READY
from support import soak


def _holding_at(r, angle_mdeg):
    r.ready_homed()
    assert r.core.command(C_GOTO, angle_mdeg) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)


# ------------------------------------------------------- caps count all head-down time


def _head_down_ms(r, max_ms):
    n = 0
    for _ in range(max_ms // TICK_MS):
        r.tick()
        if r.plant.angle_mdeg() > r.cfg.head_down_mdeg:
            n += TICK_MS
        if r.core.state == READY:
            break
    return n


def test_session_cap_counts_travel_hold_and_return():
    r = Rig()
    r.profile.session_cap_ms = 60000  # shorter than the hold max: the cap decides
    r.ready_homed()
    r.core.program_id = 3  # programs.CUSTOM
    assert r.core.command(C_START, 89000, 3600000) == 0
    total = _head_down_ms(r, 600000)
    assert total <= r.profile.session_cap_ms, total


def test_goto_hold_is_shortened_so_the_return_fits_in_the_cap():
    r = Rig()
    r.profile.session_cap_ms = 40000
    r.ready_homed()
    assert r.core.command(C_GOTO, 30000) == 0
    total = _head_down_ms(r, 600000)
    assert total <= r.profile.session_cap_ms, total


def test_interval_program_keeps_every_dip_and_its_travel_inside_the_cap():
    r = Rig()
    r.profile.session_cap_ms = 70000
    r.ready_homed()
    r.core.program_id = 2  # programs.INTERVAL: 4 x 30 s at the level angle, 30 s flat
    assert r.core.command(C_START) == 0
    plan = r.core.runner.plan()
    assert len(plan) < 7  # not all four dips fit in 70 s with their travel
    assert r.core.runner.cap_hold_ms >= 0
    total = _head_down_ms(r, 900000)
    assert r.core.state == READY
    assert total <= r.profile.session_cap_ms, total
    assert total > r.profile.session_cap_ms - 10000, total  # and not much less


def test_start_after_head_down_time_plans_with_what_is_left():
    r = Rig()
    r.profile.session_cap_ms = 90000
    _holding_at(r, 20000)
    r.tick(2000)  # 20 s more head-down in the hold
    spent = r.core.head_down_ms
    assert spent > 20000
    r.core.program_id = 3  # programs.CUSTOM
    assert r.core.command(C_START, 20000, 600000) == 0
    (t, hold), = r.core.runner.plan()
    assert t == 20000 and hold < 90000 - spent - 8000  # the way down and back counted
    total = spent + _head_down_ms(r, 600000)
    assert total <= r.profile.session_cap_ms, total


def test_no_program_starts_when_the_cap_leaves_no_time_for_a_hold():
    r = Rig()
    r.profile.session_cap_ms = 10000  # 30 deg: the way down and back alone takes 17.8 s
    r.ready_homed()
    r.core.program_id = 3
    assert r.core.command(C_START, 30000, 60000) != 0
    assert r.core.state == READY


def test_jog_down_held_returns_in_time_for_the_cap():
    r = Rig()
    r.profile.session_cap_ms = 15000
    r.profile.hold_max_ms = 600000
    r.ready_homed()
    r.plant.buttons = 2  # SW_DOWN, held all the way
    n = 0
    for _ in range(120000 // TICK_MS):
        r.tick()
        if r.plant.angle_mdeg() > r.cfg.head_down_mdeg:
            n += TICK_MS
    assert n <= r.profile.session_cap_ms, n
    assert r.plant.angle_mdeg() < r.cfg.head_down_mdeg


def test_the_return_starts_when_time_used_and_the_way_back_reach_the_cap():
    """Hand-worked: 20 deg, 3.5 deg/s, 4 deg/s^2, threshold 0.5 deg (fix18c; was 2),
    rest at 0: back from a standstill is 0.875 s ramp + (19.5 - 1.53) deg / 3.5 = 5.134 s,
    + 0.875 s because the return brakes for its target (0.5 deg past the threshold, less
    than the 1.53 deg braking distance) before it gets there, + 40 ms of margin = 6.92 s,
    so a 40 s cap starts the return after about 33.08 s head-down."""
    r = Rig()
    r.profile.session_cap_ms = 40000
    _holding_at(r, 20000)
    r.run_until(lambda x: x.core.state != HOLDING, 60000)
    used = r.core.head_down_ms
    assert 33000 <= used <= 33100, used
    total = used + _head_down_ms(r, 60000)
    # the estimate counts the whole braking time when the return brakes for its target
    # before the threshold (headdown.back_ms), 0.875 s at most: an upper bound
    assert 39000 <= total <= 40000, total


_SWEEP_CAPS_S = (20, 35, 60, 95)
_SWEEP_TARGETS_MDEG = (3000, 9000, 17000, 26000, 38000, 52000, 64000)
_SWEEP_PROGS = (-1, 3)  # -1: a goto; 3: programs.CUSTOM started with the target


def _sweep_cases(full, half=False):
    """Every cap x target x (goto, program) under SOAK=1 (56 cases). By default each
    target once as a goto and once as a program (14 cases, a quarter of the CPU), the cap
    rotating so every cap meets both kinds and short caps meet deep targets. half: every
    other default case (7: each target once, every cap, both kinds), for MicroPython,
    where the same integer core runs about four times slower than on CPython, which runs
    the 14."""
    cases = []
    for i, target in enumerate(_SWEEP_TARGETS_MDEG):
        for j, prog in enumerate(_SWEEP_PROGS):
            if full:
                for cap_s in _SWEEP_CAPS_S:
                    cases.append((cap_s, target, prog))
            elif not half or (i + j) % 2 == 0:
                cases.append((_SWEEP_CAPS_S[(i + 2 * j) % 4], target, prog))
    return cases


def test_the_default_sweep_meets_every_cap_target_and_kind():
    for half in (False, True):
        cases = _sweep_cases(False, half)
        assert sorted(set(c[0] for c in cases)) == list(_SWEEP_CAPS_S)
        assert sorted(set(c[1] for c in cases)) == list(_SWEEP_TARGETS_MDEG)
        assert sorted(set(c[2] for c in cases)) == list(_SWEEP_PROGS)
        if not half:
            for cap_s in _SWEEP_CAPS_S:
                assert sorted(set(c[2] for c in cases if c[0] == cap_s)) == list(_SWEEP_PROGS)
    assert len(_sweep_cases(False, True)) == 7
    assert len(_sweep_cases(True)) == 56


def test_a_sweep_of_targets_and_caps_never_exceeds_the_cap():
    """Deterministic sweep: gotos and programs to many depths under many caps (the
    whole matrix under SOAK=1, make soak)."""
    full = soak()
    half = sys.implementation.name == "micropython"
    cases = 0
    for cap_s, target, prog in _sweep_cases(full, half):
        r = Rig()
        r.profile.session_cap_ms = cap_s * 1000
        r.profile.max_mdeg = 70000
        r.profile.hold_max_ms = 600000
        r.ready_homed()
        if prog < 0:
            ok = r.core.command(C_GOTO, target)
        else:
            r.core.program_id = prog
            ok = r.core.command(C_START, target, 600000)
        if ok != 0:
            continue  # the cap leaves no time for the hold: refused, READY
        total = _head_down_ms(r, 900000)
        assert r.core.state == READY, (cap_s, target, prog)
        assert total <= cap_s * 1000, (cap_s, target, prog, total)
        cases += 1
    # 52, 13 and 7 run; the rest are refused
    assert cases > (40 if full else 5 if half else 10), cases


def test_start_reply_says_the_hold_was_shortened_to_fit_the_cap():
    from test_console import Rig as ConsoleRig

    r = ConsoleRig(json_mode=True, homed=True, consent=True)
    r.core.profile.session_cap_ms = 120000
    r.cmd("program custom")
    o = r.cmd("start 89 3600")
    assert o["ok"] is True, o
    (t, hold), = o["plan"]
    assert hold < 120000
    assert o["note"] == "hold shortened to %s s to fit the 2 min session cap" % fmt_milli(hold)
