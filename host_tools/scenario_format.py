"""The scenario format: its vocabulary, ranges, the parsed objects and the value checks.

Owns what a scenario file may say (TOML, documented with examples in scenarios/README.md):
the keys of each section (KEYS), the actions and names they take, the ranges a newcomer may
rely on, the parsed Scenario with its Event list, and ScenarioError, whose text names the
file, the line (when it can be found) and the key. The section parsers build on the value
checks here (host_tools/scenario_parse.py).
"""

import difflib
import math
import os
import re

from host_tools import params
from host_tools.paths import use_firmware

use_firmware()

import faults  # noqa: E402  (firmware/, importable once use_firmware() ran)
from config import Config, hardware_values  # noqa: E402
from signals import (  # noqa: E402
    SW_ANKLE_LOCK,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
)
from states import COMMAND_NAMES, STATE_NAMES  # noqa: E402

P = params.load()

# ------------------------------------------------------------------ vocabulary

BUTTONS = ("UP", "DOWN", "START")
INPUTS = {"UP": SW_UP, "DOWN": SW_DOWN, "START": SW_START, "ESTOP": SW_ESTOP,
          "HOME": SW_HOME, "OVERTRAVEL": SW_OVERTRAVEL, "ANKLE_LOCK": SW_ANKLE_LOCK}
ESTOP_ACTIONS = ("press", "release", "cut_wire", "repair_wire")
# ankle_lock: the person opens or closes the lock, or its switch's wire is cut (reads open)
ANKLE_ACTIONS = ("open", "close", "cut_wire", "repair_wire")
# switch_wire: cut or repair the wire of a normally-closed limit switch (reads open)
SWITCH_WIRES = {"cut_home": (SW_HOME, True), "repair_home": (SW_HOME, False),
                "cut_overtravel": (SW_OVERTRAVEL, True),
                "repair_overtravel": (SW_OVERTRAVEL, False)}
PROGRAMS = ("beginner", "progression", "interval", "custom", "none")
VIA = ("console", "button")
UNTIL = ("duration", "session_end")
SPEEDS = ("emergency", "normal", "jog")  # firmware config <name>_speed_mdeg_s / _accel_
FAULT_NAMES = tuple(sorted(faults.NAMES.values()))
COMMANDS = tuple(c for c in COMMAND_NAMES if c != "none")
# The event actions, in the order the README documents them.
ACTIONS = ("press", "release", "estop", "console", "command", "imu_fault", "switch_spike",
           "switch_noise", "switch_wire", "ankle_lock", "power_cut", "power_restore", "hard_reset",
           "soft_reset", "crash", "user_load")
# Every key of the format, by section ("" = top level; "events.<x>" / "expect.<x>" are
# inline tables). The parser accepts exactly these; scenarios/README.md documents each
# (tests/host/test_scenario_format.py checks that it does).
KEYS = {
    "": ("name", "description", "xfail", "duration_s", "until", "user", "table", "profile",
         "settings", "program", "events", "expect", "checks"),
    "user": ("mass_kg", "height_mm", "com_offset_mm"),
    "table": ("start_angle_deg", "imu_bias_scale", "seed", "bounce_max_ms",
              "imu_mount_offset_deg", "ticks_at_boot"),
    "profile": ("max_angle_deg", "hold_max_s", "session_cap_s", "consent", "level",
                "advance_after", "name"),
    "program": ("name", "level", "angle_deg", "hold_s", "start_s", "via"),
    "events": ("at_s", "at_ms", "when_state", "delay_s", "label", "for_s", "for_ms", "on",
               "a", "b") + ACTIONS,
    "events.switch_noise": ("per_s", "inputs"),
    "events.user_load": ("mass_kg", "height_mm", "com_offset_mm"),
    "expect": ("final_state", "final_true_angle_deg", "max_true_angle_deg",
               "min_true_angle_deg", "reaches_angle_deg", "state_seen", "state_never", "fault",
               "faults_seen", "no_faults", "max_faults_raised", "refused",
               "lost_steps_detected", "max_lost_steps",
               "no_motion_without_command", "sessions_recorded", "boots", "max_head_down_s"),
    "expect.final_true_angle_deg": ("angle", "tol"),
    "expect.reaches_angle_deg": ("angle", "within_s", "after", "tol", "speed", "margin_s"),
    "checks": ("at_s", "at_ms", "state", "fault", "min_true_angle_deg", "max_true_angle_deg"),
}
# Anchors for reaches_angle_deg's `after` that are not events of the file: the run's
# start, the program start, the first fault the firmware raised, the first reset.
_ANCHORS = ("begin", "start", "fault", "reboot")
# Actions that are a person's or an operator's input (for no_motion_without_command).
_INPUT_ACTIONS = ("press", "console", "command", "estop", "start", "ankle_lock")

# Ranges a newcomer may rely on; each says why.
MASS_KG = (40, 150)  # the supported user range (table_params physics.user_mass_kg)
HEIGHT_MM = (1200, 2200)  # shorter or taller people do not fit the ankle frame
# hardware/mechanics_figures.md: 150 kg loses steps from ~330-480 mm at the normal speeds
# and from ~690 mm even at the slowest: up to 1 m reaches the loads the lift check refuses
COM_OFFSET_MM = (-1000, 1000)
DURATION_S = (0.1, 3600.0)  # an hour of virtual time is far beyond any session
DEFAULT_DURATION_S = 600.0
MAX_DEG = (15.0, 60.0)  # firmware/profiles.py: level 0's angle .. the 60 deg maximum
PROGRAM_ANGLE_DEG = (0.0, 180.0)  # the console refuses more; the clamp tests need > max
HOLD_S = (0.0, 3600.0)  # the console refuses longer holds
START_S = (0.0, 3600.0)
TOL_DEG = (0.0, 90.0)
NOISE_PER_S = (0.0, 1000.0)
BOUNCE_MS = (0, 100)
MOUNT_DEG = (-15.0, 15.0)  # firmware config imu_zero_mdeg bounds
BIAS_SCALE = (0.0, 10.0)
DEFAULT_START_S = 1.0  # after the 300 ms self-test, with margin
# [user] and events' user_load: key, range, unit.
USER_KEYS = (("mass_kg", MASS_KG, "kg"), ("height_mm", HEIGHT_MM, "mm"),
             ("com_offset_mm", COM_OFFSET_MM, "mm"))


class ScenarioError(Exception):
    """A malformed scenario: str() names the file, the line if known, and the key."""

    def __init__(self, path, message, line=None, key=None):
        self.path = path
        self.message = message
        self.line = line
        self.key = key
        where = path if line is None else "%s:%d" % (path, line)
        super().__init__("%s: %s%s" % (where, (key + ": ") if key else "", message))


# ------------------------------------------------------------------ the parsed scenario


class Event:
    """One entry of [[events]]: when it fires and what it does."""

    def __init__(self, index, line):
        self.index = index  # 1-based position in the file
        self.line = line
        self.at_ms = None  # absolute time, or None for a when_state trigger
        self.when_state = None
        self.delay_ms = 0
        self.label = None
        self.action = None
        self.arg = None  # the action's value (button name, console line, ...)
        self.for_ms = None  # press / estop press / power_cut: how long
        self.on = True  # imu_fault
        self.a = 0  # command arguments
        self.b = 0
        self.fired_ms = None

    def short(self):
        """A few words for a plot marker."""
        a = self.action
        if a in ("press", "release"):
            return "%s %s" % (a, self.arg)
        if a == "estop":
            return {"press": "e-stop", "release": "e-stop released", "cut_wire": "wire cut",
                    "repair_wire": "wire repaired"}[self.arg]
        if a == "console":
            return self.arg[:20]
        if a == "imu_fault":
            return "IMU %s%s" % (self.arg, "" if self.on else " off")
        return self.describe()[:22]

    def describe(self):
        a = self.action
        v = self.arg
        if a == "press":
            s = "press %s" % v + (" for %g s" % (self.for_ms / 1000) if self.for_ms else "")
        elif a == "release":
            s = "release %s" % v
        elif a == "estop":
            s = "e-stop %s" % v.replace("_", " ")
            if self.for_ms:
                s += " for %g ms" % self.for_ms
        elif a == "console":
            s = "console '%s'" % v
        elif a == "command":
            s = "command %s(%d, %d)" % (v, self.a, self.b)
        elif a == "imu_fault":
            s = "IMU fault %s %s" % (v, "on" if self.on else "off")
        elif a == "switch_spike":
            s = "switch spike %s" % "+".join(v)
        elif a == "switch_noise":
            s = "switch noise off" if v is None else "switch noise %g/s on %s" % (
                v[0], "+".join(v[1]))
        elif a == "switch_wire":
            s = "%s switch wire %s" % (v.split("_", 1)[1].replace("overtravel", "over-travel"),
                                       "cut" if v.startswith("cut") else "repaired")
        elif a == "ankle_lock":
            s = {"open": "ankle lock opened", "close": "ankle lock closed",
                 "cut_wire": "ankle lock wire cut", "repair_wire": "ankle lock wire repaired"}[v]
            if self.for_ms:
                s += " for %g ms" % self.for_ms
        elif a == "power_cut":
            s = "power cut" + (" for %g s" % (self.for_ms / 1000) if self.for_ms else "")
        elif a == "user_load":
            s = "user load " + ", ".join("%s=%g" % kv for kv in sorted(v.items()))
        else:
            s = a.replace("_", " ")
        return s


class Scenario:
    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.description = ""
        self.xfail = None
        self.duration_ms = int(DEFAULT_DURATION_S * 1000)
        self.until = "duration"
        self.user = {}  # mass_kg, height_mm, com_offset_mm (absent: table_params defaults)
        self.table = {"start_angle_mdeg": None, "imu_bias_scale": None, "seed": 0,
                      "bounce_max_ms": None, "imu_mount_offset_mdeg": 0.0,
                      "ticks_at_boot": 0}
        self.profile = {}  # firmware Profile fields
        self.settings = {}  # firmware Config fields
        self.program = None  # dict: name, level, angle_mdeg, hold_ms, start_ms, via
        self.events = []
        self.expect = {}
        self.checks = []

    @property
    def user_text(self):
        u = self.user_values()
        return "%g kg, %g mm tall, centre of mass %+g mm" % (
            u["mass_kg"], u["height_mm"], u["com_offset_mm"])

    def user_values(self):
        ph = P.physics
        return {
            "mass_kg": self.user.get("mass_kg", ph.user_mass_kg),
            "height_mm": self.user.get("height_mm", ph.user_height_mm),
            "com_offset_mm": self.user.get("com_offset_mm", ph.user_com_offset_mm),
        }

    @property
    def program_text(self):
        p = self.program
        if p is None:
            return "no program"
        s = p["name"]
        if p["name"] == "progression":
            s += " level %d" % self.profile.get("level", 0)
        if p.get("angle_mdeg"):
            s += " %g deg" % (p["angle_mdeg"] / 1000)
        if p.get("hold_ms"):
            s += " %g s" % (p["hold_ms"] / 1000)
        return s


# ------------------------------------------------------------------ parsing


# ------------------------------------------------------------------ value checks


class Checker:
    """Value checks with errors that name the file, the line and the key."""

    def __init__(self, path, text):
        self.path = path
        self.lines = text.splitlines()

    # ---------------------------------------------------------------- errors

    def fail(self, where, message):
        """where: (section, index, key) - section "" for the top level."""
        section, index, key = where
        name = key if not section else (
            "%s[%d].%s" % (section, index, key) if index else "%s.%s" % (section, key))
        if key is None:
            name = section if not index else "%s[%d]" % (section, index)
        raise ScenarioError(self.path, message, self.line_of(section, index, key), name)

    def line_of(self, section, index, key):
        """The line of `key` in [section] (the index-th [[section]]), or None."""
        if not self.lines:
            return None
        cur = ""
        count = {}
        header_line = None
        pat = re.compile(r"(^|[{,\s])%s\s*=" % re.escape(key)) if key else None
        for n, line in enumerate(self.lines, 1):
            s = line.strip()
            m = re.match(r"^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]", s) or re.match(
                r"^\[\s*([A-Za-z0-9_.-]+)\s*\]", s)
            if m:
                name = m.group(1)
                count[name] = count.get(name, 0) + 1
                cur = (name, count[name]) if s.startswith("[[") else (name, 0)
                if cur == (section, index or 0) and header_line is None:
                    header_line = n
                    if key is None:
                        return n
                continue
            here = ("", 0) if cur == "" else cur
            if here == (section, index or 0) and pat is not None:
                code = s.split("#", 1)[0]
                if pat.search(code):
                    return n
        if header_line is None and key is None and section:
            # not a [section]: a top-level `section = ...` line (before any header)
            for n, line in enumerate(self.lines, 1):
                if line.lstrip().startswith("["):
                    break
                if re.match(r"^\s*%s\s*=" % re.escape(section), line):
                    return n
        return header_line

    # ---------------------------------------------------------------- value checks

    def _keys(self, where, table, allowed):
        if not isinstance(table, dict):
            self.fail(where, "must be a table (a [section] or {key = value, ...})")
        for k in table:
            if k not in allowed:
                hint = difflib.get_close_matches(k, list(allowed), 1)
                msg = "unknown key"
                if hint:
                    msg += " (did you mean '%s'?)" % hint[0]
                else:
                    msg += " (allowed: %s)" % ", ".join(sorted(allowed))
                self.fail((where[0], where[1], k), msg)

    def num(self, where, v, lo, hi, unit=""):
        if type(v) not in (int, float) or (type(v) is float and not math.isfinite(v)):
            self.fail(where, "must be a number%s, got %s" % (_unit(unit), show(v)))
        if not lo <= v <= hi:
            self.fail(where, "%s is out of range: must be between %g and %g%s"
                      % (show(v), lo, hi, _unit(unit)))
        return float(v)

    def int_(self, where, v, lo, hi, unit=""):
        if type(v) is not int:
            self.fail(where, "must be a whole number%s, got %s" % (_unit(unit), show(v)))
        if not lo <= v <= hi:
            self.fail(where, "%d is out of range: must be between %d and %d%s"
                      % (v, lo, hi, _unit(unit)))
        return v

    def str_(self, where, v, choices=None, what="value"):
        if type(v) is not str:
            self.fail(where, "must be a string (in quotes), got %s" % show(v))
        if choices is not None and v not in choices:
            same = [c for c in choices if c.lower() == v.lower()]
            hint = same or difflib.get_close_matches(v, list(choices), 1)
            self.fail(where, "unknown %s '%s'%s (one of: %s)" % (
                what, v, (" - did you mean '%s'?" % hint[0]) if hint else "", ", ".join(choices)))
        return v

    def bool_(self, where, v):
        if type(v) is not bool:
            self.fail(where, "must be true or false, got %s" % show(v))
        return v

    def strlist(self, where, v, choices=None, what="value"):
        if type(v) is str:
            v = [v]
        if type(v) is not list or not v:
            self.fail(where, "must be a list of strings, e.g. [\"A\", \"B\"], got %s" % show(v))
        for x in v:
            self.str_(where, x, choices, what)
        return list(v)

    def state(self, where, v):
        return self.str_(where, v, STATE_NAMES, "state")

    def seconds_ms(self, where, v, lo_s, hi_s):
        return int(round(self.num(where, v, lo_s, hi_s, "s") * 1000))


def _unit(u):
    return (" " + u) if u else ""


def show(v):
    if type(v) is str:
        return "'%s' (a string)" % v
    if type(v) is bool:
        return "%s (true/false)" % ("true" if v else "false")
    if type(v) is dict:
        return "a table"
    if type(v) is list:
        return "a list"
    return repr(v)


def hardware_config(settings=None):
    cfg = Config()
    cfg.update(hardware_values(P.raw))
    cfg.update({"imu_calibrated": 1})  # the simulated table is commissioned (simboard.py)
    if settings:
        cfg.update(dict(settings))
    return cfg


