"""The virtual device end to end: the real firmware on the MicroPython unix port, deployed
with the real mpremote, driven through the console client, then stopped with nothing
left running.

The vdev runs at SPEED times real time (paced virtual time), so a session of about 45 s
of table time takes a few seconds. Its firmware runs in place from /rom (the vdev's default
--code rom, as frozen or ROMFS firmware), so deploy finds every module identical there
and copies only main.py. The session runs with a larger heap than the ESP32's 56 KiB,
in which the firmware does not fit yet (see test_the_firmware_boots_in_the_esp32s_56k_heap);
the heap peak is printed (pytest -s).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from host_tools import deploy, paths
from host_tools.console import PROTOCOL, ConsoleClient, SerialTransport

# Virtual time costs CPU (every 10 ms tick runs the firmware and the physics): about 0.03
# CPU s per virtual second. A test's waits on the wall clock (mpremote's 10 s of trying,
# the takeover windows) cost SPEED times that per wall second, so SPEED is kept moderate;
# waits meant in virtual time are written as virtual seconds / SPEED.
SPEED = 10
# Code in place; 64-bit objects are about twice an ESP32's. 224K since the core and
# console split (issue #17; 160K before, 192K measured too small): each module, class and
# function costs heap (about 200/200/120 B here) and the split added about 9 KB after
# boot, plus deploy's reply. Issue #20 measures and cuts the heap on a 32-bit build.
SESSION_HEAP = "224K"
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

pytestmark = pytest.mark.skipif(
    not (os.path.exists(MPREMOTE) and os.path.exists(MICROPYTHON)),
    reason="needs .venv's micropython and mpremote (make venv)")


def _processes_mentioning(text):
    """PIDs whose command line contains text (the test's private directory)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmd:
            found.append(int(pid))
    return found


class Vdev:
    """python -m host_tools.vdev in its own process group, on private paths; the
    compiled firmware (mpy_dir, up-to-date files are not compiled again) may be shared."""

    def __init__(self, tmp, *args, mpy_dir=None):
        self.dir = str(tmp)
        self.port = os.path.join(self.dir, "ttyV")
        self.fs = os.path.join(self.dir, "fs")
        self.state_path = os.path.join(self.dir, "state.json")
        self.log_path = os.path.join(self.dir, "vdev.log")
        self.log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "host_tools.vdev", "--port", self.port, "--fs", self.fs,
               "--mpy-dir", mpy_dir or os.path.join(self.dir, "mpy"),
               "--state", self.state_path]
        self.proc = subprocess.Popen(cmd + list(args), cwd=paths.ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def state(self):
        try:
            with open(self.state_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def wait_state(self, states, timeout_s=30):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            st = self.state()
            if st.get("state") in states:
                return st
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("vdev not in %s (state %s); output:\n%s"
                             % (states, self.state().get("state"), self.output()))

    def wait_virtual_ms(self, t_ms, timeout_s=30):
        """Until the world's clock has passed t_ms (virtual) since the vdev started."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.state().get("virtual_ms", 0) >= t_ms:
                return
            assert self.proc.poll() is None, self.output()
            time.sleep(0.05)
        raise AssertionError("virtual time not past %d ms: %s" % (t_ms, self.state()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode

    def shut_down(self):
        """stop(), then the processes still mentioning its directory (they should be none:
        returned for the test to assert) are killed. Returns (returncode, leftovers)."""
        rc = self.stop()
        left = _processes_mentioning(self.dir)
        self.kill_leftovers()
        return rc, left

    def kill_leftovers(self):
        for pid in _processes_mentioning(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def console(v, *lines):
    """The console client's replies to lines, over the device's port."""
    t = SerialTransport(v.port)
    try:
        c = ConsoleClient(t, timeout_s=10).connect()
        return [c.request(line) for line in lines]
    finally:
        t.close()


def _mpremote(port, *args, timeout=60):
    r = subprocess.run([MPREMOTE, "connect", port, "resume"] + list(args), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "mpremote %s: %s %s" % (args, r.stdout, r.stderr)
    return r.stdout


def _ok(reply):
    assert reply.get("ok"), reply
    return reply


# START and DOWN are let go 11 s (virtual) after power-up (vdev.HOLDS), 50 ms after the
# world starts; then 3 s for the firmware to act on the release
RESET_BOOT_MS = 50 + 11000 + 3000


def reset_boot(v):
    """Wait for a vdev started with --security-reset (the physical reset, whose boot
    takes the first `pin set`: firmware/auth.py) to be through it."""
    v.wait_state(("running",), timeout_s=60)
    v.wait_virtual_ms(RESET_BOOT_MS)


def _running_vdev(tmp_path_factory, name, heap, code_dir):
    """A virtual device running until its fixture's tests are done; it must stop cleanly
    and leave no process and no port symlink behind. Powered up with the physical reset,
    so that a test may set the first PIN."""
    v = Vdev(tmp_path_factory.mktemp(name), "--heapsize", heap, "--speed", str(SPEED),
             "--on-fatal", "exit", "--security-reset", mpy_dir=code_dir)
    try:
        reset_boot(v)
        yield v
    finally:
        rc, left = v.shut_down()
        assert rc == 0, v.output()
        assert not left, "processes left running: %s" % left
        assert not os.path.lexists(v.port), "the port symlink was left behind"


@pytest.fixture  # one test: it stops as soon as that test is done
def vdev(tmp_path_factory, code_dir):
    yield from _running_vdev(tmp_path_factory, "vdev", SESSION_HEAP, code_dir)


def test_deploy_then_a_session_through_the_console(vdev):
    said = []
    t = SerialTransport(vdev.port)
    try:  # the service mode needs the therapist PIN (issue #21): set the first one
        _ok(ConsoleClient(t, timeout_s=10).connect().request("pin set 4821"))
    finally:
        t.close()
    summary = deploy.deploy(vdev.port, say=said.append, pin="4821")
    assert summary["platform"] == "linux" and summary["arch"] == "x64"
    # the vdev's /rom holds this very firmware, compiled the same way: nothing to copy
    # but boot.py and main.py (source; the vdev boots its own twin of them), and no
    # module may land in the root, where it would be imported into the heap instead of
    # running in place
    assert summary["copied"] == ["boot.py", "main.py"], summary
    assert "app.mpy" in summary["in_rom"] and "console.mpy" in summary["in_rom"]
    assert summary["reset"] and summary["version"]["protocol"] == PROTOCOL
    # the firmware restarted: power-on, maintenance boot, boot after the deploy
    st = vdev.wait_state(("running",))
    assert st["reset_causes"][-3:] == [1, 5, 5], st
    assert not [n for n in os.listdir(vdev.fs) if n.endswith(".mpy")]
    assert os.path.exists(os.path.join(vdev.fs, "main.py"))
    assert os.path.exists(os.path.join(vdev.fs, "table_params.json"))

    samples = []
    t = SerialTransport(vdev.port)
    try:
        c = ConsoleClient(t, timeout_s=10, on_telemetry=samples.append).connect()
        _ok(c.request("stream 10"))
        _ok(c.request("consent"))
        _ok(c.request("consent yes"))
        # typed by a person: the firmware's own words (a %<id> request), on the unix port
        typed = _ok(c.run("goto 20", person=True))
        assert typed["text"].startswith("ok goto: ") and "target 20.000 deg" in typed[
            "text"], typed
        _ok(c.run("until HOLDING 60"))
        c.pump(10.0 / SPEED)  # 10 s of holding
        holding = _ok(c.request("status"))
        _ok(c.request("return"))
        _ok(c.run("until READY 60"))
        c.pump(6.0 / SPEED)
        _ok(c.request("stream off"))
        end = _ok(c.request("status"))
    finally:
        t.close()
    assert holding["state"] == "HOLDING" and abs(holding["angle_mdeg"] - 20000) <= 1000
    angles = [s["angle_mdeg"] for s in samples]
    assert len(samples) > 50, samples
    assert 19000 <= max(angles) <= 21500, max(angles)
    assert [s for s in samples if s["state"] == "HOLDING"]
    assert end["state"] == "READY" and end["fault"] == "none"
    assert abs(end["angle_mdeg"] - (-60000)) <= 1500, end
    assert samples[-1]["angle_mdeg"] <= -58500, samples[-1]
    heap = vdev.state()
    print("\nvdev session heap (x64 unix port, -X heapsize=%s, code in place): "
          "peak live %d bytes, peak raw %d, after boot %d"
          % (SESSION_HEAP, heap["heap_peak_bytes"], heap["heap_peak_raw_bytes"],
             heap["heap_after_boot_bytes"]))
    assert heap["heap_peak_bytes"] > 0 and heap["fatal"] is None


# ---------------------------------------------------------------- issue #21: the cable

# Every way mpremote and the REPL take a MicroPython console: Ctrl-C, the raw REPL
# (Ctrl-A), raw paste (Ctrl-E A Ctrl-A), soft reset (Ctrl-D), the friendly REPL (Ctrl-B).
TAKEOVERS = (b"\r\x03\x03", b"\r\x01", b"\x05A\x01", b"\x04", b"\x02",
             b"\x03\x03\x01\x04\x05A\x01print(6*7)\x04")
REPL_SIGNS = (b"raw REPL", b">>>", b"MicroPython v", b"R\x01", b"paste mode")
ISSUE21_HEAP = "256K"  # larger than SESSION_HEAP: a heap regression another branch fixes


# mpremote sends its way in (Ctrl-C, Ctrl-A) at once, then waits up to 10 s of wall time
# for the raw REPL's banner, while the vdev burns CPU at SPEED x. A REPL answers within
# milliseconds, so the tests expecting none run the real mpremote with that wait cut to
# RAW_REPL_WAIT_S (SPEED x as much table time): the same bytes, a shorter patience.
RAW_REPL_WAIT_S = 3
_MPREMOTE_IMPATIENT = (
    "import sys\n"
    "from mpremote import transport_serial\n"
    "transport_serial.SerialTransport.enter_raw_repl.__defaults__ = (True, %d)\n"
    "from mpremote.main import main\n"
    "sys.exit(main())\n" % RAW_REPL_WAIT_S)


def _mpremote_fails(v, at_launch=None, timeout=40):
    """mpremote's own way in (Ctrl-C, raw REPL, RAW_REPL_WAIT_S of waiting for it): no
    REPL. Its Ctrl-C goes out as it connects: at_launch(state) checks the world at that
    moment."""
    p = subprocess.Popen([sys.executable, "-c", _MPREMOTE_IMPATIENT, "connect", v.port,
                          "resume", "exec", "print(6 * 7)"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        if at_launch is not None:
            at_launch(v.state())
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode != 0 and "42" not in out, (out, err)
    st = v.state()
    assert st["state"] == "running", st
    return err


def _no_repl_and_still_ticking(v, check):
    """Each takeover byte sequence: no REPL sign, telemetry still flowing and check(sample)
    true, the vdev's firmware still in its loop (its ticks grow)."""
    samples = []
    t = SerialTransport(v.port)
    try:
        c = ConsoleClient(t, timeout_s=10, on_telemetry=samples.append).connect()
        _ok(c.request("stream 20"))
        for seq in TAKEOVERS:
            ticks = v.state().get("ticks", 0)
            n = len(samples)
            t.write(seq)
            seen = b""
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                seen += t.read(0.05)
            for sign in REPL_SIGNS:
                assert sign not in seen, (seq, sign, seen[-300:])
            t.write(b"\n")  # ends a line the control bytes poisoned
            c.pump(0.3)
            assert len(samples) > n + 3, (seq, len(samples) - n)  # telemetry continues
            assert check(samples[-1]), (seq, samples[-1])
            assert v.state()["state"] == "running" and v.state()["ticks"] > ticks, seq
        _ok(c.request("stream off"))
    finally:
        t.close()


def _status(v, *lines):
    t = SerialTransport(v.port)
    try:
        c = ConsoleClient(t, timeout_s=10).connect()
        return [_ok(c.request(line)) for line in lines]
    finally:
        t.close()


def test_service_boot_with_the_buttons_mpremote_and_deploy(tmp_path, code_dir):
    v = Vdev(tmp_path, "--heapsize", ISSUE21_HEAP, "--speed", str(SPEED), "--on-fatal", "exit",
             "--service-boot", mpy_dir=code_dir)
    try:
        st = v.wait_state(("maintenance",), timeout_s=60)
        assert st["reset_causes"] == [1]
        assert _mpremote(v.port, "exec", "print(6 * 7)").strip() == "42"
        f = tmp_path / "hello_vdev.py"
        f.write_text("X = 7\n")
        _mpremote(v.port, "fs", "cp", str(f), ":hello_vdev.py")
        with open(os.path.join(v.fs, "hello_vdev.py")) as g:
            assert g.read() == "X = 7\n"
        _mpremote(v.port, "fs", "rm", ":hello_vdev.py")
        said = []
        summary = deploy.deploy(v.port, say=said.append)  # no console: the REPL is there
        assert any("service mode" in s for s in said), said
        assert sorted(summary["copied"]) == ["boot.py", "main.py"], summary
        st = v.wait_state(("running",))
        assert st["reset_causes"] == [1, 5], st  # the buttons were let go: normal boot
        import store

        log, status = store.load(store.DirFS(v.fs), "servicelog", None)
        assert status == store.OK and log["last"] == [["service", "buttons", 1]], log
        _mpremote_fails(v)
    finally:
        rc, left = v.shut_down()
    assert rc == 0, v.output()
    assert not left


def test_a_damaged_pin_record_stays_locked_down_until_the_physical_reset(tmp_path, code_dir):
    args = ("--heapsize", ISSUE21_HEAP, "--speed", str(SPEED), "--on-fatal", "exit")
    v = Vdev(tmp_path, *(args + ("--security-reset",)), mpy_dir=code_dir)
    try:
        reset_boot(v)
        assert all(r["ok"] for r in console(v, "pin set 4821", "lock"))
    finally:
        assert v.stop() == 0, v.output()
    pin = os.path.join(v.fs, "pin")
    with open(pin, "r+b") as f:  # one byte of the PIN record damaged on the flash
        f.seek(30)
        b = f.read(1)
        f.seek(30)
        f.write(bytes([b[0] ^ 0x20]))
    for _boot in range(2):
        v = Vdev(tmp_path, *args, mpy_dir=code_dir)
        try:
            v.wait_state(("running",), timeout_s=60)
            st, new_pin, login, goto = console(v, "status", "pin set 0000", "login 4821",
                                               "goto 15")
            assert st["child_lock"] is True and any("locked down" in e
                                                    for e in st["startup_errors"]), st
            assert not new_pin["ok"] and "locked down" in new_pin["error"]
            assert not login["ok"] and "locked down" in login["error"]
            # refused: the child lock (R_LOCKED 11), or the storage fault the damage
            # latched at boot (R_FAULT 3) - either way, no motion
            assert not goto["ok"] and goto.get("reason") in (3, 11), goto
        finally:
            assert v.stop() == 0, v.output()
    v = Vdev(tmp_path, *(args + ("--security-reset",)), mpy_dir=code_dir)
    try:
        reset_boot(v)
        st, new_pin = console(v, "status", "pin set 2468")
        assert st["child_lock"] is False and new_pin["ok"], (st, new_pin)
    finally:
        assert v.stop() == 0, v.output()
        v.kill_leftovers()


def test_a_memory_error_under_56k_is_reported_as_a_failure(tmp_path, code_dir):
    fs = tmp_path / "fs"
    fs.mkdir()
    # a deployed app.py that needs more than the heap: imported instead of the firmware's
    (fs / "app.py").write_text("big = bytearray(64 * 1024)\n")
    v = Vdev(tmp_path, "--heapsize", "56K", "--keep-deployed", "--fast", "--on-fatal", "exit",
             mpy_dir=code_dir)
    try:
        rc = v.proc.wait(timeout=60)
    finally:
        v.stop()
        left = _processes_mentioning(v.dir)
        v.kill_leftovers()
    out = v.output()
    assert rc == 3, out
    assert "FIRMWARE FAILED (heap 56K): MemoryError" in out
    st = v.state()
    assert st["state"] == "fatal" and "MemoryError" in st["fatal"]
    assert not left, "processes left running: %s" % left


@pytest.mark.xfail(reason="with its code in place (--code rom, the default) the firmware "
                   "needs about 133 KB of heap after boot on the 64-bit unix port (issue "
                   "#20's round, in a 288K heap; a MemoryError while importing in 128K): it "
                   "does not fit the ESP32's starting 56 KiB GC area (MemoryError while "
                   "importing)", strict=False)
def test_the_firmware_boots_in_the_esp32s_56k_heap(tmp_path, code_dir):
    v = Vdev(tmp_path, "--heapsize", "56K", "--fast", "--on-fatal", "exit", mpy_dir=code_dir)
    try:
        st = v.wait_state(("running", "fatal"), timeout_s=60)
    finally:
        v.stop()
        v.kill_leftovers()
    assert st["state"] == "running", st.get("fatal")


# A running vdev burns CPU on every tick until its fixture ends, and a module fixture
# ends after the module's last test: the tests sharing vdev21 come last.
@pytest.fixture(scope="module")
def vdev21(tmp_path_factory, code_dir):
    yield from _running_vdev(tmp_path_factory, "vdev21", ISSUE21_HEAP, code_dir)


def test_no_repl_over_usb_at_the_loading_stop_or_at_depth(vdev21):
    v = vdev21
    # at the loading stop, driver off: where the firmware used to hand over to mpremote
    _no_repl_and_still_ticking(v, lambda s: s["state"] == "READY")
    _mpremote_fails(v)
    assert _status(v, "status")[0]["state"] == "READY"
    t = SerialTransport(v.port)
    try:
        c = ConsoleClient(t, timeout_s=10).connect()
        _ok(c.request("consent"))
        _ok(c.request("consent yes"))
        # typed by a person: the firmware's own words (a %<id> request), on the unix port
        typed = _ok(c.run("goto 20", person=True))
        assert typed["text"].startswith("ok goto: ") and "target 20.000 deg" in typed[
            "text"], typed
        _ok(c.run("until HOLDING 60"))
    finally:
        t.close()

    def deep(s):
        return s["state"] in ("HOLDING", "RETURNING") and s["angle_mdeg"] > 10000

    _no_repl_and_still_ticking(v, deep)

    def deep_world(st):
        assert st["state"] == "running" and st["true_angle_mdeg"] > 5000, st

    _mpremote_fails(v, deep_world)
    t = SerialTransport(v.port)
    try:
        c = ConsoleClient(t, timeout_s=10).connect()
        c.request("return")
        _ok(c.run("until READY 120"))
    finally:
        t.close()


def test_service_mode_with_the_pin_then_deploy_then_no_repl_again(vdev21):
    vdev = vdev21
    t = SerialTransport(vdev.port)
    try:
        c = ConsoleClient(t, timeout_s=10).connect()
        r = c.request("maintenance 4821")
        assert not r["ok"] and "no PIN" in r["error"]  # a new table: no way in by PIN
        _ok(c.request("pin set 4821"))
        r = c.request("maintenance 1111")
        assert not r["ok"] and "wrong PIN" in r["error"]
    finally:
        t.close()
    with pytest.raises(deploy.DeployError) as e:
        deploy.deploy(vdev.port, say=lambda s: None)  # no PIN: it says how to get in
    assert "START and UP" in str(e.value) and "--service-boot" in str(e.value)
    boots = vdev.state()["boots"]
    said = []
    summary = deploy.deploy(vdev.port, say=said.append, pin="4821")
    assert "firmware: PIN accepted, restarting into the service mode" in said
    assert sorted(summary["copied"]) == ["boot.py", "main.py"], summary
    assert summary["reset"] and summary["version"]["protocol"] == PROTOCOL
    st = vdev.wait_state(("running",))
    assert st["boots"] == boots + 2 and st["reset_causes"][-2:] == [5, 5], st
    import store

    log, status = store.load(store.DirFS(vdev.fs), "servicelog", None)
    assert status == store.OK and log["last"][-1] == ["service", "pin", 5], log
    _mpremote_fails(vdev)  # back in normal operation: the cable is shut again
    assert vdev.state()["state"] == "running"
