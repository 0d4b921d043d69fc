"""Issue #21, an independent tester's attack (branch attack21), turned into regression
tests: each one failed before its fix (F1-F6 in the fix21 branch's commits).

Cheap ones: the real firmware/manifest.py, powerup.py and deploy.py on CPython, and the
real MicroPython unix port for what import and the VM do (boot.py, main.py). One
virtual device (test_vdev.py's Vdev) for the end-to-end shadow. The tester's serial-line
flood and deleted-record runs on the virtual device passed already and are covered by
tests/host/test_vdev.py (test_no_repl_over_usb_at_the_loading_stop_or_at_depth,
test_a_damaged_pin_record_stays_locked_down_until_the_physical_reset): not repeated here.
"""

import hashlib
import os
import subprocess

import pytest
from test_vdev import ISSUE21_HEAP, MICROPYTHON, SPEED, Vdev

from host_tools import deploy, paths
from host_tools.console import ConsoleClient, SerialTransport

paths.use_firmware()
import manifest  # noqa: E402
import servicelog  # noqa: E402
import store  # noqa: E402

needs_mp = pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="needs .venv micropython")

FILES = {"app.mpy": b"M\x06" + b"x" * 3000, "store.mpy": b"M\x06" + b"y" * 700,
         "main.py": b"print(1)\n"}


def _deployed(tmp_path):
    """A root as deploy leaves it: the files and a matching manifest."""
    lines = [b"itc-manifest 1", b"build v1-test"]
    for n, data in sorted(FILES.items()):
        (tmp_path / n).write_bytes(data)
        lines.append(b"%s %d %s" % (hashlib.sha256(data).hexdigest().encode(), len(data),
                                    n.encode()))
    lines.append(b"end %d" % len(FILES))
    (tmp_path / "manifest.txt").write_bytes(b"\n".join(lines) + b"\n")
    return tmp_path


def _check(root):
    return manifest.check(store.DirFS(str(root)), store.DirFS(str(root / "_no_rom")))[1]


def _mp(code, cwd=None, heap="2M"):
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=" + heap, "-c", code], cwd=cwd,
                       capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


# ------------------------------------------------------------------ F2, F3: the manifest


def test_a_clean_root_passes(tmp_path):
    root = _deployed(tmp_path)
    assert _check(root) is None
    (root / "rom").mkdir()  # the /rom mount point shows in a listing of the root
    assert _check(root) is None


@pytest.mark.parametrize("shadow", ["app", "app/App.py", "hashlib/sha256.py", "lib",
                                    "lib/hashlib.py", "lib/anything.txt"])
def test_any_directory_in_the_root_is_a_mismatch(tmp_path, shadow):
    """MicroPython's import (py/builtinimport.c stat_module) takes a directory NAME before
    NAME.py / NAME.mpy in the same sys.path entry, with or without __init__ (a namespace
    package), and an ESP32's sys.path ['', '.frozen', '/lib'] puts /lib (a directory in
    the root) before the extensible built-ins (hashlib, os...). The firmware makes no
    directory: every one is a mismatch."""
    root = _deployed(tmp_path)
    p = root / shadow
    if p.suffix:
        p.parent.mkdir(parents=True)
        p.write_text("print('unlisted code')\n")
    else:
        p.mkdir()
    assert _check(root) == "%s/ is not in the manifest" % shadow.split("/")[0]


def test_a_regenerated_manifest_line_is_outside_the_check_and_the_readme_says_so(tmp_path):
    """F5: an unkeyed sha256 list on the same filesystem: a changed module with its line
    written again passes. The README must not promise otherwise, and must name the route
    against a deliberate change (secure boot with flash encryption)."""
    root = _deployed(tmp_path)
    evil = b"EVIL" * 10
    (root / "app.mpy").write_bytes(evil)
    text = (root / "manifest.txt").read_bytes().replace(
        b"%s %d app.mpy" % (hashlib.sha256(FILES["app.mpy"]).hexdigest().encode(),
                            len(FILES["app.mpy"])),
        b"%s %d app.mpy" % (hashlib.sha256(evil).hexdigest().encode(), len(evil)))
    (root / "manifest.txt").write_bytes(text)
    assert _check(root) is None  # the limit, as documented
    with open(os.path.join(paths.ROOT, "README.md")) as f:
        readme = " ".join(f.read().split())
    assert "run changed firmware unnoticed" not in readme
    for words in ("not a defence against a deliberate change", "secure boot",
                  "flash encryption"):
        assert words in readme, words


@needs_mp
def test_micropython_imports_the_shadows_and_u_names_force_the_built_in(tmp_path):
    """What the tests above rely on, on the real MicroPython unix port: a directory app/
    (no __init__) wins over app.py, lib/hashlib.py over the built-in - and `uhashlib`,
    which firmware/manifest.py imports, is the built-in whatever lib/ holds."""
    (tmp_path / "app.py").write_text("class App:\n    pass\n")  # the listed module
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "App.py").write_text("print('UNLISTED app/App.py RUNS')\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "hashlib.py").write_text("print('UNLISTED lib/hashlib.py RUNS')\n")
    (tmp_path / "lib" / "uhashlib.py").write_text("print('UNLISTED lib/uhashlib.py RUNS')\n")
    out = _mp("import sys\nsys.path[:] = ['', 'lib']\nimport uhashlib, ubinascii\n"
              "print('BUILT-IN', ubinascii.hexlify(uhashlib.sha256(b'').digest()))\n"
              "from app import App\nimport hashlib\n", cwd=tmp_path)
    empty = hashlib.sha256(b"").hexdigest()
    assert out.index("BUILT-IN b'%s'" % empty) < out.index("UNLISTED app/App.py RUNS"), out
    assert "UNLISTED lib/hashlib.py RUNS" in out, out
    assert "uhashlib.py" not in out, out


# ------------------------------------------------------------------ F1: boot.py, main.py


def _pending_probe(src, first_line, main_call=None):
    """src with a scheduled callback made pending just inside its first try, and a print
    at the end of that try body: micropython.schedule() is handled at exactly the VM's
    pending-exception check points (the unix port's SIGINT is raised asynchronously, so
    a real Ctrl-C cannot stand in for the ESP32's pending one)."""
    assert src.count(first_line) == 1 and "\nexcept KeyboardInterrupt:" in src
    probe = src.replace(first_line, "import micropython as _m\n_seen = []\ntry:\n"
                        "    _m.schedule(_seen.append, 'ctrl-c')  # the byte arrives\n"
                        + first_line[len("try:\n"):], 1).replace(
        "\nexcept KeyboardInterrupt:",
        "\n    print('END OF TRY BODY, pending handled:', bool(_seen))\n"
        "except KeyboardInterrupt:", 1)
    if main_call is not None:  # the probe stops before the firmware would start
        probe = probe[:probe.index(main_call)]
    return probe + "print('AFTER TRY', bool(_seen))\n"


@needs_mp
@pytest.mark.parametrize("name,first_line,main_call", [
    ("boot.py", "try:\n    import micropython\n", None),
    ("main.py", "try:\n    micropython.kbd_intr(-1)\n", "try:\n    main()\n")])
def test_a_ctrl_c_pending_before_kbd_intr_is_raised_inside_the_try(name, first_line,
                                                                   main_call):
    """F1. On an ESP32 a Ctrl-C byte only marks a pending KeyboardInterrupt (the UART/USB
    ISR calls mp_sched_keyboard_interrupt()); the VM raises it at its next pending check,
    made only at jumps (py/vm.c DISPATCH_WITH_PEND_EXC_CHECK), and a try with no jump
    has its first check in MP_BC_POP_EXCEPT_JUMP, after the handler is popped: the
    interrupt would escape the file, and ports/esp32/main.c would open the REPL."""
    with open(os.path.join(paths.FIRMWARE, name)) as f:
        out = _mp(_pending_probe(f.read(), first_line, main_call))
    assert "END OF TRY BODY, pending handled: True" in out, out
    assert "AFTER TRY True" in out, out


# ------------------------------------------------------------------ F4: a missing module

_FAKE_BOARD = """\
# The board interface main.py and powerup.boot() use, recording what main.py applies;
# the 20th wait ends the run (a SystemExit main.py's handler passes to machine.reset).
import sys


class Esp32Board:
    fs_root = ""
    code_root = ""

    def __init__(self):
        self.t = 0
        self.waits = 0

    def maintenance_requested(self):
        return False

    def read_inputs(self, inp):
        inp.switches = 0

    def reset_cause(self):
        return 1

    def ticks_ms(self):
        return self.t

    def wait_until(self, t):
        self.t = t
        self.waits += 1
        if self.waits == 20:
            raise SystemExit("END OF PROBE")

    def apply_outputs(self, out):
        print("OUT", out.enable, out.rate_sps, out.buzzer)

    def console_write(self, b):
        sys.stdout.write(b.decode())
"""

_FAKE_MACHINE = "def reset():\n    print('MACHINE.RESET')\n"
# Shadows the built-in time (the root is searched first): the 3rd 5 s wait of the
# board-less halt ends the run.
_FAKE_TIME = """\
_n = [0]


def sleep_ms(ms):
    _n[0] += 1
    if _n[0] == 3:
        raise SystemExit("END OF PROBE")
"""


@needs_mp
@pytest.mark.parametrize("missing", ["reactions.py", "powerup.py"])
def test_main_py_halts_safely_when_a_module_is_missing(tmp_path, missing):
    """F4. A module missing from the root (deleted; or a new one a cut deploy never
    copied) made `from app import App` fail and main.py reset, again and again. Now:
    the driver off (enable False, no steps), the alarm on, the console names the module
    and the way to deploy again; no reset until the probe ends the loop itself. Without
    powerup.py there is no service mode and no board: the console says to flash again
    (the pins stay as the reset left them: the ENABLE pull-up keeps the driver off)."""
    for n in os.listdir(paths.FIRMWARE):
        if n.endswith(".py") and n not in (missing, "boot.py", "board_esp32.py"):
            with open(os.path.join(paths.FIRMWARE, n), "rb") as f:
                (tmp_path / n).write_bytes(f.read())
    (tmp_path / "board_esp32.py").write_text(_FAKE_BOARD)
    (tmp_path / "machine.py").write_text(_FAKE_MACHINE)
    (tmp_path / "time.py").write_text(_FAKE_TIME)
    out = _mp("import sys\nsys.path[:] = ['']\nimport main\n", cwd=tmp_path, heap="4M")
    from signals import IND_ALARM

    assert "FIRMWARE INCOMPLETE" in out and missing[:-3] in out, out
    assert out.count("MACHINE.RESET") == 1 and "END OF PROBE" in out, out  # the probe's
    outs = [line for line in out.splitlines() if line.startswith("OUT")]
    if missing == "powerup.py":
        assert "Flash MicroPython again" in out and not outs, out
        return
    assert "START and UP held" in out and "make deploy" in out, out
    assert "firmware manifest: no manifest.txt" in out, out
    assert len(outs) == 20 and set(outs) == {"OUT False 0 %d" % IND_ALARM}, out


def test_deploy_never_leaves_a_target_missing(tmp_path, monkeypatch):
    """F4. deploy's rename step replaces each file in place (atomic on littlefs and
    POSIX): after every filesystem operation, every module that was there still is."""
    names = ["app.mpy", "store.mpy", manifest.NAME]
    for n in names:
        (tmp_path / n).write_bytes(b"old " + n.encode())
        (tmp_path / (n + ".new")).write_bytes(b"new " + n.encode())
    (tmp_path / "gone.mpy").write_bytes(b"dropped")
    monkeypatch.chdir(tmp_path)
    ops = []

    def watched(fn):
        def op(*a):
            fn(*a)
            ops.append((fn.__name__,) + a)
            missing = [n for n in names if not os.path.exists(n)]
            assert not missing, (ops, missing)
        return op

    monkeypatch.setattr(os, "rename", watched(os.rename))
    monkeypatch.setattr(os, "remove", watched(os.remove))
    script = deploy._RENAME % ([("app.mpy.new", "app.mpy"), ("store.mpy.new", "store.mpy")],
                               ["gone.mpy"], manifest.NAME + ".new", manifest.NAME)
    exec(script.replace("print('DEPLOY-DONE')", ""), {})
    assert [o[0] for o in ops] == ["rename", "rename", "remove", "rename"], ops
    for n in names:
        assert (tmp_path / n).read_bytes() == b"new " + n.encode()


# ------------------------------------------------------------------ end to end on the vdev

_APP_SHADOW = """\
import sys
print("UNLISTED CODE RUNS AT BOOT (app/App.py)")
import childlock
childlock.allowed = lambda cmd: True  # the child lock stops nothing any more
sys.path[:] = ["/rom"]  # the genuine app (on an ESP32: rename the directory away)
del sys.modules["app"]
import app as _genuine
sys.path[:] = ["", "/rom"]
import board_vdev
_genuine.App(board_vdev.current).run()
"""


def test_vdev_an_unlisted_directory_is_the_manifest_fault(tmp_path, code_dir):
    """F2 end to end: a directory app/ (no __init__) put in the board's root in the
    service mode. Its code still runs at import (a deliberate change is outside the
    manifest: README), but the firmware it starts finds app/ and latches the MANIFEST
    fault: the goto is refused, nothing moves."""
    fs = tmp_path / "fs"
    (fs / "app").mkdir(parents=True)
    (fs / "app" / "App.py").write_text(_APP_SHADOW)
    v = Vdev(tmp_path, "--heapsize", ISSUE21_HEAP, "--speed", str(SPEED), "--on-fatal",
             "exit", mpy_dir=code_dir)
    try:
        v.wait_state(("running",), timeout_s=60)
        t = SerialTransport(v.port)
        try:
            c = ConsoleClient(t, timeout_s=10).connect()
            replies = [c.request(line) for line in ("status", "consent", "consent yes", "lock",
                                                    "goto 15")]
            c.pump(40.0 / SPEED)
            end = c.request("status")
        finally:
            t.close()
        status = replies[0]
        print("\nstatus:", status.get("state"), status.get("fault"),
              status.get("startup_errors"))
        print("lock:", replies[3], "\ngoto 15 while locked:", replies[4])
        print("after:", end.get("state"), end.get("angle_mdeg"), "child_lock",
              end.get("child_lock"))
        print("console/vdev output has the marker:",
              "UNLISTED CODE RUNS" in v.output())
        assert status["fault"] == "manifest", status
        assert "app/ is not in the manifest" in " ".join(status["startup_errors"]), status
        assert not replies[4]["ok"], replies[4]
        assert abs(end["angle_mdeg"] - status["angle_mdeg"]) < 500, end  # the IMU's noise
    finally:
        rc, left = v.shut_down()
    assert rc == 0, v.output()
    assert not left


class _PowerUpBoard:
    """The board interface powerup.boot() uses: START and UP held, the table away from
    the loading stop (home switch open: a person head-down after a power cut)."""

    def __init__(self, root, switches):
        self.fs_root = str(root)
        self.sw = switches
        self.t = 0
        self.banner = False

    def read_inputs(self, inp):
        inp.switches = self.sw

    def ticks_ms(self):
        return self.t

    def wait_until(self, t):
        self.t = t

    def console_write(self, b):
        pass

    def maintenance_requested(self):
        return False

    def reset_cause(self):
        return 1

    def maintenance_banner(self):
        self.banner = True


def test_the_button_service_mode_is_refused_away_from_the_loading_stop(tmp_path):
    """F6. The physical reset needs the home switch (the loading stop); the service mode
    did not: a user head-down who held START and UP as the power came back got no
    control loop, no return. Now away from the loading stop it is a normal boot (the
    recovery return), and the refusal is logged; at the loading stop the service mode."""
    import powerup
    from signals import SW_HOME, SW_START, SW_UP

    b = _PowerUpBoard(tmp_path, SW_START | SW_UP)  # SW_HOME not made: at depth
    assert powerup.boot(b) and not b.banner, "service mode entered head-down"
    fs = store.DirFS(str(tmp_path))
    assert servicelog.load(fs) == (1, [["refused", "buttons", 1]])
    b = _PowerUpBoard(tmp_path, SW_START | SW_UP | SW_HOME)
    assert not powerup.boot(b) and b.banner
    assert servicelog.load(fs)[1][-1] == ["service", "buttons", 1]
