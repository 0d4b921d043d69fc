"""The client's live view (host_tools/console_live.py): the held jog key's keep-alive
timing (times passed in), and the keys against the real App in the service mode's
loop (tests/core/test_console.py's rig, whole loop: core, plant, console)."""

import io

from states import EMERGENCY_RETURN, JOGGING
from test_console import TICK_MS, Rig

from host_tools import console_live
from host_tools.console import ConsoleClient, SimTransport
from host_tools.console_live import KEEP_S, RELEASE_S, REPEAT_GAP_S, JogKey


def test_jog_key_keeps_alive_while_repeating_and_stops_when_let_go():
    j = JogKey()
    assert j.press("down", 0.0) == "jog down"
    assert j.due(0.05) is None
    assert j.due(KEEP_S) == "keep"
    t = 0.5  # the autorepeat starts
    sent = []
    while t < 2.0:
        assert j.press("down", t) is None
        line = j.due(t)
        if line:
            sent.append((t, line))
        t += 0.033
    assert [s[1] for s in sent] == ["keep"] * len(sent)
    gaps = [b[0] - a[0] for a, b in zip(sent, sent[1:])]
    assert max(gaps) < 0.2  # under the firmware's 200 ms
    last = t - 0.033
    assert j.due(last + REPEAT_GAP_S - 0.01) in (None, "keep")
    assert j.due(last + REPEAT_GAP_S + 0.01) == "jog stop"
    assert j.direction is None and j.due(last + 1) is None


def test_a_single_tap_jogs_until_the_autorepeat_delay():
    j = JogKey()
    assert j.press("up", 10.0) == "jog up"
    assert j.due(10.0 + RELEASE_S - 0.01) == "keep"
    assert j.due(10.0 + RELEASE_S + 0.01) == "jog stop"
    assert j.press("up", 11.0) == "jog up"  # a new press: a new jog


class _LoopRunner:
    """The SimRunner interface over the rig's whole loop (time passes for the core)."""

    def __init__(self, rig):
        self.rig = rig
        self.board = rig.board

    def run_ms(self, ms):
        self.rig.step(max(1, ms // TICK_MS))


def test_live_keys_jog_while_held_then_estop_and_show_the_cap():
    rig = Rig(homed=True, consent=True, service=True)
    client = ConsoleClient(SimTransport(_LoopRunner(rig))).connect()
    rig.login()  # sets the PIN first
    assert client.request("stream 20")["ok"]
    clock = lambda: rig.now_ms / 1000.0  # noqa: E731 - the simulated time
    t0 = clock()
    seen = []
    state = {"e": False}

    def keys():
        t = clock() - t0
        seen.append((t, rig.core.state))
        if t < 1.5:
            return "d"  # held: the terminal's autorepeat
        if t > 2.5 and not state["e"]:
            state["e"] = True
            return "e"
        return "q" if t > 3.5 else ""

    start = rig.plant.angle_mdeg()
    buf = io.StringIO()
    console_live.live_view(client, seconds=10, out=buf, keys=keys, clock=clock)
    held = [st for t, st in seen if 0.3 < t < 1.5]
    assert held and all(st == JOGGING for st in held), held
    let_go = [st for t, st in seen if 2.0 < t < 2.5]
    assert let_go and JOGGING not in let_go
    assert rig.plant.angle_mdeg() > start + 500
    assert rig.core.state == EMERGENCY_RETURN
    text = buf.getvalue()
    assert "session" in text and "head-down (cap)" in text and "hold left" in text


def test_the_target_row_says_none_in_the_firmwares_words_where_status_does():
    panel = console_live.LivePanel(None)
    panel.on_tel({"t_ms": 0, "state": "READY", "angle_mdeg": -60000, "target_mdeg": 0,
                  "rate_mdeg_s": 0, "fault": "none"})
    assert panel.target_text() == "   0.000 deg"  # no status yet: the number
    panel.on_status({"ok": True, "state": "READY", "no_target": "none (not homed yet)"})
    assert panel.target_text() == "none (not homed yet)"
    panel.on_tel({"t_ms": 100, "state": "MOVING", "angle_mdeg": -59900, "target_mdeg": 20000,
                  "rate_mdeg_s": 1000, "fault": "none"})
    assert panel.target_text() == "  20.000 deg"  # the status is older than the move
