"""The controller's electronics as a checked netlist (SKiDL), from one table in code.

Owns: every electrical part of the low-voltage side (the carrier board: ESP32 module,
over-travel gate U3, heartbeat monostable U4 and its AND gate U5, pull-ups, RC filters,
the STEP-sense divider; the off-board switches, IMU, driver, motor, 48 V bus, battery
path and the 5 V converter) with the net on each of its pins, and the pin definitions
of those parts. The mains side (inlet, RCD, PE) is in hardware/harness.yml.

The parts are defined here with SKiDL's own part definitions (tool SKIDL), pin by pin
from each datasheet: SKiDL's KiCad libraries are not installed on this machine, and the
check needs only the pins and their electrical types. `circuit()` builds the SKiDL
circuit and `erc()` runs SKiDL's electrical-rules check on it.

    python -m host_tools.netlist             # ERC summary and the net list
    python -m host_tools.netlist --svg FILE  # write the drawn schematic (schematic.py)
"""

import argparse
import atexit
import contextlib
import logging
import os
import shutil
import sys
import tempfile

P, IN, OUT, BI, PWI, PWO, NC = ("passive", "input", "output", "bidir", "pwrin", "pwrout",
                                "nc")

# ESP32-DevKitC V4 headers (Espressif ESP32-DevKitC V4 getting-started guide, J2 and J3),
# named by GPIO; pins 1-19 are J2, 20-38 are J3. GPIO34-39 are input-only. The board is
# the ESP32-DevKitC-VE (ESP32-WROVER-E module, 8 MB PSRAM: the heap the firmware needs,
# README "Benchmarks"): the same guide says GPIO16 and GPIO17 are "reserved for internal
# use" on the WROVER boards (the PSRAM's chip select and clock), so they are no-connect
# pins here (_WROVER_RESERVED), like the flash pins 6-11 the firmware never names.
_DEVKIT = (
    ["3V3", "EN", "IO36", "IO39", "IO34", "IO35", "IO32", "IO33", "IO25", "IO26", "IO27",
     "IO14", "IO12", "GND", "IO13", "IO9", "IO10", "IO11", "5V"]
    + ["GND", "IO23", "IO22", "IO1", "IO3", "IO21", "GND", "IO19", "IO18", "IO5", "IO17",
       "IO16", "IO4", "IO0", "IO2", "IO15", "IO8", "IO7", "IO6"])


_WROVER_RESERVED = ("IO16", "IO17")


def _devkit_type(name):
    if name in _WROVER_RESERVED:
        return NC
    if name == "3V3":
        return PWO  # the module's on-board LDO
    if name in ("5V", "GND"):
        return PWI
    if name == "EN":
        return IN
    gpio = int(name[2:])
    return IN if 34 <= gpio <= 39 else BI


def _switch(*nums):
    return [(n, P) for n in nums]


# type -> (reference prefix, [(pin name, electrical type)]); pins numbered from 1
PART_TYPES = {
    "ESP32-DevKitC-VE": ("U", [(n, _devkit_type(n)) for n in _DEVKIT]),
    # MC74ACT132 (onsemi data sheet): pin 1 1A ... 14 VCC
    "MC74ACT132": ("U", [("1A", IN), ("1B", IN), ("1Y", OUT), ("2A", IN), ("2B", IN),
                         ("2Y", OUT), ("GND", PWI), ("3Y", OUT), ("3A", IN), ("3B", IN),
                         ("4Y", OUT), ("4A", IN), ("4B", IN), ("VCC", PWI)]),
    # 74HCT123 (Nexperia data sheet, SO16): dual retriggerable monostable
    "74HCT123": ("U", [("1A", IN), ("1B", IN), ("1CLR", IN), ("1Qn", OUT), ("2Q", OUT),
                       ("2Cext", P), ("2RCext", P), ("GND", PWI), ("2A", IN), ("2B", IN),
                       ("2CLR", IN), ("2Qn", OUT), ("1Q", OUT), ("1Cext", P),
                       ("1RCext", P), ("VCC", PWI)]),
    # SN74HCT08 (TI data sheet, PDIP-14): quad 2-input AND, TTL input levels
    "74HCT08": ("U", [("1A", IN), ("1B", IN), ("1Y", OUT), ("2A", IN), ("2B", IN),
                      ("2Y", OUT), ("GND", PWI), ("3Y", OUT), ("3A", IN), ("3B", IN),
                      ("4Y", OUT), ("4A", IN), ("4B", IN), ("VCC", PWI)]),
    "R": ("R", [("1", P), ("2", P)]),
    "C": ("C", [("1", P), ("2", P)]),
    "LED": ("D", [("A", P), ("K", P)]),
    # ZVNL110A (Diodes Inc., E-Line TO-92): logic-level N-MOSFET, pins S, G, D
    "ZVNL110A": ("Q", [("S", P), ("G", P), ("D", P)]),
    "buzzer": ("B", [("+", PWI), ("-", P)]),
    "MSTBA-4": ("X", _switch("1", "2", "3", "4")),
    "D4N-4120": ("S", _switch("11", "12", "23", "24")),  # 1NC (11-12) / 1NO (23-24)
    "XB4BS8442": ("S", _switch("21", "22")),  # e-stop, 1 NC
    "XB5AA": ("S", _switch("13", "14")),  # push button, 1 NO
    "XB5AG21+ZBE101": ("S", _switch("13", "14", "23", "24")),  # key switch, 2 NO
    "GY-521": ("U", [("VCC", PWI), ("GND", PWI), ("SCL", BI), ("SDA", BI), ("XDA", BI),
                     ("XCL", BI), ("AD0", IN), ("INT", OUT)]),
    "DM860T": ("A", [("PUL+", P), ("PUL-", P), ("DIR+", P), ("DIR-", P), ("ENA+", P),
                     ("ENA-", P), ("+Vdc", PWI), ("GND", PWI), ("A+", OUT), ("A-", OUT),
                     ("B+", OUT), ("B-", OUT)]),
    "stepper": ("M", [("A+", P), ("A-", P), ("B+", P), ("B-", P)]),
    "LRS-350-48": ("PS", [("+V", PWO), ("-V", P)]),  # DC side; AC side in the harness
    "SD-15C-5": ("PS", [("+Vin", PWI), ("-Vin", PWI), ("+Vout", PWO), ("-Vout", P)]),
    "MBR20100CT": ("D", [("A1", P), ("K", P), ("A2", P)]),  # TO-220: tab = K
    "fuse": ("F", [("1", P), ("2", P)]),
    # a cell of a series string: its terminals are passive, the string drives the bus
    "NP7-12": ("BT", [("+", P), ("-", P)]),
}

# The 4-pole connectors: which off-board cable each one takes
CONNECTORS = {
    "X1": "hand control: UP, DOWN, START (DOWN and START through the key switch)",
    "X2": "e-stop S3",
    "X3": "over-travel S1 and home S2",
    "X4": "IMU U2",
    "X5": "driver A1 signal inputs",
    "X6": "ankle-lock switch S8",
    "X7": "status LED D1 and buzzer B1",
    "X8": "5 V in from PS2",
}

# (ref, type, value, {pin: net}, sheet). Pins not named are not connected (NC).
# Net names that are pinout.csv roles are the ESP32 signals of that role.
PARTS = (
    # --- ESP32 module: the GPIO nets are the roles of hardware/pinout.csv ---
    ("U1", "ESP32-DevKitC-VE", "ESP32-DevKitC-VE", {
        "IO25": "STEP", "IO26": "DIR", "IO27": "ENABLE", "IO18": "STEP_SENSE",
        "IO21": "SDA", "IO22": "SCL", "IO4": "UP", "IO13": "DOWN", "IO23": "START",
        "IO34": "ESTOP", "IO35": "OVERTRAVEL", "IO36": "HOME", "IO39": "ANKLE_LOCK",
        "IO19": "HEARTBEAT", "IO32": "LED", "IO33": "BUZZER",
        "3V3": "+3V3", "5V": "+5V", "GND": "GND"}, "esp32"),
    # --- safe levels through reset (safety_wiring.md) ---
    ("R1", "R", "10k", {"1": "STEP", "2": "GND"}, "esp32"),
    ("R2", "R", "10k", {"1": "DIR", "2": "GND"}, "esp32"),
    ("R3", "R", "10k", {"1": "+3V3", "2": "ENABLE"}, "esp32"),
    ("R4", "R", "10k", {"1": "BUZZER", "2": "GND"}, "esp32"),
    ("R5", "R", "10k", {"1": "HEARTBEAT", "2": "GND"}, "esp32"),
    # --- NC safety contacts: 2.2k pull-up (1.5 mA wetting) and 100 nF (tau 0.22 ms) ---
    ("R6", "R", "2k2", {"1": "+3V3", "2": "ESTOP"}, "inputs"),
    ("C1", "C", "100n", {"1": "ESTOP", "2": "GND"}, "inputs"),
    ("R7", "R", "2k2", {"1": "+3V3", "2": "OVERTRAVEL"}, "inputs"),
    ("C2", "C", "100n", {"1": "OVERTRAVEL", "2": "GND"}, "inputs"),
    ("R8", "R", "2k2", {"1": "+3V3", "2": "HOME"}, "inputs"),
    ("C3", "C", "100n", {"1": "HOME", "2": "GND"}, "inputs"),
    ("R9", "R", "2k2", {"1": "+3V3", "2": "ANKLE_LOCK"}, "inputs"),
    ("C4", "C", "100n", {"1": "ANKLE_LOCK", "2": "GND"}, "inputs"),
    # --- NO buttons: 4.7k pull-up and 100 nF (tau 0.47 ms) on the long hand-control cable ---
    ("R10", "R", "4k7", {"1": "+3V3", "2": "UP"}, "inputs"),
    ("C5", "C", "100n", {"1": "UP", "2": "GND"}, "inputs"),
    ("R11", "R", "4k7", {"1": "+3V3", "2": "DOWN"}, "inputs"),
    ("C6", "C", "100n", {"1": "DOWN", "2": "GND"}, "inputs"),
    ("R12", "R", "4k7", {"1": "+3V3", "2": "START"}, "inputs"),
    ("C7", "C", "100n", {"1": "START", "2": "GND"}, "inputs"),
    # --- heartbeat: U4 half 1 retriggers on each rising HEARTBEAT edge (every 20 ms at a
    # toggle per 10 ms tick); tW = 0.45 x 82k x 1 uF = 37 ms (24 ms at the worst
    # tolerances, still above 20 ms), so 1Q stays high while the loop runs and falls
    # within 37 ms of its last edge. Half 2 is unused, held cleared. ---
    ("U4", "74HCT123", "CD74HCT123E", {
        "1A": "GND", "1B": "HEARTBEAT", "1CLR": "+5V", "1Q": "HB_OK",
        "1Cext": "HB_C", "1RCext": "HB_RC", "2A": "+5V", "2B": "GND", "2CLR": "GND",
        "VCC": "+5V", "GND": "GND"}, "gate"),
    ("R16", "R", "82k", {"1": "+5V", "2": "HB_RC"}, "gate"),
    ("C8", "C", "1u", {"1": "HB_C", "2": "HB_RC"}, "gate"),
    # --- STEP passes only while the heartbeat is alive ---
    # (one gate of four; the unused gates' inputs are tied to GND, outputs open)
    ("U5", "74HCT08", "SN74HCT08N", {"1A": "STEP", "1B": "HB_OK", "1Y": "STEP_HB",
                                     "2A": "GND", "2B": "GND", "3A": "GND", "3B": "GND",
                                     "4A": "GND", "4B": "GND", "VCC": "+5V",
                                     "GND": "GND"}, "gate"),
    # --- over-travel gate and driver buffers (safety_wiring.md, truth table) ---
    ("U3", "MC74ACT132", "MC74ACT132NG", {
        "1A": "OVERTRAVEL", "1B": "DIR", "1Y": "PASS", "2A": "STEP_HB", "2B": "PASS",
        "2Y": "PUL_N", "3A": "DIR", "3B": "DIR", "3Y": "DIR_N", "4A": "ENABLE",
        "4B": "ENABLE", "4Y": "ENA_N", "VCC": "+5V", "GND": "GND"}, "gate"),
    # --- STEP sense: 5 V gated pulse to 3.3 V for the PCNT input ---
    ("R13", "R", "10k", {"1": "PUL_N", "2": "STEP_SENSE"}, "gate"),
    ("R14", "R", "20k", {"1": "STEP_SENSE", "2": "GND"}, "gate"),
    ("C9", "C", "100n", {"1": "+5V", "2": "GND"}, "gate"),
    ("C10", "C", "100n", {"1": "+5V", "2": "GND"}, "gate"),
    ("C11", "C", "100n", {"1": "+5V", "2": "GND"}, "gate"),
    ("C12", "C", "10u", {"1": "+5V", "2": "GND"}, "gate"),
    # --- indicators ---
    ("R15", "R", "330", {"1": "LED", "2": "LED_A"}, "esp32"),
    ("Q1", "ZVNL110A", "ZVNL110A", {"G": "BUZZER", "S": "GND", "D": "BUZ_N"}, "esp32"),
    # --- connectors on the carrier board ---
    ("X1", "MSTBA-4", "hand control", {"1": "UP", "2": "DOWN", "3": "START",
                                          "4": "GND"}, "connectors"),
    ("X2", "MSTBA-4", "e-stop", {"1": "ESTOP", "2": "GND"}, "connectors"),
    ("X3", "MSTBA-4", "limits", {"1": "OVERTRAVEL", "2": "GND", "3": "HOME",
                                    "4": "GND"}, "connectors"),
    ("X4", "MSTBA-4", "IMU", {"1": "+5V", "2": "GND", "3": "SCL", "4": "SDA"},
     "connectors"),
    ("X5", "MSTBA-4", "driver", {"1": "+5V", "2": "PUL_N", "3": "DIR_N",
                                    "4": "ENA_N"}, "connectors"),
    ("X6", "MSTBA-4", "ankle lock", {"1": "ANKLE_LOCK", "2": "GND"}, "connectors"),
    ("X7", "MSTBA-4", "indicators", {"1": "LED_A", "2": "GND", "3": "+5V",
                                        "4": "BUZ_N"}, "connectors"),
    ("X8", "MSTBA-4", "5 V in", {"1": "+5V", "2": "GND"}, "connectors"),
    # --- off-board: switches (NC contacts to GND; a cut wire reads open) ---
    ("S1", "D4N-4120", "over-travel", {"11": "OVERTRAVEL", "12": "GND"}, "offboard"),
    ("S2", "D4N-4120", "home", {"11": "HOME", "12": "GND"}, "offboard"),
    ("S8", "D4N-4120", "ankle lock", {"11": "ANKLE_LOCK", "12": "GND"}, "offboard"),
    ("S3", "XB4BS8442", "e-stop", {"21": "ESTOP", "22": "GND"}, "offboard"),
    ("S4", "XB5AA", "UP", {"13": "UP", "14": "GND"}, "offboard"),
    ("S5", "XB5AA", "DOWN", {"13": "DOWN", "14": "KEY_DOWN"}, "offboard"),
    ("S6", "XB5AA", "START", {"13": "START", "14": "KEY_START"}, "offboard"),
    ("S7", "XB5AG21+ZBE101", "key", {"13": "KEY_DOWN", "14": "GND", "23": "KEY_START",
                                     "24": "GND"}, "offboard"),
    ("U2", "GY-521", "MPU-6050", {"VCC": "+5V", "GND": "GND", "SCL": "SCL", "SDA": "SDA",
                                  "AD0": "GND"}, "offboard"),
    ("D1", "LED", "status", {"A": "LED_A", "K": "GND"}, "offboard"),
    ("B1", "buzzer", "5 V active", {"+": "+5V", "-": "BUZ_N"}, "offboard"),
    # --- drive and 48 V bus ---
    ("A1", "DM860T", "DM860T", {"PUL+": "+5V", "PUL-": "PUL_N", "DIR+": "+5V",
                                "DIR-": "DIR_N", "ENA+": "+5V", "ENA-": "ENA_N",
                                "+Vdc": "DRV48", "GND": "0V48", "A+": "MA+", "A-": "MA-",
                                "B+": "MB+", "B-": "MB-"}, "power"),
    ("M1", "stepper", "34HS59-6004D", {"A+": "MA+", "A-": "MA-", "B+": "MB+",
                                       "B-": "MB-"}, "power"),
    ("PS1", "LRS-350-48", "LRS-350-48", {"+V": "PSU48", "-V": "0V48"}, "power"),
    ("D2", "MBR20100CT", "MBR20100CT", {"A1": "PSU48", "A2": "BAT48F", "K": "+48V"},
     "power"),
    ("F2", "fuse", "8 A T", {"1": "+48V", "2": "DRV48"}, "power"),
    ("F3", "fuse", "1 A T", {"1": "+48V", "2": "DCDC48"}, "power"),
    ("F4", "fuse", "10 A T", {"1": "BAT48", "2": "BAT48F"}, "power"),
    ("PS2", "SD-15C-5", "SD-15C-5", {"+Vin": "DCDC48", "-Vin": "0V48", "+Vout": "+5V",
                                     "-Vout": "GND"}, "power"),
    ("BT1", "NP7-12", "12 V", {"+": "BAT48", "-": "BAT36"}, "power"),
    ("BT2", "NP7-12", "12 V", {"+": "BAT36", "-": "BAT24"}, "power"),
    ("BT3", "NP7-12", "12 V", {"+": "BAT24", "-": "BAT12"}, "power"),
    ("BT4", "NP7-12", "12 V", {"+": "BAT12", "-": "0V48"}, "power"),
)

# Off-board parts reach the board through these connectors (their pins share the nets):
# the 5 V from PS2 comes in on X8 and goes out to the driver's opto anodes on X5.
POWER_NETS = ("+5V", "+3V3", "GND", "+48V", "0V48", "PSU48", "DRV48", "DCDC48", "BAT48",
              "BAT48F", "BAT36", "BAT24", "BAT12")


def parts():
    """[(ref, type, value, {pin: net}, sheet)] of the whole low-voltage side."""
    return list(PARTS)


def connections():
    """{ref: {pin name: net}} for every part; pins not named are absent (NC)."""
    return {ref: dict(pins) for ref, _t, _v, pins, _s in PARTS}


def nets():
    """{net: [(ref, pin)]} sorted by net name."""
    out = {}
    for ref, _t, _v, pins, _s in PARTS:
        for pin, net in pins.items():
            out.setdefault(net, []).append((ref, pin))
    return dict(sorted(out.items()))


_PRIVATE_DIR = []  # this process's working directory for SKiDL (made on first use)


@contextlib.contextmanager
def _private_cwd():
    """SKiDL opens its log files by a relative name (skidl_REPL.log) in the working
    directory and removes them by that name when files are turned off; two pytest workers
    sharing a directory then remove each other's file and one fails (FileNotFoundError in
    skidl/logger.py). Each process gets a directory of its own for SKiDL's calls."""
    if not _PRIVATE_DIR:
        d = tempfile.mkdtemp(prefix="skidl-")
        atexit.register(shutil.rmtree, d, True)
        _PRIVATE_DIR.append(d)
    old = os.getcwd()
    os.chdir(_PRIVATE_DIR[0])
    try:
        yield
    finally:
        os.chdir(old)


def _quiet_skidl():
    # SKiDL warns at import that no KiCad library paths are set: the parts are ours.
    logging.disable(logging.WARNING)
    try:
        with _private_cwd():
            import skidl
    finally:
        logging.disable(logging.NOTSET)
    return skidl


def circuit(parts_table=PARTS):
    """The SKiDL Circuit of a parts table (default PARTS); no files written."""
    with _private_cwd():
        return _circuit(parts_table)


def _circuit(parts_table):
    skidl = _quiet_skidl()
    Pin = skidl.Pin
    kinds = {P: Pin.types.PASSIVE, IN: Pin.types.INPUT, OUT: Pin.types.OUTPUT,
             BI: Pin.types.BIDIR, PWI: Pin.types.PWRIN, PWO: Pin.types.PWROUT,
             NC: Pin.types.NOCONNECT}
    circ = skidl.Circuit()
    circ.no_files = True
    templates = {}
    for name, (prefix, pins) in PART_TYPES.items():
        templates[name] = skidl.Part(
            tool=skidl.SKIDL, name=name, ref_prefix=prefix, dest=skidl.TEMPLATE,
            pins=[Pin(num=i + 1, name=n, func=kinds[k]) for i, (n, k) in enumerate(pins)])
    net_objs = {}
    for ref, kind, value, pins, _sheet in parts_table:
        part = templates[kind](ref=ref, value=value, circuit=circ)
        for pin in part.pins:
            net = pins.get(pin.name)
            if net is None:
                pin += circ.NC if hasattr(circ, "NC") else skidl.NC
                continue
            if net not in net_objs:
                net_objs[net] = skidl.Net(net, circuit=circ)
                if net in POWER_NETS:
                    net_objs[net].drive = skidl.POWER
            net_objs[net] += pin
    return circ


def erc(circ=None):
    """(errors, warnings) counted by SKiDL's ERC over the circuit (default: PARTS)."""
    skidl = _quiet_skidl()
    from skidl.logger import erc_logger
    circ = circ or circuit()
    logging.disable(logging.NOTSET)  # the counts are what we report; no console noise
    try:
        with _private_cwd():
            circ.ERC()
    finally:
        logging.disable(logging.NOTSET)
    del skidl
    return erc_logger.error.count, erc_logger.warning.count


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.netlist", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svg", help="write the drawn schematic here")
    args = ap.parse_args(argv)
    if args.svg:
        from host_tools import schematic
        with open(args.svg, "w") as f:
            f.write(schematic.render())
        return 0
    errors, warnings = erc()
    for net, pins in nets().items():
        print("%-12s %s" % (net, " ".join("%s.%s" % p for p in pins)))
    print("ERC: %d errors, %d warnings" % (errors, warnings))
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
