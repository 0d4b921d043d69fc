"""Power cut at every second of a whole progression session, each checked for recovery.

The session: the progression program at level 0 (15 deg) with the profile's hold cap at
10 s, so homing, the move down, the hold, the return with its rest at horizontal and the
final homing all fit in about 66 s. It runs once with every invariant of
host_tools/invariants.py checked at every millisecond; at each whole second t (plus a
sub-tick offset that walks through the 10 ms tick, so cuts land at different points of
the loop) the world is forked and, in the fork, the power goes off for 400 ms (the
seconds are shared out over PARTS tests). make test cuts at every STRIDE-th second (3;
2 before issue #17's 2-minute make test): every phase still gets several cuts, the
offsets still walk the whole tick and both presses are used; make soak (SOAK=1) cuts at
every second. Then:

- no motion at boot and until a press (invariant I3's revocation at the reset);
- BOOT_SETTLE_MS after power-on the state is RECOVERY (away from the loading stop) or
  READY (at it), with no fault and no start-up error;
- the stored files are intact: every record present decodes (magic, version, length,
  CRC), no leftover .tmp and no .bad; the session history holds the sessions before the
  cut, plus this one only if it had ended;
- one press (START at even cuts, UP at odd ones) brings the table to READY within
  Harness.return_bound_ms (none is needed at the loading stop).
"""

import os

import faults
import pytest
import states as S
import store

from host_tools import faultinject as fi
from host_tools import invariants
from host_tools.simboard import PWRON_RESET

SETUP = {"seed": 3, "level": 0, "hold_s": 10, "max_deg": 30, "consent": True}
OFF_MS = 400


@pytest.fixture(scope="module")
def session():
    """The session run once: (harness at its start, its length in whole seconds)."""
    h = fi.Harness(SETUP)
    h.run_ms(500)
    h.act(("console", "program progression"))
    h.act(("console", "start"))
    probe = h.fork()
    t0 = probe.board.now_ms
    assert probe.runner.run_until(
        lambda r: r.core.state == S.READY and r.core.homed and not r.core.session_active,
        300000)
    seconds = (probe.board.now_ms - t0) // 1000 + 1
    probe.close()
    yield h, seconds
    h.close()


def _files_intact(root):
    names = sorted(os.listdir(root))
    assert not [n for n in names if n.endswith(store.TMP) or n.endswith(store.BAD)], names
    for name in names:
        with open(os.path.join(root, name), "rb") as f:
            store.decode(f.read())  # raises ValueError if damaged
    return names


def _history_count(root):
    try:
        with open(os.path.join(root, "history"), "rb") as f:
            return store.decode(f.read())["sessions"]
    except FileNotFoundError:
        return 0


def test_the_session_is_a_whole_progression_session(session):
    h, seconds = session
    assert 50 <= seconds <= 90  # homing, 15 deg, 10 s hold, return, rest, homing


# The cuts are shared out over PARTS tests (the k-th cut second goes to part k % PARTS),
# so pytest-xdist runs them side by side; each part walks the whole session. A cut costs
# about 0.3 CPU s (the boot and the way back to the loading stop): make test cuts at
# every STRIDE-th second, make soak at every one.
PARTS = 3
STRIDE = 1 if os.environ.get("SOAK") == "1" else 3


@pytest.mark.parametrize("part", range(PARTS))
def test_power_cut_at_every_second_recovers(session, part):
    base, seconds = session
    history_before = _history_count(base.fs_root)
    runner = base.fork()  # walks the session second by second; each cut is a fork of it
    cuts = range(part * STRIDE, seconds + 1, PARTS * STRIDE)
    booted = []
    try:
        for t in cuts:
            elapsed = runner.board.now_ms - base.board.now_ms
            if 1000 * t > elapsed:
                runner.run_ms(1000 * t - elapsed)
            h = runner.fork()
            try:
                # k-th cut: 1..10 ms after its second, walking through the 10 ms tick
                k = t // STRIDE
                booted.append(_cut_and_recover(h, t, k, 1 + (k * 7) % 10, history_before))
            finally:
                h.close()
    finally:
        runner.close()
    assert len(booted) == len(cuts) >= seconds // (PARTS * STRIDE)
    # most cuts leave the person away from the loading stop: those are the real test
    assert booted.count(S.RECOVERY) >= len(cuts) * 2 // 3, booted


def _cut_and_recover(h, t, k, in_ms, history_before):
    board = h.board
    angle = board.true_angle_mdeg
    ended = not h.core.session_active and h.core.state == S.READY and t > 10
    h.act(("power_cut", in_ms, OFF_MS, ()))
    assert board.resets and board.resets[-1][1] == PWRON_RESET, "t=%d s: no power-on reset" % t
    h.run_ms(invariants.BOOT_SETTLE_MS)
    core = h.core
    where = "t=%d s (%.1f deg)" % (t, angle / 1000)
    assert abs(board.true_angle_mdeg - angle) <= invariants.STILL_TOL_MDEG, where
    assert core.state in (S.RECOVERY, S.READY), "%s: %s after boot" % (
        where, S.STATE_NAMES[core.state])
    assert core.fault == faults.NONE and not h.app.startup_errors, (where, core.fault,
                                                          h.app.startup_errors)
    _files_intact(h.fs_root)
    count = _history_count(h.fs_root)
    assert count in (history_before, history_before + 1), (where, count)
    if ended:
        assert count == history_before + 1, where
    presses = 0
    if core.state == S.RECOVERY:
        presses = 1
        bound = h.return_bound_ms(board.true_angle_mdeg)
        h.act(("tap", ("START", "UP")[k % 2], 150))  # either deliberate press
        assert h.runner.run_until(lambda r: r.core.state == S.READY, int(bound)), (
            "%s: not READY %.0f s after the press (%s)" % (
                where, bound / 1000, S.STATE_NAMES[h.core.state]))
    assert h.core.state == S.READY and presses <= 1
    assert board.true_angle_mdeg < -55000, where  # at the loading position
    _files_intact(h.fs_root)
    return S.RECOVERY if presses else S.READY
