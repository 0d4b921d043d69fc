"""The console client (host_tools/console.py) against the firmware's console.

Every command round-trips through the client: against the console of the real App on
the fake board of tests/core/test_console.py (fast: the core stands still between
commands, and each command is given a state it is accepted in), and against the real
firmware App on the simulated board (host_tools.runner.SimRunner), where a scripted
session exercises every command in a realistic order. Also the --exec exit codes,
recording and plotting, the live view, the interactive prompt, and pyserial over a pty.
"""

import io
import os
import threading
import time
import tty

import pytest
from console import COMMANDS
from states import C_ESTOP, C_GOTO, C_JOG_DOWN
from test_console import PIN, Rig

from host_tools import console as client_mod
from host_tools import telemetry, transcript
from host_tools.console import (
    EXIT_FAILED,
    EXIT_NO_LINK,
    EXIT_OK,
    ClientError,
    ConsoleClient,
    SerialTransport,
    SimTransport,
    check_line,
    render,
    split_commands,
)
from host_tools.runner import SimRunner

TICK_MS = 10


class FakeRunner:
    """The SimRunner interface (.board, .run_ms) over the console of the test Rig (a real
    App, homed, consent given, the service mode's loop: the bring-up commands too);
    run_ms runs the console alone (Rig.tick)."""

    def __init__(self):
        self.rig = Rig(homed=True, consent=True, service=True)
        self.app = self.rig.app
        self.board = self.rig.board
        self.console = self.rig.con

    @property
    def now_ms(self):
        return self.rig.now_ms

    def run_ms(self, ms):
        for _ in range(max(1, ms // TICK_MS)):
            self.rig.tick()


def fake_client():
    runner = FakeRunner()
    client = ConsoleClient(SimTransport(runner)).connect()
    return runner, client


# One line per command of the firmware's table, each valid in READY (or the state
# _PREPARE gives it) with a therapist session (checked to cover COMMANDS).
FAKE_LINES = {
    "help": "help goto",
    "status": "status",
    "goto": "goto 20.5",
    "hold": "hold 30",
    "program": "program interval",
    "start": "start",
    "stop": "stop",
    "return": "return",
    "estop": "estop",
    "ack": "ack",
    "discomfort": "discomfort",
    "consent": "consent",
    "home": "home",
    "calibrate": "calibrate",
    "faults": "faults",
    "log": "log 5",
    "history": "history 3",
    "clock": "clock set 1796313600",
    "config": "config set rest_pause_ms 5000",
    "profile": "profile set max_deg 25",
    "selftest": "selftest",
    "stream": "stream off",
    "json": "json on",
    "version": "version",
    "login": "login " + PIN,
    "logout": "logout",
    "pin": "pin set %s %s" % (PIN, PIN),
    "lock": "lock",
    "unlock": "unlock " + PIN,
    "reboot": "reboot",
    "maintenance": "maintenance " + PIN,
    "drive": "drive on",
    "imu": "imu",
    "steps": "steps",
    "switches": "switches",
    "jog": "jog down",
    "keep": "keep",
    "freeze": "freeze 20",
}


def _moving(rig):
    rig.core.command(C_GOTO, 20000)


def _console_jog(rig):
    rig.core.command(C_JOG_DOWN, 0, 1)


def _latched(rig):
    rig.core.command(C_ESTOP)
    rig.step_until(lambda r: r.core.phase == 4, 60000)  # arrived: ack may clear it


# Commands the real core takes only while the table moves or is latched.
_PREPARE = {"hold": _moving, "stop": _moving, "return": _moving, "discomfort": _moving,
            "ack": _latched, "keep": _console_jog}


def test_every_command_round_trips_on_the_fake_app():
    assert sorted(FAKE_LINES) == sorted(c[0] for c in COMMANDS)
    runner, client = fake_client()
    assert [c["name"] for c in client.commands] == [c[0] for c in COMMANDS]
    core = runner.app.core
    assert client.request("pin set " + PIN)["ok"] is True
    for name, line in FAKE_LINES.items():
        runner.rig.to_ready()
        if name in _PREPARE:
            _PREPARE[name](runner.rig)
        if name != "logout":
            client.request("login " + PIN)
        reply = client.request(line)
        assert reply["ok"] is True, (line, reply)
        assert "id" in reply
    runner.run_ms(20)  # the restart runs once its reply is out
    assert runner.board.resets == 1 and runner.board.maintenance == 1
    assert runner.app.cfg.rest_pause_ms == 5000 and core.profile.max_mdeg == 25000


def test_errors_come_back_as_replies_and_local_checks():
    _, client = fake_client()
    r = client.request("goto nan")
    assert r["ok"] is False and "decimals" in r["error"]
    r = client.request("frobnicate")
    assert r["ok"] is False and "unknown command" in r["error"]
    # lines the firmware would discard before reading the id are refused here
    for bad in ("goto 2\u00b0", "status\nstatus", "x" * 200, "st\x00atus"):
        r = client.request(bad)
        assert r["ok"] is False and r["local"] is True
    assert check_line("goto 20") == ""
    assert client.request("status")["ok"] is True  # still in step after all that


def test_stale_replies_and_noise_are_skipped():
    runner, client = fake_client()
    runner.board.out.extend(b'{"ok": true, "id": 999}\nbanner text\n\x00garbage\n')
    texts = []
    client.on_text = texts.append
    assert client.request("version")["ok"] is True
    assert "banner text" in texts


def test_a_late_reply_for_a_person_is_labelled_never_the_next_ones():
    # issue #23 F5: a request that timed out is answered later; its lines are shown
    # as its late reply and the next request gets only its own
    runner, client = fake_client()
    client.json_mode = False
    texts = []
    client.on_text = texts.append
    client.timeout_s = 0.01  # one pass: `help goto` is not answered within it
    with pytest.raises(ClientError):
        client.request("help goto", person=True)
    client.timeout_s = 5.0
    text = client.request("version", person=True)["text"]
    assert "goto" not in text and texts, (text, texts)
    assert all(t.startswith("(late reply to request ") for t in texts), texts
    assert client.request("version", person=True)["text"] == text  # in step again


def test_split_commands_and_render():
    assert split_commands(["status; goto 20", " stop ;;", "log 5"]) == [
        "status", "goto 20", "stop", "log 5"]
    assert split_commands(None) == []
    assert render({"ok": False, "error": "x"}) == "error: x"
    # the firmware's words pass as they came; the client words only its own replies
    said = "ok goto: MOVING, target 30.000 deg, clamped from 45.000: profile max"
    assert render({"ok": True, "id": 3, "text": said}) == said
    assert render({"ok": False, "id": 4, "text": "error: x y"}) == "error: x y"
    assert render({"ok": True, "waited_s": 1.5, "local": True}) == "ok wait: 1.5 s"
    assert render({"ok": True, "state": "READY", "waited_s": 0.4, "local": True}) == (
        "ok until: READY after 0.4 s")


def test_wait_and_until_are_the_clients_own():
    runner, client = fake_client()
    t0 = runner.now_ms
    assert client.run("wait 1.5")["ok"] is True
    assert runner.now_ms - t0 >= 1500
    assert client.run("until READY 1")["ok"] is True
    r = client.run("until HOLDING 0.5")
    assert r["ok"] is False and "still READY" in r["error"]
    assert client.run("wait x")["ok"] is False
    assert client.run("until")["ok"] is False


def test_no_reply_is_a_client_error():
    class Deaf:
        def write(self, data):
            pass

        def read(self, timeout_s):
            time.sleep(timeout_s)
            return b""

        def close(self):
            pass

    client = ConsoleClient(Deaf(), timeout_s=0.2)
    with pytest.raises(ClientError):
        client.request("status")


# ------------------------------------------------------------------ the real firmware


def sim_client(tmp_path, pin_setup=False):
    # pin_setup: the board powers up with the physical reset's buttons (the first PIN)
    runner = SimRunner(fs_root=str(tmp_path / "fs"), pin_setup=pin_setup)
    client = ConsoleClient(SimTransport(runner), timeout_s=5.0).connect()
    return runner, client


def test_the_client_checks_the_firmwares_console_protocol(tmp_path, monkeypatch):
    import console_info  # firmware/: `version` reports its PROTOCOL

    assert sim_client(tmp_path)[1].protocol == client_mod.PROTOCOL == 2
    for found, says in ((1, "deploy this checkout's firmware"), (3, "update the host tools")):
        monkeypatch.setattr(console_info, "PROTOCOL", found)  # a firmware of another version
        runner = SimRunner(fs_root=str(tmp_path / ("fs%d" % found)))
        with pytest.raises(ClientError) as e:
            ConsoleClient(SimTransport(runner)).connect()
        assert "protocol %d" % found in str(e.value) and says in str(e.value)
        # deploy, which brings an older firmware up to date, connects all the same
        c = ConsoleClient(SimTransport(runner)).connect(check_protocol=False)
        assert c.protocol == found and c.request("status")["ok"]


def test_every_command_round_trips_on_the_simulated_board(tmp_path):
    runner, client = sim_client(tmp_path, pin_setup=True)
    seen = set()

    def ok(line):
        seen.add(line.split()[0])
        r = client.run(line)
        assert r["ok"] is True, (line, r)
        return r

    def refused(line, why):
        seen.add(line.split()[0])
        r = client.run(line)
        assert r["ok"] is False and why in r["error"], (line, r)
        return r

    assert ok("status")["state"] == "READY"
    ok("help")
    ok("version")
    assert ok("selftest")["selftest"] == "passed"
    refused("goto 20", "contraindications")
    refused("config set rest_pause_ms 3000", "login")
    ok("pin set " + PIN)
    refused("login 0000", "wrong PIN")
    ok("login " + PIN)
    assert ok("config set rest_pause_ms 3000")["value"] == 3000
    assert runner.app.cfg.rest_pause_ms == 3000
    ok("profile")
    assert ok("clock")["clock_set"] is True  # the client set it when it connected
    ok("profile set max_deg 25")
    ok("program beginner")
    ok("consent")
    ok("consent yes")
    ok("lock")
    assert runner.app.core.child_lock is True
    ok("unlock")
    refused("calibrate", "not allowed")  # not homed yet: the core says no
    ok("home")
    ok("until READY 60")
    ok("calibrate")
    ok("stream 10")
    assert ok("goto 20")["target_mdeg"] == 20000
    ok("hold 20")
    ok("until HOLDING 60")
    ok("stop")
    ok("discomfort")
    ok("until READY 120")
    ok("start")
    ok("wait 3")
    ok("estop")
    assert ok("status")["state"] == "EMERGENCY_RETURN"
    ok("until EMERGENCY_RETURN 1")
    ok("wait 15")
    ok("ack")
    ok("return")
    ok("until READY 120")
    ok("stream off")
    assert len(ok("history")["sessions"]) >= 2
    ok("faults")
    ok("log 30")
    ok("json on")
    for line in ("drive on", "imu", "steps", "switches", "jog up", "keep", "freeze 20"):
        refused(line, "service mode")  # the bring-up commands: the service mode's loop only
    ok("logout")
    for line in ("reboot", "maintenance " + PIN):
        seen.add(line.split()[0])
        ok("until READY 10")  # both are refused unless the table is at the loading stop
        ok(line)  # the simulated board restarts; tagged requests stay JSON after it
    assert seen >= {c[0] for c in COMMANDS}, {c[0] for c in COMMANDS} - seen


def test_exec_exit_codes(tmp_path):
    fs = str(tmp_path / "fs")
    out = io.StringIO()
    assert client_mod.main(["--sim", "--sim-fs", fs, "--exec", "status; version"], out) == EXIT_OK
    assert "state: READY" in out.getvalue()
    out = io.StringIO()
    code = client_mod.main(["--sim", "--sim-fs", fs, "--exec", "goto nan", "--exec", "status"],
                           out)
    assert code == EXIT_FAILED and "state:" not in out.getvalue()
    out = io.StringIO()
    code = client_mod.main(["--sim", "--sim-fs", fs, "--keep-going", "--json",
                            "--exec", "goto nan; status"], out)
    assert code == EXIT_FAILED and '"state": "READY"' in out.getvalue()
    assert client_mod.main(["--port", str(tmp_path / "no-such-port"), "--exec", "status"],
                           io.StringIO()) == EXIT_NO_LINK
    assert client_mod.main(["--exec", "status"], io.StringIO()) == EXIT_NO_LINK


def _typed(name):
    """A transcript (tests/transcripts/<name>.txt: the firmware's human replies) as the
    client's --exec lines, the output a person should see for them, and the client's
    options for the transcript's own."""
    with open(os.path.join(transcript.DIR, name + ".txt")) as f:
        text = f.read()
    cmds, want, opts = [], [], []
    for line in text.splitlines():
        if line == "! physical reset":
            opts.append("--sim-reset")  # the power-up the transcript starts with
        elif line.startswith("> "):
            cmds.append(line[2:])
            want.append(line)
        elif line.startswith("@ "):  # time passing: the client's `wait`
            n = line.split()[1]
            cmds.append("wait " + n)
            want += ["> wait " + n, "ok wait: %s s" % n]
        elif cmds and (line.startswith("< ") or line == "<"):
            want.append(line[2:])
    return cmds, want, opts


# Transcripts whose replies do not depend on the millisecond a line arrives (the client
# sends its own lines at connect, so the table's clock runs a little apart): the clamp
# and its reason, an aligned table with units, help as text, a capped hold
@pytest.mark.parametrize("name", ["goto", "config", "help", "hold"])
def test_typed_commands_show_the_firmwares_human_replies(tmp_path, name):
    cmds, want, opts = _typed(name)
    out = io.StringIO()
    client_mod.main(["--sim", "--sim-fs", str(tmp_path / "fs"), "--no-clock",
                     "--keep-going", "--exec", "; ".join(cmds)] + opts, out)
    assert out.getvalue().splitlines() == want


def test_the_prompt_shows_the_firmwares_words_and_its_telemetry_lines(tmp_path):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    runner = FakeRunner()
    client = ConsoleClient(SimTransport(runner)).connect(json_mode=False)
    said = []
    with create_pipe_input() as inp:
        inp.send_text("goto 45\rquit\r")
        code = client_mod.interactive(client, said.append, str(tmp_path / "h"), inp,
                                      DummyOutput())
    assert code == EXIT_OK
    assert said == ["ok goto: MOVING, target 30.000 deg, clamped from 45.000: profile max"]
    # human mode: telemetry is the console's own line, shown as it came
    client.on_text = said.append
    assert client.request("stream 5", person=True)["text"] == "ok stream: 5 Hz"
    client.pump(0.5)
    client.request("stream off")
    tel = [line for line in said if line.startswith("tel ")]
    assert tel and " deg target 30.000 deg rate " in tel[0] and "deg/s fault" in tel[0]
    client.restore()
    assert runner.console.json is False


def test_record_and_plot_a_session(tmp_path):
    csv_path = str(tmp_path / "run.csv")
    png_path = str(tmp_path / "run.png")
    out = io.StringIO()
    code = client_mod.main(["--sim", "--sim-fs", str(tmp_path / "fs"), "--exec",
                            "consent; consent yes; goto 15", "--duration", "40",
                            "--stream-hz", "20", "--record", csv_path, "--plot", png_path], out)
    assert code == EXIT_OK, out.getvalue()
    samples = telemetry.read_csv(csv_path)
    assert len(samples) >= 300
    states = {s["state"] for s in samples}
    assert "MOVING" in states or "HOLDING" in states
    assert max(s["angle_mdeg"] for s in samples) > 5000
    with open(png_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    t = telemetry.elapsed_s(samples)
    assert all(b > a for a, b in zip(t, t[1:]))


def test_live_view_shows_telemetry():
    runner, client = fake_client()
    client.request("stream 20")
    buf = io.StringIO()
    n = client_mod.live_view(client, seconds=0.5, out=buf)
    assert n > 0
    assert "angle" in buf.getvalue()


def test_interactive_prompt_runs_commands_and_keeps_pins_out_of_history(tmp_path):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    _, client = fake_client()
    said = []
    hist = str(tmp_path / "history")
    with create_pipe_input() as inp:
        inp.send_text("pin set %s\rstatus\rgoto nan\rquit\r" % PIN)
        code = client_mod.interactive(client, said.append, hist, inp, DummyOutput())
    assert code == EXIT_OK
    text = "\n".join(said)
    assert "state: READY" in text and "error: angle" in text
    with open(hist) as f:
        stored = f.read()
    assert "status" in stored and PIN not in stored


def test_serial_transport_over_a_pty():
    """pyserial on a raw pty, with the console (test Rig) running on the other end."""
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    rig = Rig(homed=True, consent=True, pin_setup=True)
    app = rig.app
    con = rig.con
    stop = threading.Event()

    def device():
        os.set_blocking(master, False)
        now = 0
        while not stop.is_set():
            try:
                data = os.read(master, 256)
            except BlockingIOError:
                data = b""
            except OSError:
                return
            if data:
                app.board.host_send(data)
            con.service(now)
            now += TICK_MS
            out = app.board.host_receive()
            if out:
                os.write(master, out)
            time.sleep(0.002)

    th = threading.Thread(target=device, daemon=True)
    th.start()
    try:
        client = ConsoleClient(SerialTransport(name), timeout_s=5.0).connect()
        assert client.request("status")["state"] == "READY"
        assert client.request("goto 12.5")["target_mdeg"] == 12500
        client.t.close()
    finally:
        stop.set()
        th.join(2.0)
        os.close(master)
        os.close(slave)


def test_the_mode_found_is_put_back():
    runner, client = fake_client()  # the console starts in human mode
    assert client.found_json is False and runner.console.json is True
    client.restore()
    assert runner.console.json is False
    runner.console.json = True  # a tool left it in JSON mode: it stays so
    client = ConsoleClient(SimTransport(runner)).connect()
    assert client.found_json is True
    client.restore()
    assert runner.console.json is True


class _ReplPort:
    """A board at MicroPython's prompt: whatever is sent, the prompt comes back."""

    def __init__(self, prompt):
        self.prompt = prompt
        self.sent = b""

    def write(self, data):
        self.sent += data

    def read(self, timeout_s):
        out, self.prompt = self.prompt, b""
        return out

    def close(self):
        pass


@pytest.mark.parametrize("prompt", [b"\r\n>>> ", b"raw REPL; CTRL-B to exit\r\n>"])
def test_a_board_at_the_repl_is_recognised(prompt):
    client = ConsoleClient(_ReplPort(prompt), timeout_s=0.5)
    with pytest.raises(ClientError) as e:
        client.connect()
    assert "Ctrl-D" in str(e.value) and "MicroPython prompt" in str(e.value)
