"""Switches: one debounce filter used for both limit switches; the ankle lock's filter;
the e-stop's events.

Defaults: switch_samples 3 (hardware/table_params.json via support.make_config).
"""

from signals import SW_ESTOP, SW_HOME, SW_OVERTRAVEL, Inputs
from support import make_config
from switches import ANKLE_SAMPLES, AnkleFilter, Debounce, Switches


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
