"""`make bench` figures of issue #18 (nobody is left head-down): the e-stop overshoot in
every head-down motion phase and for users across the supported range, and the drive's
figures from host_tools/mechanics.py.

estop_overshoot_bench(quick) presses the e-stop on the simulated table (the real
firmware App on SimBoard) while it moves head-down, at each ms of one tick period, and
measures how much further head-down the true angle goes (the peak of the true angle after
the press minus the true angle at the press), worst case over:
- phases: accelerating out of a hold, cruising at normal speed (goto), cruising at jog
  speed (DOWN held);
- users: 40 kg balanced, the default user, 150 kg balanced, 150 kg 150 mm toward the
  head (the design case), 150 kg 150 mm toward the feet.
A balanced user floats in the gearbox backlash, so the table can coast a little beyond
the drive after the braking starts: the figure is the table's, not the drive's.
"""

import copy
import random
import shutil

from host_tools import mechanics, params

# (name, mass kg, centre-of-mass offset mm toward the head)
USERS = (
    ("40kg_balanced", 40, 0),
    ("default", None, None),
    ("150kg_balanced", 150, 0),
    ("150kg_head_150mm", 150, 150),
    ("150kg_feet_150mm", 150, -150),
)
PHASES = ("accelerating", "cruise_normal", "cruise_jog")
_WATCH_MS = 1500  # the braking at 20 deg/s^2 from 4 deg/s takes 200 ms; the lash settles


def _runner(mass, offset, root, seed):
    from host_tools.runner import SimRunner

    return SimRunner(rng=random.Random(seed), fs_root=root, user_mass_kg=mass,
                     user_com_offset_mm=offset)


def _to_phase(r, phase):
    """Drive the runner into the phase, stopped on a tick boundary; False if it never got
    there (reported as an error of the bench)."""
    from states import HOLDING, JOGGING, MOVING

    r.run_ms(500)
    core = r.core
    if phase == "cruise_jog":
        r.send("goto 10")
        if not r.run_until(lambda x: x.core.state == HOLDING, 120000):
            return False
        r.board.press("DOWN")
        return r.run_until(lambda x: x.core.state == JOGGING and x.board.true_angle_mdeg > 20000
                           and x.core.plan.vel_sps == x.core.targets.v_jog, 60000)
    if phase == "cruise_normal":
        r.send("goto 60")
        return r.run_until(lambda x: x.core.state == MOVING and x.board.true_angle_mdeg > 20000
                           and x.core.plan.vel_sps == x.core.targets.v_normal, 120000)
    r.send("goto 15")  # accelerating: half-way up to speed out of a hold
    if not r.run_until(lambda x: x.core.state == HOLDING, 120000):
        return False
    r.send("goto 60")
    half = core.targets.v_normal // 2
    return r.run_until(lambda x: x.core.state == MOVING and x.core.plan.vel_sps >= half, 60000)


def _overshoot_after_press(snap, offset_ms):
    """Copy the snapshot, press the e-stop offset_ms into the next tick, run; mdeg the
    true angle went on head-down after the press."""
    r = copy.deepcopy(snap)
    board = r.board
    press_at = board.now_ms + offset_ms
    seen = {"at": None, "peak": None}

    def hook(b):
        a = b.true_angle_mdeg
        if b.now_ms == press_at:
            b.estop_press()
            seen["at"] = seen["peak"] = a
        elif seen["at"] is not None and a > seen["peak"]:
            seen["peak"] = a

    board.ms_hooks.append(hook)
    end = press_at + _WATCH_MS
    while board.now_ms < end:
        r.step()
    return seen["peak"] - seen["at"], board.lost_steps


def estop_overshoot_bench(quick):
    """(worst overshoot mdeg, details) over USERS x PHASES x press offsets."""
    from host_tools.bench import _profile_fs  # one profile with consent, max 60 deg

    offsets = (1, 5) if quick else tuple(range(1, 11))
    users = USERS[1:4] if quick else USERS
    rows, worst = [], 0.0
    for name, mass, offset in users:
        for phase in PHASES:
            root = _profile_fs(max_mdeg=60000)
            try:
                r = _runner(mass, offset, root, 0)
                if not _to_phase(r, phase):
                    raise RuntimeError("%s: never reached %s" % (name, phase))
                per = [_overshoot_after_press(r, k) for k in offsets]
            finally:
                shutil.rmtree(root, ignore_errors=True)
            top = max(p[0] for p in per)
            worst = max(worst, top)
            rows.append({"user": name, "phase": phase, "overshoot_mdeg_max": round(top, 1),
                         "lost_steps_max": max(p[1] for p in per)})
    return worst, {"press_offsets_ms": list(offsets), "watch_ms": _WATCH_MS, "rows": rows}


def drive_figures():
    """(drive_margin_min, upright_s_from_soft_max, details) from host_tools/mechanics.py
    for the design user and the firmware's default configuration."""
    p = params.load()
    cfg = mechanics.make_config(p)
    rows = mechanics.drive_margins(p, cfg)
    worst = min(rows, key=lambda r: r[4]["margin"])
    return worst[4]["margin"], mechanics.upright_s_from_soft_max(cfg), {
        "design_user": "%d kg, %d mm toward the head" % (mechanics.DESIGN_USER_MASS_KG,
                                                         mechanics.DESIGN_COM_OFFSET_MM),
        "worst": "%s %s" % (worst[0], worst[1]),
        "method": "host_tools/mechanics.py drive_margins(): pull-out / needed torque at "
                  "every speed and phase toward horizontal (and braking a descent); "
                  "upright: trapezoids at normal speed plus the rest pause"}
