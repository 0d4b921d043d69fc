"""The virtual device end to end: the real firmware on the MicroPython unix port, deployed
with the real mpremote, driven through the console client, then stopped with nothing
left running.

The vdev runs at 20x real time (paced virtual time), so a session of about 45 s of
table time takes a few seconds. Its firmware runs in place from /rom (the vdev's default
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
from host_tools.console import ConsoleClient, SerialTransport

SPEED = "20"
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
    """python -m host_tools.vdev in its own process group, on private paths."""

    def __init__(self, tmp, *args):
        self.dir = str(tmp)
        self.port = os.path.join(self.dir, "ttyV")
        self.fs = os.path.join(self.dir, "fs")
        self.state_path = os.path.join(self.dir, "state.json")
        self.log_path = os.path.join(self.dir, "vdev.log")
        self.log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "host_tools.vdev", "--port", self.port, "--fs", self.fs,
               "--mpy-dir", os.path.join(self.dir, "mpy"), "--state", self.state_path]
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

    def kill_leftovers(self):
        for pid in _processes_mentioning(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _mpremote(port, *args, timeout=60):
    r = subprocess.run([MPREMOTE, "connect", port, "resume"] + list(args), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "mpremote %s: %s %s" % (args, r.stdout, r.stderr)
    return r.stdout


def _ok(reply):
    assert reply.get("ok"), reply
    return reply


@pytest.fixture(scope="module")
def vdev(tmp_path_factory):
    v = Vdev(tmp_path_factory.mktemp("vdev"), "--heapsize", SESSION_HEAP, "--speed", SPEED,
             "--on-fatal", "exit")
    try:
        v.wait_state(("running",), timeout_s=60)
        yield v
    finally:
        rc = v.stop()
        left = _processes_mentioning(v.dir)
        v.kill_leftovers()
        assert rc == 0, v.output()
        assert not left, "processes left running: %s" % left
        assert not os.path.lexists(v.port), "the port symlink was left behind"


def test_deploy_then_a_session_through_the_console(vdev):
    said = []
    summary = deploy.deploy(vdev.port, say=said.append)
    assert summary["platform"] == "linux" and summary["arch"] == "x64"
    # the vdev's /rom holds this very firmware, compiled the same way: nothing to copy
    # but main.py (source; the vdev boots its own twin of it), and no module may land in
    # the root, where it would be imported into the heap instead of running in place
    assert summary["copied"] == ["main.py"], summary
    assert "app.mpy" in summary["in_rom"] and "console.mpy" in summary["in_rom"]
    assert summary["reset"] and summary["version"]["protocol"] == 1
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
        _ok(c.request("goto 20"))
        _ok(c.run("until HOLDING 60"))
        c.pump(0.5)  # 10 s of holding at 20x
        holding = _ok(c.request("status"))
        _ok(c.request("return"))
        _ok(c.run("until READY 60"))
        c.pump(0.3)
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


def test_mpremote_exec_cp_and_reset(vdev, tmp_path):
    # Ctrl-C at the loading stop: the loop leaves, the REPL takes the console
    assert _mpremote(vdev.port, "exec", "print(6 * 7)").strip() == "42"
    assert vdev.wait_state(("repl",))["state"] == "repl"
    f = tmp_path / "hello_vdev.py"
    f.write_text("X = 7\n")
    _mpremote(vdev.port, "fs", "cp", str(f), ":hello_vdev.py")
    with open(os.path.join(vdev.fs, "hello_vdev.py")) as g:
        assert g.read() == "X = 7\n"
    assert _mpremote(vdev.port, "exec", "import hello_vdev; print(hello_vdev.X)").strip() == "7"
    _mpremote(vdev.port, "fs", "rm", ":hello_vdev.py")
    # mpremote's `reset` (machine.reset()) restarts the firmware
    boots = vdev.state()["boots"]
    _mpremote(vdev.port, "reset")
    v = deploy.wait_firmware(vdev.port, timeout_s=30)
    assert v["ok"] and v["protocol"] == 1
    st = vdev.wait_state(("running",))
    assert st["boots"] == boots + 1 and st["reset_causes"][-1] == 5


def test_a_memory_error_under_56k_is_reported_as_a_failure(tmp_path):
    fs = tmp_path / "fs"
    fs.mkdir()
    # a deployed app.py that needs more than the heap: imported instead of the firmware's
    (fs / "app.py").write_text("big = bytearray(64 * 1024)\n")
    v = Vdev(tmp_path, "--heapsize", "56K", "--keep-deployed", "--fast", "--on-fatal", "exit")
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
                   "still needs about 80 KB of heap after boot on the 64-bit unix port: it "
                   "does not fit the ESP32's starting 56 KiB GC area yet (MemoryError while "
                   "importing)", strict=False)
def test_the_firmware_boots_in_the_esp32s_56k_heap(tmp_path):
    v = Vdev(tmp_path, "--heapsize", "56K", "--fast", "--on-fatal", "exit")
    try:
        st = v.wait_state(("running", "fatal"), timeout_s=60)
    finally:
        v.stop()
        v.kill_leftovers()
    assert st["state"] == "running", st.get("fatal")
