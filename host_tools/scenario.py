"""Scenario files: parse, validate, run on the simulated table, check the expectations.

Owns the scenario format (TOML, documented with examples in scenarios/README.md): the
user and table, the stored profile and settings, the program to run, the timed events
(buttons, e-stop, console lines, IMU faults, switch noise, power, resets, load changes)
and the expectations checked during and at the end of the run.

    from host_tools import scenario
    sc = scenario.load("scenarios/estop_at_depth.toml")   # ScenarioError if malformed
    result = scenario.run(sc)                             # runs the real firmware App
    result.passed, result.failures, result.stats, result.recorder (host_tools/trace.py)

A malformed file raises ScenarioError whose text names the file, the line (when it can be
found) and the key: "scenarios/x.toml:12: events[3].press: unknown button 'LEFT' ...".
Everything runs in virtual time and is deterministic for a given file (seeded).
"""

import difflib
import math
import os
import random
import re
import shutil
import tempfile
import time
import tomllib
import traceback

from host_tools import imu_model, params, physics, trace
from host_tools.paths import use_firmware
from host_tools.simboard import SimBoard
from host_tools.trace import STATE, TRUE, Recorder

use_firmware()

import events as fw_events  # noqa: E402  (firmware/, importable once use_firmware() ran)
import faults  # noqa: E402
import profiles as fw_profiles  # noqa: E402
import store  # noqa: E402
from app import SETTINGS  # noqa: E402
from config import Config, ConfigError, hardware_values  # noqa: E402
from signals import (  # noqa: E402
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
)
from states import COMMAND_NAMES, STATE_NAMES  # noqa: E402

from host_tools.runner import SimRunner  # noqa: E402  (after use_firmware: imports app)

P = params.load()

# ------------------------------------------------------------------ vocabulary

BUTTONS = ("UP", "DOWN", "START")
INPUTS = {"UP": SW_UP, "DOWN": SW_DOWN, "START": SW_START, "ESTOP": SW_ESTOP,
          "HOME": SW_HOME, "OVERTRAVEL": SW_OVERTRAVEL}
ESTOP_ACTIONS = ("press", "release", "cut_wire", "repair_wire")
PROGRAMS = ("beginner", "progression", "interval", "custom", "none")
VIA = ("console", "button")
UNTIL = ("duration", "session_end")
SPEEDS = ("emergency", "normal", "jog")  # firmware config <name>_speed_mdeg_s / _accel_
FAULT_NAMES = tuple(sorted(faults.NAMES.values()))
COMMANDS = tuple(c for c in COMMAND_NAMES if c != "none")
# The event actions, in the order the README documents them.
ACTIONS = ("press", "release", "estop", "console", "command", "imu_fault", "switch_spike",
           "switch_noise", "power_cut", "power_restore", "hard_reset", "soft_reset", "crash",
           "user_load")
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
_INPUT_ACTIONS = ("press", "console", "command", "estop", "start")

# Ranges a newcomer may rely on; each says why.
MASS_KG = (40, 150)  # the supported user range (table_params physics.user_mass_kg)
HEIGHT_MM = (1200, 2200)  # shorter or taller people do not fit the ankle frame
COM_OFFSET_MM = (-600, 600)  # hardware/mechanics: steps are lost from ~160-450 mm already
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
        self.table = {"start_angle_mdeg": None, "imu_bias_scale": 0.1, "seed": 0,
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


def load(path):
    """Read and validate a scenario file; ScenarioError if anything is wrong."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ScenarioError(path, "cannot read the file (%s)" % (e.strerror or e)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(path, "not UTF-8 text (byte %d)" % e.start) from None
    return parse(text, path)


def parse(text, path="<scenario>"):
    """Validate TOML text as a scenario; ScenarioError names the problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ScenarioError(path, "not valid TOML: %s" % msg, line) from None
    return from_dict(data, path, text)


def from_dict(data, path="<scenario>", text=""):
    """Validate an already-parsed scenario (the CLI builds one this way)."""
    return _Parser(path, text).scenario(data)


class _Parser:
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
            self.fail(where, "must be a number%s, got %s" % (_unit(unit), _show(v)))
        if not lo <= v <= hi:
            self.fail(where, "%s is out of range: must be between %g and %g%s"
                      % (_show(v), lo, hi, _unit(unit)))
        return float(v)

    def int_(self, where, v, lo, hi, unit=""):
        if type(v) is not int:
            self.fail(where, "must be a whole number%s, got %s" % (_unit(unit), _show(v)))
        if not lo <= v <= hi:
            self.fail(where, "%d is out of range: must be between %d and %d%s"
                      % (v, lo, hi, _unit(unit)))
        return v

    def str_(self, where, v, choices=None, what="value"):
        if type(v) is not str:
            self.fail(where, "must be a string (in quotes), got %s" % _show(v))
        if choices is not None and v not in choices:
            same = [c for c in choices if c.lower() == v.lower()]
            hint = same or difflib.get_close_matches(v, list(choices), 1)
            self.fail(where, "unknown %s '%s'%s (one of: %s)" % (
                what, v, (" - did you mean '%s'?" % hint[0]) if hint else "", ", ".join(choices)))
        return v

    def bool_(self, where, v):
        if type(v) is not bool:
            self.fail(where, "must be true or false, got %s" % _show(v))
        return v

    def strlist(self, where, v, choices=None, what="value"):
        if type(v) is str:
            v = [v]
        if type(v) is not list or not v:
            self.fail(where, "must be a list of strings, e.g. [\"A\", \"B\"], got %s" % _show(v))
        for x in v:
            self.str_(where, x, choices, what)
        return list(v)

    def state(self, where, v):
        return self.str_(where, v, STATE_NAMES, "state")

    def seconds_ms(self, where, v, lo_s, hi_s):
        return int(round(self.num(where, v, lo_s, hi_s, "s") * 1000))

    # ---------------------------------------------------------------- sections

    def scenario(self, data):
        sc = Scenario(self.path)
        self._keys(("", 0, None), data, KEYS[""])
        T = ""
        if "name" in data:
            sc.name = self.str_((T, 0, "name"), data["name"])
        if "description" in data:
            sc.description = self.str_((T, 0, "description"), data["description"])
        if "xfail" in data:
            x = self.str_((T, 0, "xfail"), data["xfail"])
            if not x.strip():
                self.fail((T, 0, "xfail"), "give the reason the scenario is expected to fail")
            sc.xfail = x
        if "duration_s" in data:
            sc.duration_ms = self.seconds_ms((T, 0, "duration_s"), data["duration_s"],
                                             *DURATION_S)
        if "until" in data:
            sc.until = self.str_((T, 0, "until"), data["until"], UNTIL, "end condition")
        self.user(sc, data.get("user", {}))
        self.table(sc, data.get("table", {}))
        self.settings(sc, data.get("settings", {}))
        self.program_(sc, data.get("program"))
        self.profile(sc, data.get("profile", {}))
        self.events(sc, data.get("events", []))
        self.expect(sc, data.get("expect", {}))
        self.checks(sc, data.get("checks", []))
        return sc

    def user(self, sc, t):
        S = "user"
        self._keys((S, 0, None), t, KEYS[S])
        if "mass_kg" in t:
            sc.user["mass_kg"] = self.num((S, 0, "mass_kg"), t["mass_kg"], *MASS_KG, "kg")
        if "height_mm" in t:
            sc.user["height_mm"] = self.num((S, 0, "height_mm"), t["height_mm"], *HEIGHT_MM,
                                            "mm")
        if "com_offset_mm" in t:
            sc.user["com_offset_mm"] = self.num((S, 0, "com_offset_mm"), t["com_offset_mm"],
                                                *COM_OFFSET_MM, "mm")

    def table(self, sc, t):
        S = "table"
        self._keys((S, 0, None), t, KEYS[S])
        fr = P.frame
        if "start_angle_deg" in t:
            sc.table["start_angle_mdeg"] = 1000 * self.num(
                (S, 0, "start_angle_deg"), t["start_angle_deg"],
                fr.stop_head_up_mdeg / 1000, fr.stop_head_down_mdeg / 1000, "deg")
        if "imu_bias_scale" in t:
            sc.table["imu_bias_scale"] = self.num((S, 0, "imu_bias_scale"),
                                                  t["imu_bias_scale"], *BIAS_SCALE)
        if "seed" in t:
            sc.table["seed"] = self.int_((S, 0, "seed"), t["seed"], 0, 2**63 - 1)
        if "bounce_max_ms" in t:
            sc.table["bounce_max_ms"] = self.int_((S, 0, "bounce_max_ms"), t["bounce_max_ms"],
                                                  *BOUNCE_MS, "ms")
        if "imu_mount_offset_deg" in t:
            sc.table["imu_mount_offset_mdeg"] = 1000 * self.num(
                (S, 0, "imu_mount_offset_deg"), t["imu_mount_offset_deg"], *MOUNT_DEG, "deg")
        if "ticks_at_boot" in t:
            sc.table["ticks_at_boot"] = self.int_((S, 0, "ticks_at_boot"), t["ticks_at_boot"],
                                                  0, (1 << 30) - 1, "ms")

    def settings(self, sc, t):
        S = "settings"
        cfg = _hardware_config()
        self._keys((S, 0, None), t, set(cfg.names()))
        for k, v in t.items():
            if type(v) is not int:
                self.fail((S, 0, k), "must be a whole number (firmware units: see the name), "
                          "got %s" % _show(v))
        try:
            cfg.update(dict(t))
        except ConfigError as e:
            key = next((k for k in t if k in str(e)), None)
            self.fail((S, 0, key), "refused by the firmware's configuration: %s" % e)
        sc.settings = dict(t)

    def program_(self, sc, t):
        S = "program"
        if t is None:
            return
        if type(t) is str:  # program = "beginner"
            t = {"name": t}
        self._keys((S, 0, None), t, KEYS[S])
        if "name" not in t:
            self.fail((S, 0, None), "needs name = one of %s" % ", ".join(PROGRAMS))
        name = self.str_((S, 0, "name"), t["name"], PROGRAMS, "program")
        if name == "none":
            for k in t:
                if k != "name":
                    self.fail((S, 0, k), "program 'none' takes no other keys")
            return
        p = {"name": name, "level": None, "angle_mdeg": 0, "hold_ms": 0,
             "start_ms": int(DEFAULT_START_S * 1000), "via": "console"}
        if "level" in t:
            if name != "progression":
                self.fail((S, 0, "level"), "only the progression program takes a level "
                          "(set [profile] level for the others)")
            p["level"] = self.int_((S, 0, "level"), t["level"], 0, fw_profiles.NUM_LEVELS - 1)
        for k in ("angle_deg", "hold_s"):
            if k in t and name not in ("custom", "interval"):
                self.fail((S, 0, k), "only the custom and interval programs take %s" % k)
        if "angle_deg" in t:
            p["angle_mdeg"] = int(round(1000 * self.num((S, 0, "angle_deg"), t["angle_deg"],
                                                        *PROGRAM_ANGLE_DEG, "deg")))
        if "hold_s" in t:
            p["hold_ms"] = self.seconds_ms((S, 0, "hold_s"), t["hold_s"], *HOLD_S)
        if name == "custom":
            if not p["angle_mdeg"] or not p["hold_ms"]:
                self.fail((S, 0, None), "the custom program needs angle_deg and hold_s "
                          "(both above 0)")
        if name == "interval" and bool(p["angle_mdeg"]) != bool(p["hold_ms"]):
            self.fail((S, 0, None), "the interval program takes both angle_deg and hold_s, "
                      "or neither (then the level's angle and 30 s)")
        if "start_s" in t:
            p["start_ms"] = self.seconds_ms((S, 0, "start_s"), t["start_s"], *START_S)
        if "via" in t:
            p["via"] = self.str_((S, 0, "via"), t["via"], VIA, "start method")
            if p["via"] == "button" and name == "custom":
                self.fail((S, 0, "via"), "the custom program needs the console (an angle "
                          "and a time); use via = \"console\"")
        sc.program = p

    def profile(self, sc, t):
        S = "profile"
        keys = {"max_angle_deg": ("max_mdeg", MAX_DEG, 1000, "deg"),
                "hold_max_s": ("hold_max_ms", (10.0, 300.0), 1000, "s"),
                "session_cap_s": ("session_cap_ms", (10.0, 600.0), 1000, "s")}
        self._keys((S, 0, None), t, KEYS[S])
        d = {}
        for k, (field, rng, scale, unit) in keys.items():
            if k in t:
                d[field] = int(round(self.num((S, 0, k), t[k], *rng, unit) * scale))
        if "consent" in t:
            d["consent"] = self.bool_((S, 0, "consent"), t["consent"])
        if "level" in t:
            d["level"] = self.int_((S, 0, "level"), t["level"], 0, fw_profiles.NUM_LEVELS - 1)
        if "advance_after" in t:
            d["advance_after"] = self.int_((S, 0, "advance_after"), t["advance_after"], 1, 20)
        if "name" in t:
            d["name"] = self.str_((S, 0, "name"), t["name"])
        p = sc.program
        if p is not None and p["level"] is not None:
            if "level" in d and d["level"] != p["level"]:
                self.fail((S, 0, "level"), "[profile] level %d and [program] level %d disagree"
                          % (d["level"], p["level"]))
            d["level"] = p["level"]
        # a level deeper than the beginner max raises the max to it (a therapist's choice)
        lvl = d.get("level", 0)
        if "max_mdeg" not in d and fw_profiles.LEVEL_ANGLE_MDEG[lvl] > 30000:
            d["max_mdeg"] = fw_profiles.LEVEL_ANGLE_MDEG[lvl]
        if "hold_max_ms" in d and "session_cap_ms" not in d and d["hold_max_ms"] > 180000:
            d["session_cap_ms"] = d["hold_max_ms"]
        try:
            fw_profiles.from_dict(dict(d), _hardware_config(sc.settings))
        except fw_profiles.ProfileError as e:
            msg = str(e)
            key = None
            for k, (field, _, _, _) in keys.items():
                if field in msg:
                    key = k
            sect = S
            if "level" in msg:
                key = "level"
                if p is not None and p["level"] is not None:
                    sect = "program"  # the level came from [program]
            self.fail((sect, 0, key), "refused by the firmware's profile rules: %s" % msg)
        sc.profile = d

    def events(self, sc, arr):
        S = "events"
        if type(arr) is not list:
            self.fail((S, 0, None), "must be an array of tables: write each as [[events]]")
        last_at = 0
        labels = set()
        for i, t in enumerate(arr, 1):
            w = (S, i, None)
            if type(t) is not dict:
                self.fail(w, "each event must be a table ([[events]] with key = value lines)")
            self._keys(w, t, KEYS[S])
            ev = Event(i, self.line_of(S, i, None))
            acts = [k for k in t if k in ACTIONS]
            if len(acts) != 1:
                self.fail(w, ("no action: give one of %s" % ", ".join(ACTIONS)) if not acts
                          else "one action per event, got %s" % ", ".join(acts))
            has_time = ("at_s" in t) + ("at_ms" in t)
            if has_time > 1:
                self.fail((S, i, "at_ms"), "give at_s or at_ms, not both")
            if has_time and "when_state" in t:
                self.fail((S, i, "when_state"), "give a time (at_s / at_ms) or when_state, "
                          "not both")
            if not has_time and "when_state" not in t:
                self.fail(w, "needs a time: at_s = 12.5 or at_ms = 12500 (or when_state)")
            if "at_s" in t:
                ev.at_ms = self.seconds_ms((S, i, "at_s"), t["at_s"], 0, DURATION_S[1])
            elif "at_ms" in t:
                ev.at_ms = self.int_((S, i, "at_ms"), t["at_ms"], 0, int(DURATION_S[1] * 1000),
                                     "ms")
            else:
                ev.when_state = self.state((S, i, "when_state"), t["when_state"])
            if "delay_s" in t:
                if ev.when_state is None:
                    self.fail((S, i, "delay_s"), "delay_s goes with when_state only")
                ev.delay_ms = self.seconds_ms((S, i, "delay_s"), t["delay_s"], 0, DURATION_S[1])
            if ev.at_ms is not None:
                k = "at_s" if "at_s" in t else "at_ms"
                if ev.at_ms < last_at:
                    self.fail((S, i, k), "events out of order: %g s comes before the previous "
                              "event's %g s (events fire in the order written)"
                              % (ev.at_ms / 1000, last_at / 1000))
                if ev.at_ms > sc.duration_ms:
                    self.fail((S, i, k), "%g s is after the end of the run (duration_s = %g)"
                              % (ev.at_ms / 1000, sc.duration_ms / 1000))
                last_at = ev.at_ms
            if "label" in t:
                ev.label = self.str_((S, i, "label"), t["label"])
                if ev.label in labels:
                    self.fail((S, i, "label"), "label '%s' is used twice" % ev.label)
                if ev.label in _ANCHORS:
                    self.fail((S, i, "label"), "label '%s' is reserved (%s); choose another"
                              % (ev.label, ", ".join(_ANCHORS)))
                labels.add(ev.label)
            self._action(ev, t, acts[0])
            sc.events.append(ev)

    def _action(self, ev, t, act):
        S, i = "events", ev.index
        w = (S, i, act)
        v = t[act]
        ev.action = act
        allowed = set()
        if act in ("press", "release"):
            ev.arg = self.str_(w, v.upper() if type(v) is str else v, BUTTONS, "button")
            if act == "press":
                allowed = {"for_s", "for_ms"}
        elif act == "estop":
            ev.arg = self.str_(w, v, ESTOP_ACTIONS, "e-stop action")
            if v == "press":
                allowed = {"for_s", "for_ms"}
        elif act == "console":
            ev.arg = self.str_(w, v)
            if not v.strip() or "\n" in v or "\r" in v:
                self.fail(w, "one non-empty console line (no line breaks)")
        elif act == "command":
            ev.arg = self.str_(w, v, COMMANDS, "core command")
            allowed = {"a", "b"}
            for k in ("a", "b"):
                if k in t:
                    setattr(ev, k, self.int_((S, i, k), t[k], -2**31, 2**31 - 1))
        elif act == "imu_fault":
            ev.arg = self.str_(w, v, imu_model.FAULTS, "IMU fault")
            allowed = {"on"}
            if "on" in t:
                ev.on = self.bool_((S, i, "on"), t["on"])
        elif act == "switch_spike":
            ev.arg = [x.upper() for x in self.strlist(w, v)]
            self.strlist(w, ev.arg, tuple(INPUTS), "input")
        elif act == "switch_noise":
            if v == "off":
                ev.arg = None
            else:
                if type(v) is not dict:
                    self.fail(w, "must be \"off\" or {per_s = 20, inputs = [\"HOME\", ...]}")
                self._keys(w, v, KEYS["events.switch_noise"])
                if "per_s" not in v:
                    self.fail(w, "needs per_s (glitches per second on each input)")
                rate = self.num(w, v["per_s"], *NOISE_PER_S, "/s")
                ins = [x.upper() for x in self.strlist(w, v.get("inputs", ["HOME", "OVERTRAVEL"]))]
                self.strlist(w, ins, tuple(INPUTS), "input")
                ev.arg = (rate, ins)
        elif act in ("power_cut", "power_restore", "hard_reset", "soft_reset", "crash"):
            if v is not True:
                self.fail(w, "write %s = true" % act)
            ev.arg = True
            if act == "power_cut":
                allowed = {"for_s", "for_ms"}
        elif act == "user_load":
            if type(v) is not dict or not v:
                self.fail(w, "must be a table, e.g. {mass_kg = 120, com_offset_mm = 150}")
            self._keys(w, v, KEYS["events.user_load"])
            d = {}
            if "mass_kg" in v:
                d["mass_kg"] = self.num(w, v["mass_kg"], *MASS_KG, "kg")
            if "height_mm" in v:
                d["height_mm"] = self.num(w, v["height_mm"], *HEIGHT_MM, "mm")
            if "com_offset_mm" in v:
                d["com_offset_mm"] = self.num(w, v["com_offset_mm"], *COM_OFFSET_MM, "mm")
            ev.arg = d
        for k in ("for_s", "for_ms", "on", "a", "b"):
            if k in t and k not in allowed:
                self.fail((S, i, k), "%s does not go with %s = %s" % (k, act, _show(v)))
        if "for_s" in t and "for_ms" in t:
            self.fail((S, i, "for_ms"), "give for_s or for_ms, not both")
        if "for_s" in t:
            ev.for_ms = self.seconds_ms((S, i, "for_s"), t["for_s"], 0.001, DURATION_S[1])
        elif "for_ms" in t:
            ev.for_ms = self.int_((S, i, "for_ms"), t["for_ms"], 1, int(DURATION_S[1] * 1000),
                                  "ms")

    def expect(self, sc, t):
        S = "expect"
        self._keys((S, 0, None), t, KEYS[S])
        e = {}
        for k, v in t.items():
            w = (S, 0, k)
            if k == "final_state":
                e[k] = self.state(w, v)
            elif k in ("max_true_angle_deg", "min_true_angle_deg"):
                e[k] = self.num(w, v, -90, 90, "deg")
            elif k == "final_true_angle_deg":
                e[k] = self._angle_tol(w, v)
            elif k == "reaches_angle_deg":
                items = v if type(v) is list else [v]
                if not items:
                    self.fail(w, "an empty list checks nothing")
                e[k] = [self._reaches(w, x, sc) for x in items]
            elif k in ("state_seen", "state_never"):
                e[k] = self.strlist(w, v, STATE_NAMES, "state")
            elif k == "fault":
                e[k] = self.str_(w, v, FAULT_NAMES, "fault")
            elif k == "faults_seen":
                e[k] = self.strlist(w, v, FAULT_NAMES, "fault")
            elif k in ("no_faults", "refused"):
                e[k] = self.bool_(w, v)
            elif k in ("lost_steps_detected", "no_motion_without_command"):
                if self.bool_(w, v) is not True:
                    self.fail(w, "only true can be checked%s" % (
                        " (for 'no steps lost' write max_lost_steps = 0)"
                        if k == "lost_steps_detected" else ""))
                e[k] = True
            elif k == "max_lost_steps":
                e[k] = self.int_(w, v, 0, 10**9, "steps")
            elif k == "max_faults_raised":
                e[k] = self.int_(w, v, 0, 10**6)
            elif k == "sessions_recorded":
                e[k] = self.int_(w, v, 0, 10**6)
            elif k == "boots":
                e[k] = self.int_(w, v, 1, 10**6)
            elif k == "max_head_down_s":
                e[k] = self.num(w, v, 0, DURATION_S[1], "s")
        sc.expect = e

    def _angle_tol(self, w, v):
        if type(v) in (int, float) and type(v) is not bool:
            return (self.num(w, v, -90, 90, "deg") * 1000, 1000.0)
        self._keys(w, v, KEYS["expect.final_true_angle_deg"])
        if "angle" not in v:
            self.fail(w, "needs angle (deg), e.g. {angle = -60, tol = 1}")
        a = self.num(w, v["angle"], -90, 90, "deg")
        tol = self.num(w, v.get("tol", 1.0), *TOL_DEG, "deg")
        return (a * 1000, tol * 1000)

    def _reaches(self, w, v, sc):
        if type(v) is not dict:
            self.fail(w, "must be a table {angle = 0, within_s = 15, after = \"estop\"}")
        self._keys(w, v, KEYS["expect.reaches_angle_deg"])
        if "angle" not in v:
            self.fail(w, "needs angle, e.g. {angle = 0, within_s = 15, after = \"estop\"}")
        if ("within_s" in v) == ("speed" in v):
            self.fail(w, "give within_s (a fixed time) or speed = \"emergency\" / \"normal\" "
                      "/ \"jog\" (the time those firmware limits allow, plus margin_s)")
        if "margin_s" in v and "speed" not in v:
            self.fail(w, "margin_s goes with speed (with within_s, add the margin yourself)")
        out = {
            "angle_mdeg": self.num(w, v["angle"], -90, 90, "deg") * 1000,
            "within_ms": None,
            "speed": None,
            "margin_ms": 0,
            "tol_mdeg": self.num(w, v.get("tol", 1.0), *TOL_DEG, "deg") * 1000,
            "after": self.str_(w, v.get("after", "begin")),
        }
        if "within_s" in v:
            out["within_ms"] = self.seconds_ms(w, v["within_s"], 0, DURATION_S[1])
        else:
            out["speed"] = self.str_(w, v["speed"], SPEEDS, "speed")
            out["margin_ms"] = self.seconds_ms(w, v.get("margin_s", 0), 0, 600)
        after = out["after"]
        known = {"begin", "fault", "reboot"} | {e.label for e in sc.events if e.label} | {
            e.action for e in sc.events}
        if sc.program is not None:
            known.add("start")
        if after not in known:
            self.fail(w, "after = '%s' names no event: use 'begin', 'start' (with a program), "
                      "'fault', 'reboot', an event's label or an action used in [[events]] "
                      "(here: %s)" % (after, ", ".join(sorted(known))))
        return out

    def checks(self, sc, arr):
        S = "checks"
        if type(arr) is not list:
            self.fail((S, 0, None), "must be an array of tables: write each as [[checks]]")
        for i, t in enumerate(arr, 1):
            w = (S, i, None)
            if type(t) is not dict:
                self.fail(w, "each check must be a table")
            self._keys(w, t, KEYS[S])
            c = {"index": i}
            if ("at_s" in t) == ("at_ms" in t):
                self.fail(w, "needs exactly one of at_s / at_ms")
            if "at_s" in t:
                c["at_ms"] = self.seconds_ms((S, i, "at_s"), t["at_s"], 0, DURATION_S[1])
            else:
                c["at_ms"] = self.int_((S, i, "at_ms"), t["at_ms"], 0,
                                       int(DURATION_S[1] * 1000), "ms")
            if c["at_ms"] > sc.duration_ms:
                self.fail((S, i, "at_s" if "at_s" in t else "at_ms"),
                          "after the end of the run (duration_s = %g)" % (sc.duration_ms / 1000))
            if "state" in t:
                c["state"] = self.str_((S, i, "state"), t["state"], STATE_NAMES + ("OFF",),
                                       "state")
            if "fault" in t:
                c["fault"] = self.str_((S, i, "fault"), t["fault"], FAULT_NAMES, "fault")
            for k in ("min_true_angle_deg", "max_true_angle_deg"):
                if k in t:
                    c[k] = self.num((S, i, k), t[k], -90, 90, "deg")
            if len(c) == 2:
                self.fail(w, "checks nothing: give state, fault, min_true_angle_deg or "
                          "max_true_angle_deg")
            sc.checks.append(c)


def _unit(u):
    return (" " + u) if u else ""


def _show(v):
    if type(v) is str:
        return "'%s' (a string)" % v
    if type(v) is bool:
        return "%s (true/false)" % ("true" if v else "false")
    if type(v) is dict:
        return "a table"
    if type(v) is list:
        return "a list"
    return repr(v)


def _hardware_config(settings=None):
    cfg = Config()
    cfg.update(hardware_values(P.raw))
    if settings:
        cfg.update(dict(settings))
    return cfg


# ------------------------------------------------------------------ running


class _StopRun(Exception):
    """Raised from a per-ms hook to leave a run that ends while the power is off."""


class Result:
    """What a run produced: pass/fail with reasons, the summary numbers, the trace."""

    def __init__(self, scenario, recorder):
        self.scenario = scenario
        self.recorder = recorder
        self.failures = []
        self.stats = {}
        self.console = []  # (t_ms, line) of everything the console printed
        self.error = None  # an exception the simulation itself raised
        self.error_traceback = ""  # its traceback (a simulator or firmware bug)

    @property
    def passed(self):
        return not self.failures

    @property
    def verdict(self):
        """PASS, FAIL, XFAIL (failed as the file says it does) or XPASS (it should fail)."""
        if self.scenario.xfail:
            return "XFAIL" if self.failures else "XPASS"
        return "PASS" if not self.failures else "FAIL"

    @property
    def ok(self):
        """True when the outcome is the expected one (PASS or XFAIL)."""
        return self.verdict in ("PASS", "XFAIL")

    def write_csv(self, path):
        trace.write_csv(self.recorder, path)

    def plot(self, path):
        """The PNG plot, titled with the scenario, program and user."""
        sc = self.scenario
        title = sc.name if sc.program is None or sc.name == sc.program_text else (
            "%s - %s" % (sc.name, sc.program_text))
        st = self.stats
        sub = "%s  |  deepest %.1f deg, %.0f s head-down, %s, final %s" % (
            sc.user_text, st["deepest_true_mdeg"] / 1000, st["head_down_ms"] / 1000,
            ("faults: " + ", ".join(st["faults"])) if st["faults"] else "no faults",
            st["final_state"])
        prof_max = sc.profile.get("max_mdeg", fw_profiles.Profile().max_mdeg)
        refs = [(prof_max / 1000.0, "profile max %g deg" % (prof_max / 1000.0))]
        trace.plot(self.recorder, path, title, sub, refs)


class _Run:
    """One run of a scenario: the hooks that drive events and watch the world.

    Nothing here runs every simulated millisecond unless it must, so the board takes its
    fast path (host_tools/simboard.py): timed actions, events and checks run from
    SimBoard.call_at() after their millisecond (_wake), the true angle's statistics are
    kept by the physics (TablePhysics.watch), and only switch noise, which draws from
    its rng every ms, is an ms_hook (_noise_ms), while it is on. The results are those
    of one hook doing all of it every ms (tests/host/test_sim_speed_equivalence.py)."""

    def __init__(self, sc, progress=None, realtime=False, fs_root=None):
        self.sc = sc
        self.progress = progress
        self.realtime = realtime
        self.recorder = Recorder()
        self.result = Result(sc, self.recorder)
        self._own_fs = fs_root is None
        self.fs_root = fs_root or tempfile.mkdtemp(prefix="scenario-")
        self.end_ms = sc.duration_ms
        self.head_down_mdeg = _hardware_config(sc.settings).head_down_mdeg
        # event machinery
        self.seq = list(sc.events)  # user events, fired in order
        self.seq_i = 0
        self.due = []  # (t_ms, order, fn, kind, text): timed actions (program start, releases)
        self._order = 0
        self.noise = None  # (p per ms, bits); while set, _noise_ms is an ms_hook
        self.noise_rng = random.Random((sc.table["seed"] * 7919 + 17) & 0xFFFFFFFF)
        self.input_times = []
        self.program_start_ms = None
        self.anchor = {"begin": 0}  # action names (first event of each), start, ...
        self.label_anchor = {}  # event labels: looked up before the action names
        self.when_due = None  # fire time of a when_state event whose state was reached
        self.checks = sorted(sc.checks, key=lambda c: c["at_ms"])
        self.check_i = 0
        self.next_check = self.checks[0]["at_ms"] if self.checks else float("inf")
        self._wake_ms = None  # the earliest board.call_at(_wake) pending
        self.session_ends = 0  # E_SESSION_END seen after the last user event fired
        self._fw_i = 0
        self._last_progress = -1
        self._wall0 = None

    # ---------------------------------------------------------------- setup

    def build(self):
        sc = self.sc
        fs = store.DirFS(self.fs_root)
        cfg = _hardware_config(sc.settings)
        prof = dict(sc.profile)
        prof.setdefault("name", "default")
        fw_profiles.save_profiles(fs, [fw_profiles.from_dict(prof, cfg)])
        if sc.settings:
            store.save(fs, SETTINGS, dict(sc.settings))
        u = sc.user_values()
        tb = sc.table
        kw = {}
        if tb["bounce_max_ms"] is not None:
            kw["bounce_max_ms"] = tb["bounce_max_ms"]
        board = SimBoard(
            rng=random.Random(tb["seed"]), user_mass_kg=u["mass_kg"],
            user_height_mm=u["height_mm"], user_com_offset_mm=u["com_offset_mm"],
            angle_mdeg=tb["start_angle_mdeg"], fs_root=self.fs_root,
            bias_scale=tb["imu_bias_scale"], mount_offset_mdeg=tb["imu_mount_offset_mdeg"],
            ticks_at_boot=tb["ticks_at_boot"], **kw)
        self.board = board
        self.runner = SimRunner(board=board)
        self.recorder.attach(self.runner)
        self.runner.tick_hooks.append(self._tick)
        # the world's statistics, every simulated millisecond (also while the power is
        # off), kept by the physics itself (TablePhysics.watch(); read in _evaluate)
        board.physics.watch(self.head_down_mdeg)
        self._schedule_program()
        self.next_due = self._next_due()
        self._reschedule()

    def _schedule_program(self):
        p = self.sc.program
        if p is None:
            return
        t = p["start_ms"]
        name = p["name"]
        send = self.runner.send
        self._at(t, lambda: send("program %s" % name), "console", "console 'program %s'" % name)
        if p["via"] == "button":
            self._at(t + 100, self._start_press, "start", "press START (start %s)" % name,
                     "start " + name)
        else:
            line = "start"
            if p["angle_mdeg"] or p["hold_ms"]:
                line = "start %s %s" % (_milli(p["angle_mdeg"]), _milli(p["hold_ms"]))
            self._at(t + 20, lambda: self._start_console(line), "start", "console '%s'" % line,
                     "start " + name)

    def _start_console(self, line):
        self.program_start_ms = self.board.now_ms
        self.anchor["start"] = self.board.now_ms
        self.runner.send(line)

    def _start_press(self):
        self.program_start_ms = self.board.now_ms
        self.anchor["start"] = self.board.now_ms
        self.board.press("START")
        self._at(self.board.now_ms + 150, lambda: self.board.release("START"), None, None)

    def _at(self, t_ms, fn, kind, text, mark=None):
        self._order += 1
        self.due.append((t_ms, self._order, fn, kind, text, mark))
        self.due.sort(key=lambda d: (d[0], d[1]))
        if hasattr(self, "board"):
            self.next_due = self._next_due()
            self._reschedule()
        else:
            self.next_due = 0

    def _next_due(self):
        t = self.due[0][0] if self.due else None
        if self.seq_i < len(self.seq):
            ev = self.seq[self.seq_i]
            te = ev.at_ms if ev.at_ms is not None else self.when_due
            if te is not None:
                te = max(te, 0)
                t = te if t is None else min(t, te)
        return t if t is not None else float("inf")

    # ---------------------------------------------------------------- hooks

    def _reschedule(self):
        """Have the board call _wake after the next millisecond where something is due:
        a timed action or event (next_due), a check (next_check), the end of the run (a
        run that ends while the power is off stops there). In between the board runs
        its fast path (no per-ms hook)."""
        t = min(self.next_due, self.next_check)
        if self.board.now_ms < self.end_ms:
            t = min(t, self.end_ms)
        if t != float("inf") and (self._wake_ms is None or t < self._wake_ms):
            self._wake_ms = t
            self.board.call_at(t, lambda board: self._wake(board, t))

    def _wake(self, board, t):
        """After the simulated millisecond t (also while the power is off): what a per-ms
        hook would do at this ms. (An earlier wake may have done it already.)"""
        if t == self._wake_ms:
            self._wake_ms = None
        now = board.now_ms
        if now >= self.next_due:
            self._fire_due(now)
        if now >= self.next_check:
            self._checks_due(board, now)
        if not board.powered and now >= self.end_ms:
            if self.noise is not None:
                self._noise_ms(board)  # this ms's noise came before the stop, as ever
            raise _StopRun()
        self._reschedule()

    def _noise_ms(self, board):
        """Every simulated millisecond while switch noise is on (an ms_hook then: it
        draws from its rng each ms)."""
        p, bits = self.noise
        rng = self.noise_rng
        spikes = 0
        for b in bits:
            if rng.random() < p:
                spikes |= b
        if spikes:
            board.switch_spike(spikes)

    def _fire_due(self, now):
        while True:
            fired = False
            if self.due and self.due[0][0] <= now:
                _, _, fn, kind, text, mark = self.due.pop(0)
                if text:
                    self.recorder.note(now, kind or "scenario", text, mark)
                if kind in _INPUT_ACTIONS:
                    self.input_times.append(now)
                fn()
                fired = True
            elif self.seq_i < len(self.seq):
                ev = self.seq[self.seq_i]
                t = ev.at_ms if ev.at_ms is not None else self.when_due
                if t is not None and t <= now:
                    self.seq_i += 1
                    self.when_due = None
                    self._fire(ev, now)
                    fired = True
            if not fired:
                break
        self.next_due = self._next_due()

    def _fire(self, ev, now):
        ev.fired_ms = now
        self.session_ends = 0
        self.recorder.note(now, ev.action, ev.describe() + (
            " [%s]" % ev.label if ev.label else ""), ev.label or ev.short())
        if ev.label:
            self.label_anchor.setdefault(ev.label, now)
        self.anchor.setdefault(ev.action, now)
        act = ev.action
        if act in _INPUT_ACTIONS and not (act == "estop" and ev.arg in ("release",
                                                                         "repair_wire")):
            self.input_times.append(now)
        board = self.board
        if act == "press":
            board.press(ev.arg)
            if ev.for_ms:
                name = ev.arg
                self._at(now + ev.for_ms, lambda: board.release(name), "release",
                         "release %s" % name)
        elif act == "release":
            board.release(ev.arg)
        elif act == "estop":
            getattr(board, "estop_" + ev.arg)()
            if ev.arg == "press" and ev.for_ms:
                self._at(now + ev.for_ms, board.estop_release, "estop_release",
                         "e-stop release")
        elif act == "console":
            self.runner.send(ev.arg)
        elif act == "command":
            cmd = COMMAND_NAMES.index(ev.arg)
            r = self.runner.core.command(cmd, ev.a, ev.b)
            if r:
                self.recorder.note(now, "command", "command %s refused (reason %d)"
                                   % (ev.arg, r))
        elif act == "imu_fault":
            board.imu_fault(ev.arg, ev.on)
        elif act == "switch_spike":
            bits = 0
            for n in ev.arg:
                bits |= INPUTS[n]
            board.switch_spike(bits)
        elif act == "switch_noise":
            if ev.arg is None:
                self.noise = None
                if self._noise_ms in board.ms_hooks:
                    board.ms_hooks.remove(self._noise_ms)
            else:
                rate, names = ev.arg
                self.noise = (rate / 1000.0, [INPUTS[n] for n in names])
                if self._noise_ms not in board.ms_hooks:
                    board.ms_hooks.append(self._noise_ms)  # from this very ms on
        elif act == "power_cut":
            board.power_cut(off_ms=ev.for_ms)
        elif act == "power_restore":
            board.power_restore()
        elif act == "hard_reset":
            board.hard_reset()
        elif act == "soft_reset":
            board.soft_reset()
        elif act == "crash":
            core = self.runner.core

            def boom(*_args):
                raise RuntimeError("scenario: injected firmware crash")

            core.tick = boom  # the App catches it, stops feeding: the watchdog resets
        elif act == "user_load":
            self._user_load(ev.arg)

    def _user_load(self, d):
        ph = self.board.physics
        u = {"mass_kg": ph.user_mass_kg, "height_mm": ph.user_height_mm,
             "com_offset_mm": ph.user_com_offset_mm}
        u.update(d)
        # the physics' own formulas, through a twin built with the new user
        twin = physics.TablePhysics(P, u["mass_kg"], u["height_mm"], u["com_offset_mm"],
                                    ph.true_angle_mdeg)
        ph.user_mass_kg = twin.user_mass_kg
        ph.user_height_mm = twin.user_height_mm
        ph.user_com_offset_mm = twin.user_com_offset_mm
        ph.inertia_kgm2 = twin.inertia_kgm2
        ph.gravity_moment_Nm = twin.gravity_moment_Nm

    def _tick(self, runner):
        """After every firmware tick."""
        now = self.board.now_ms
        # when_state triggers
        if self.when_due is None and self.seq_i < len(self.seq):
            ev = self.seq[self.seq_i]
            if ev.when_state is not None and STATE_NAMES[runner.core.state] == ev.when_state:
                self.when_due = now + ev.delay_ms
                self.next_due = self._next_due()
                if self.when_due <= now:
                    self._fire_due(now)
                self._reschedule()
        # session ends (for until = "session_end")
        log = self.recorder.fw_log
        while self._fw_i < len(log):
            if log[self._fw_i][2] == fw_events.E_SESSION_END:
                self.session_ends += 1
            self._fw_i += 1
        if self.progress is not None and now - self._last_progress >= 1000:
            self._last_progress = now
            self.progress(now, self.end_ms, STATE_NAMES[runner.core.state],
                          self.board.true_angle_mdeg)
        if self.realtime:
            ahead = now / 1000.0 - (time.perf_counter() - self._wall0)
            if ahead > 0:
                time.sleep(ahead)

    def _checks_due(self, board, now):
        while self.check_i < len(self.checks) and self.checks[self.check_i]["at_ms"] <= now:
            self._check_now(self.checks[self.check_i], now)
            self.check_i += 1
        self.next_check = (self.checks[self.check_i]["at_ms"] if self.check_i < len(self.checks)
                           else float("inf"))

    def _check_now(self, c, now):
        board = self.board
        core = self.runner.core
        where = "checks[%d] at %g s" % (c["index"], c["at_ms"] / 1000)
        # between a reset and the next boot the old firmware is dead: it has no state
        st = STATE_NAMES[core.state] if board.powered and board._pending is None else "OFF"
        a = board.true_angle_mdeg / 1000
        if "state" in c and st != c["state"]:
            self._failed("%s: state is %s, expected %s" % (where, st, c["state"]))
        if "fault" in c and st != "OFF" and faults.name(core.fault) != c["fault"]:
            self._failed("%s: fault is %s, expected %s" % (where, faults.name(core.fault),
                                                           c["fault"]))
        if "min_true_angle_deg" in c and a < c["min_true_angle_deg"]:
            self._failed("%s: true angle %.2f deg is below %g" % (where, a,
                                                                  c["min_true_angle_deg"]))
        if "max_true_angle_deg" in c and a > c["max_true_angle_deg"]:
            self._failed("%s: true angle %.2f deg is above %g" % (where, a,
                                                                  c["max_true_angle_deg"]))

    def _failed(self, msg):
        self.result.failures.append(msg)

    def finished(self):
        """The run may stop early (until = "session_end")."""
        if self.sc.until != "session_end":
            return False
        if self.seq_i < len(self.seq) or self.due:
            return False
        if self.sc.program is not None and self.program_start_ms is None:
            return False
        return self.session_ends > 0 and STATE_NAMES[self.runner.core.state] == "READY"

    # ---------------------------------------------------------------- the run

    def go(self):
        res = self.result
        try:
            if not hasattr(self, "runner"):
                self.build()
        except Exception as e:  # noqa: BLE001 - reported as the run's error, not a traceback
            res.error = e
            res.error_traceback = traceback.format_exc()
            res.failures.append("the simulation could not start: %s: %s"
                                % (type(e).__name__, e))
            return res
        runner = self.runner
        board = self.board
        self._wall0 = time.perf_counter()
        try:
            while board.now_ms < self.end_ms:
                if not runner.step():
                    res.failures.append("the firmware left its main loop (Ctrl-C?)")
                    break
                self._console(runner)
                if self.finished():
                    break
        except _StopRun:
            pass
        except Exception as e:  # noqa: BLE001 - a firmware/simulator exception is a failure
            res.error = e
            res.error_traceback = traceback.format_exc()
            res.failures.append("the simulation raised %s: %s at t=%.2f s"
                                % (type(e).__name__, e, board.now_ms / 1000))
        wall = time.perf_counter() - self._wall0
        self._console(runner)
        self.recorder.flush()
        if self.progress is not None:
            self.progress(board.now_ms, self.end_ms, STATE_NAMES[runner.core.state],
                          board.true_angle_mdeg)
        self._evaluate(wall)
        if self._own_fs:
            shutil.rmtree(self.fs_root, ignore_errors=True)
        return res

    def _console(self, runner):
        out = runner.receive()
        if out:
            now = self.board.now_ms
            for line in out.splitlines():
                if line.strip():
                    self.result.console.append((now, line))
                    if _is_error(line):
                        self.recorder.note(now, "console_error", "console " + line)

    # ---------------------------------------------------------------- evaluation

    def _evaluate(self, wall_s):
        sc = self.sc
        res = self.result
        rec = self.recorder
        board = self.board
        world = board.physics  # the true angle's statistics over the run (watch())
        runner = self.runner
        core = runner.core
        e = sc.expect
        fw = rec.fw_log
        # summary numbers
        states_seen = {r[STATE] for r in rec.rows}
        states_seen |= {STATE_NAMES[ev[4]] for ev in fw if ev[2] == fw_events.E_STATE
                        and 0 <= ev[4] < len(STATE_NAMES)}
        fault_names = []
        for ev in fw:
            if ev[2] == fw_events.E_FAULT:
                n = faults.name(ev[3])
                if n not in fault_names:
                    fault_names.append(n)
        emergency = sum(1 for ev in fw if ev[2] == fw_events.E_STATE
                        and ev[4] < len(STATE_NAMES) and STATE_NAMES[ev[4]] == "EMERGENCY_RETURN")
        refusals = [ev for ev in fw if (ev[2] == fw_events.E_COMMAND and ev[4] != 0)
                    or ev[2] == fw_events.E_CLAMPED]
        console_errors = [ln for _, ln in res.console if _is_error(ln)]
        sim_ms = board.now_ms
        deepest_fw = max([h[3] for h in runner.app.history.entries] + [core.deepest_mdeg])
        res.stats = {
            "scenario": sc.name,
            "program": sc.program_text,
            "user": sc.user_text,
            "deepest_true_mdeg": world.max_angle_mdeg,
            "deepest_true_t_ms": world.max_angle_ms,
            "deepest_fw_mdeg": deepest_fw,
            "head_down_ms": world.above_ms,
            "emergency_returns": emergency,
            "faults": fault_names,
            "final_fault": faults.name(core.fault),
            "lost_steps": board.lost_steps,
            "final_state": STATE_NAMES[core.state],
            "final_true_mdeg": board.true_angle_mdeg,
            "sessions_recorded": runner.app.history.count,
            "boots": runner.boots,
            "sim_ms": sim_ms,
            "wall_s": wall_s,
            "factor": (sim_ms / 1000.0) / wall_s if wall_s > 0 else float("inf"),
            "refusals": len(refusals) + len(console_errors),
            "faults_raised": sum(1 for ev in fw if ev[2] == fw_events.E_FAULT),
        }
        for ev in sc.events:
            if ev.fired_ms is None:
                why = ("state %s was never reached" % ev.when_state) if ev.when_state else (
                    "the run ended first")
                res.failures.append("events[%d] (%s) never fired: %s" % (
                    ev.index, ev.describe(), why))
        while self.check_i < len(self.checks):
            c = self.checks[self.check_i]
            res.failures.append("checks[%d] at %g s: the run ended at %.2f s before it"
                                % (c["index"], c["at_ms"] / 1000, sim_ms / 1000))
            self.check_i += 1
        if sc.until == "session_end" and not self.finished():
            res.failures.append("the session did not end (READY after the return) within "
                                "%g s" % (sc.duration_ms / 1000))
        fail = res.failures.append
        if "final_state" in e and res.stats["final_state"] != e["final_state"]:
            fail("final_state: ended in %s (fault %s), expected %s" % (
                res.stats["final_state"], res.stats["final_fault"], e["final_state"]))
        if "max_true_angle_deg" in e and world.max_angle_mdeg > e["max_true_angle_deg"] * 1000:
            fail("max_true_angle_deg: the table reached %.2f deg at t=%.2f s (limit %g)" % (
                world.max_angle_mdeg / 1000, world.max_angle_ms / 1000, e["max_true_angle_deg"]))
        if "min_true_angle_deg" in e and world.min_angle_mdeg < e["min_true_angle_deg"] * 1000:
            fail("min_true_angle_deg: the table reached %.2f deg at t=%.2f s (limit %g)" % (
                world.min_angle_mdeg / 1000, world.min_angle_ms / 1000, e["min_true_angle_deg"]))
        if "final_true_angle_deg" in e:
            a, tol = e["final_true_angle_deg"]
            if abs(board.true_angle_mdeg - a) > tol:
                fail("final_true_angle_deg: ended at %.2f deg, expected %g +- %g" % (
                    board.true_angle_mdeg / 1000, a / 1000, tol / 1000))
        for r in e.get("reaches_angle_deg", []):
            self._eval_reaches(r)
        for s in e.get("state_seen", []):
            if s not in states_seen:
                fail("state_seen: %s never happened (seen: %s)" % (
                    s, ", ".join(x for x in STATE_NAMES if x in states_seen)))
        for s in e.get("state_never", []):
            if s in states_seen:
                t = next((r[0] for r in rec.rows if r[STATE] == s), None)
                fail("state_never: %s happened%s" % (s, "" if t is None else
                                                     " at t=%.2f s" % (t / 1000)))
        if "fault" in e and res.stats["final_fault"] != e["fault"]:
            fail("fault: ended with fault %s (state %s), expected %s" % (
                res.stats["final_fault"], res.stats["final_state"], e["fault"]))
        for f in e.get("faults_seen", []):
            if f not in fault_names:
                fail("faults_seen: %s was never raised (raised: %s)" % (
                    f, ", ".join(fault_names) or "none"))
        if e.get("no_faults") is True and fault_names:
            t = next(ev[0] for ev in fw if ev[2] == fw_events.E_FAULT)
            fail("no_faults: raised %s (first at t=%.2f s)" % (", ".join(fault_names), t / 1000))
        raised = [ev for ev in fw if ev[2] == fw_events.E_FAULT]
        if "max_faults_raised" in e and len(raised) > e["max_faults_raised"]:
            fail("max_faults_raised: the firmware raised %d faults (%s), limit %d; the "
                 "first at t=%.2f s, the last at t=%.2f s" % (
                     len(raised), ", ".join(fault_names), e["max_faults_raised"],
                     raised[0][0] / 1000, raised[-1][0] / 1000))
        if e.get("no_faults") is False and not fault_names:
            fail("no_faults = false: expected at least one fault, none was raised")
        if "refused" in e:
            n = res.stats["refusals"]
            if e["refused"] and n == 0:
                fail("refused: every command was accepted as given (nothing refused or "
                     "clamped)")
            if not e["refused"] and n:
                fail("refused = false: %d command(s) were refused or clamped (%s)" % (
                    n, "; ".join(self._refusal_texts(refusals, console_errors))))
        if e.get("lost_steps_detected"):
            if board.lost_steps == 0:
                fail("lost_steps_detected: the motor never lost a step (nothing to detect)")
            else:
                det = [ev for ev in fw if ev[2] == fw_events.E_FAULT and ev[3] in (
                    faults.RUNAWAY, faults.STEPGEN) and ev[0] >= (world.first_lost_ms or 0)]
                if not det:
                    fail("lost_steps_detected: %d steps lost from t=%.2f s, but the firmware "
                         "raised no runaway/stepgen fault" % (
                             board.lost_steps, (world.first_lost_ms or 0) / 1000))
        if "max_lost_steps" in e and board.lost_steps > e["max_lost_steps"]:
            fail("max_lost_steps: %d steps lost (first at t=%.2f s), limit %d" % (
                board.lost_steps, (world.first_lost_ms or 0) / 1000, e["max_lost_steps"]))
        if e.get("no_motion_without_command"):
            self._eval_no_motion()
        if "sessions_recorded" in e and res.stats["sessions_recorded"] != e["sessions_recorded"]:
            fail("sessions_recorded: %d sessions in the history, expected %d" % (
                res.stats["sessions_recorded"], e["sessions_recorded"]))
        if "boots" in e and runner.boots != e["boots"]:
            fail("boots: the firmware booted %d times, expected %d" % (runner.boots,
                                                                      e["boots"]))
        if "max_head_down_s" in e and world.above_ms > e["max_head_down_s"] * 1000:
            fail("max_head_down_s: %.1f s head-down (true angle > %g deg), limit %g s" % (
                world.above_ms / 1000, self.head_down_mdeg / 1000, e["max_head_down_s"]))

    def _refusal_texts(self, refusals, console_errors):
        from host_tools.trace import fw_event_text

        out = ["t=%.2f s %s" % (ev[0] / 1000, fw_event_text(ev[2], ev[3], ev[4]))
               for ev in refusals[:3]]
        out += console_errors[:3]
        return out

    def _eval_reaches(self, r):
        name = r["after"]
        t0 = self.label_anchor.get(name, self.anchor.get(name))
        if name == "fault":
            t0 = next((ev[0] for ev in self.recorder.fw_log if ev[2] == fw_events.E_FAULT),
                      None)
        elif name == "reboot":
            t0 = self.board.resets[0][0] if self.board.resets else None
        want = r["angle_mdeg"]
        tol = r["tol_mdeg"]
        if t0 is None:
            self._failed("reaches_angle_deg %g after %s: '%s' never happened" % (
                want / 1000, name, name))
            return
        rows = self.recorder.rows
        within = r["within_ms"]
        how = ""
        if within is None:
            # the time the firmware's own limits allow from where the table was
            cfg = _hardware_config(self.sc.settings)
            v = cfg.get(r["speed"] + "_speed_mdeg_s")
            a = cfg.get(r["speed"] + "_accel_mdeg_s2")
            start = next((row[TRUE] for row in rows if row[0] >= t0), None)
            d = abs(start - want) if start is not None else 0
            move_ms = trapezoid_ms(d, v, a)
            within = move_ms + r["margin_ms"]
            how = " (%.1f deg at %g deg/s, %g deg/s^2 = %.2f s, + %g s margin)" % (
                d / 1000, v / 1000, a / 1000, move_ms / 1000, r["margin_ms"] / 1000)
        r = dict(r, within_ms=within)
        label = "reaches_angle_deg %g within %.2f s after %s%s" % (
            want / 1000, within / 1000, name, how)
        start = None
        best = None
        for row in rows:
            t = row[0]
            if t < t0:
                continue
            d = row[TRUE] - want
            if start is None:
                start = d
            if best is None or abs(d) < abs(best[1]):
                best = (t, d)
            crossed = (start > 0 and d <= 0) or (start < 0 and d >= 0)
            if abs(d) <= tol or crossed:
                if t - t0 > r["within_ms"]:
                    self._failed("%s: reached only at t=%.2f s, %.2f s after %s (t=%.2f s)" % (
                        label, t / 1000, (t - t0) / 1000, name, t0 / 1000))
                return
        if best is None:
            self._failed("%s: no ticks after %s" % (label, name))
        else:
            self._failed("%s (t=%.2f s): never reached; closest %.2f deg at t=%.2f s" % (
                label, t0 / 1000, (best[1] + want) / 1000, best[0] / 1000))

    def _eval_no_motion(self):
        """After each boot nothing moves before the first input; a driver that is off
        (BOOT, RECOVERY, READY) emits no steps."""
        rows = self.recorder.rows
        inputs = sorted(self.input_times)
        boot_starts = [0] + [t for t, _ in self.board.resets]
        first_input = None
        boot = None
        boot_t = 0
        boot_angle = 0
        quiet = True
        reported = set()
        standing = ("BOOT", "RECOVERY", "READY")
        prev = None
        for row in rows:
            t = row[0]
            if row[1] != boot:
                boot = row[1]
                boot_t = boot_starts[min(boot, len(boot_starts)) - 1]
                boot_angle = row[TRUE]
                first_input = next((x for x in inputs if x >= boot_t), None)
                quiet = True
                prev = None
            if quiet and first_input is not None and t >= first_input:
                quiet = False
            if quiet and ("boot", boot) not in reported:
                moved = abs(row[TRUE] - boot_angle)
                if row[8] != 0 or moved > 500:
                    reported.add(("boot", boot))
                    self._failed(
                        "no_motion_without_command: boot %d: the table moved before any "
                        "input (t=%.2f s, %d steps, %.2f deg from the boot angle)"
                        % (boot, t / 1000, row[8], moved / 1000))
            if prev is not None and prev[STATE] in standing and row[8] != prev[8] and (
                    ("still", boot) not in reported):
                reported.add(("still", boot))
                self._failed("no_motion_without_command: %d steps emitted in %s at t=%.2f s"
                             % (row[8] - prev[8], prev[STATE], t / 1000))
            prev = row


def trapezoid_ms(distance_mdeg, speed_mdeg_s, accel_mdeg_s2):
    """Rest-to-rest time of a trapezoidal (or triangular) move, ms."""
    d, v, a = float(distance_mdeg), float(speed_mdeg_s), float(accel_mdeg_s2)
    if d <= 0:
        return 0
    if d >= v * v / a:
        return int(round(1000 * (d / v + v / a)))
    return int(round(1000 * 2 * math.sqrt(d / a)))


def _is_error(line):
    """A console error reply, in human ("error: ...") or JSON mode."""
    return line.startswith("error:") or line.replace(" ", "").startswith('{"ok":false')


def _milli(v):
    """mdeg / ms -> the console's decimal degrees / seconds."""
    s = "%d.%03d" % (abs(v) // 1000, abs(v) % 1000)
    s = s.rstrip("0").rstrip(".")
    return ("-" if v < 0 else "") + s


def run(sc, progress=None, realtime=False, fs_root=None):
    """Run a parsed scenario; returns a Result (never raises for a firmware problem).

    progress(now_ms, end_ms, state_name, true_angle_mdeg) is called about once per simulated
    second; realtime paces the
    run to the wall clock; fs_root keeps the board's storage there (default: a temp dir)."""
    return _Run(sc, progress, realtime, fs_root).go()


def discover(directory=None):
    """The scenario files of scenarios/ (sorted)."""
    from host_tools.paths import ROOT

    directory = directory or os.path.join(ROOT, "scenarios")
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.endswith(".toml"))


__all__ = ["ScenarioError", "Scenario", "Event", "Result", "load", "parse", "from_dict", "run",
           "discover"]
