"""Scenario files parsed and validated section by section into a Scenario.

    sc = load("scenarios/estop_at_depth.toml")   # ScenarioError if malformed

Every key is checked against the format (host_tools/scenario_format.py): its type, its
range, its place; settings and profiles also against the firmware's own rules.
"""

import re
import tomllib

from host_tools.paths import use_firmware
from host_tools.scenario_events import EventParser
from host_tools.scenario_format import (
    BIAS_SCALE,
    BOUNCE_MS,
    DEFAULT_START_S,
    DURATION_S,
    FAULT_NAMES,
    HOLD_S,
    KEYS,
    MAX_DEG,
    MOUNT_DEG,
    PROGRAM_ANGLE_DEG,
    PROGRAMS,
    SPEEDS,
    START_S,
    TOL_DEG,
    UNTIL,
    USER_KEYS,
    VIA,
    P,
    Scenario,
    ScenarioError,
    hardware_config,
    show,
)

use_firmware()

import profiles as fw_profiles  # noqa: E402  (firmware/, importable once use_firmware() ran)
from config import ConfigError  # noqa: E402
from states import STATE_NAMES  # noqa: E402


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

class _Parser(EventParser):
    """The sections of a scenario file, each checked and stored on a Scenario."""

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
        for k, rng, unit in USER_KEYS:
            if k in t:
                sc.user[k] = self.num((S, 0, k), t[k], *rng, unit)

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
        cfg = hardware_config()
        self._keys((S, 0, None), t, set(cfg.names()))
        for k, v in t.items():
            if type(v) is not int:
                self.fail((S, 0, k), "must be a whole number (firmware units: see the name), "
                          "got %s" % show(v))
        try:
            cfg.update(dict(t))
        except ConfigError as e:
            key = next((k for k in t if k in str(e)), None)
            self.fail((S, 0, key), "refused by the firmware's configuration: %s" % e)
        sc.settings = dict(t)

    def program_(self, sc, t):
        S = "program"
        name = self._program_name(t)
        if name is None:
            return
        if type(t) is str:  # program = "beginner"
            t = {"name": t}
        p = {"name": name, "level": None, "angle_mdeg": 0, "hold_ms": 0,
             "start_ms": int(DEFAULT_START_S * 1000), "via": "console"}
        if "level" in t:
            if name != "progression":
                self.fail((S, 0, "level"), "only the progression program takes a level "
                          "(set [profile] level for the others)")
            p["level"] = self.int_((S, 0, "level"), t["level"], 0, fw_profiles.NUM_LEVELS - 1)
        self._program_angle_hold(p, t)
        if "start_s" in t:
            p["start_ms"] = self.seconds_ms((S, 0, "start_s"), t["start_s"], *START_S)
        if "via" in t:
            p["via"] = self.str_((S, 0, "via"), t["via"], VIA, "start method")
            if p["via"] == "button" and name == "custom":
                self.fail((S, 0, "via"), "the custom program needs the console (an angle "
                          "and a time); use via = \"console\"")
        sc.program = p

    def _program_name(self, t):
        """The program's name; None for no program (absent, or "none" with no other key)."""
        S = "program"
        if t is None:
            return None
        if type(t) is str:
            t = {"name": t}
        self._keys((S, 0, None), t, KEYS[S])
        if "name" not in t:
            self.fail((S, 0, None), "needs name = one of %s" % ", ".join(PROGRAMS))
        name = self.str_((S, 0, "name"), t["name"], PROGRAMS, "program")
        if name == "none":
            for k in t:
                if k != "name":
                    self.fail((S, 0, k), "program 'none' takes no other keys")
            return None
        return name

    def _program_angle_hold(self, p, t):
        """The custom and interval programs' angle and hold time."""
        S = "program"
        name = p["name"]
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

    def profile(self, sc, t):
        S = "profile"
        self._keys((S, 0, None), t, KEYS[S])
        d = self._profile_fields(t)
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
            fw_profiles.from_dict(dict(d), hardware_config(sc.settings))
        except fw_profiles.ProfileError as e:
            self._profile_refused(str(e), p)
        sc.profile = d

    def _profile_fields(self, t):
        """[profile]'s keys as firmware Profile fields."""
        S = "profile"
        d = {}
        for k, (field, rng, scale, unit) in PROFILE_SCALED.items():
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
        return d

    def _profile_refused(self, msg, program):
        """Fail at the key the firmware's profile error names."""
        key = None
        for k, (field, _, _, _) in PROFILE_SCALED.items():
            if field in msg:
                key = k
        sect = "profile"
        if "level" in msg:
            key = "level"
            if program is not None and program["level"] is not None:
                sect = "program"  # the level came from [program]
        self.fail((sect, 0, key), "refused by the firmware's profile rules: %s" % msg)


    def expect(self, sc, t):
        S = "expect"
        self._keys((S, 0, None), t, KEYS[S])
        sc.expect = {k: _EXPECT_PARSERS[k](self, (S, 0, k), v, sc) for k, v in t.items()}

    def _expect_true(self, w, v):
        """lost_steps_detected / no_motion_without_command: only true is a check."""
        if self.bool_(w, v) is not True:
            self.fail(w, "only true can be checked%s" % (
                " (for 'no steps lost' write max_lost_steps = 0)"
                if w[2] == "lost_steps_detected" else ""))
        return True

    def _reaches_list(self, w, v, sc):
        items = v if type(v) is list else [v]
        if not items:
            self.fail(w, "an empty list checks nothing")
        return [self._reaches(w, x, sc) for x in items]

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

# [profile] keys scaled into firmware fields: field, range, scale, unit.
PROFILE_SCALED = {"max_angle_deg": ("max_mdeg", MAX_DEG, 1000, "deg"),
                  "hold_max_s": ("hold_max_ms", (10.0, 300.0), 1000, "s"),
                  "session_cap_s": ("session_cap_ms", (10.0, 600.0), 1000, "s")}
# [expect]: each key's value check (p: the parser, w: where, v: the value, sc: the scenario).
_EXPECT_PARSERS = {
    "final_state": lambda p, w, v, sc: p.state(w, v),
    "max_true_angle_deg": lambda p, w, v, sc: p.num(w, v, -90, 90, "deg"),
    "min_true_angle_deg": lambda p, w, v, sc: p.num(w, v, -90, 90, "deg"),
    "final_true_angle_deg": lambda p, w, v, sc: p._angle_tol(w, v),
    "reaches_angle_deg": lambda p, w, v, sc: p._reaches_list(w, v, sc),
    "state_seen": lambda p, w, v, sc: p.strlist(w, v, STATE_NAMES, "state"),
    "state_never": lambda p, w, v, sc: p.strlist(w, v, STATE_NAMES, "state"),
    "fault": lambda p, w, v, sc: p.str_(w, v, FAULT_NAMES, "fault"),
    "faults_seen": lambda p, w, v, sc: p.strlist(w, v, FAULT_NAMES, "fault"),
    "no_faults": lambda p, w, v, sc: p.bool_(w, v),
    "refused": lambda p, w, v, sc: p.bool_(w, v),
    "lost_steps_detected": lambda p, w, v, sc: p._expect_true(w, v),
    "no_motion_without_command": lambda p, w, v, sc: p._expect_true(w, v),
    "max_lost_steps": lambda p, w, v, sc: p.int_(w, v, 0, 10**9, "steps"),
    "max_faults_raised": lambda p, w, v, sc: p.int_(w, v, 0, 10**6),
    "sessions_recorded": lambda p, w, v, sc: p.int_(w, v, 0, 10**6),
    "boots": lambda p, w, v, sc: p.int_(w, v, 1, 10**6),
    "max_head_down_s": lambda p, w, v, sc: p.num(w, v, 0, DURATION_S[1], "s"),
}

