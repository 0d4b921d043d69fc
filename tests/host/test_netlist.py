"""The electronics netlist (host_tools/netlist.py): SKiDL's ERC passes, the ESP32 pins
are the ones of hardware/pinout.csv and firmware/pins.py, every electronics BOM line is
a netlist part and back, the safety circuits are wired as safety_wiring.md says, and
the committed schematic is the drawing of this netlist."""

import os

import pins
import pytest

from host_tools import bom, netlist, paths, schematic, wiring

SCHEMATIC_SVG = os.path.join(paths.HARDWARE, "schematic.svg")
CONN = netlist.connections()


def _gpio_nets():
    """{gpio: net} of the ESP32 module's connected GPIO pins."""
    return {int(pin[2:]): net for pin, net in CONN["U1"].items() if pin.startswith("IO")}


def test_erc_passes_with_no_error_and_no_warning():
    errors, warnings = netlist.erc()
    assert (errors, warnings) == (0, 0)


def test_must_fail_erc_finds_two_outputs_on_one_net():
    # the check is real: tie the gate output 1Y to 3Y and SKiDL reports the conflict
    shorted = []
    for ref, kind, value, pins_, sheet in netlist.PARTS:
        if ref == "U3":
            pins_ = dict(pins_, **{"3Y": "PASS"})
        shorted.append((ref, kind, value, pins_, sheet))
    errors, _warnings = netlist.erc(netlist.circuit(shorted))
    assert errors >= 1


def test_every_esp32_pin_matches_pinout_csv_and_pins_py():
    by_gpio = {int(r["gpio"]): r["role"] for r in wiring.read_pinout()}
    assert _gpio_nets() == by_gpio
    for gpio, role in by_gpio.items():
        assert getattr(pins, role) == gpio, role


def test_unlisted_esp32_pins_are_not_connected():
    types = dict(netlist.PART_TYPES["ESP32-DevKitC-VE"][1])
    power = {"3V3", "5V", "GND"}
    used = {"IO%d" % g for g in _gpio_nets()} | power
    assert set(CONN["U1"]) == used
    assert {"IO6", "IO7", "IO8", "IO9", "IO10", "IO11"} <= set(types) - used  # flash
    # the WROVER-E's PSRAM (chip select, clock): no-connect pins of the part, not used
    assert {"IO16", "IO17"} <= set(types) - used
    assert types["IO16"] == types["IO17"] == netlist.NC


def test_every_electronics_bom_line_is_in_the_netlist_and_back():
    lines = [line for line in bom.read() if line["group"] == "electronics"]
    in_bom = {ref for line in lines for ref in bom.refs(line)}
    assert in_bom == set(CONN)


def test_bom_part_numbers_match_the_netlist_values_of_the_ics():
    by_ref = {ref: line for line in bom.read() for ref in bom.refs(line)}
    for ref, _kind, value, _pins, _sheet in netlist.PARTS:
        if ref.startswith(("U3", "U4", "U5", "A1", "PS")):
            assert by_ref[ref]["mpn"] == value, ref


def test_nc_safety_contacts_have_a_pull_up_and_a_filter_capacitor():
    """Covers: HZ-07, HZ-22"""
    nets = netlist.nets()
    for net in ("ESTOP", "OVERTRAVEL", "HOME", "ANKLE_LOCK", "UP", "DOWN", "START"):
        others = {ref for ref, _pin in nets[net]}
        pullups = [r for r in others if r.startswith("R") and "+3V3" in CONN[r].values()]
        caps = [c for c in others if c.startswith("C") and "GND" in CONN[c].values()]
        assert len(pullups) == 1 and len(caps) == 1, net


def test_step_reaches_the_driver_only_through_heartbeat_and_overtravel_gates():
    """Covers: HZ-03, HZ-09"""
    # STEP -> U5 (AND heartbeat-alive) -> U3 gate 2 (NAND with "pass") -> PUL-
    assert CONN["U5"]["1A"] == "STEP" and CONN["U5"]["1B"] == CONN["U4"]["1Q"]
    assert CONN["U4"]["1B"] == "HEARTBEAT"
    assert CONN["U3"]["2A"] == CONN["U5"]["1Y"] and CONN["U3"]["2B"] == CONN["U3"]["1Y"]
    assert {CONN["U3"]["1A"], CONN["U3"]["1B"]} == {"OVERTRAVEL", "DIR"}
    assert CONN["A1"]["PUL-"] == CONN["U3"]["2Y"]
    step_users = {ref for ref, _pin in netlist.nets()["STEP"]}
    assert step_users == {"U1", "R1", "U5"}  # nothing else reaches the raw STEP pin


def test_down_and_start_pass_through_the_key_switch_and_up_does_not():
    """Covers: HZ-12"""
    key = CONN["S7"]
    assert {CONN["S5"]["14"], CONN["S6"]["14"]} == {key["13"], key["23"]}
    assert key["14"] == key["24"] == "GND"
    assert CONN["S4"]["14"] == "GND"  # UP (toward safety) never behind the key


def test_ankle_lock_is_a_normally_closed_contact_to_ground_on_gpio39():
    """Covers: HZ-22"""
    assert CONN["U1"]["IO39"] == "ANKLE_LOCK" == CONN["S8"]["11"]
    assert CONN["S8"]["12"] == "GND"
    assert "23" not in CONN["S8"]  # the NO contact is not used: a cut wire reads open
    assert pins.ANKLE_LOCK == 39 and pins.ANKLE_LOCK_ACTIVE == 1


def _ohms(value):
    mult = {"k": 1e3, "M": 1e6}
    for unit, m in mult.items():
        if unit in value:
            a, _, b = value.partition(unit)
            return float(a + "." + (b or "0")) * m
    return float(value)


def _farads(value):
    units = {"p": 1e-12, "n": 1e-9, "u": 1e-6}
    return float(value[:-1]) * units[value[-1]]


def test_heartbeat_pulse_outlasts_two_ticks_and_ends_within_50_ms():
    # tW = 0.45 R C (74HCT123 for C >= 10 nF); the pin toggles once per tick, so a
    # rising edge comes every 2 ticks: tW must exceed that even at -25 % (tolerances)
    values = {ref: value for ref, _k, value, _p, _s in netlist.PARTS}
    assert CONN["R16"]["2"] == CONN["U4"]["1RCext"] == CONN["C8"]["2"]
    t_ms = 0.45 * _ohms(values["R16"]) * _farads(values["C8"]) * 1000
    tick_ms = 10  # firmware/config.py tick_ms default
    assert 0.75 * t_ms > 2 * tick_ms
    assert t_ms < 50


def test_step_sense_divider_brings_5_v_to_3_3_v():
    values = {ref: value for ref, _k, value, _p, _s in netlist.PARTS}
    top, bottom = _ohms(values["R13"]), _ohms(values["R14"])
    assert 5.0 * bottom / (top + bottom) == pytest.approx(3.33, abs=0.05)


def test_committed_schematic_is_current():
    with open(SCHEMATIC_SVG) as f:
        assert f.read() == schematic.render(), "run make hardware"
