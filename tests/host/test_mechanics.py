"""host_tools.mechanics: figures computed from the parameter file, one hand-worked case, and
the committed hardware/mechanics_figures.md is current."""

import copy
import math
import os

from host_tools import mechanics, params, paths
from host_tools.paths import use_firmware
from host_tools.physics import G_M_S2

use_firmware()
from config import field as config_field  # noqa: E402  (firmware/, importable after use_firmware)

FIGURES_MD = os.path.join(paths.HARDWARE, "mechanics_figures.md")


def variant(**changes):
    """The parameter file with some entries replaced: changes as section__key=value."""
    raw = copy.deepcopy(params.load().raw)
    for name, value in changes.items():
        section, key = name.split("__")
        entry = raw[section].get(key, [None, "", "test"])
        raw[section][key] = [value, entry[1], entry[2]]
    return params.Params(raw)


def round_params():
    """Round numbers so every figure can be worked by hand."""
    return variant(drive__motor_steps_per_rev=200, drive__microsteps=9, drive__gear_ratio=200,
                   drive__gear_efficiency_pct=40, drive__motor_pullout_torque_mNm=2000,
                   drive__motor_pullout_corner_rpm=100, drive__motor_rotor_inertia_gcm2=0,
                   physics__table_mass_kg=20, physics__table_inertia_kgm2=10,
                   physics__table_com_offset_mm=50, physics__user_height_mm=1200,
                   physics__friction_Nm=5, physics__damping_Nms_per_rad=0)


def test_hand_worked_case():
    p = round_params()
    # 200 steps x 9 microsteps x 200:1 = 360000 per table turn: 1000 per degree
    assert mechanics.steps_per_degree(p) == 1000.0
    assert mechanics.step_rate_sps(p, 3000) == 3000.0  # 3 deg/s
    assert mechanics.motor_rpm(p, 3000) == 100.0  # 3/360 rev/s x 200 x 60
    # 100 kg, 100 mm off, at rest (no speed, no acceleration):
    t = mechanics.torque(p, 100, 100, 0, 0)
    assert math.isclose(t["gravity_user"], 100 * G_M_S2 * 0.1)
    assert math.isclose(t["gravity_table"], 20 * G_M_S2 * 0.05)
    assert t["friction"] == 5 and t["damping"] == 0 and t["inertia"] == 0
    pivot = 100 * G_M_S2 * 0.1 + 20 * G_M_S2 * 0.05 + 5  # 113.87 N m
    assert math.isclose(t["pivot"], pivot)
    assert math.isclose(t["motor"], pivot / (200 * 0.40))  # 1.423 N m at the motor
    assert math.isclose(t["pullout"], 2.0)  # at standstill: T0
    # inertia: table 10 + user rod 100 x 1.2^2 / 12 = 12 + offset 100 x 0.1^2 = 1 -> 23
    assert math.isclose(t["inertia_kgm2"], 23.0)
    # at 3 deg/s the pull-out curve halves the torque at 100 rpm = the corner
    assert math.isclose(mechanics.torque(p, 100, 100, 3000, 0)["pullout"], 1.0)


def test_trapezoid_times():
    # 60 deg at 8 deg/s, 8 deg/s^2: 1 s up, 1 s down (4 deg each), 52 deg cruise = 6.5 s
    assert math.isclose(mechanics.trapezoid_s(60000, 8000, 8000), 8.5)
    # too short to reach full speed: a triangle, 2*sqrt(d/a)
    assert math.isclose(mechanics.trapezoid_s(2000, 8000, 8000), 1.0)
    assert mechanics.trapezoid_s(-60000, 8000, 8000) == mechanics.trapezoid_s(60000, 8000,
                                                                                8000)


def test_lost_step_offset_is_where_the_margin_reaches_one():
    """Covers: HZ-05"""
    p = params.load()
    cfg = mechanics.make_config(p)
    v, a = cfg.normal_speed_mdeg_s, cfg.normal_accel_mdeg_s2
    mass = p.physics.user_mass_kg
    r = mechanics.lost_step_offset_mm(p, mass, v, a)
    assert r is not None and r > p.physics.user_com_offset_mm  # the default user is fine
    assert mechanics.torque(p, mass, r - 1, v, a)["margin"] > 1.0
    assert mechanics.torque(p, mass, r + 1, v, a)["margin"] < 1.0
    # faster moves lose steps at a smaller offset (pull-out falls with speed)
    e = mechanics.lost_step_offset_mm(p, mass, cfg.emergency_speed_mdeg_s,
                                      cfg.emergency_accel_mdeg_s2)
    assert e is not None and e < r


def test_figures_follow_the_parameter_file():
    base = mechanics.render()
    # a different gear ratio changes the step figures and nothing is hard-coded
    p = variant(drive__gear_ratio=300)
    assert mechanics.steps_per_degree(p) == mechanics.steps_per_degree(params.load()) / 2
    assert "| steps per table degree | 1333.33 |" in mechanics.render(p)
    assert "| steps per table degree | 2666.67 |" in base
    # an unbalanced table bed shows up in the torque table
    text = mechanics.render(variant(physics__table_com_offset_mm=40))
    assert "| table centre-of-mass offset | 40 mm | physics.table_com_offset_mm |" in text


def test_speeds_come_from_the_firmware_config():
    p = params.load()
    cfg = mechanics.make_config(p)
    cfg.set("emergency_speed_mdeg_s", 3750)
    assert "| emergency: step rate | 10000 |" in mechanics.render(p, cfg)


def test_phase_torques_by_hand():
    """The phases of phase_torque() on the round parameters (no rotor, 40 % worm)."""
    p = round_params()
    g = 100 * G_M_S2 * 0.1 + 20 * G_M_S2 * 0.05  # gravity at horizontal, N m
    a = math.radians(6.0)  # 6 deg/s^2 in rad/s^2; inertia 23 kg m^2 (hand-worked above)
    acc = mechanics.phase_torque(p, 100, 100, 3000, 6000, "accelerating")
    assert math.isclose(acc["pivot"], g + 5 + 23 * a)
    cru = mechanics.phase_torque(p, 100, 100, 3000, 6000, "cruising")
    assert math.isclose(cru["pivot"], g + 5) and math.isclose(cru["motor"], (g + 5) / 80)
    dec = mechanics.phase_torque(p, 100, 100, 3000, 6000, "decelerating")
    assert math.isclose(dec["pivot"], g + 5 - 23 * a)
    # braking a descent: gravity plus inertia at the pivot; the motor pays
    # (1/0.4 - 2)/200 of it through the self-locking worm
    brk = mechanics.phase_torque(p, 100, 100, 3000, 6000, "braking a descent")
    assert math.isclose(brk["pivot"], g + 23 * a)
    assert math.isclose(brk["motor"], (g + 23 * a) * 0.5 / 200)
    assert math.isclose(brk["pullout"], 1.0)  # 100 rpm = the corner: half of 2 N m
    # the rotor's reflected inertia adds J_rotor * ratio * alpha at the motor
    q = variant(drive__motor_rotor_inertia_gcm2=1000, drive__gear_ratio=200,
                drive__gear_efficiency_pct=40, drive__motor_pullout_torque_mNm=2000,
                drive__motor_pullout_corner_rpm=100, physics__table_com_offset_mm=50,
                physics__table_mass_kg=20, physics__table_inertia_kgm2=10,
                physics__user_height_mm=1200, physics__friction_Nm=5,
                physics__damping_Nms_per_rad=0)
    extra = mechanics.phase_torque(q, 100, 100, 3000, 6000, "accelerating")["motor"]
    assert math.isclose(extra - acc["motor"], 1e-4 * 200 * a)


def test_the_design_user_keeps_a_margin_of_two_everywhere():
    """Issue #18: 150 kg, 150 mm off, at every speed and acceleration of Config - and at
    the bounds the settings allow (the fastest speeds with the hardest ramps)."""
    p = params.load()
    assert (mechanics.DESIGN_USER_MASS_KG, mechanics.DESIGN_COM_OFFSET_MM) == (150, 150)
    assert mechanics.drive_margin_min(p) >= mechanics.MARGIN_MIN >= 2.0
    cfg = mechanics.make_config(p)
    highest = {}
    for name in ("jog_speed_mdeg_s", "jog_accel_mdeg_s2", "normal_speed_mdeg_s",
                 "normal_accel_mdeg_s2", "emergency_speed_mdeg_s", "emergency_accel_mdeg_s2",
                 "homing_slow_mdeg_s"):
        highest[name] = config_field(name)[3]
    highest["jog_speed_mdeg_s"] = min(highest["jog_speed_mdeg_s"],
                                      highest["normal_speed_mdeg_s"])  # jog <= normal
    highest["homing_slow_mdeg_s"] = min(highest["homing_slow_mdeg_s"],
                                        highest["jog_speed_mdeg_s"])
    cfg.update(highest)
    assert mechanics.drive_margin_min(p, cfg) >= mechanics.MARGIN_MIN
    # a weaker motor shows up: the figure is computed, not a constant
    weak = variant(drive__motor_pullout_torque_mNm=3000)
    assert mechanics.drive_margin_min(weak) < mechanics.MARGIN_MIN


def test_an_estop_stops_a_head_down_tilt_within_0_4_deg():
    """Issue #18: at the fastest head-down speed the settings allow, braking at the
    gentlest emergency acceleration they allow, the table goes at most 0.4 deg further."""
    p = params.load()
    cfg = mechanics.make_config(p)
    # hand-worked: 3.5 deg/s for 20 ms = 70 mdeg, then 3500^2 / (2 * 20000) = 306.25 mdeg
    cfg.update({"emergency_accel_mdeg_s2": 20000})
    assert math.isclose(mechanics.estop_distance_mdeg(cfg, 3500), 376.25)
    cfg.update({"normal_speed_mdeg_s": config_field("normal_speed_mdeg_s")[3],
                "emergency_accel_mdeg_s2": config_field("emergency_accel_mdeg_s2")[2]})
    for _, speed_key, _ in mechanics.HEAD_DOWN_MOTIONS:
        assert mechanics.estop_distance_mdeg(cfg, cfg.get(speed_key)) <= 400


def test_upright_time_by_hand():
    p = params.load()
    cfg = mechanics.make_config(p)
    cfg.update({"normal_speed_mdeg_s": 2000, "normal_accel_mdeg_s2": 2000, "jog_speed_mdeg_s": 1000,
                "homing_slow_mdeg_s": 500, "rest_pause_ms": 10000})
    # soft max 65 deg to rest 0: 65/2 + 2/2 = 33.5 s; pause 10 s; 0 to -60: 30 + 1 = 31 s
    assert math.isclose(mechanics.upright_s_from_soft_max(cfg), 74.5)


def test_committed_figures_are_current():
    with open(FIGURES_MD) as f:
        committed = f.read()
    assert committed == mechanics.render(), (
        "hardware/mechanics_figures.md is stale: run make hardware")
