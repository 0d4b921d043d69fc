"""The pin table (hardware/pinout.csv), the firmware's pin map (firmware/pins.py) and the
generated wiring diagram (hardware/wiring.svg) agree, and the pin choices are legal on an
ESP32 module, the supported board's ESP32-WROVER-E (PSRAM) included."""

import ast
import os
import xml.etree.ElementTree as ET

import pins
import pytest

from host_tools import paths, wiring

PINS_PY = os.path.join(paths.FIRMWARE, "pins.py")
WIRING_SVG = os.path.join(paths.HARDWARE, "wiring.svg")

# ESP32 (ESP32-WROOM-32) GPIOs that exist, from the ESP32 datasheet pin list.
EXISTING = set(range(0, 20)) | {21, 22, 23, 25, 26, 27} | set(range(32, 40))
FLASH = set(range(6, 12))  # wired to the module's SPI flash
STRAPPING = {0, 2, 5, 12, 15}  # sampled at reset: a load there can stop the boot
INPUT_ONLY = set(range(34, 40))  # no output driver, no internal pull resistors
UART0 = {1, 3}  # the USB console (REPL, mpremote)
# The supported board's ESP32-WROVER-E wires GPIO16/17 to its PSRAM (chip select, clock):
# "reserved for internal use" on the WROVER boards (Espressif's ESP32-DevKitC V4 guide,
# esp-idf docs/en/hw-reference/esp32/get-started-devkitc.rst). A signal there would fight
# the PSRAM, which holds the MicroPython heap on the SPIRAM image.
WROVER_RESERVED = FLASH | {16, 17}
LEVELS = {"high": 1, "low": 0}


def rows():
    return wiring.read_pinout()


def pin_constants():
    """Public integer constants of firmware/pins.py: {name: value}."""
    return {k: v for k, v in vars(pins).items() if k.isupper() and type(v) is int}


def test_csv_has_one_row_per_role_and_per_gpio():
    rs = rows()
    roles = [r["role"] for r in rs]
    gpios = [int(r["gpio"]) for r in rs]
    assert len(set(roles)) == len(roles), "a role appears twice"
    assert len(set(gpios)) == len(gpios), "a GPIO is used twice"


def test_csv_fields_are_well_formed():
    for r in rows():
        assert r["direction"] in ("in", "out", "i2c"), r
        assert r["active_level"] in ("high", "low", "-"), r
        assert (r["active_level"] == "-") == (r["direction"] == "i2c"), r
        assert r["notes"].strip(), "%s has no notes" % r["role"]


def test_every_required_signal_has_a_pin():
    required = {"STEP", "DIR", "ENABLE", "STEP_SENSE", "SDA", "SCL", "UP",
                "DOWN", "START", "ESTOP", "HOME", "OVERTRAVEL", "LED", "BUZZER"}
    assert required <= {r["role"] for r in rows()}


def test_pins_are_legal_on_the_esp32():
    for r in rows():
        g = int(r["gpio"])
        assert g in EXISTING, "%s: GPIO%d does not exist" % (r["role"], g)
        assert g not in FLASH, "%s: GPIO%d is a flash pin" % (r["role"], g)
        assert g not in STRAPPING, "%s: GPIO%d is a strapping pin" % (r["role"], g)
        assert g not in UART0, "%s: GPIO%d is the console UART" % (r["role"], g)
        if g in INPUT_ONLY:
            assert r["direction"] == "in", "%s: GPIO%d is input-only" % (r["role"], g)
            assert "int" not in r["pull"], "%s: GPIO%d has no internal pull" % (r["role"], g)
            assert r["pull"].startswith("ext-"), "%s needs an external pull" % r["role"]


def reserved_pins_used(table, consts):
    """The WROVER's reserved GPIOs that pinout.csv rows or pins.py constants assign."""
    used = {int(r["gpio"]) for r in table}
    used |= {v for k, v in consts.items() if not k.endswith("_ACTIVE")}
    return sorted(used & WROVER_RESERVED)


def test_no_pin_on_the_wrovers_psram_or_flash():
    assert reserved_pins_used(rows(), pin_constants()) == []
    # the check sees an assignment to either pin, in either file
    bad = {"gpio": "16", "role": "SPARE", "direction": "out", "pull": "none",
           "active_level": "high", "connects_to": "", "notes": "x"}
    assert reserved_pins_used(rows() + [bad], pin_constants()) == [16]
    assert reserved_pins_used(rows(), dict(pin_constants(), SPARE=17)) == [17]


def test_pins_py_matches_the_csv_both_ways():
    consts = pin_constants()
    expected = {}
    for r in rows():
        expected[r["role"]] = int(r["gpio"])
        if r["active_level"] in LEVELS:
            expected[r["role"] + "_ACTIVE"] = LEVELS[r["active_level"]]
    missing = sorted(set(expected) - set(consts))
    extra = sorted(set(consts) - set(expected))
    assert not missing, "in pinout.csv but not in pins.py: %s" % missing
    assert not extra, "in pins.py but not in pinout.csv: %s" % extra
    wrong = {k: (consts[k], v) for k, v in expected.items() if consts[k] != v}
    assert not wrong, "pins.py value != pinout.csv value: %s" % wrong


def test_pins_py_uses_const_so_micropython_folds_them():
    tree = ast.parse(open(PINS_PY).read())
    for node in tree.body:
        if isinstance(node, ast.Assign):
            name = node.targets[0]
            call = node.value
            assert isinstance(name, ast.Name)
            assert isinstance(call, ast.Call) and getattr(call.func, "id", "") == "const", (
                "%s is not NAME = const(int)" % name.id)
            assert isinstance(call.args[0], ast.Constant) and type(call.args[0].value) is int


def test_safe_levels_through_reset():
    """While the ESP32 resets its pins float; the pulls must then hold the safe state.

    Covers: HZ-07, HZ-15
    """
    by_role = {r["role"]: r for r in rows()}
    # the driver is disabled: the pull drives ENABLE to its inactive level
    assert by_role["ENABLE"]["pull"].startswith("ext-up")
    assert pins.ENABLE_ACTIVE == 0
    # no step pulse and no buzzer: pulled to the inactive level
    for role in ("STEP", "BUZZER"):
        assert by_role[role]["pull"].startswith("ext-down")
        assert getattr(pins, role + "_ACTIVE") == 1
    # normally-closed safety contacts read active when open (pressed, actuated, cut)
    for role in ("ESTOP", "OVERTRAVEL", "HOME"):
        assert "up" in by_role[role]["pull"] and getattr(pins, role + "_ACTIVE") == 1


def test_step_counter_input_is_not_the_step_pin():
    """Creating a PCNT channel makes its pin an input: the counter needs its own GPIO.

    Covers: HZ-05
    """
    assert pins.STEP_SENSE != pins.STEP


def test_wiring_svg_parses_and_is_current():
    text = open(WIRING_SVG).read()
    root = ET.fromstring(text.encode())
    assert root.tag.endswith("svg")
    assert text == wiring.render(), "hardware/wiring.svg is stale: run make hardware"
    for r in rows():
        assert "GPIO%s" % r["gpio"] in text


def test_wiring_refuses_a_signal_it_cannot_route():
    bad = rows() + [{"gpio": "16", "role": "WARP_DRIVE", "direction": "out", "pull": "none",
                     "active_level": "high", "connects_to": "", "notes": "x"}]
    with pytest.raises(ValueError, match="WARP_DRIVE"):
        wiring.render(bad)
