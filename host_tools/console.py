"""The console client: talk to the table's serial console by hand or from a script.

    python -m host_tools.console --port /dev/ttyUSB0      interactive prompt (history,
                                                          completion; 'quit' or Ctrl-D)
    python -m host_tools.console --port build/ttyV        the virtual device (make vdev)
    python -m host_tools.console --sim                    the firmware on the simulated
                                                          board, in this process
    python -m host_tools.console --port P --exec "status" --exec "goto 20"
    python -m host_tools.console --port P --exec "status; goto 20"       (the same)
    python -m host_tools.console --sim --exec "consent; consent yes; goto 20; until HOLDING 60" \\
        --duration 30 --record build/run.csv --plot build/run.png
    python -m host_tools.console --port P --live          live view: telemetry, hold time
                                                          left, session cap; keys s stop,
                                                          r return, e estop, q leaves
                                                          (host_tools/console_live.py)
    python -m host_tools.console --port P --export build/clinic [--patient ann]
                                    each patient's history: <name>.csv and a progress
                                    chart <name>_progress.png (host_tools/clinic.py)

What a person types (the prompt, --exec) is sent as `%<id> <command>`: the console
answers with its own human reply, the same words as on a terminal, then an end line
{"ok": ..., "id": <id>} (firmware/console_out.py); the client prints the text as it
came, so there is one wording and one unit conversion, the firmware's. What the client
reads as data (the command table, `status` for `until` and the live view, the history
for --export, the clock) is sent as `#<id> <command>` and answered in JSON (--json
prints those). Telemetry and alerts arriving meanwhile go to their own handlers: with
--live, --record or --plot the console is in JSON mode and the samples are parsed;
otherwise it is in human mode and its `tel ...` and `alert: ...` lines are shown as
they are. A reply for a person that comes after its request timed out is shown as
"(late reply to request <id>) ...", never as the next request's. At connect the client
first sends Ctrl-U (firmware/console.py: it drops a half line an earlier terminal left,
which a bare line end would run), and also sets the table's clock (`clock set <unix s>`) to
this computer's, so that sessions, faults and consents are dated (--no-clock leaves it).
Two words are the client's own, for scripts, and are not sent: `wait <s>` lets time
pass (telemetry keeps being recorded) and `until <STATE> [<timeout_s>]` polls `status`
until the table is in that state.

--exec runs the commands in order and stops at the first one that fails (unless
--keep-going). Exit status: 0 all succeeded, 1 a command was refused or malformed (or
`until` timed out), 2 the table could not be reached or stopped answering.

Ctrl-C in the client never reaches the table: the client catches it (and ends --live or
--duration). To stop the table, type `stop`, `return` or `estop` - or use the table's
own emergency button, which never depends on this link.

Opening a serial port keeps DTR and RTS low, as mpremote does: on ESP32 boards they
drive EN and GPIO0, and toggling them would reset the controller mid-session.
"""

import argparse
import json
import os
import sys
import threading
import time

from host_tools import paths, telemetry, version
from host_tools.console_live import live_view, tty_keys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_LINK = 2
LINE_MAX = 120  # the firmware's line bound (firmware/console.py)
CLIENT_WORDS = ("wait", "until", "quit", "exit")
_HISTORY_FILE = os.path.join(os.path.expanduser("~"), ".inversion_table_console_history")
_SECRET_WORDS = ("login", "pin", "unlock")  # lines with a PIN never go into the history


class ClientError(Exception):
    """The link failed: no reply in time, port closed, not the table's console."""


# ------------------------------------------------------------------ transports


class SerialTransport:
    """A serial port: a USB adapter (/dev/ttyUSB0) or a pty (build/ttyV from make vdev)."""

    def __init__(self, port, baud=115200):
        import serial

        ser = serial.Serial(baudrate=baud, timeout=0.05)
        ser.port = port
        ser.dtr = False  # GPIO0 high: normal boot, never the bootloader
        ser.rts = False  # EN high: the controller keeps running
        ser.open()
        self.ser = ser

    def write(self, data):
        self.ser.write(data)
        self.ser.flush()

    def read(self, timeout_s):
        """What arrived within timeout_s (b"" if nothing)."""
        self.ser.timeout = max(0.0, timeout_s)
        data = self.ser.read(1)
        if data:
            waiting = self.ser.in_waiting
            if waiting:
                data += self.ser.read(waiting)
        return data

    def close(self):
        self.ser.close()


class SimTransport:
    """The firmware on the simulated board in this process: host_tools.runner.SimRunner,
    or anything with .board.host_send(bytes) / .board.host_receive() and .run_ms(ms).

    Simulated time passes only while the client reads; with realtime=True it is paced
    to the wall clock (the live view, the interactive prompt)."""

    def __init__(self, runner, step_ms=10, realtime=False):
        self.runner = runner
        self.step_ms = step_ms
        self.realtime = realtime

    def write(self, data):
        self.runner.board.host_send(bytes(data))

    def read(self, timeout_s):
        waited_ms = 0
        limit_ms = int(timeout_s * 1000)
        while True:
            data = self.runner.board.host_receive()
            if data:
                return data
            if waited_ms >= limit_ms:
                return b""
            self.runner.run_ms(self.step_ms)
            waited_ms += self.step_ms
            if self.realtime:
                time.sleep(self.step_ms / 1000.0)

    def close(self):
        pass


# ------------------------------------------------------------------ the client


BANNER = "inversion table console"  # first words of the firmware's start-up line
# The console protocol this client speaks (firmware/console_info.py PROTOCOL, from
# `version`): 2 has the `%<n>` request the prompt and --exec use for people's replies;
# a protocol-1 firmware leaves it unanswered, so the client would only time out.
PROTOCOL = 2
# What the client says when it finds MicroPython's prompt (the service mode, or a board
# left there by mpremote) instead of the table's console.
REPL_TEXT = ("the board is at the MicroPython prompt (the service mode, or left there by "
             "mpremote), not the table's console: press Ctrl-D (soft reset) or the EN "
             "button to start the firmware again; for the bring-up commands type "
             "`import bringup; bringup.main()` there (hardware/bringup.md)")


def protocol_text(found):
    """Why this client cannot work with a firmware speaking protocol `found`."""
    if isinstance(found, int) and found > PROTOCOL:
        return ("the firmware speaks console protocol %d, this client %d: update the host "
                "tools (git pull; pip install .)" % (found, PROTOCOL))
    return ("the firmware speaks console protocol %s, this client %d: deploy this "
            "checkout's firmware (make deploy PORT=...)" % (found, PROTOCOL))


class ConsoleClient:
    """Request/reply over a transport: replies as JSON (request()) or as the firmware's
    human text (request(..., person=True)).

    on_telemetry(sample) gets every telemetry sample in JSON mode (a dict of
    telemetry.FIELDS), on_alert(text) the console's alerts, on_text(line) the other
    lines that are no reply (the start-up banner; in human mode, telemetry)."""

    def __init__(self, transport, timeout_s=5.0, on_telemetry=None, on_alert=None,
                 on_text=None):
        self.t = transport
        self.timeout_s = timeout_s
        self.on_telemetry = on_telemetry
        self.on_alert = on_alert
        self.on_text = on_text
        self.commands = []  # the firmware's command table (help), after connect()
        self.clock = None  # the reply to the clock set at connect()
        self._buf = b""
        self._banner_seen = False  # the firmware's start-up line: it has just restarted
        self._next_id = 1
        self.lock = threading.Lock()  # one user of the transport at a time
        self.found_json = None  # the mode connect() found (restore() puts it back)
        self._said = None  # the text lines of the reply for a person being awaited
        # ids of person requests that timed out, oldest first: the text lines that come
        # before such a request's end line are its late reply, never the next request's
        self._late = []
        self.json_mode = True  # the mode connect() put the console in
        self.protocol = None  # the firmware's console protocol, after connect()

    def connect(self, set_clock=True, json_mode=True, check_protocol=True):
        """End any half line left on the port, note the mode the console is in, switch
        to JSON (json_mode: telemetry and alerts parsed) or to human mode (shown as
        they come), check the firmware's console protocol (check_protocol: ClientError
        unless it is PROTOCOL; deploy, which may bring an older firmware up to date,
        checks nothing), fetch the command table, and set the table's clock to this
        computer's (UTC): the table has no network, and its records are dated from
        this clock (firmware/wallclock.py)."""
        # Ctrl-U drops a half line an earlier session left, never completing it (a bare
        # line end would run it: `goto 20` typed without Enter); a firmware without
        # Ctrl-U discards that line as holding a control byte, ended by the line end.
        self.t.write(b"\x15\n")
        self.found_json = self._mode()
        r = self.request("json on" if json_mode else "json off")
        if not r.get("ok"):
            raise ClientError("the console refused JSON mode: %s" % r.get("error"))
        self.json_mode = json_mode
        self.protocol = self.request("version").get("protocol")
        if check_protocol and self.protocol != PROTOCOL:
            raise ClientError(protocol_text(self.protocol))
        self.commands = self.request("help").get("commands", [])
        if set_clock and any(c.get("name") == "clock" for c in self.commands):
            self.clock = self.request("clock set %d" % int(time.time()))
        return self

    def _mode(self):
        """True if the console is in JSON mode, False in human mode: `json` alone
        answers with the mode, as JSON in JSON mode and as text in human mode."""
        self.t.write(b"json\n")
        found = []
        prev = self.on_text

        def on_text(text):
            if text.startswith("ok json:"):
                found.append(False)
            elif prev:
                prev(text)

        self.on_text = on_text
        try:
            end = time.monotonic() + self.timeout_s
            while not found and time.monotonic() < end:
                for obj in self._read_objects(0.05):
                    if "json" in obj and "id" not in obj:
                        found.append(bool(obj["json"]))
                self._check_repl()
        finally:
            self.on_text = prev
        if not found:
            raise ClientError("no reply to 'json' within %g s" % self.timeout_s)
        return found[0]

    def restore(self):
        """Put the console back in the mode connect() found (after --exec, a deploy)."""
        if self.found_json is not None and self.found_json != self.json_mode:
            self.request("json on" if self.found_json else "json off")

    def _check_repl(self):
        """The MicroPython prompt instead of the console: say how to come back."""
        tail = self._buf.decode("utf-8", "replace")
        if tail.endswith(">>> "):  # the prompt has no line end: it stays in the buffer
            raise ClientError(REPL_TEXT)

    def request(self, line, timeout_s=None, person=False):
        """Send one command line; its reply, a dict with "ok": the JSON reply, or with
        person the firmware's human reply as "text" (its lines joined by newlines).
        ClientError if none came."""
        bad = check_line(line)
        if bad:
            return {"ok": False, "error": bad, "local": True}
        with self.lock:
            rid = self._next_id
            self._next_id += 1
            data = ("%s%d %s\n" % ("%" if person else "#", rid, line)).encode("ascii")
            said = self._said = [] if person else None
            self.t.write(data)
            wait0 = self.timeout_s if timeout_s is None else timeout_s
            wait_s = wait0
            # a simulated board's time is counted, not the wall clock's
            sim = isinstance(self.t, SimTransport)
            deadline = time.monotonic() + wait_s
            self._banner_seen = False
            retried = False
            while True:
                for obj in self._read_objects(0.05):
                    if "ok" in obj and obj.get("id") == rid:
                        self._said = None
                        del self._late[:]  # replies come in order: none is still due
                        if said is not None:
                            obj["text"] = "\n".join(said)
                        return obj
                wait_s -= 0.05
                self._check_repl()
                if (wait_s <= 0) if sim else (time.monotonic() > deadline):
                    if self._banner_seen and not retried:
                        # The firmware restarted while the request was on its way: a
                        # board drops unread input at a reset, so it never ran. Once.
                        retried = True
                        self._banner_seen = False
                        if said is not None:
                            del said[:]  # what came before the restart was no reply
                        self.t.write(data)
                        wait_s = wait0
                        deadline = time.monotonic() + wait_s
                        continue
                    self._said = None
                    if person:
                        self._late.append(rid)
                    raise ClientError("no reply to %r within %g s" % (line, wait0))

    def poll(self, timeout_s=0.05):
        """Read what arrives within timeout_s; telemetry and alerts go to their handlers."""
        with self.lock:
            for _ in self._read_objects(timeout_s):
                pass

    def pump(self, seconds):
        """Let seconds pass, handling telemetry (simulated seconds on a SimTransport)."""
        if isinstance(self.t, SimTransport) and not self.t.realtime:
            steps = max(1, int(seconds * 1000) // self.t.step_ms)
            for _ in range(steps):
                with self.lock:
                    self.t.runner.run_ms(self.t.step_ms)
                    self._dispatch(self.t.runner.board.host_receive())
            return
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll(min(0.1, max(0.0, end - time.monotonic())))

    def _read_objects(self, timeout_s):
        return self._dispatch(self.t.read(timeout_s))

    def _dispatch(self, data):
        """Split data into lines; hand telemetry, alerts and text to their handlers and
        return the other JSON objects (replies)."""
        out = []
        if not data:
            return out
        self._buf += data
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                break
            raw = self._buf[:i].rstrip(b"\r")
            self._buf = self._buf[i + 1:]
            text = raw.decode("utf-8", "replace")
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                if text.startswith(">>> ") or text.startswith("raw REPL"):
                    raise ClientError(REPL_TEXT)
                if text.startswith(BANNER):
                    self._banner_seen = True
                    del self._late[:]  # a restart answers nothing that came before it
                elif text.startswith("alert: "):  # human mode's alerts
                    if self.on_alert:
                        self.on_alert(text[7:])
                    continue
                elif self._late and not text.startswith("tel "):
                    if self.on_text:  # shown for what it is, never as the next reply
                        self.on_text("(late reply to request %d) %s" % (self._late[0], text))
                    continue
                elif self._said is not None and not text.startswith("tel "):
                    self._said.append(text)  # a line of the reply for a person
                    continue
                if text and self.on_text:
                    self.on_text(text)
                continue
            if "tel" in obj:
                if self.on_telemetry:
                    self.on_telemetry(obj["tel"])
            elif "alert" in obj:
                if self.on_alert:
                    self.on_alert(obj["alert"])
            else:
                rid = obj.get("id")
                if "ok" in obj and rid in self._late:
                    # a late request's end line: it and the ones before it are closed
                    del self._late[:self._late.index(rid) + 1]
                out.append(obj)
        return out

    # -------------------------------------------------------------- scripts

    def run(self, line, person=False):
        """One script step: a console command, or the client's wait/until. A reply dict
        (person: the console's reply as its human "text", see request())."""
        words = line.split()
        if words and words[0].lower() == "wait":
            return self._wait(words)
        if words and words[0].lower() == "until":
            return self._until(words)
        return self.request(line, person=person)

    def _wait(self, words):
        try:
            seconds = float(words[1])
            if len(words) != 2 or not 0 <= seconds <= 86400:
                raise ValueError
        except (IndexError, ValueError):
            return {"ok": False, "error": "usage: wait <seconds>", "local": True}
        self.pump(seconds)
        return {"ok": True, "waited_s": seconds, "local": True}

    def _until(self, words):
        try:
            state = words[1].upper()
            timeout = float(words[2]) if len(words) > 2 else 60.0
            if len(words) > 3 or not 0 < timeout <= 86400:
                raise ValueError
        except (IndexError, ValueError):
            return {"ok": False, "error": "usage: until <STATE> [<timeout_s>]", "local": True}
        waited = 0.0
        while True:
            st = self.request("status")
            if st.get("state") == state:
                return {"ok": True, "state": state, "waited_s": round(waited, 3),
                        "local": True}
            if waited >= timeout:
                return {"ok": False, "error": "still %s after %g s, not %s"
                        % (st.get("state"), timeout, state), "local": True}
            self.pump(0.2)
            waited += 0.2


def check_line(line):
    """Why the firmware would discard this line (it could not even tag the reply), or ''."""
    if "\n" in line or "\r" in line:
        return "one command per line"
    if any(not (" " <= c <= "~" or c == "\t") for c in line):
        return "only printable ASCII"
    if len(line) + 12 > LINE_MAX:  # "#<id> " takes up to 11 bytes of the line
        return "line too long (at most %d bytes)" % (LINE_MAX - 12)
    return ""


def split_commands(execs):
    """--exec values, each possibly 'a; b; c', as one list of command lines."""
    out = []
    for e in execs or ():
        for part in e.split(";"):
            part = part.strip()
            if part:
                out.append(part)
    return out


# ------------------------------------------------------------------ display


def render(reply):
    """A reply as text for a person: the firmware's own words for a reply to a request
    for a person ("text"); the client's for its own replies (wait, until, a line it
    would not send) and for a JSON reply (--json prints those as they are)."""
    if "text" in reply:
        return reply["text"]
    if not reply.get("ok"):
        return "error: %s" % reply.get("error", "?")
    if "state" in reply and reply.get("local"):
        return "ok until: %s after %g s" % (reply["state"], reply["waited_s"])
    if "waited_s" in reply:
        return "ok wait: %g s" % reply["waited_s"]
    return "ok"


# ------------------------------------------------------------------ interactive


def interactive(client, say, history_file=_HISTORY_FILE, pt_input=None, pt_output=None):
    """A prompt with history and completion; a background pump shows telemetry/alerts.
    pt_input/pt_output: prompt_toolkit input and output (tests pass a pipe)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import NestedCompleter
    from prompt_toolkit.patch_stdout import patch_stdout

    completer = NestedCompleter.from_nested_dict(completion_tree(client))
    session = PromptSession(history=_secret_free_history(history_file), completer=completer,
                            input=pt_input, output=pt_output)
    stop = threading.Event()
    with patch_stdout():
        th = threading.Thread(target=_pump, args=(client, say, stop), daemon=True)
        th.start()
        try:
            return _prompt_loop(session, client, say)
        finally:
            stop.set()
            th.join(1.0)


def _secret_free_history(path):
    """prompt_toolkit's file history, without the lines that carry a PIN."""
    from prompt_toolkit.history import FileHistory

    class _History(FileHistory):
        def store_string(self, string):
            words = string.split()
            if words and words[0].lower() in _SECRET_WORDS:
                return  # a PIN must not end up in a file
            super().store_string(string)

    return _History(path)


def _pump(client, say, stop):
    """Background: telemetry and alerts shown while the prompt waits."""
    while not stop.is_set():
        try:
            client.poll(0.05)
        except Exception as e:  # the link died: say so once and stop pumping
            say("link lost: %s" % e)
            return
        time.sleep(0.02)


def _prompt_loop(session, client, say):
    """Prompt, send, show the reply, until quit/exit or end of input; the exit status."""
    status = EXIT_OK
    while True:
        try:
            line = session.prompt("table> ")
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line; it is never sent to the table
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line.lower() in ("quit", "exit"):
            break
        try:
            reply = client.run(line, person=True)
        except ClientError as e:
            say("error: %s" % e)
            status = EXIT_NO_LINK
            continue
        say(render(reply))
    return status


def completion_tree(client):
    """Nested completion from the firmware's own tables (help, config get, program)."""
    tree = {}
    for c in client.commands:
        tree[c["name"]] = None
    try:
        fields = sorted(row[0] for row in client.request("config get").get("config", []))
        programs = client.request("program").get("programs", [])
        profile_fields = ["max_deg", "hold_s", "cap_s", "advance_after"]
        people = [p[0] for p in client.request("profile list").get("profiles", [])]
    except ClientError:
        fields, programs, profile_fields, people = [], [], [], []
    names = dict.fromkeys(tree)
    tree.update({
        "help": names,
        "config": {"get": dict.fromkeys(fields), "set": dict.fromkeys(fields)},
        "profile": {"set": dict.fromkeys(profile_fields), "list": None, "new": None,
                    "select": dict.fromkeys(people), "rename": dict.fromkeys(people),
                    "remove": dict.fromkeys(people)},
        "history": dict.fromkeys(people),
        "clock": None,
        "program": dict.fromkeys(programs),
        "stream": dict.fromkeys(["off", "1", "5", "10", "20", "50"]),
        "json": dict.fromkeys(["on", "off"]),
        "consent": {"yes": None},
        "pin": {"set": None},
        "wait": None,
        "until": dict.fromkeys(["READY", "HOLDING", "MOVING", "RETURNING"]),
        "quit": None,
    })
    return tree


# ------------------------------------------------------------------ main


def open_transport(args):
    if args.sim:
        from host_tools.runner import SimRunner

        kwargs = {}
        if args.sim_fs:
            kwargs["fs_root"] = args.sim_fs
        runner = SimRunner(pin_setup=args.sim_reset, **kwargs)
        # by hand or watching, the simulation keeps pace with the clock; scripts run fast
        realtime = args.live or not (args.exec or args.duration)
        return SimTransport(runner, realtime=realtime)
    if not args.port:
        raise ClientError("give --port PATH (a serial port or build/ttyV) or --sim")
    return SerialTransport(args.port, args.baud)


def build_parser():
    ap = argparse.ArgumentParser(prog=paths.prog("host_tools.console"),
                                 description="Console client for the inversion table.")
    ap.add_argument("--port", help="serial port: /dev/ttyUSB0, or build/ttyV (make vdev)")
    ap.add_argument("--version", action="version", version="%(prog)s " + version.identity())
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--sim", action="store_true",
                    help="run the firmware on the simulated board in this process")
    ap.add_argument("--sim-fs", help="with --sim: keep the board's files in this directory")
    ap.add_argument("--sim-reset", action="store_true",
                    help="with --sim: power up with START and DOWN held (the physical reset "
                    "at the table), whose boot takes the first `pin set <new>`")
    ap.add_argument("--exec", action="append", metavar="CMDS",
                    help="run these commands ('a; b' or repeat --exec) and exit")
    ap.add_argument("--keep-going", action="store_true",
                    help="with --exec: run the remaining commands after a failure")
    ap.add_argument("--json", action="store_true", help="print replies as raw JSON lines")
    ap.add_argument("--live", action="store_true", help="live telemetry view (rich)")
    ap.add_argument("--record", metavar="FILE.csv", help="record telemetry to CSV")
    ap.add_argument("--plot", metavar="FILE.png", help="plot the telemetry at the end")
    ap.add_argument("--stream-hz", type=int, default=10, help="telemetry rate, 1-50 Hz")
    ap.add_argument("--duration", type=float,
                    help="seconds to keep receiving telemetry after the commands")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    ap.add_argument("--export", metavar="DIR",
                    help="after the commands: each patient's history as DIR/<name>.csv and "
                         "a progress chart DIR/<name>_progress.png")
    ap.add_argument("--patient", action="append", metavar="NAME",
                    help="with --export: only this patient (repeat for more)")
    ap.add_argument("--no-clock", action="store_true",
                    help="do not set the table's clock from this computer's at connect")
    return ap


def main(argv=None, out=None):
    args = build_parser().parse_args(argv)
    out = out or sys.stdout

    def say(text):
        print(text, file=out, flush=True)

    streaming = bool(args.live or args.record or args.plot)
    recorder = telemetry.Recorder(args.record) if streaming else None
    try:
        transport = open_transport(args)
    except (ClientError, OSError, ImportError) as e:
        say("error: cannot open the console: %s" % e)
        if recorder:
            recorder.close()
        return EXIT_NO_LINK

    def on_tel(sample):
        if recorder is not None:
            recorder.add(sample)

    client = ConsoleClient(transport, timeout_s=args.timeout, on_telemetry=on_tel,
                           on_alert=lambda a: say("alert: %s" % a),
                           on_text=None if args.exec else say)
    try:
        status, began = _session(client, args, say, streaming)
    finally:
        transport.close()
        if recorder is not None:
            recorder.close()
    if args.plot and began:
        status = _plot(recorder, args.plot, say, status)
    return status


def _session(client, args, say, streaming):
    """Connect, run the commands, then the live view, the telemetry or the prompt.
    Returns (exit status, False if it stopped before it began: the stream refused)."""
    cmds = split_commands(args.exec)
    try:
        # JSON mode where telemetry is parsed; else the console's own lines are shown
        client.connect(set_clock=not args.no_clock, json_mode=streaming)
        if streaming:
            r = client.request("stream %d" % args.stream_hz)
            if not r.get("ok"):
                say("error: stream %d: %s" % (args.stream_hz, r.get("error")))
                return EXIT_FAILED, False
        status = _run_commands(client, cmds, args, say)
        if args.export and status == EXIT_OK:
            status = _export(client, args, say)
        if args.live:
            keys = tty_keys()
            if keys is None:
                live_view(client, args.duration)
            else:
                with keys as typed:
                    live_view(client, args.duration, keys=typed)
        elif args.duration:
            client.pump(args.duration)
        elif not cmds:
            status = interactive(client, say)
        if streaming:
            client.request("stream off")
        client.restore()
    except ClientError as e:
        say("error: %s" % e)
        status = EXIT_NO_LINK
    except KeyboardInterrupt:
        say("interrupted")
        status = EXIT_FAILED
    return status, True


def _run_commands(client, cmds, args, say):
    """--exec's commands in order (stopping at a failure unless --keep-going)."""
    status = EXIT_OK
    for line in cmds:
        reply = client.run(line, person=not args.json)
        if args.json:
            say(json.dumps(reply))
        else:
            say("> %s\n%s" % (line, render(reply)))
        if not reply.get("ok"):
            status = EXIT_FAILED
            if not args.keep_going:
                break
    return status


def _export(client, args, say):
    """--export: the patients' histories as CSV and progress charts; the exit status."""
    from host_tools import clinic

    try:
        done = clinic.export(client, args.export, args.patient)
    except clinic.ClinicError as e:
        say("error: %s" % e)
        return EXIT_FAILED
    for name, n, csv_path, png_path in done:
        say("%s: %d sessions -> %s, %s" % (name, n, csv_path, png_path))
    return EXIT_OK


def _plot(recorder, path, say, status):
    """--plot: the telemetry received, as a PNG; the exit status."""
    if recorder is not None and recorder.samples:
        telemetry.plot(recorder.samples, path)
        say("%d telemetry samples plotted to %s" % (len(recorder.samples), path))
        return status
    say("error: no telemetry received, nothing plotted")
    return status or EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
