"""Console fuzzing: random console input against the running firmware on the simulator.

    fuzz_console(seed, lines=1000)   # {"lines", "errors", "virtual_ms"}; Violation "F1"

Inputs are command-shaped lines, printable noise or raw bytes; after each the loop must be
alive, the output well-formed, and an input answered only with errors must have changed
nothing.
"""

import json
import random

from host_tools import invariants, paths
from host_tools.faultinject_harness import Harness

paths.use_firmware()

import states as S  # noqa: E402  (firmware/)

_FUZZ_WORDS = ("help", "status", "goto", "hold", "program", "start", "stop", "return", "estop",
               "ack", "discomfort", "consent", "home", "calibrate", "faults", "log", "history",
               "config", "profile", "selftest", "stream", "json", "version", "login", "logout",
               "pin", "lock", "unlock", "reboot")
_FUZZ_ARGS = ("get", "set", "on", "off", "yes", "no", "beginner", "custom", "interval",
              "progression", "max_deg", "hold_s", "cap_s", "advance_after", "rest_pause_ms",
              "tick_ms", "soft_max_mdeg", "emergency_speed_mdeg_s", "1234", "0000", "#1", "-",
              "1e5", "0x10", "1_000", "nan", "-0", "99999999999", "1.", ".5", "1.2345", "5",
              "30", "-60", "45.5", "\t", "")


def random_fuzz_line(rng):
    """One console input: a command-shaped line, printable noise, or raw bytes (no Ctrl-C:
    that is the REPL's, tested in tests/host/test_console_fuzz.py)."""
    r = rng.random()
    if r < 0.5:
        words = [rng.choice(_FUZZ_WORDS)]
        for _ in range(rng.randrange(4)):
            if rng.random() < 0.7:
                words.append(rng.choice(_FUZZ_ARGS))
            else:
                words.append(str(rng.randint(-10 ** rng.randrange(1, 12), 10 ** 11)))
        if rng.random() < 0.1:
            words.insert(0, "#%d" % rng.randrange(10 ** 10))
        if rng.random() < 0.1:
            words = [w.upper() for w in words]
        data = " ".join(words).encode()
    elif r < 0.75:
        data = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 140)))
    else:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        data = data.replace(b"\x03", b"")
    end = rng.choice((b"\n", b"\r\n", b"\r", b"\n", b"\n"))
    # one input, one line: the reply can then be matched to it
    data = data.replace(b"\x03", b"").replace(b"\r", b"").replace(b"\n", b"")
    return data + end


def _snapshot(h):
    app = h.app
    core = app.core
    return {
        "cfg": app.cfg.as_dict(),
        "profile": core.profile.to_dict(),
        "program": core.program_id,
        "child_lock": core.child_lock,
        "fault": core.fault,
        "state": core.state,
        "target": core.target_mdeg,
        "session": core.session_active,
    }


_STATIC = (S.READY, S.RECOVERY)


def _changed(before, after, static, pin_word):
    diff = [k for k in before if before[k] != after[k]]
    if not static:
        diff = [k for k in diff if k not in ("state", "target", "session", "fault")]
    if pin_word:
        diff = [k for k in diff if k != "child_lock"]
    return diff


def fuzz_console(seed, lines=1000, json_mode=True):
    """Random console input against the running firmware on the simulator, with the
    invariants checked. After every input: the loop has not crashed (app.crashed False,
    no internal-error alert), every output line is well-formed, and an input answered
    only with errors changed nothing (configuration, profile, program, child lock; and
    state, target, fault, session when the table was standing in READY or RECOVERY).
    Returns {"lines", "errors", "virtual_ms"}; raises Violation ("F1") on a failure."""
    rng = random.Random(seed)
    h = Harness({"seed": seed, "max_deg": 45, "consent": True,
                 "start_mdeg": rng.choice((None, None, 20000))})
    try:
        fuzz = _ConsoleFuzz(h, rng, json_mode)
        for _ in range(lines):
            fuzz.one(random_fuzz_line(rng))
        return {"lines": lines, "errors": fuzz.n_err, "virtual_ms": h.board.now_ms}
    finally:
        h.close()


class _ConsoleFuzz:
    """One fuzz run on a harness: each input sent, waited for and its effect checked."""

    def __init__(self, h, rng, json_mode):
        self.h = h
        self.rng = rng
        self.json_mode = json_mode
        self.n_err = 0
        self.pending = ""  # a line still being written waits for its end
        h.run_ms(500)
        if json_mode:
            h.send("json on")
            h.run_ms(100)
        h.runner.receive()

    def one(self, data):
        h = self.h
        static = h.core.state in _STATIC
        before = _snapshot(h)
        apps = h.runner.boots
        h._note_user()
        h.board.host_send(data)
        out = self._answer(data, apps)
        if h.runner.boots != apps:
            self.pending = ""
            return  # `reboot` in READY: a fresh firmware (banner in human text)
        replies = self._replies(data, out)
        if replies and not any(replies):
            self.n_err += 1
            self._unchanged(data, out, before, static)
        if h.core.state not in _STATIC and self.rng.random() < 0.05:
            h.send("estop")  # now and then back to a standing state
            h.run_ms(100)
        if self.json_mode and not h.app.console.json:
            h.send("json on")
            h.run_ms(50)
            h.runner.receive()

    def _answer(self, data, apps):
        """The complete lines the console wrote for the input; F1 if the loop died."""
        h = self.h
        # the console reads up to 259 bytes a tick (console_lines: 64 before the drain)
        # and runs one line a tick: waiting len/64 + 3 idle ticks leaves it time to spare
        need = len(data) // 64 + 3
        idle = 0
        for _ in range(600):
            h.run_ms(10)
            if h.runner.boots != apps:
                break
            idle = 0 if h.app.console.busy() else idle + 1
            if idle >= need:
                break
        out = self.pending + h.runner.receive()
        cut = out.rfind("\n") + 1
        out, self.pending = out[:cut], out[cut:]
        if h.app.crashed or "internal error" in out:
            raise invariants.Violation("F1", h.board.now_ms, "console input %r: loop "
                                       "crashed or internal error: %r" % (data, out[-300:]))
        return out

    def _replies(self, data, out):
        """ok (True/False) of each reply line; F1 for a JSON reply that is not JSON."""
        replies = []
        for line in out.splitlines():
            if not line:
                continue
            if self.json_mode and line.startswith("{"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    raise invariants.Violation("F1", self.h.board.now_ms, "input %r: reply "
                                               "is not JSON: %r" % (data, line)) from None
                if "ok" in obj:
                    replies.append(obj["ok"])
            elif not self.json_mode:
                replies.append(not line.startswith("error"))
        return replies

    def _unchanged(self, data, out, before, static):
        """An input answered only with errors changed nothing; F1 otherwise."""
        h = self.h
        low = data.lower()
        pin_word = any(w in low for w in (b"login", b"unlock", b"pin", b"lock"))
        diff = _changed(before, _snapshot(h), static, pin_word)
        if diff:
            after = _snapshot(h)
            raise invariants.Violation("F1", h.board.now_ms, "input %r was refused "
                                       "(%r) but changed %s" % (data, out[-200:], [
                                           (k, before[k], after[k]) for k in diff]))


# ------------------------------------------------------------------ storage fuzzing
