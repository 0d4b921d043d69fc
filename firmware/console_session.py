"""Console commands that run a session: motion, holds, programs, consent, calibration.

Each handler takes the console and the arguments cmdparse.parse() checked; it changes
the table only through core commands (con.core(): a refusal is answered with its
reason and changes nothing) and answers with where the core is going now.
"""

import profiles
import programs
import states
from cmdparse import ParseError, fmt_milli
from commands import CAL_STEPS_WHY
from console_text import program_name, state_name

# Commands that are one core command without arguments.
CORE_COMMANDS = {
    "stop": states.C_STOP,
    "return": states.C_RETURN,
    "estop": states.C_ESTOP,
    "ack": states.C_ACK,
    "discomfort": states.C_DISCOMFORT,
    "home": states.C_HOME,
}


# Not homed, a target is clamped short of horizontal (commissioning.unhomed_max_mdeg).
_UNHOMED = ("not homed, the angle is the IMU's alone, which may be %s deg off; home first"
            " (`home`) to go further")


def core_command(con, name):
    """A command of CORE_COMMANDS."""
    if con.core(CORE_COMMANDS[name]):
        moved(con, name)


def moved(con, what, requested=None):
    """The reply to an accepted motion command: where the core is going now."""
    view = con.view
    st = view.state()
    target = view.target_mdeg()
    state = state_name(st)
    if not con.out.js():
        con.out.ok("ok %s: %s" % (what, going(view, st, target, requested)))
        return
    obj = {"state": state, "target_mdeg": target}
    note = ""
    if st == states.HOMING and what != "home":
        note = "homing first, then the %s runs" % what
    elif requested is not None and requested < target == view.setting("rest_angle_mdeg"):
        note = "the rest at horizontal first, then on"
    elif requested is not None and target < requested and not view.homed() and (
            target == view.unhomed_limit()[0]):
        note = "clamped: " + _UNHOMED % fmt_milli(view.unhomed_limit()[1])
    elif requested is not None and target != requested:
        note = "clamped to the profile and table limits"
    if note:
        obj["note"] = note
    con.out.ok(None, obj)


def going(view, st, target, want):
    """Where the table goes, in words: "MOVING, target 30.000 deg, clamped from 45.000:
    profile max". Homing first (a move waits for it): the target it will then have."""
    if st == states.HOMING and want is not None:
        target = view.clamp_mdeg(want)  # the core's clamp as it will be, homed
        text = "HOMING first, then target %s deg" % fmt_milli(target)
    elif view.no_target() is not None:
        # standing, nothing planned (a stop's target was where it was going): the angle
        return "%s, now at %s deg" % (state_name(st), fmt_milli(view.angle_mdeg()))
    else:
        text = "%s, target %s deg" % (state_name(st), fmt_milli(target))
    if want is None or want == target:
        return text
    if want < target == view.setting("rest_angle_mdeg") and st != states.HOMING:
        low = view.setting("loading_angle_mdeg")
        then = want if want > low else low
        return text + " (the rest at horizontal first, then on to %s deg%s)" % (
            fmt_milli(then), "" if then == want else ", the loading stop")
    return text + ", clamped from %s: %s" % (fmt_milli(want), clamp_why(view, want, target))


def clamp_why(view, want, t):
    """The limit that holds a target t that is not the angle asked for (want)."""
    if t > want:
        return "the loading stop"  # (a rest owed head-up of it: going() says so)
    lim, err = view.unhomed_limit()
    if t == lim and not view.homed() and view.state() != states.HOMING:
        return _UNHOMED % fmt_milli(err)
    top = view.profile().max_mdeg
    soft = view.setting("soft_max_mdeg")
    if t == top and top <= soft:
        return "profile max"
    if t == soft:
        return "table soft max"
    return "no head-down now (consent, IMU calibration, ankle lock)"


def c_goto(con, a):
    if con.core(states.C_GOTO, a):
        moved(con, "goto", a)


def c_hold(con, ms):
    if not con.core(states.C_HOLD, ms):
        return
    got = con.view.hold_ms()
    text = "ok hold: %s s" % fmt_milli(got)
    if got != ms:
        text += ", capped from %s: the profile's hold max at this angle" % fmt_milli(ms)
    con.out.ok(text, {"hold_ms": ms})


def c_program(con, pid):
    if pid is not None and not con.core(states.C_PROGRAM, pid):
        return
    cur = program_name(con.view.program_id())
    names = [programs.NAMES[k] for k in sorted(programs.NAMES)]
    con.out.ok("ok program: %s (programs: %s)" % (cur, " ".join(names)),
               {"program": cur, "programs": names})


def c_start(con, a, b):
    if not con.core(states.C_START, a, b):
        return
    view = con.view
    plan = view.plan()
    prog = program_name(view.program_id())
    state = state_name(view.state())
    target = view.target_mdeg()
    steps = ", ".join(["%s deg for %s s" % (fmt_milli(t), fmt_milli(h)) for t, h in plan])
    st = view.state()
    head = "HOMING first" if st == states.HOMING else going(view, st, target, None)
    text = "ok start %s: %s; plan %s%s" % (prog, head, steps or "-", (
        " (clamped to the profile's limits)" if view.plan_clamped() else ""))
    obj = {"program": prog, "state": state, "target_mdeg": target, "plan": plan}
    cut = view.cap_hold_ms()
    if cut >= 0:
        cap = view.profile().session_cap_ms
        cap_text = "%d min" % (cap // 60000) if cap % 60000 == 0 else fmt_milli(cap) + " s"
        obj["note"] = "hold shortened to %s s to fit the %s session cap" % (fmt_milli(cut),
                                                                           cap_text)
        text += "; " + obj["note"]
    con.out.ok(text, obj)


def c_consent(con, yes, who):
    p = con.view.profile()
    if yes is None:
        con.consent_shown = True
        items = profiles.contraindications()
        lines = ["Inversion is not for anyone with:"]
        for c in items:
            lines.append("  - " + c)
        lines.append("profile '%s' consent: %s" % (p.name, "yes" if p.consent else "no"))
        lines.append("If none of these applies, type as the very next line: consent yes")
        con.out.ok(lines, {"contraindications": items, "profile": p.name,
                           "consent": bool(p.consent), "confirm": "consent yes"})
        return
    if not con.consent_shown:
        raise ParseError("read the list first: `consent`, then `consent yes` as the very"
                         " next line")
    con.consent_shown = False
    if who is None:
        who = "therapist" if con.view.auth.is_authorised(con.now_ms, False) else "patient"
    try:
        profiles.check_name(who, "who")
    except profiles.ProfileError as e:
        raise ParseError(str(e))
    had = p.consent
    con.view.consent_by("" if had else who)  # the record layer stamps it, with the time
    if con.core(states.C_CONSENT):
        text = "ok consent: %s for profile '%s', given by %s" % (
            "already recorded" if had else "recorded", p.name, p.consent_by if had else who)
        con.out.ok(text, {"profile": p.name, "consent": bool(p.consent),
                          "by": p.consent_by if had else who})
    else:
        con.view.consent_by("")


def c_calibrate(con, a):
    """`calibrate [<deg>]`: READY at the loading stop, or standing still in HOLDING at a
    known angle; a second point 20 deg or more from the first of this power-up also
    solves the accelerometer's offsets (firmware/imucal.py)."""
    view = con.view
    given = a is not None
    if not given:
        if view.state() != states.READY:
            raise ParseError("give the angle the table stands at: calibrate <deg>")
        a = 0  # READY: the core takes the loading switch as the reference
    cal = view.calibration()
    cal.why = ""  # a refusal before the calibration itself (the state) gives no detail
    r = view.command(states.C_CALIBRATE, a, 1 if given else 0)
    if r != states.OK:
        why = cal.why
        if why == CAL_STEPS_WHY:
            why += " %s deg" % fmt_milli(view.step_counts()[2])
        con.out.error("refused: %s%s" % (states.reason_name(r), (": " + why) if why else ""),
                      {"reason": r, "why": why})
        return
    z = view.setting("imu_zero_mdeg")
    os_mg = view.setting("imu_acc_sin_off_mg")
    oc_mg = view.setting("imu_acc_cos_off_mg")
    obj = {"imu_zero_mdeg": z, "imu_acc_sin_off_mg": os_mg, "imu_acc_cos_off_mg": oc_mg}
    text = "ok calibrate: IMU zero %s deg" % fmt_milli(z)
    if cal.gain_mg:
        text += ", offsets %d / %d mg (|g| %d mg)" % (os_mg, oc_mg, cal.gain_mg)
        obj["gain_mg"] = cal.gain_mg
    elif cal.have:
        text += "; calibrate at a second angle (20 deg or more away) for the offsets"
    else:
        text += " (not still for half a second: the point is not kept for the offsets)"
    con.out.ok(text, obj)
