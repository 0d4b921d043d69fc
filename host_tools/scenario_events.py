"""The [[events]] section of a scenario file: each event's time, label and action.

An event fires at a time (at_s / at_ms) or when the firmware reaches a state (when_state,
plus delay_s); it does one action (ACTIONS), whose argument is checked by the action's own
parser here. Used by the section parsers of host_tools/scenario_parse.py.
"""

from host_tools import imu_model
from host_tools.scenario_format import (
    _ANCHORS,
    ACTIONS,
    ANKLE_ACTIONS,
    BUTTONS,
    COMMANDS,
    DURATION_S,
    ESTOP_ACTIONS,
    INPUTS,
    KEYS,
    NOISE_PER_S,
    SWITCH_WIRES,
    USER_KEYS,
    Checker,
    Event,
    show,
)


class EventParser(Checker):
    """Parses [[events]] into Scenario.events."""

    def events(self, sc, arr):
        S = "events"
        if type(arr) is not list:
            self.fail((S, 0, None), "must be an array of tables: write each as [[events]]")
        last_at = 0
        labels = set()
        for i, t in enumerate(arr, 1):
            ev, act = self._event(i, t)
            self._event_time(ev, t)
            if ev.at_ms is not None:
                self._event_in_order(ev, t, sc, last_at)
                last_at = ev.at_ms
            if "label" in t:
                self._event_label(ev, t["label"], labels)
            self._action(ev, t, act)
            sc.events.append(ev)

    def _event(self, i, t):
        """A new Event for [[events]] number i, and its one action."""
        w = ("events", i, None)
        if type(t) is not dict:
            self.fail(w, "each event must be a table ([[events]] with key = value lines)")
        self._keys(w, t, KEYS["events"])
        ev = Event(i, self.line_of("events", i, None))
        acts = [k for k in t if k in ACTIONS]
        if len(acts) != 1:
            self.fail(w, ("no action: give one of %s" % ", ".join(ACTIONS)) if not acts
                      else "one action per event, got %s" % ", ".join(acts))
        return ev, acts[0]

    def _event_time(self, ev, t):
        """When the event fires: at_s / at_ms, or when_state (+ delay_s)."""
        S, i = "events", ev.index
        has_time = ("at_s" in t) + ("at_ms" in t)
        if has_time > 1:
            self.fail((S, i, "at_ms"), "give at_s or at_ms, not both")
        if has_time and "when_state" in t:
            self.fail((S, i, "when_state"), "give a time (at_s / at_ms) or when_state, "
                      "not both")
        if not has_time and "when_state" not in t:
            self.fail((S, i, None), "needs a time: at_s = 12.5 or at_ms = 12500 (or when_state)")
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

    def _event_in_order(self, ev, t, sc, last_at):
        k = "at_s" if "at_s" in t else "at_ms"
        if ev.at_ms < last_at:
            self.fail(("events", ev.index, k), "events out of order: %g s comes before the "
                      "previous event's %g s (events fire in the order written)"
                      % (ev.at_ms / 1000, last_at / 1000))
        if ev.at_ms > sc.duration_ms:
            self.fail(("events", ev.index, k), "%g s is after the end of the run "
                      "(duration_s = %g)" % (ev.at_ms / 1000, sc.duration_ms / 1000))

    def _event_label(self, ev, v, labels):
        w = ("events", ev.index, "label")
        ev.label = self.str_(w, v)
        if ev.label in labels:
            self.fail(w, "label '%s' is used twice" % ev.label)
        if ev.label in _ANCHORS:
            self.fail(w, "label '%s' is reserved (%s); choose another"
                      % (ev.label, ", ".join(_ANCHORS)))
        labels.add(ev.label)

    def _action(self, ev, t, act):
        """The event's action and its argument; the keys that may go with it."""
        S, i = "events", ev.index
        v = t[act]
        ev.action = act
        allowed = _ACTION_PARSERS[act](self, ev, t, (S, i, act), v)
        for k in ("for_s", "for_ms", "on", "a", "b"):
            if k in t and k not in allowed:
                self.fail((S, i, k), "%s does not go with %s = %s" % (k, act, show(v)))
        if "for_s" in t and "for_ms" in t:
            self.fail((S, i, "for_ms"), "give for_s or for_ms, not both")
        if "for_s" in t:
            ev.for_ms = self.seconds_ms((S, i, "for_s"), t["for_s"], 0.001, DURATION_S[1])
        elif "for_ms" in t:
            ev.for_ms = self.int_((S, i, "for_ms"), t["for_ms"], 1, int(DURATION_S[1] * 1000),
                                  "ms")

    # Each action's argument; returns the extra keys it takes (for_s, on, a, ...).

    def _act_button(self, ev, t, w, v):
        ev.arg = self.str_(w, v.upper() if type(v) is str else v, BUTTONS, "button")
        return _TIMED if ev.action == "press" else ()

    def _act_estop(self, ev, t, w, v):
        ev.arg = self.str_(w, v, ESTOP_ACTIONS, "e-stop action")
        return _TIMED if v == "press" else ()

    def _act_ankle_lock(self, ev, t, w, v):
        ev.arg = self.str_(w, v, ANKLE_ACTIONS, "ankle lock action")
        return _TIMED if v == "open" else ()  # open for a while: a glitch, or a fiddle

    def _act_console(self, ev, t, w, v):
        ev.arg = self.str_(w, v)
        if not v.strip() or "\n" in v or "\r" in v:
            self.fail(w, "one non-empty console line (no line breaks)")
        return ()

    def _act_command(self, ev, t, w, v):
        ev.arg = self.str_(w, v, COMMANDS, "core command")
        for k in ("a", "b"):
            if k in t:
                setattr(ev, k, self.int_((w[0], w[1], k), t[k], -2**31, 2**31 - 1))
        return ("a", "b")

    def _act_imu_fault(self, ev, t, w, v):
        ev.arg = self.str_(w, v, imu_model.FAULTS, "IMU fault")
        if "on" in t:
            ev.on = self.bool_((w[0], w[1], "on"), t["on"])
        return ("on",)

    def _act_switch_spike(self, ev, t, w, v):
        ev.arg = [x.upper() for x in self.strlist(w, v)]
        self.strlist(w, ev.arg, tuple(INPUTS), "input")
        return ()

    def _act_switch_noise(self, ev, t, w, v):
        if v == "off":
            ev.arg = None
            return ()
        if type(v) is not dict:
            self.fail(w, "must be \"off\" or {per_s = 20, inputs = [\"HOME\", ...]}")
        self._keys(w, v, KEYS["events.switch_noise"])
        if "per_s" not in v:
            self.fail(w, "needs per_s (glitches per second on each input)")
        rate = self.num(w, v["per_s"], *NOISE_PER_S, "/s")
        ins = [x.upper() for x in self.strlist(w, v.get("inputs", ["HOME", "OVERTRAVEL"]))]
        self.strlist(w, ins, tuple(INPUTS), "input")
        ev.arg = (rate, ins)
        return ()

    def _act_switch_wire(self, ev, t, w, v):
        ev.arg = self.str_(w, v, tuple(SWITCH_WIRES), "switch wire action")
        return ()

    def _act_flag(self, ev, t, w, v):
        """power_cut, power_restore, hard_reset, soft_reset, crash = true."""
        if v is not True:
            self.fail(w, "write %s = true" % ev.action)
        ev.arg = True
        return _TIMED if ev.action == "power_cut" else ()

    def _act_user_load(self, ev, t, w, v):
        if type(v) is not dict or not v:
            self.fail(w, "must be a table, e.g. {mass_kg = 120, com_offset_mm = 150}")
        self._keys(w, v, KEYS["events.user_load"])
        ev.arg = {k: self.num(w, v[k], *rng, unit) for k, rng, unit in USER_KEYS if k in v}
        return ()


_TIMED = ("for_s", "for_ms")  # the keys of an action that lasts (a press, a power cut)
_ACTION_PARSERS = {
    "press": EventParser._act_button, "release": EventParser._act_button,
    "estop": EventParser._act_estop, "console": EventParser._act_console,
    "command": EventParser._act_command, "imu_fault": EventParser._act_imu_fault,
    "switch_spike": EventParser._act_switch_spike, "switch_noise": EventParser._act_switch_noise,
    "switch_wire": EventParser._act_switch_wire, "ankle_lock": EventParser._act_ankle_lock,
    "power_cut": EventParser._act_flag, "power_restore": EventParser._act_flag,
    "hard_reset": EventParser._act_flag, "soft_reset": EventParser._act_flag,
    "crash": EventParser._act_flag, "user_load": EventParser._act_user_load,
}
