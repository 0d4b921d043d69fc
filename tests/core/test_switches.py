"""Switches: one debounce filter used for both limit switches; the e-stop's events.

Defaults: switch_samples 3 (hardware/table_params.json via support.make_config).
"""

from signals import SW_ESTOP, SW_HOME, SW_OVERTRAVEL, Inputs
from support import make_config
from switches import Debounce, Switches


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
