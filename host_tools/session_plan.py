"""A simulated session's plan seen from the host, for the simulator's display: how long
the session will take (the progress bar's length) and why a program's hold was shorter
than the program asks, in words with the numbers ("120 s at 60 deg, 300 s asked:
shortened by the profile's hold cap (hold_max_ms 120 s)").

Reads the firmware's own plan (programs.Runner keeps the session's segments and
cap_hold_ms) and its own cap rule (programs.hold_cap_ms); changes nothing.
"""

from host_tools.paths import use_firmware

use_firmware()

import events as fw_events  # noqa: E402  (firmware/, importable once use_firmware() ran)
import profiles as fw_profiles  # noqa: E402
import programs  # noqa: E402


def asked_hold_ms(sc):
    """The hold the scenario's program asks for before any cap, ms (None: no program)."""
    p = sc.program
    if p is None:
        return None
    if p["name"] == "beginner":
        return programs._BEGINNER_HOLD_MS
    if p["name"] == "progression":
        return fw_profiles.LEVEL_HOLD_MS[sc.profile.get("level", 0)]
    if p["name"] == "interval":
        return p.get("hold_ms") or programs._INTERVAL_HOLD_MS
    return p.get("hold_ms")


def session_ms(core, start_mdeg):
    """The planned session's length from its start at start_mdeg, ms: each move at
    normal speed, each hold, the return to the rest angle, its pause and the way back to
    start_mdeg (homing left out: a few seconds). None before a program is planned."""
    from host_tools.scenario_eval import trapezoid_ms  # (scenario_eval imports this module)

    runner, cfg = core.runner, core.cfg
    if runner.count <= 0:
        return None

    def move(a, b):
        return trapezoid_ms(abs(b - a), cfg.normal_speed_mdeg_s, cfg.normal_accel_mdeg_s2)

    total, at = 0, start_mdeg
    for target, hold in runner.plan():
        total += move(at, target) + hold
        at = target
    return total + move(at, cfg.rest_angle_mdeg) + cfg.rest_pause_ms + move(
        cfg.rest_angle_mdeg, start_mdeg)


def hold_note(sc, fw_log, core):
    """'' or: the planned head-down holds against the asked one, and which cap cut them.
    Says nothing unless exactly one program session ran, in the last boot: the one the
    runner's plan is of."""
    asked = asked_hold_ms(sc)
    starts = [ev for ev in fw_log if ev[2] == fw_events.E_SESSION_START and ev[3] >= 0]
    runner, cfg, profile = core.runner, core.cfg, core.profile
    if (asked is None or len(starts) != 1 or starts[0][1] != fw_log[-1][1]
            or programs.NAMES.get(runner.program_id) != sc.program["name"]):
        return ""
    holds = [(t, h) for t, h in runner.plan() if t > cfg.head_down_mdeg]
    if not holds:
        return ""
    target, held = min(holds, key=lambda s: s[1])
    said = "%s s at %g deg" % (" + ".join("%.3g" % (h / 1000) for _, h in holds), target / 1000)
    cap = programs.hold_cap_ms(target, profile, cfg)
    why = []
    if asked > cap:
        if cap < profile.hold_max_ms:
            why.append("the head-down cap beyond %g deg (deep_hold_max_ms %g s)"
                       % (cfg.deep_angle_mdeg / 1000, cfg.deep_hold_max_ms / 1000))
        else:
            why.append("the profile's hold cap (hold_max_ms %g s)" % (profile.hold_max_ms / 1000))
    if runner.cap_hold_ms >= 0:
        why.append("the session cap (session_cap_ms %g s of head-down time, the ways down "
                   "and up included)" % (profile.session_cap_ms / 1000))
    if held >= asked and not why:
        return said + ", as asked"
    return "%s, %g s asked%s: shortened by %s" % (
        said, asked / 1000, " each" if len(holds) > 1 else "", " and ".join(why) or "a cap")
