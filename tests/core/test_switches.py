"""Switches: one debounce filter used for both limit switches; the ankle lock's filter;
the e-stop's events.

Defaults: switch_samples 3 (hardware/table_params.json via support.make_config).
"""

from commissioning import IMU_UNCAL_ERR_MDEG
from signals import SW_ESTOP, SW_HOME, SW_OVERTRAVEL, Inputs
from support import make_config
from switches import (
    ANKLE_SAMPLES,
    OVER_TOL_MARGIN_MDEG,
    SWITCH_TOL_MDEG,
    AnkleFilter,
    Debounce,
    Switches,
)


def test_debounce_changes_after_n_equal_samples_and_a_blip_restarts_the_count():
    f = Debounce()
    assert not f.update(True, 3)
    assert not f.update(True, 3)
    assert not f.update(False, 3)  # a blip back: the count starts again
    assert not f.update(True, 3)
    assert not f.update(True, 3)
    assert f.update(True, 3)  # third in a row
    assert f.update(False, 3) and f.update(False, 3)
    assert not f.update(False, 3)


def _sw(samples=3):
    cfg = make_config(switch_samples=samples)
    return cfg, Switches(cfg), Inputs()


def test_home_and_overtravel_are_filtered_independently():
    cfg, sw, inp = _sw()
    inp.switches = SW_HOME
    for _ in range(2):
        sw.update(inp)
    assert not sw.at_home_switch
    inp.switches = SW_HOME | SW_OVERTRAVEL
    sw.update(inp)
    assert sw.at_home_switch and not sw.overtravel
    sw.update(inp)
    sw.update(inp)
    assert sw.at_home_switch and sw.overtravel


def test_the_sample_count_is_read_from_the_config_live():
    cfg, sw, inp = _sw(samples=5)
    inp.switches = SW_HOME
    for _ in range(4):
        sw.update(inp)
    assert not sw.at_home_switch
    cfg.set("switch_samples", 1)
    sw.update(inp)
    assert sw.at_home_switch


def test_estop_opened_is_true_on_the_opening_tick_only():
    cfg, sw, inp = _sw()
    sw.update(inp)
    assert not sw.estop_open and not sw.estop_opened
    inp.switches = SW_ESTOP
    sw.update(inp)
    assert sw.estop_open and sw.estop_opened  # not filtered: it acts at once
    sw.update(inp)
    assert sw.estop_open and not sw.estop_opened


def test_isr_edges_counted_before_the_first_update_are_no_event():
    cfg, sw, inp = _sw()
    inp.estop_edges = 4
    sw.update(inp)
    assert not sw.estop_edge and sw.edges_seen == 4
    sw.update(inp)
    assert not sw.estop_edge
    inp.estop_edges = 5
    sw.update(inp)
    assert sw.estop_edge
    sw.update(inp)
    assert not sw.estop_edge


def _ankle_opens_after(pattern, ticks):
    """Tick number (1-based) at which the ankle filter first counts open, or 0: the raw
    reading repeats pattern (True = open), from a lock read closed."""
    f = AnkleFilter()
    for _ in range(ANKLE_SAMPLES):
        f.update(False)
    assert not f.level
    for i in range(ticks):
        if f.update(pattern[i % len(pattern)]):
            return i + 1
    return 0


def test_ankle_filter_counts_open_time_not_only_open_runs():
    """Issue #22 tester: open 20 ms / closed 10 ms chatter defeated a consecutive count."""
    assert _ankle_opens_after((True,), 10) == ANKLE_SAMPLES  # a clean opening: 30 ms
    assert _ankle_opens_after((True, True, False), 100) == 5  # 2/3 open: 50 ms
    assert _ankle_opens_after((True, False), 100) == 9  # half open: 90 ms
    assert _ankle_opens_after((True, False, False), 1000) == 0  # a third: never
    # a glitch of 20 ms (two samples) never counts, even every 60 ms (a third open);
    # every 50 ms it is 40 % open, more than a third: it counts
    assert _ankle_opens_after((True, True, False, False, False, False), 1000) == 0
    assert _ankle_opens_after((True, True, False, False, False), 1000) == 12


def test_ankle_filter_closes_only_after_a_clean_closed_run():
    f = AnkleFilter()
    assert f.level  # open until read closed (fail-safe)
    for raw in (False, False, True, False, False):  # one open sample restarts the run
        assert f.update(raw)
    assert not f.update(False)


def _judged_over(cfg, sw, inp, pressed, imu_mdeg):
    """The over-travel switch read `pressed`, judged with the IMU alone at imu_mdeg (not
    homed: the steps are the IMU's, and only the IMU is passed)."""
    inp.switches = SW_OVERTRAVEL if pressed else 0
    for _ in range(cfg.switch_samples):
        sw.update(inp)
    sw.judge(False, 0, True, imu_mdeg)
    return sw.over_lies


def test_the_overtravel_switch_is_judged_beyond_the_witness_worst_error():
    """attack18e 5: uncalibrated, an MPU-6050 at the datasheet corner reads 5.2 deg high
    at 70 deg: leaving the switch (68 deg) it read 73 deg, 5 deg past it, and a 4 deg
    tolerance made the released switch a liar (FAULT latched at 67.9 deg head-down). The
    tolerance is the witness's worst error (commissioning.imu_err_mdeg) plus a margin,
    never under SWITCH_TOL_MDEG (the steps' runaway tolerance and more)."""
    cases = (  # calibrated, pressed, IMU reads, lies?
        (0, False, 73000, False),  # the attack: released, 5 deg past by the IMU
        (0, False, 68000 + OVER_TOL_MARGIN_MDEG + IMU_UNCAL_ERR_MDEG - 1, False),
        (0, False, 68000 + OVER_TOL_MARGIN_MDEG + IMU_UNCAL_ERR_MDEG + 1, True),
        (0, True, 62700, False),  # the other corner: pressed, the IMU 5.3 deg low
        (0, True, 68000 - OVER_TOL_MARGIN_MDEG - IMU_UNCAL_ERR_MDEG - 1, True),
        (1, False, 68000 + SWITCH_TOL_MDEG - 1, False),  # calibrated: 4 deg, as before
        (1, False, 68000 + SWITCH_TOL_MDEG + 1, True),
        (1, True, 68000 - SWITCH_TOL_MDEG - 1, True),  # a cut wire short of it
    )
    for cal, pressed, imu_mdeg, lies in cases:
        cfg = make_config(imu_calibrated=cal)
        assert cfg.overtravel_mdeg == 68000
        sw = Switches(cfg)
        assert _judged_over(cfg, sw, Inputs(), pressed, imu_mdeg) == lies, (
            cal, pressed, imu_mdeg)
