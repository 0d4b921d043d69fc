"""The physical model of the table and drive (host_tools/physics.py).

Layers: hand-worked numbers, the step generator twin pulse by pulse, scenarios against
the model (self-locking, following, losing steps, end stops), and a property-based walk
checking the invariants every millisecond.
"""

import math

import pytest
from config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools import params
from host_tools.physics import (
    G_M_S2,
    RAD_TO_MDEG,
    StepGenerator,
    TablePhysics,
    mdeg_to_rad,
)

P = params.load()
BACKLASH = P.drive.backlash_mdeg
USTEP_MDEG = 360000.0 / (P.drive.motor_steps_per_rev * P.drive.microsteps * P.drive.gear_ratio)
WIDE = 10**9  # a dead-man window that never stops anything


def sps(mdeg_s):
    """Step rate for a table rate."""
    return int(round(mdeg_s / USTEP_MDEG))


def drive(t, rate_sps, ms, accel_sps2=None):
    """Command a rate (ramped at accel_sps2, updated every 10 ms as the firmware does)."""
    sg = t.stepgen
    r = sg.rate_sps
    for i in range(ms):
        if i % 10 == 0:
            if accel_sps2 is None:
                r = rate_sps
            else:
                dv = accel_sps2 / 100.0
                r = min(rate_sps, r + dv) if rate_sps > r else max(rate_sps, r - dv)
            sg.command(int(r), -WIDE, WIDE, True)
        t.step()


# ------------------------------------------------------------------ hand-worked


def test_inertia_and_gravity_torque_hand_worked():
    # an 80 kg, 2 m user 100 mm toward the head: rod 80*2^2/12, parallel axis 80*0.1^2
    t = TablePhysics(P, user_mass_kg=80, user_height_mm=2000, user_com_offset_mm=100)
    assert t.inertia_kgm2 == pytest.approx(P.physics.table_inertia_kgm2 + 80 * 4 / 12 + 0.8)
    assert t.gravity_torque_Nm(0.0) == pytest.approx(80 * G_M_S2 * 0.1)  # head-down pull
    assert t.gravity_torque_Nm(mdeg_to_rad(60000)) == pytest.approx(80 * G_M_S2 * 0.1 / 2)
    assert t.gravity_torque_Nm(math.pi / 2) == pytest.approx(0.0, abs=1e-9)  # hangs below
    feet = TablePhysics(P, user_com_offset_mm=-50)
    assert feet.gravity_torque_Nm(0.0) < 0  # centre of mass toward the feet pulls head-up


def test_defaults_come_from_the_parameter_file():
    t = TablePhysics(P)
    assert t.user_mass_kg == P.physics.user_mass_kg
    assert t.user_height_mm == P.physics.user_height_mm
    assert t.user_com_offset_mm == P.physics.user_com_offset_mm
    assert t.ustep_rad * RAD_TO_MDEG == pytest.approx(USTEP_MDEG)


def test_pullout_torque_halves_at_the_corner_speed():
    t = TablePhysics(P)
    t0 = P.drive.motor_pullout_torque_mNm / 1000
    corner_sps = P.drive.motor_pullout_corner_rpm / 60 * t.usteps_per_motor_rev
    assert t.pullout_Nm(0) == pytest.approx(t0)
    assert t.pullout_Nm(corner_sps) == pytest.approx(t0 / 2)
    assert t.pullout_Nm(-corner_sps) == pytest.approx(t0 / 2)


def test_start_angle_outside_the_stops_is_refused():
    with pytest.raises(ValueError):
        TablePhysics(P, angle_mdeg=P.frame.stop_head_down_mdeg + 1)


# ------------------------------------------------------------------ step generator twin


def test_stepgen_fractional_rate_is_exact_over_time():
    sg = StepGenerator()
    sg.command(1500, -WIDE, WIDE, True)
    assert sum(sg.tick() for _ in range(1000)) == 1500
    sg.command(-333, -WIDE, WIDE, True)
    pulses = [sg.tick() for _ in range(3000)]
    assert sum(pulses) == -999 and set(pulses) <= {0, -1}
    assert sg.count == 1500 - 999


def test_stepgen_never_leaves_the_dead_man_window():
    sg = StepGenerator()
    sg.command(7000, -20, 50, True)
    for _ in range(100):
        sg.tick()
        assert sg.count <= 50
    assert sg.count == 50
    sg.command(-7000, -20, 50, True)
    for _ in range(100):
        sg.tick()
    assert sg.count == -20
    # outside the window (behind it) nothing moves, not even toward it
    sg.command(1000, 100, 200, True)
    for _ in range(50):
        assert sg.tick() == 0


def test_stepgen_emits_nothing_when_disabled_or_gated():
    sg = StepGenerator()
    sg.command(5000, -WIDE, WIDE, False)
    assert sum(sg.tick() for _ in range(100)) == 0
    sg.command(5000, -WIDE, WIDE, True)
    sg.block_head_down = True  # the over-travel STEP gate
    assert sum(sg.tick() for _ in range(100)) == 0
    sg.command(-5000, -WIDE, WIDE, True)
    assert sum(sg.tick() for _ in range(100)) == -500  # head-up still allowed


# ------------------------------------------------------------------ scenarios


@pytest.mark.parametrize(
    "mass,offset,angle", [(None, None, 30000), (150, 300, 30000), (150, 300, 0), (40, -100, 0)]
)
def test_unpowered_table_holds_within_backlash(mass, offset, angle):
    t = TablePhysics(P, user_mass_kg=mass, user_com_offset_mm=offset, angle_mdeg=angle)
    t.stepgen.command(0, 0, 0, False)
    t.run(10000)
    assert abs(t.true_angle_mdeg - angle) <= BACKLASH
    assert t.emitted_count == 0 and t.lost_steps == 0


def test_de_energised_mid_move_holds_within_backlash():
    t = TablePhysics(P, angle_mdeg=50000)
    drive(t, sps(4000), 2000, accel_sps2=sps(4000))
    t.stepgen.command(0, 0, 0, False)  # power gone mid-move
    held = t.true_angle_mdeg
    t.run(20000)
    assert abs(t.true_angle_mdeg - held) <= BACKLASH
    assert t.true_rate_mdeg_s == 0.0


@pytest.mark.parametrize("direction", [1, -1])
def test_follows_steps_under_a_normal_load(direction):
    t = TablePhysics(P, angle_mdeg=0)
    rate = direction * sps(4000)  # normal speed, 4 deg/s
    drive(t, rate, 6000, accel_sps2=sps(4000))
    drive(t, 0, 2000, accel_sps2=sps(4000))
    assert t.lost_steps == 0
    moved = t.true_angle_mdeg
    assert abs(t.emitted_count) > sps(15000)  # it really went somewhere (> 15 deg)
    assert abs(moved - t.emitted_count * USTEP_MDEG) <= BACKLASH


def test_follows_at_emergency_speed_with_a_heavy_user():
    # the configured emergency speed and ramp (firmware/config.py) and the design case of
    # hardware/mechanics_figures.md (issue #18): 150 kg, 1750 mm, 150 mm off (margin 2.0)
    cfg = Config()
    t = TablePhysics(P, user_mass_kg=150, user_height_mm=1750, user_com_offset_mm=150,
                     angle_mdeg=30000)
    drive(t, -sps(cfg.emergency_speed_mdeg_s), 5000, accel_sps2=sps(cfg.emergency_accel_mdeg_s2))
    assert t.lost_steps == 0
    assert abs(t.true_angle_mdeg - 30000 - t.emitted_count * USTEP_MDEG) <= BACKLASH


def test_loses_steps_when_overloaded():
    # 150 kg with the centre of mass 300 mm toward the head, driven head-up at 8 deg/s:
    # 150 * 9.8 * 0.3 = 441 N m at the table needs 441 / (600 * 0.35) = 2.1 N m at the
    # motor even at constant speed, above the 1.6 N m pull-out at 800 rpm; started at
    # that rate at once (as after a stall) the motor never turns
    t = TablePhysics(P, user_mass_kg=150, user_height_mm=2000, user_com_offset_mm=300,
                     angle_mdeg=0)
    assert t.pullout_Nm(sps(8000)) < t.gravity_moment_Nm / (t.ratio * t.efficiency)
    drive(t, -sps(8000), 3000)
    assert t.lost_steps > 0
    assert t.emitted_count < 0
    # the self-locking worm held the table: it did not follow the pulses
    assert abs(t.true_angle_mdeg) <= BACKLASH
    assert abs(t.drive_steps) + t.lost_steps == abs(t.emitted_count)


@pytest.mark.parametrize("direction", [1, -1])
def test_never_passes_the_end_stops(direction):
    # TablePhysics alone has no over-travel gate (the board applies it): the stops hold
    start = 70000 if direction > 0 else -58000
    t = TablePhysics(P, angle_mdeg=start)
    lo = P.frame.stop_head_up_mdeg
    hi = P.frame.stop_head_down_mdeg
    for _ in range(100):
        drive(t, direction * sps(4000), 100, accel_sps2=sps(4000))
        assert lo <= t.true_angle_mdeg <= hi
    assert t.true_angle_mdeg == pytest.approx(hi if direction > 0 else lo, abs=BACKLASH)
    assert t.lost_steps > 0  # the stop took the drive's push: the motor stalled there


# ------------------------------------------------------------------ invariants


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    mass=st.integers(40, 150),
    offset=st.integers(-150, 300),
    start=st.integers(-60000, 74000),
    moves=st.lists(
        st.tuples(st.integers(-12000, 12000), st.integers(1, 400), st.booleans()),
        min_size=1,
        max_size=12,
    ),
)
def test_invariants_every_millisecond(mass, offset, start, moves):
    t = TablePhysics(P, user_mass_kg=mass, user_com_offset_mm=offset, angle_mdeg=start)
    lo = P.frame.stop_head_up_mdeg
    hi = P.frame.stop_head_down_mdeg
    half = BACKLASH / 2 + 1e-6
    for rate, ms, enable in moves:
        t.stepgen.command(rate, -WIDE, WIDE, enable)
        for _ in range(ms):
            t.step()
            a = t.true_angle_mdeg
            assert lo - 1e-6 <= a <= hi + 1e-6
            assert abs(a - t.drive_angle_mdeg) <= half  # always inside the backlash band
            # every emitted pulse was either followed or lost
            assert abs(t.emitted_count - t.drive_steps) <= t.lost_steps
