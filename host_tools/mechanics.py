"""Drive-train sizing figures: torque at the pivot, motor torque against pull-out torque and
its margin, step rates, return times, and the centre-of-mass offset at which the motor
loses steps.

Every number comes from somewhere else: the table, drive and user from
hardware/table_params.json (host_tools.params), speeds, accelerations and angles from the
firmware's Config defaults (firmware/config.py), and the physical model (inertia of the
user, gravity moment, pull-out curve) from the simulator (host_tools.physics), so a figure
here is the simulator's figure. The only numbers of this file are the design case below.

    python -m host_tools.mechanics                  # print the figures (markdown)
    python -m host_tools.mechanics --write FILE     # write them (make hardware)

hardware/mechanics.md explains the method; hardware/mechanics_figures.md is the output.
"""

import argparse
import math
import sys

from host_tools import params as params_mod
from host_tools import paths
from host_tools.paths import use_firmware
from host_tools.physics import G_M_S2, TablePhysics

use_firmware()
from config import Config, hardware_values  # noqa: E402  (firmware/, importable after use_firmware)

# --- the design case: what the drive must survive (not a table number: an analysis input) ---
# Heaviest supported user: the top of the 40-150 kg range (table_params physics.user_mass_kg).
DESIGN_USER_MASS_KG = 150
# Centre of mass 150 mm toward the head (issue #18): the height bar set six notches of
# 1 inch wrong, or a user sliding toward the head in the straps; 7.5 times the
# well-adjusted offset of the parameter file.
DESIGN_COM_OFFSET_MM = 150
# Pull-out curves are typical values at nominal supply; 2x leaves room for supply sag,
# winding temperature and the dips of mid-band resonance (issue #18: a margin of 1.25
# lost steps with a user 150-300 mm off). Below it the margin is "LOW".
MARGIN_MIN = 2.0

# Motions the table makes, with the Config fields of their speed and acceleration.
MOTIONS = (
    ("jog", "jog_speed_mdeg_s", "jog_accel_mdeg_s2"),
    ("normal", "normal_speed_mdeg_s", "normal_accel_mdeg_s2"),
    ("emergency", "emergency_speed_mdeg_s", "emergency_accel_mdeg_s2"),
)
_SEARCH_MAX_MM = 2000  # lost-step search bound: beyond this the user is not on the bed


def make_config(p):
    """The firmware's configuration for these parameters: defaults + the hardware file."""
    cfg = Config()
    cfg.update(hardware_values(p.raw))
    return cfg


def _rad(mdeg):
    return math.radians(mdeg / 1000.0)


def steps_per_degree(p):
    d = p.drive
    return d.motor_steps_per_rev * d.microsteps * d.gear_ratio / 360.0


def step_rate_sps(p, speed_mdeg_s):
    return speed_mdeg_s / 1000.0 * steps_per_degree(p)


def motor_rpm(p, speed_mdeg_s):
    return speed_mdeg_s / 1000.0 / 360.0 * 60.0 * p.drive.gear_ratio


def torque(p, user_mass_kg, com_offset_mm, speed_mdeg_s, accel_mdeg_s2):
    """Worst point of a move: the table at horizontal (gravity moment at its largest),
    raised against gravity at full speed while still accelerating. Returns a dict of the
    pivot torque's parts (N m), the motor torque needed, the pull-out torque and margin.

    Raising against gravity is the costly direction: through a self-locking worm,
    lowering an overhauling load costs (1/eff - 2)/(1/eff) of it (host_tools.physics).
    """
    tp = TablePhysics(p, user_mass_kg=user_mass_kg, user_com_offset_mm=com_offset_mm)
    table_only = TablePhysics(p, user_mass_kg=user_mass_kg, user_com_offset_mm=0)
    w = _rad(speed_mdeg_s)
    a = _rad(accel_mdeg_s2)
    parts = {
        "gravity_user": abs(tp.gravity_moment_Nm - table_only.gravity_moment_Nm),
        "gravity_table": abs(table_only.gravity_moment_Nm),
        "friction": tp.friction_Nm,
        "damping": tp.damping_Nms * w,
        "inertia": tp.inertia_kgm2 * a,
    }
    pivot = sum(parts.values())
    motor = pivot / (tp.ratio * tp.efficiency) + tp.rotor_inertia_kgm2 * a * tp.ratio
    pullout = tp.pullout_Nm(step_rate_sps(p, speed_mdeg_s))
    out = dict(parts)
    out.update(pivot=pivot, motor=motor, pullout=pullout, margin=pullout / motor,
               inertia_kgm2=tp.inertia_kgm2)
    return out


def lost_step_offset_mm(p, user_mass_kg, speed_mdeg_s, accel_mdeg_s2):
    """Centre-of-mass offset (mm, toward the head or the feet) at which the motor torque
    needed at the worst point of a move reaches the pull-out torque: beyond it the motor
    loses steps. 0 if it already does with a balanced user; None if not within 2 m.
    The simulator's lost-steps scenario sets physics.user_com_offset_mm past this value.
    """

    def margin(offset_mm):
        return torque(p, user_mass_kg, offset_mm, speed_mdeg_s, accel_mdeg_s2)["margin"]

    if margin(0) <= 1.0:
        return 0
    if margin(_SEARCH_MAX_MM) > 1.0:
        return None
    lo, hi = 0.0, float(_SEARCH_MAX_MM)
    while hi - lo > 0.01:  # margin falls monotonically with the offset
        mid = (lo + hi) / 2.0
        if margin(mid) > 1.0:
            lo = mid
        else:
            hi = mid
    return lo


def trapezoid_s(distance_mdeg, speed_mdeg_s, accel_mdeg_s2):
    """Time of a rest-to-rest move with a trapezoidal (or triangular) speed profile."""
    d = abs(distance_mdeg)
    v = speed_mdeg_s
    a = accel_mdeg_s2
    if d >= v * v / a:
        return d / v + v / a
    return 2.0 * math.sqrt(d / a)


# ------------------------------------------------------------------ margins by phase

# Motions toward horizontal the margin must hold for: MOTIONS, and homing's slow approach
# (head-up: it lifts the head end), which ramps with the jog acceleration.
LIFTING_MOTIONS = MOTIONS + (("homing, slow", "homing_slow_mdeg_s", "jog_accel_mdeg_s2"),)
# Motions that tilt head-down (jog down and homing's retract; sessions and moves).
HEAD_DOWN_MOTIONS = MOTIONS[:2]
# An e-stop is seen at the next tick and braked from the one after (issue #18).
ESTOP_REACT_TICKS = 2
PHASES = ("accelerating", "cruising", "decelerating", "braking a descent")


def phase_torque(p, user_mass_kg, com_offset_mm, speed_mdeg_s, accel_mdeg_s2, phase):
    """Motor torque needed in one phase of a move at horizontal (gravity at its
    largest), against the pull-out torque at that speed. Phases of a move toward
    horizontal (raising the head end): "accelerating" (torque(): gravity, friction,
    damping and inertia add), "cruising", "decelerating" (the table's inertia helps;
    the rotor's is not counted, conservatively). "braking a descent": stopping a
    head-down tilt needs head-up torque, gravity plus inertia (friction and damping,
    which help, not counted); through the self-locking worm the motor pays
    (1/eff - 2)/ratio of it (host_tools.physics), and the rotor's braking torque is
    added to it although it pulls the other way (conservative).
    Returns dict(pivot, motor, pullout, margin)."""
    if phase == "accelerating":
        t = torque(p, user_mass_kg, com_offset_mm, speed_mdeg_s, accel_mdeg_s2)
        return dict(pivot=t["pivot"], motor=t["motor"], pullout=t["pullout"],
                    margin=t["margin"])
    tp = TablePhysics(p, user_mass_kg=user_mass_kg, user_com_offset_mm=com_offset_mm)
    w = _rad(speed_mdeg_s)
    a = _rad(accel_mdeg_s2)
    gravity = abs(tp.gravity_moment_Nm)
    drag = tp.friction_Nm + tp.damping_Nms * w
    if phase == "cruising":
        pivot = gravity + drag
        motor = pivot / (tp.ratio * tp.efficiency)
    elif phase == "decelerating":
        pivot = max(0.0, gravity + drag - tp.inertia_kgm2 * a)
        motor = pivot / (tp.ratio * tp.efficiency)
    elif phase == "braking a descent":
        pivot = gravity + tp.inertia_kgm2 * a
        motor = (pivot * (1.0 / tp.efficiency - 2.0) / tp.ratio
                 + tp.rotor_inertia_kgm2 * a * tp.ratio)
    else:
        raise ValueError("unknown phase %r" % phase)
    pullout = tp.pullout_Nm(step_rate_sps(p, speed_mdeg_s))
    return dict(pivot=pivot, motor=motor, pullout=pullout,
                margin=pullout / motor if motor > 0 else math.inf)


def drive_margins(p=None, cfg=None, user_mass_kg=None, com_offset_mm=None):
    """Every (motion, phase, speed, accel, phase_torque dict) the firmware's Config uses,
    for the design user by default: each lifting motion accelerating, cruising and
    decelerating toward horizontal; each head-down motion braked at its own
    acceleration and at the emergency one (an e-stop)."""
    if p is None:
        p = params_mod.load()
    if cfg is None:
        cfg = make_config(p)
    m = DESIGN_USER_MASS_KG if user_mass_kg is None else user_mass_kg
    off = DESIGN_COM_OFFSET_MM if com_offset_mm is None else com_offset_mm
    rows = []
    for name, speed_key, accel_key in LIFTING_MOTIONS:
        v, a = cfg.get(speed_key), cfg.get(accel_key)
        for phase in PHASES[:3]:
            rows.append((name, phase, v, a, phase_torque(p, m, off, v, a, phase)))
    for name, speed_key, accel_key in HEAD_DOWN_MOTIONS:
        v = cfg.get(speed_key)
        for label, a in ((name, cfg.get(accel_key)),
                         ("%s, e-stop" % name, cfg.emergency_accel_mdeg_s2)):
            rows.append((label, PHASES[3], v, a,
                         phase_torque(p, m, off, v, a, PHASES[3])))
    return rows


def drive_margin_min(p=None, cfg=None):
    """The smallest pull-out margin of drive_margins() for the design user (a bench or
    a test can hold it to MARGIN_MIN)."""
    return min(r[4]["margin"] for r in drive_margins(p, cfg))


def estop_distance_mdeg(cfg, speed_mdeg_s):
    """How much further head-down a tilt at speed_mdeg_s goes after an e-stop before it
    turns back: ESTOP_REACT_TICKS ticks at speed, then braking at the emergency
    acceleration, v * t + v^2 / (2a)."""
    v = float(speed_mdeg_s)
    t_s = ESTOP_REACT_TICKS * cfg.tick_ms / 1000.0
    return v * t_s + v * v / (2.0 * cfg.emergency_accel_mdeg_s2)


def upright_s_from_soft_max(cfg):
    """Seconds from the soft maximum to standing on the way a person asks for (RETURN):
    to the rest angle at normal speed, the rest pause, then on to the loading position."""
    v, a = cfg.normal_speed_mdeg_s, cfg.normal_accel_mdeg_s2
    return (trapezoid_s(cfg.soft_max_mdeg - cfg.rest_angle_mdeg, v, a)
            + cfg.rest_pause_ms / 1000.0
            + trapezoid_s(cfg.rest_angle_mdeg - cfg.loading_angle_mdeg, v, a))


def _margins_by_phase(p, cfg):
    """The pull-out margin of every motion and phase for the design user."""
    lines = [
        "",
        "## Margin by phase: design user (%d kg, %d mm off) at horizontal" % (
            DESIGN_USER_MASS_KG, DESIGN_COM_OFFSET_MM),
        "",
        "Every speed and acceleration of Config toward horizontal, and the braking of each"
        " head-down tilt at its own and at the emergency acceleration. Motor torques in N m"
        " at the motor shaft, reflected rotor inertia included (hardware/mechanics.md)."
        " LOW below %s." % _num(MARGIN_MIN, 1),
        "",
    ]
    rows = []
    for name, phase, v, a, t in drive_margins(p, cfg):
        rows.append((name, phase, _num(v / 1000.0, 1), _num(a / 1000.0, 1),
                     _num(t["pivot"], 1), _num(t["motor"], 3), _num(t["pullout"], 3),
                     _num(t["margin"], 2), "ok" if t["margin"] >= MARGIN_MIN else "LOW"))
    lines += _table(("Motion", "phase", "speed (deg/s)", "accel (deg/s^2)", "pivot (N m)",
                     "motor needed", "pull-out", "margin", "verdict"), rows)
    tp = TablePhysics(p, user_mass_kg=DESIGN_USER_MASS_KG,
                      user_com_offset_mm=DESIGN_COM_OFFSET_MM)
    lines += [
        "",
        "Smallest margin (drive_margin_min): %s. Reflected rotor inertia at the pivot"
        " (rotor x ratio^2): %s kg m^2; table and design user: %s kg m^2." % (
            _num(drive_margin_min(p, cfg), 2),
            _num(tp.rotor_inertia_kgm2 * tp.ratio * tp.ratio, 0),
            _num(tp.inertia_kgm2, 1)),
    ]
    return lines


def _estop_distance(p, cfg):
    """How much further head-down an e-stop lets each head-down motion go."""
    return [
        "",
        "## E-stop while tilting head-down",
        "",
        "Further head-down after the e-stop before the table turns back: %d ticks of %d ms"
        " at speed, then braking at the emergency acceleration (%s deg/s^2, %s m/s^2 ="
        " %s g at a head 1 m from the pivot)." % (
            ESTOP_REACT_TICKS, cfg.tick_ms, _num(cfg.emergency_accel_mdeg_s2 / 1000.0, 1),
            _num(_rad(cfg.emergency_accel_mdeg_s2), 2),
            _num(_rad(cfg.emergency_accel_mdeg_s2) / G_M_S2, 3)),
        "",
    ] + _table(("Head-down motion", "speed (deg/s)", "stopping distance (deg)"),
               _estop_rows(cfg))


def _estop_rows(cfg):
    rows = []
    for name, speed_key, _ in HEAD_DOWN_MOTIONS:
        v = cfg.get(speed_key)
        rows.append((name, _num(v / 1000.0, 1),
                     _num(estop_distance_mdeg(cfg, v) / 1000.0, 3)))
    return rows


def _way_up(p, cfg):
    """From the soft maximum to standing, the way a person asks for."""
    return ["", "## The way up", ""] + _table(("Figure", "Value", "Unit"), [
        ("soft max to standing, normal return with the rest pause (upright_s_from_soft_max)",
         _num(upright_s_from_soft_max(cfg), 1), "s"),
    ])


# ------------------------------------------------------------------ the report


def _num(x, digits):
    return "%.*f" % (digits, x)


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return out


def render(p=None, cfg=None):
    """The figures as markdown (the text of hardware/mechanics_figures.md)."""
    if p is None:
        p = params_mod.load()
    if cfg is None:
        cfg = make_config(p)
    lines = []
    for section in SECTIONS:
        lines += section(p, cfg)
    return "\n".join(lines) + "\n"


def _title(p, cfg):
    return [
        "# Drive-train figures",
        "",
        "Generated by `python -m host_tools.mechanics --write hardware/mechanics_figures.md`"
        " (`make hardware`) from hardware/table_params.json, the firmware's Config defaults"
        " and the simulator's model. Do not edit: change the inputs and regenerate."
        " hardware/mechanics.md explains each figure.",
    ]


def _inputs(p, cfg):
    """What the figures are worked out from: the parameter file, then Config."""
    phys, drive = p.physics, p.drive
    table_offset = phys.get("table_com_offset_mm")
    lines = ["", "## Inputs", ""]
    rows = [
        ("design user mass", "%d kg" % DESIGN_USER_MASS_KG, "host_tools/mechanics.py design case"),
        ("design centre-of-mass offset", "%d mm" % DESIGN_COM_OFFSET_MM,
         "host_tools/mechanics.py design case (misadjusted)"),
        ("default user", "%g kg, %g mm tall, %g mm offset" % (
            phys.user_mass_kg, phys.user_height_mm, phys.user_com_offset_mm),
         "physics.user_*"),
        ("table", "%g kg, %g kg m^2 about the pivot" % (
            phys.table_mass_kg, phys.table_inertia_kgm2), "physics.table_*"),
        ("table centre-of-mass offset",
         "%g mm" % table_offset if table_offset is not None else "0 mm (balanced)",
         "physics.table_com_offset_mm" if table_offset is not None
         else "physics.table_com_offset_mm absent: taken as balanced"),
        ("pivot friction, damping", "%g N m, %g N m s/rad" % (
            phys.friction_Nm, phys.damping_Nms_per_rad), "physics.friction_Nm, damping"),
        ("gear ratio, efficiency", "%g:1, %g %%" % (drive.gear_ratio, drive.gear_efficiency_pct),
         "drive.gear_ratio, gear_efficiency_pct"),
        ("motor", "%g steps/rev, 1/%g microstep, rotor %g g cm^2" % (
            drive.motor_steps_per_rev, drive.microsteps, drive.motor_rotor_inertia_gcm2),
         "drive.*"),
        ("pull-out torque", "%g N m near standstill, half at %g rpm" % (
            drive.motor_pullout_torque_mNm / 1000.0, drive.motor_pullout_corner_rpm),
         "drive.motor_pullout_*"),
    ]
    lines += _table(("Input", "Value", "From"), rows + _config_inputs(cfg))
    return lines


def _config_inputs(cfg):
    """The Config speeds, accelerations and angles the figures use (input rows)."""
    rows = []
    for name, speed_key, accel_key in MOTIONS:
        rows.append(("%s speed, acceleration" % name, "%s deg/s, %s deg/s^2" % (
            _num(cfg.get(speed_key) / 1000.0, 1), _num(cfg.get(accel_key) / 1000.0, 1)),
            "Config %s, %s" % (speed_key, accel_key)))
    rows.append(("deep angle, rest angle", "%s deg, %s deg" % (
        _num(cfg.deep_angle_mdeg / 1000.0, 1), _num(cfg.rest_angle_mdeg / 1000.0, 1)),
        "Config deep_angle_mdeg, rest_angle_mdeg"))
    return rows


def _resolution(p, cfg):
    spd = steps_per_degree(p)
    lines = ["", "## Resolution and step rates", ""]
    rows = [
        ("steps per table degree", _num(spd, 2), "steps/deg"),
        ("one microstep at the table", _num(1000.0 / spd, 3), "mdeg"),
    ]
    for name, speed_key, _ in MOTIONS:
        v = cfg.get(speed_key)
        rows.append(("%s: step rate" % name, _num(step_rate_sps(p, v), 0), "steps/s"))
        rows.append(("%s: motor speed" % name, _num(motor_rpm(p, v), 0), "rpm"))
    lines += _table(("Figure", "Value", "Unit"), rows)
    return lines


def _torque(p, cfg):
    """The design user raised through horizontal, every motion at its worst point."""
    lines = [
        "",
        "## Torque: design user (%d kg, %d mm off) raised through horizontal" % (
            DESIGN_USER_MASS_KG, DESIGN_COM_OFFSET_MM),
        "",
        "At full speed while still accelerating (the worst point of a move). Torques at the"
        " pivot in N m; motor torques in N m at the motor shaft. Margin = pull-out / needed;"
        " LOW below %s." % _num(MARGIN_MIN, 1),
        "",
    ]
    rows = []
    worst_pivot = 0.0
    for name, speed_key, accel_key in MOTIONS:
        t = torque(p, DESIGN_USER_MASS_KG, DESIGN_COM_OFFSET_MM,
                   cfg.get(speed_key), cfg.get(accel_key))
        worst_pivot = max(worst_pivot, t["pivot"])
        rows.append((name, _num(t["gravity_user"], 1), _num(t["gravity_table"], 1),
                     _num(t["friction"], 1), _num(t["damping"], 1), _num(t["inertia"], 1),
                     _num(t["pivot"], 1), _num(t["motor"], 3), _num(t["pullout"], 3),
                     _num(t["margin"], 2), "ok" if t["margin"] >= MARGIN_MIN else "LOW"))
    lines += _table(("Motion", "user gravity", "table gravity", "friction", "damping",
                     "inertia", "pivot total", "motor needed", "pull-out", "margin", "verdict"),
                    rows)
    lines += ["", "Gearbox output torque the drive must carry (worst row): %s N m." % _num(
        worst_pivot, 0)]
    return lines


def _lost_steps(p, cfg):
    phys = p.physics
    lines = [
        "",
        "## Where the motor loses steps",
        "",
        "Centre-of-mass offset (mm from the pivot line) at which the torque needed at the"
        " worst point of the move reaches the pull-out torque. The simulator's lost-steps"
        " scenario sets physics.user_com_offset_mm beyond the default user's figure.",
        "",
    ]
    rows = []
    for name, speed_key, accel_key in MOTIONS:
        cells = [name]
        for mass in (phys.user_mass_kg, DESIGN_USER_MASS_KG):
            r = lost_step_offset_mm(p, mass, cfg.get(speed_key), cfg.get(accel_key))
            cells.append("> %d" % _SEARCH_MAX_MM if r is None else _num(r, 0))
        rows.append(tuple(cells))
    lines += _table(("Motion", "default user (%g kg)" % phys.user_mass_kg,
                     "design user (%d kg)" % DESIGN_USER_MASS_KG), rows)
    return lines


def _return_times(p, cfg):
    lines = ["", "## Return times (trapezoidal profile, rest to rest)", ""]
    es, ea = cfg.emergency_speed_mdeg_s, cfg.emergency_accel_mdeg_s2
    ns, na = cfg.normal_speed_mdeg_s, cfg.normal_accel_mdeg_s2
    deep, rest = cfg.deep_angle_mdeg, cfg.rest_angle_mdeg
    soft, load = cfg.soft_max_mdeg, cfg.loading_angle_mdeg
    moves = (
        ("emergency return, deep angle to rest", deep - rest, es, ea),
        ("emergency return, soft max to rest", soft - rest, es, ea),
        ("normal return, deep angle to rest", deep - rest, ns, na),
        ("rest to loading position, normal speed", rest - load, ns, na),
    )
    rows = []
    for label, dist, v, a in moves:
        rows.append((label, _num(abs(dist) / 1000.0, 1), _num(v / 1000.0, 1),
                     _num(a / 1000.0, 1), _num(trapezoid_s(dist, v, a), 2)))
    lines += _table(("Move", "distance (deg)", "speed (deg/s)", "accel (deg/s^2)",
                     "time (s)"), rows)
    return lines


def _crank(p, cfg):
    """Turning the drive by hand, with the power off."""
    deep, rest = cfg.deep_angle_mdeg, cfg.rest_angle_mdeg
    drive = p.drive
    lines = [
        "",
        "## Manual crank on the motor's rear shaft (no power, driver disabled)",
        "",
        "The crank turns the whole gear train, so it raises the head against the same"
        " torque as the motor does at standstill (motor detent torque not included).",
        "",
    ]
    t = torque(p, DESIGN_USER_MASS_KG, DESIGN_COM_OFFSET_MM, 0, 0)
    rows = [
        ("crank turns, deep angle to rest", _num((deep - rest) / 360000.0 * drive.gear_ratio,
                                                 0), "turns"),
        ("crank turns per table degree", _num(drive.gear_ratio / 360.0, 2), "turns/deg"),
        ("crank torque, design user", _num(t["motor"], 2), "N m"),
    ]
    lines += _table(("Figure", "Value", "Unit"), rows)
    return lines


# The sections of the report, in order: each (p, cfg) -> markdown lines.
SECTIONS = (_title, _inputs, _resolution, _torque, _lost_steps, _return_times, _crank,
            _margins_by_phase, _estop_distance, _way_up)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.mechanics", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", metavar="FILE", help="write the markdown to FILE")
    ap.add_argument("--params", metavar="JSON", help="another parameter file (what-if)")
    args = ap.parse_args(argv)
    text = render(params_mod.load(args.params))
    paths.write_or_print(text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
