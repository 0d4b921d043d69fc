"""Issues #20, #23 and #21's rule, an independent tester's attack (branch attack23) on
the console's byte line, its on-demand modules, its tags and the client: each test
here is a failure found, as a small reproduction that fails on main at 3511c74. The
rule they check: bad input of every kind gets a clear error, leaves the state
unchanged, loses nothing and never stops the control loop; the USB cable is no way
around the safety or the PIN.

The firmware runs on the rig of tests/core/test_console.py (the real App and Core on a
small fake board); the client (host_tools/console.py) talks to it through its own
SimTransport. What passed is listed in the branch's report, not repeated here.
"""

import json

import console_out
from states import MOVING, READY
from test_console import Rig

from host_tools.console import ClientError, ConsoleClient, SimTransport


def _lines(text):
    return [x for x in text.split("\n") if x]


# ------------------------------------------------- F1: a tag with no command


def test_a_tag_without_a_command_is_answered_under_its_tag():
    """Setup: the console in human mode; the lines `%5` and `#5` (a well-formed tag,
    no command after it).
    Happened: `error: request id without a command`, untagged, as human text: no end
    line {"ok": false, "id": 5} for the `%` request and no JSON with "id": 5 for the
    `#` one, so a client waiting for id 5 waits out its timeout (cmdparse.split raises
    before console._execute calls out.answer(req_id, person)).
    Expected: the error under the tag it came with, as for any other error of a
    tagged line (`%1 %2 status` is answered so)."""
    r = Rig()
    out = _lines(r.send("%5"))
    assert out[0].startswith("error: "), out
    assert out[-1] == '{"ok": false, "id": 5}', out
    last = _lines(r.send("#5"))[-1]
    assert last.startswith("{") and json.loads(last)["id"] == 5, last


# ------------------------------------------- F2: `consent yes` as the very next line


def test_consent_yes_is_refused_after_any_line_between_it_and_the_list():
    """Setup: `consent` (the list shown), then one line the console answers with an
    error before it parses a command: a NUL byte, an over-long line, a malformed tag,
    a tag alone; then `consent yes`.
    Happened: the consent is recorded each time ("ok consent: recorded ..."): only
    console._execute clears consent_shown, and these lines never reach it (or leave it
    before it), so the list need not have been the line before.
    Expected: "`consent yes` as the very next line" (README, the list's last line):
    refused after any line in between, as after `status`."""
    recorded = []
    for between in (b"\x00\n", b"x" * 130 + b"\n", b"#abc status\n", b"%5\n"):
        r = Rig()
        r.send("consent")
        assert r.send(between).startswith("error: "), between
        if r.send("consent yes").startswith("ok consent"):
            recorded.append(between[:12])
    assert recorded == [], "consent recorded with a line between: %r" % recorded


# --------------------------- F3: a MemoryError after the command already took effect


def _short_of_memory_once(rig):
    # the reply's formatting allocates (its text, the JSON object): a full heap raises
    # there, after the handler has acted
    real = console_out.Output.ok
    armed = [1]

    def ok(self, *args, **kw):
        if armed[0]:
            armed[0] = 0
            raise MemoryError("memory allocation failed")
        return real(self, *args, **kw)

    rig.con.out.ok = ok.__get__(rig.con.out)


def test_a_memory_error_in_the_reply_does_not_say_nothing_changed():
    """Setup: homed, consent given; the heap full when the reply to an accepted
    `goto 20` (or a first `pin set 1234`) is formatted (a MemoryError injected in
    Output.ok, after the handler's core command / PIN write).
    Happened: "error: not enough memory for 'goto' now; try again (the table is not
    affected)" while the table is MOVING to 20 deg head-down; likewise for `pin`, whose
    PIN is stored (a retry is then refused: "a PIN is set"). console._execute answers
    every MemoryError with _MEMORY_TEXT, meant for the import of a handler.
    Expected: only an import that failed says the table is not affected; a MemoryError
    after the command acted says that it did act (or at least not the opposite)."""
    r = Rig(homed=True, consent=True)
    _short_of_memory_once(r)
    reply = r.send("goto 20")
    assert r.core.state == MOVING and r.core.target_mdeg == 20000
    assert "not affected" not in reply, reply
    r = Rig(pin_setup=True)  # the boot after the physical reset: a first PIN
    _short_of_memory_once(r)
    reply = r.send("%3 pin set 1234")
    assert r.app.auth.has_pin
    assert "not affected" not in reply, reply


# ------------------------------------------- F4: a Ctrl-C flood freezes the output


def test_a_ctrl_c_flood_while_moving_neither_freezes_the_output_nor_hides_the_refusal():
    """Setup: homed, consent given, JSON mode, `stream 50`, a `goto 20` under way; then
    100 Ctrl-C bytes (0x03; one a pass, as board_esp32.console_read_into hands them
    over), about 1 s of passes.
    Happened: the table goes on (good), but the console writes nothing for the whole
    burst: LineReader.take() raises KeyboardInterrupt out of Console.service() before
    its telemetry and drain(), every pass; the 50 telemetry lines due are neither sent
    nor counted in tel_dropped, and no "Ctrl-C refused" alert comes (refuse_interrupt()
    alerts only with an empty queue, and what it queues is not drained either) until
    the bytes stop.
    Expected: a byte on the line never stops the console's output: the refusal alert
    within a few passes, and telemetry sent or counted as dropped."""
    r = Rig(homed=True, consent=True, json_mode=True)
    r.send("stream 50")
    r.board.host_send(b"goto 20\n")
    r.step(30)
    assert r.core.state == MOVING
    r.board.host_receive()
    dropped = r.con.tel_dropped
    angle = r.plant.angle_mdeg()
    r.board.host_send(b"\x03" * 100)
    out = b""
    for _ in range(100):
        r.step()
        out += r.board.host_receive()
    assert r.core.state == MOVING and r.plant.angle_mdeg() > angle + 1000  # loop went on
    lines = _lines(out.decode())
    alerts = [x for x in lines if x.startswith('{"alert"')]
    tel = [x for x in lines if x.startswith('{"tel"')]
    assert alerts and "Ctrl-C refused" in alerts[0], (
        "in 100 passes: %d lines written, %d telemetry, no alert" % (len(lines), len(tel)))
    assert len(tel) + r.con.tel_dropped - dropped >= 45, (len(tel), r.con.tel_dropped)


# ------------------------------------- F5: the client and a reply that comes late


class _Runner:
    """The SimRunner interface over the Rig, the whole loop running (Rig.step)."""

    def __init__(self):
        self.rig = Rig(homed=True)
        self.board = self.rig.board

    def run_ms(self, ms):
        for _ in range(max(1, ms // 10)):
            self.rig.step()


def test_the_client_never_shows_a_late_reply_as_the_next_commands():
    """Setup: the client (human mode, as its prompt runs) with a short timeout; a typed
    `help` (its reply takes longer than that: about 2 KB at 96 bytes a pass) times out
    with ClientError; then the person types `status`, the normal timeout again.
    Happened: the reply shown for `status` begins with help's rows ("goto <deg>  move
    to an angle ...", "estop  emergency return, latched until 'ack'"): the text lines
    of the late reply (closed by {"ok": true, "id": 1}, not 2) are collected as
    status's, whose end line then closes them (ConsoleClient._dispatch appends every
    text line to the awaited reply).
    Expected: what the person sees for `status` is status's reply: the lines before the
    late reply's end line (id 1) belong to that request, not to the next."""
    client = ConsoleClient(SimTransport(_Runner())).connect(json_mode=False,
                                                            set_clock=False)
    client.timeout_s = 0.1
    try:
        client.request("help", person=True)
    except ClientError:
        pass
    else:
        raise AssertionError("help answered within 0.1 s: no late reply to test")
    client.timeout_s = 5.0
    text = client.request("status", person=True)["text"]
    assert text.startswith("state: READY"), text[:300]
    assert "goto <deg>" not in text, text[:300]


# ------------------------- F6: connecting runs a half line an earlier terminal left


def test_connecting_the_client_never_runs_a_half_line_left_on_the_port():
    """Setup: homed, consent given, READY; an earlier terminal session (screen, mpremote,
    a person's typing) left `goto 20` on the port without its line end; the firmware's
    LineReader keeps a half line for as long as it takes (no timeout). Then the client
    connects (as `make console` does).
    Happened: the table starts MOVING to 20 deg head-down: ConsoleClient.connect()
    writes b"\\n" "to end any half line", which completes the line and runs it; nobody
    at the client typed a command.
    Expected: connecting moves nothing: the half line is discarded (a byte that
    poisons it, e.g. a control byte, before the line end: the firmware then answers
    "line discarded"), never run."""
    run = _Runner()
    rig = run.rig
    rig.send("consent")
    assert rig.send("consent yes").startswith("ok consent")
    rig.board.host_send(b"goto 20")  # no line end: it waits in the line buffer
    rig.step(10)
    assert rig.core.state == READY
    ConsoleClient(SimTransport(run)).connect(json_mode=False, set_clock=False)
    assert rig.core.state == READY, (rig.core.state, rig.core.target_mdeg)
