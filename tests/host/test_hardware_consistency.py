"""table_params.json, the BOM, the mechanics figures and the firmware's configuration
agree on the drive: driver, gear ratio, motor and supply voltage (issue #22)."""

import json
import os
import re

import config
import stepgen

from host_tools import bom, params, paths

P = params.load()
BY_REF = {ref: line for line in bom.read() for ref in bom.refs(line)}
# The firmware's timing class of each driver the BOM may name (firmware/stepgen.py).
DRIVER_CLASS = {"DM860T": "dm542"}


def _ratio(ref):
    (m,) = re.findall(r"(\d+):1", BY_REF[ref]["description"])
    return int(m)


def _volt_range(ref):
    lo, hi = re.search(r"(\d+)-(\d+) V", BY_REF[ref]["description"]).groups()
    return int(lo), int(hi)


def _figures():
    with open(os.path.join(paths.HARDWARE, "mechanics_figures.md")) as f:
        return f.read()


def test_driver_is_the_bom_part_and_a_firmware_timing_class():
    driver = P.drive.driver
    assert DRIVER_CLASS[BY_REF["A1"]["mpn"]] == driver
    assert driver in stepgen.DRIVER_NAMES
    assert BY_REF["A1"]["mpn"] in P.drive.why("driver")


def test_gear_ratio_is_planetary_times_worm_in_params_figures_and_firmware():
    ratio = _ratio("G1") * _ratio("G2")
    assert ratio == P.drive.gear_ratio
    assert "| gear ratio, efficiency | %d:1" % ratio in _figures()
    with open(paths.TABLE_PARAMS) as f:
        assert config.hardware_values(json.load(f))["gear_ratio"] == ratio


def test_worm_rating_rule_uses_the_current_gearbox_torque():
    m = re.search(r"Gearbox output torque the drive must carry \(worst row\): (\d+) N m",
                  _figures())
    torque = m.group(1)
    assert "%s N m" % torque in BY_REF["G2"]["choice_rule"]
    assert "%s N m" % torque in BY_REF["G2"]["why"]


def test_motor_is_the_class_the_pull_out_fit_is_taken_under():
    holding_nm = float(re.search(r"(\d+) N m holding", BY_REF["M1"]["description"]).group(1))
    assert "%d Nm" % holding_nm in P.drive.why("motor_pullout_torque_mNm")
    assert P.drive.motor_pullout_torque_mNm <= holding_nm * 1000 / 2
    assert "dual shaft" in BY_REF["M1"]["description"]  # the crank's shaft
    assert P.drive.motor_steps_per_rev == 200 and "1.8 deg" in BY_REF["M1"]["description"]


def test_supply_voltage_fits_the_driver_the_converter_and_the_battery():
    bus_v = int(re.search(r"(\d+) V", BY_REF["PS1"]["description"]).group(1))
    battery_v = 12 * len(bom.refs(BY_REF["BT1"]))
    float_v = 55  # four 12 V lead-acid blocks on float (about 2.27 V per cell)
    assert bus_v == battery_v == 48
    assert "%d V" % bus_v in P.drive.why("driver")
    for ref in ("A1", "PS2"):
        lo, hi = _volt_range(ref)
        assert lo <= bus_v and float_v <= hi, ref

