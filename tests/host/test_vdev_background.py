"""The vdev on a terminal: in the foreground it takes commands typed there; started as a
background job of an interactive shell (`make vdev &`) it leaves the terminal alone, so
a line typed to the shell neither stops it (SIGTTIN) nor ends it (EIO)
(host_tools/vdev.py owns_terminal). A real terminal: a pty, with bash's job control for
the background job.
"""

import json
import os
import pty
import select
import signal
import sys
import time

import pytest
from test_vdev import MICROPYTHON, _processes_mentioning

from host_tools import paths

pytestmark = pytest.mark.skipif(not os.path.exists(MICROPYTHON),
                                reason="needs .venv's micropython (make venv)")


def _vdev_cmd(d, mpy_dir):
    return [sys.executable, "-m", "host_tools.vdev", "--port", os.path.join(d, "ttyV"),
            "--fs", os.path.join(d, "fs"), "--mpy-dir", mpy_dir,
            "--state", os.path.join(d, "state.json"), "--speed", "10"]


class Terminal:
    """A child on a new pty that is its controlling terminal (pty.fork)."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: never returns
            os.chdir(paths.ROOT)
            os.execvp(argv[0], argv)
        self.out = b""

    def read_until(self, pred, timeout_s):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not pred(self):
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    self.out += os.read(self.fd, 4096)
                except OSError:
                    break
        return pred(self)

    def type(self, text):
        os.write(self.fd, text.encode())

    def close(self, d):
        for pid in _processes_mentioning(d):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        time.sleep(0.5)
        for pid in _processes_mentioning(d):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def _state(d):
    try:
        with open(os.path.join(d, "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]  # R, S, T (stopped)...


def test_a_background_job_leaves_the_terminal_alone_and_takes_it_back_at_fg(tmp_path, code_dir):
    d = str(tmp_path)
    log = os.path.join(d, "log")
    term = Terminal(["bash", "--norc", "--noprofile", "-i"])
    try:
        term.type(" ".join(_vdev_cmd(d, code_dir)) + " >%s 2>&1 & echo BGPID=$!\n" % log)
        assert term.read_until(lambda t: b"BGPID=" in t.out.replace(b"BGPID=$!", b""), 20), (
            term.out)
        pid = int(term.out.replace(b"BGPID=$!", b"").split(b"BGPID=")[1].split()[0])
        end = time.monotonic() + 60
        while _state(d).get("virtual_ms", 0) < 2000 and time.monotonic() < end:
            time.sleep(0.1)
        assert _state(d).get("state") == "running", _state(d)
        # a line for the shell: the job must neither read it nor be stopped for trying
        term.type("echo typed-to-the-shell\n")
        assert term.read_until(lambda t: t.out.count(b"typed-to-the-shell") >= 2, 10), term.out
        time.sleep(1.0)
        assert os.path.exists("/proc/%d" % pid), "the vdev ended"
        assert _proc_state(pid) != "T", "the terminal stopped the vdev"
        t0 = _state(d)["virtual_ms"]
        time.sleep(1.0)
        assert _state(d)["virtual_ms"] > t0  # still running the world
        # brought to the foreground, it reads the terminal again
        term.type("fg\n")
        time.sleep(0.5)
        term.type("status\n")
        end = time.monotonic() + 20
        while time.monotonic() < end:
            with open(log) as f:
                text = f.read()
            if '"virtual_ms"' in text:
                break
            time.sleep(0.1)
        assert '"virtual_ms"' in text and "Error" not in text, text[-1000:]
        term.type("quit\n")
        end = time.monotonic() + 20
        while os.path.exists("/proc/%d" % pid) and _proc_state(pid) != "Z" and (
                time.monotonic() < end):
            time.sleep(0.1)
        assert not os.path.exists("/proc/%d" % pid) or _proc_state(pid) == "Z"
    finally:
        term.close(d)
