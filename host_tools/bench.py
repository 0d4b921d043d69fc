"""`make bench`: measure the controller against its performance targets; build/bench.json.

    python -m host_tools.bench            # full run (about a minute)
    python -m host_tools.bench --quick    # fewer iterations, shorter sessions (the test)
    python -m host_tools.bench --strict   # exit 1 if a target is missed

Prints a table (target, measured, PASS / MISSED per row) and writes build/bench.json with
every key below, the machine and interpreter versions, per-state and per-phase details,
and a line on the method of each figure. A missed target is printed as MISSED and, for
the figures where it helps, with where the cost goes; the exit status stays 0 unless
--strict. Timings are figures of this machine, never test assertions. Only the per-tick
allocation (exactly 0) is asserted, by tests/host/test_bench.py.

Figures and how they are measured
- tick_alloc_bytes, tick_us_median_mpy, tick_us_median_cpython: host_tools/bench_mpy.py
  tick_main() under the MicroPython unix port and under CPython (subprocesses), on the
  kinematic stand-in of tests/core/rig.py through a script that visits every state.
  Core.tick alone is measured: timed per call (ticks_us / perf_counter_ns) in one pass,
  its allocation counted (gc.mem_alloc() just before and after, GC disabled) in a second
  pass of the same script. Steady-state ticks only, per state, after a warm-up; the
  headline median pools moving, holding and emergency return with the same number of
  ticks each; tick_alloc_bytes is the worst state's bytes per tick, rounded up. The
  firmware runs as the xtensawin .mpy files the ESP32 gets (the unix port loads them:
  no native code).
- heap_peak_bytes: the virtual device (host_tools/vdev.py, --fast, its default --code
  rom: the firmware's bytecode runs in place from a ROMFS image, as frozen or ROMFS
  firmware does) first with -X heapsize=56K; if the firmware does not boot there, again
  with a heap large enough to measure it. A full session runs through the console
  client; the figure is the vdev's heap_peak_bytes (the most live data after a tick);
  the raw peak (before the per-tick collect) and the most one tick allocated are
  reported next to it, with the per-module import costs (bench_mpy.imports_main(), code
  in place from a ROMFS image and code loaded into the heap), whether the code loaded
  into the heap (vdev --code heap, deployed .mpy files on a stock ESP32's littlefs) boots
  in 56K and, in a full run, that session with a larger heap and which console command
  raised the largest one-tick allocation.
- mpy_total_bytes: mpy-cross -march=xtensawin of firmware/*.py except main.py, plus
  main.py's source size.
- sim_realtime_factor: SimRunner (real App on SimBoard) running a 10-minute session
  script (consent, beginner and interval programs via the console) in virtual time.
- estop_reaction_ms: SimRunner with a 60-degree consent profile moving head-down at
  normal speed; the e-stop is pressed at every millisecond of one tick period (from one
  snapshot, copied); reaction = press to the first tick whose plan velocity is lower
  than the tick before's. With the simulated contact bounce (default board) and, for
  the firmware's own share, without.
- upright_s_from_60deg: same profile, holding at 60 degrees, e-stop: press to the
  emergency return standing still at horizontal.
- angle_error_*: estimator angle (core.est) minus the true angle at the instant the IMU
  was read, every tick of the 10-minute session script, default board (datasheet noise,
  bias_scale default); "motion" while the motor turns or the table moves (>= 10 mdeg/s).
- angle_error_rest_max_mdeg_calibrated / _uncalibrated: host_tools/bench_imu.py, the
  worst |core.est.angle_mdeg - true| during holds at 30 deg over a sweep of MPU-6050
  parts at the corners of the datasheet tolerances (zero-g offsets X/Y +-50 mg, Z +-80
  mg; gyro zero-rate offsets +-20 dps), after the documented two-point calibration
  (horizontal, then the loading stop) and, for the uncalibrated figure, before it.
"""

import argparse
import copy
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from host_tools import paths, version

paths.use_firmware()

from host_tools import (  # noqa: E402  (after use_firmware)
    bench32,
    bench_against,
    bench_imu,
    bench_safety,
)

BIN = os.path.dirname(os.path.abspath(sys.executable))
OUT_DIR = os.path.join(paths.BUILD, "bench")
JSON_PATH = os.path.join(paths.BUILD, "bench.json")
HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "bench_mpy.py")

HEAP_TARGET_K = "56K"  # the ESP32_GENERIC GC heap at boot (shared reference)
HEAP_MEASURE_K = "512K"  # when the firmware does not fit in 56K: room to measure it
TICK_HEAP_K = "1024K"
SESSION_MS = 600000  # the 10-minute session
QUICK_SESSION_MS = 60000
MOTION_RATE_MDEG_S = 10.0  # the table counts as moving above this true rate

# (key, comparison, target, unit) - comparison None: reported only
TARGETS = (
    ("tick_alloc_bytes", "==", 0, "B"),
    ("tick_us_median_mpy", "<=", 50, "us"),
    ("tick_us_median_cpython", None, None, "us"),
    ("heap_peak_bytes", "<=", 40960, "B"),
    ("mpy_total_bytes", None, None, "B"),
    ("sim_realtime_factor", ">=", 1000, "x"),
    ("estop_reaction_ms", "<=", 10, "ms"),
    ("upright_s_from_60deg", None, None, "s"),
    ("angle_error_max_rest_mdeg", "<=", 500, "mdeg"),
    ("angle_error_max_motion_mdeg", "<=", 1000, "mdeg"),
    ("angle_error_max_mdeg", None, None, "mdeg"),
    ("angle_error_rms_mdeg", None, None, "mdeg"),
    ("angle_error_rest_max_mdeg_calibrated", "<=", 500, "mdeg"),
    ("angle_error_rest_max_mdeg_uncalibrated", None, None, "mdeg"),
    ("estimator_us_median_mpy", None, None, "us"),
    ("estimator_alloc_bytes", "==", 0, "B"),
    ("clamp_exceed_max_mdeg", "<=", 1000, "mdeg"),
    ("estop_overshoot_max_mdeg", "<=", 500, "mdeg"),
    ("drive_margin_min", ">=", 2.0, "x"),
    ("upright_s_from_soft_max", None, None, "s"),
) + bench32.TARGETS  # the 32-bit MicroPython's figures (issue #20)
KEYS = tuple(t[0] for t in TARGETS)


class BenchError(Exception):
    pass


def _tool(name):
    p = os.path.join(BIN, name)
    if os.path.exists(p):
        return p
    found = shutil.which(name)
    if not found:
        raise BenchError("%s not found (make venv)" % name)
    return found


# ============================================================ building the .mpy files


def build_mpy(out_dir):
    """Compile what deploy puts on an ESP32 (host_tools/deploy.py's compiler): firmware/*.py
    except main.py, -march=xtensawin; main.py stays source. Also the harness.

    Returns (fw_dir, harness_dir, sizes) - sizes maps file name to deployed bytes."""
    from host_tools import deploy

    fw_dir = os.path.join(out_dir, "fw")
    harness_dir = os.path.join(out_dir, "harness")
    for d in (fw_dir, harness_dir):
        shutil.rmtree(d, ignore_errors=True)
    srcs = deploy.firmware_sources()
    mods = [p for p in srcs if os.path.basename(p) != "main.py"]
    sizes = {}
    for mpy in deploy.compile_files(mods, fw_dir, "xtensawin", _tool("mpy-cross")):
        sizes[os.path.basename(mpy)] = os.path.getsize(mpy)
    for p in srcs:
        if os.path.basename(p) == "main.py":
            sizes["main.py"] = os.path.getsize(p)  # MicroPython runs main.py as source
    deploy.compile_files([HARNESS], harness_dir, None, _tool("mpy-cross"))
    return fw_dir, harness_dir, sizes


def _run(argv, timeout=600, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (os.path.basename(argv[0]), p.returncode,
                                                 (p.stderr or p.stdout).strip()[-2000:]))
    return p.stdout


def _bench_json(stdout, what):
    for line in reversed(stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise BenchError("%s printed no result:\n%s" % (what, stdout[-2000:]))


def _micropython(code, heapsize=None, timeout=900):
    argv = [_tool("micropython")]
    if heapsize:
        argv += ["-X", "heapsize=%s" % heapsize]
    p = subprocess.run(argv + ["-c", code], capture_output=True, text=True, timeout=timeout,
                       cwd=paths.ROOT)
    try:
        return _bench_json(p.stdout, "micropython")
    except BenchError:
        raise BenchError("micropython exited %d: %s" % (
            p.returncode, (p.stderr or p.stdout).strip()[-2000:])) from None


# ============================================================ tick cost and allocation


def tick_script(quick):
    """tick_main's (n, warm, deep_mdeg): the quick run (the test's) has fewer samples and
    its deep legs go to 20 deg instead of 60 (the same states, about 3/4 of the ticks)."""
    return (300, 50, 20000) if quick else (3000, 200, 60000)


def tick_bench(fw_dir, harness_dir, quick):
    n, warm, deep = tick_script(quick)
    rig_dir = os.path.join(paths.ROOT, "tests", "core")
    # 1 MB: room for the arrays of samples; gc.mem_alloc() (the allocation pass) walks
    # the whole heap, so a larger one only makes the run slower
    mpy = _micropython(
        "import sys\nsys.path[:0] = [%r, %r, %r]\nimport bench_mpy\n"
        "bench_mpy.tick_main(%d, %d, %d)" % (harness_dir, fw_dir, rig_dir, n, warm, deep),
        TICK_HEAP_K)
    out = _run([sys.executable, HARNESS, "tick", str(n), str(warm), str(deep)], cwd=paths.ROOT)
    cpy = _bench_json(out, "CPython tick bench")
    return mpy, cpy


# ============================================================ heap on the virtual device


class _Vdev:
    """`python -m host_tools.vdev --fast` on private paths, in its own process group;
    mpy_dir: the unix-port build of the firmware, shared by the vdevs of one bench (the
    first compiles it, the others find it up to date)."""

    def __init__(self, heapsize, code, mpy_dir):
        self.dir = tempfile.mkdtemp(prefix="bench-vdev-")
        self.port = os.path.join(self.dir, "ttyV")
        self.state_path = os.path.join(self.dir, "state.json")
        self.log_path = os.path.join(self.dir, "vdev.log")
        cmd = [sys.executable, "-m", "host_tools.vdev", "--port", self.port,
               "--fs", os.path.join(self.dir, "fs"), "--mpy-dir", mpy_dir,
               "--state", self.state_path, "--heapsize", heapsize, "--code", code, "--fast",
               "--on-fatal", "exit"]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, cwd=paths.ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def state(self):
        try:
            with open(self.state_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def wait_boot(self, timeout_s=90):
        """'running' once the firmware ticks; 'fatal' if it failed (MemoryError...)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            st = self.state().get("state")
            if st in ("running", "fatal"):
                return st
            if self.proc.poll() is not None:
                return self.state().get("state") or "exited"
            time.sleep(0.05)
        return "timeout"

    def stop(self):
        """SIGTERM (the vdev writes its final state), then the group if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this bench started
                self.proc.wait(timeout=10)
        st = self.state()
        with open(self.log_path) as f:
            st["log_tail"] = f.read()[-1500:]
        shutil.rmtree(self.dir, ignore_errors=True)
        return st


def _vdev_session(vdev, quick, attribution=None):
    """A full session through the console client, as a person at the table would run it:
    consent, program, start, telemetry for a while, to the end; then the records and an
    e-stop with its acknowledgement. Returns the requests that were refused or failed.
    attribution (a list): filled with (command, largest one-tick allocation so far) each
    time that maximum rose."""
    from host_tools.console import ConsoleClient, SerialTransport

    t = SerialTransport(vdev.port)
    try:
        c = ConsoleClient(t, timeout_s=30, on_telemetry=lambda s: None).connect()
        s = _ClientSession(c, vdev, attribution)
        s.do("consent")
        s.do("consent yes")
        s.do("stream 10")
        for line in (("program custom", "start 15 10") if quick
                     else ("program beginner", "start")):
            s.do(line)
        # to the end of the program: with --fast its hold can pass between two polls, so
        # the run is checked in the history instead of by catching it in HOLDING
        s.do("until READY 300")
        s.do("stream off")
        for line in ("status", "log 40", "history", "faults", "profile", "config get", "help"):
            r = s.do(line)
            if line == "history" and not r.get("sessions"):
                s.failed.append("history: the program's session was not recorded")
        s.do("goto 15")
        s.do("until HOLDING 300")
        s.do("estop")
        s.until_latched()
        for line in ("ack", "return", "until READY 300", "log"):
            s.do(line)
    finally:
        t.close()
    return s.failed


class _ClientSession:
    """Console requests to the vdev, the failed ones kept (and the one-tick allocation
    attributed to each request, when asked)."""

    def __init__(self, client, vdev, attribution):
        self.c = client
        self.vdev = vdev
        self.attribution = attribution
        self.failed = []

    def do(self, line):
        r = self.c.run(line)
        if not r.get("ok"):
            self.failed.append("%s: %s" % (line, r.get("error")))
        att = self.attribution
        if att is not None:
            # the vdev refreshes its state file every 0.5 s: let it, then read the
            # running maximum of one tick's allocation (it rises at the culprit)
            self.c.pump(0.6)
            m = self.vdev.state().get("heap_tick_alloc_max_bytes")
            if not att or m != att[-1][1]:
                att.append((line, m))
        return r

    def until_latched(self, timeout_s=120):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            st = self.c.request("status")
            if st.get("state") == "EMERGENCY_RETURN" and st.get("phase") == "latched":
                return
            self.c.pump(0.05)
        self.failed.append("the emergency return never latched")


def _vdev_heap(heapsize, code, quick, mpy_dir, session=True, attribute=False):
    v = _Vdev(heapsize, code, mpy_dir)
    failed = []
    attribution = [] if attribute else None
    try:
        booted = v.wait_boot()
        if booted == "running" and session:
            failed = _vdev_session(v, quick, attribution)
    finally:
        st = v.stop()
    keys = ("heapsize_bytes", "code", "fatal", "ticks", "virtual_ms", "heap_peak_bytes",
            "heap_peak_raw_bytes", "heap_after_boot_bytes", "heap_tick_alloc_max_bytes",
            "heap_samples", "boots")
    out = {k: st.get(k) for k in keys}
    out["booted"] = booted
    out["session_failures"] = failed
    if attribution is not None:
        out["tick_alloc_max_rose_at"] = attribution
    if booted != "running" or st.get("fatal"):
        out["log_tail"] = st.get("log_tail")
    return out


def _write_romfs(fw_dir, image_path):
    """A ROMFS image of the deploy set, written with mpremote's writer (what `mpremote
    romfs deploy` puts in a partition)."""
    from mpremote.romfs import VfsRomWriter

    w = VfsRomWriter()
    for name in sorted(os.listdir(fw_dir)):
        if name.endswith(".mpy"):
            with open(os.path.join(fw_dir, name), "rb") as f:
                w.mkfile(name, f.read())
    with open(image_path, "wb") as f:
        f.write(w.finalise())


def heap_bench(fw_dir, harness_dir, quick):
    """heap_peak_bytes on the virtual device, and where the heap goes."""
    # the vdevs' firmware, for the unix port: compiled once, next to fw_dir
    vdev_mpy = os.path.join(os.path.dirname(fw_dir), "vdev_mpy")
    # the vdev's default: code in place (ROMFS, as frozen firmware)
    d = {"fit_56k": _vdev_heap(HEAP_TARGET_K, "rom", quick, vdev_mpy)}
    d["fits_56k"] = (d["fit_56k"]["booted"] == "running" and not d["fit_56k"]["fatal"]
                     and not d["fit_56k"]["session_failures"])
    if d["fits_56k"]:
        sess = d["fit_56k"]
    else:
        sess = d["session"] = _vdev_heap(HEAP_MEASURE_K, "rom", quick, vdev_mpy)
    d["measured_with_heapsize_bytes"] = sess["heapsize_bytes"]
    # code loaded into the heap (deployed .mpy files on a stock ESP32): does that boot
    d["heap_code_fit_56k"] = _vdev_heap(HEAP_TARGET_K, "heap", quick, vdev_mpy, session=False)
    d["heap_code_fits_56k"] = (d["heap_code_fit_56k"]["booted"] == "running"
                               and not d["heap_code_fit_56k"]["fatal"])
    if not quick:
        d["heap_code_session"] = _vdev_heap(HEAP_MEASURE_K, "heap", quick, vdev_mpy)
        # the same session again, slower, to tell which command allocates most in a tick
        d["attribution_session"] = _vdev_heap(HEAP_MEASURE_K, "rom", quick, vdev_mpy,
                                              attribute=True)
    # per module: the heap each takes once imported, code loaded from .mpy files (as
    # deployed) and code in place (a ROMFS image of the same files)
    imp = _micropython("import sys\nsys.path[:0] = [%r, %r]\nimport bench_mpy\n"
                       "bench_mpy.imports_main()" % (harness_dir, fw_dir), HEAP_MEASURE_K)
    d["imports_by_module_bytes"] = dict(sorted(imp["modules"].items(), key=lambda kv: -kv[1]))
    d["imports_total_bytes"] = imp["heap_after_bytes"] - imp["heap_before_bytes"]
    image = os.path.join(os.path.dirname(fw_dir), "firmware.romfs")
    _write_romfs(fw_dir, image)
    rom = _micropython("import sys\nsys.path[:0] = [%r]\nimport bench_mpy\n"
                       "bench_mpy.imports_main(%r)" % (harness_dir, image), HEAP_MEASURE_K)
    d["imports_in_place_by_module_bytes"] = dict(sorted(rom["modules"].items(),
                                                        key=lambda kv: -kv[1]))
    d["imports_in_place_total_bytes"] = rom["heap_after_bytes"] - rom["heap_before_bytes"]
    ok = sess["booted"] == "running" and not sess["fatal"] and not sess["session_failures"]
    d["session_ok"] = ok
    return (sess["heap_peak_bytes"] if ok else None), d


# ============================================================ the simulator


def _profile_fs(max_mdeg=None, consent=True):
    """A filesystem root holding one profile (consent, max angle), as a therapist set it."""
    import profiles as fw_profiles
    import store
    from config import Config, load_hardware

    root = tempfile.mkdtemp(prefix="bench-sim-")
    cfg = Config()
    load_hardware(cfg, paths.TABLE_PARAMS)
    d = {"name": "bench", "consent": consent}
    if max_mdeg is not None:
        d["max_mdeg"] = max_mdeg
    fw_profiles.save_profiles(store.DirFS(root), [fw_profiles.from_dict(d, cfg)])
    return root


class _ProbeBoard:
    """Mixin for SimBoard: the true state at the instant the firmware reads its inputs,
    and the wall time spent advancing the world."""

    probe_angle = 0.0
    probe_rate = 0.0
    probe_turning = False
    world_s = 0.0
    inputs_s = 0.0

    def read_inputs(self, inp):
        t0 = time.perf_counter()
        ph = self.physics
        self.probe_angle = ph.true_angle_mdeg
        self.probe_rate = ph.true_rate_mdeg_s
        self.probe_turning = ph.motor_turning
        try:
            super().read_inputs(inp)
        finally:
            self.inputs_s += time.perf_counter() - t0

    def wait_until(self, t_ms):
        t0 = time.perf_counter()
        try:
            super().wait_until(t_ms)
        finally:
            self.world_s += time.perf_counter() - t0


def _probe_board(**kw):
    from host_tools.simboard import SimBoard

    cls = type("ProbeBoard", (_ProbeBoard, SimBoard), {})
    return cls(**kw)


def session_script(runner, duration_ms, on_tick=None):
    """The 10-minute session: consent on the console, then the beginner and the interval
    programs in turn (each started on the console and run to its end) until duration_ms.
    Returns (sessions started, sessions recorded as ended, console error lines)."""
    from states import READY

    board = runner.board
    history0 = runner.app.history.count
    s = _Script(runner, board.now_ms + duration_ms, on_tick)
    s.run_ms(500)
    for line in ("consent", "consent yes"):
        runner.send(line)
        s.run_ms(300)
    started = 0
    names = ("beginner", "interval")
    while board.now_ms < s.end:
        runner.send("program %s" % names[started % 2])
        s.run_ms(200)
        runner.send("start")
        s.run_ms(1000)
        started += 1
        core = runner.core
        while board.now_ms < s.end and not (core.state == READY and not core.session_active):
            s.run_ms(10)
            core = runner.core
        s.run_ms(2000)
    errors = [ln for ln in "".join(s.said).splitlines() if ln.startswith(("error", "alert"))]
    return started, runner.app.history.count - history0, errors


class _Script:
    """Runs the firmware in steps up to a fixed end, keeping what the console said."""

    def __init__(self, runner, end, on_tick):
        self.runner = runner
        self.end = end
        self.on_tick = on_tick
        self.said = []

    def run_ms(self, ms):
        runner, board, on_tick = self.runner, self.runner.board, self.on_tick
        stop = min(board.now_ms + ms, self.end)
        while board.now_ms < stop:
            runner.step()
            if on_tick is not None:
                on_tick(runner)
        text = runner.receive()
        if text:
            self.said.append(text)


def sim_factor(quick):
    """Simulated seconds per wall second of the session script on SimRunner."""
    from host_tools.runner import SimRunner

    ms = QUICK_SESSION_MS if quick else SESSION_MS
    root = tempfile.mkdtemp(prefix="bench-sim-")
    try:
        runner = SimRunner(fs_root=root)
        t0 = time.perf_counter()
        started, ended, errors = session_script(runner, ms)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if errors:
        raise BenchError("the session script was refused: %s" % errors[:3])
    return ms / 1000.0 / wall, {"simulated_s": ms / 1000.0, "wall_s": round(wall, 3),
                                "sessions_started": started, "sessions_ended": ended}


def angle_error(quick):
    """Estimator vs true angle over the session script (default board noise)."""
    from host_tools.runner import SimRunner

    ms = QUICK_SESSION_MS if quick else SESSION_MS
    root = tempfile.mkdtemp(prefix="bench-sim-")
    errs = _AngleErrors()
    try:
        board = _probe_board(fs_root=root)
        runner = SimRunner(board=board)
        core = runner.app.core
        tick_s = _time_core_tick(core)
        t0 = time.perf_counter()
        _, _, errors = session_script(runner, ms, errs.on_tick)
        wall = time.perf_counter() - t0
        if errors:
            raise BenchError("the session script was refused: %s" % errors[:3])
        if runner.app.core is not core:
            raise BenchError("the firmware restarted during the angle-error session")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return errs.figures(), errs.details(wall, board, tick_s[0])


def _time_core_tick(core):
    """Time Core.tick alone, inside App.step; returns [seconds so far]."""
    core_tick = core.tick
    tick_s = [0.0]

    def timed_tick(now, inp, out):
        t = time.perf_counter()
        try:
            core_tick(now, inp, out)
        finally:
            tick_s[0] += time.perf_counter() - t

    core.tick = timed_tick
    return tick_s


class _AngleErrors:
    """The estimator's error against the true angle, every tick, at rest and in motion:
    [ticks, max |e|, sum e^2] of each."""

    def __init__(self):
        self.acc = {"rest": [0, 0.0, 0.0], "motion": [0, 0.0, 0.0]}

    def on_tick(self, r):
        core = r.core
        est = core.est
        if core.state == 0 or not est.valid:  # BOOT: the self-test window
            return
        b = r.board
        e = est.angle_mdeg - b.probe_angle
        k = "motion" if (b.probe_turning or abs(b.probe_rate) >= MOTION_RATE_MDEG_S) else "rest"
        a = self.acc[k]
        a[0] += 1
        if abs(e) > a[1]:
            a[1] = abs(e)
        a[2] += e * e

    def figures(self):
        rest, motion = self.acc["rest"], self.acc["motion"]
        n = rest[0] + motion[0]
        return {
            "angle_error_max_rest_mdeg": rest[1] if rest[0] else None,
            "angle_error_max_motion_mdeg": motion[1] if motion[0] else None,
            "angle_error_max_mdeg": max(rest[1], motion[1]),
            "angle_error_rms_mdeg": math.sqrt((rest[2] + motion[2]) / n) if n else None,
        }

    def details(self, wall, board, tick_s):
        """The counts, and where the wall time of this (instrumented) run went."""
        rest, motion = self.acc["rest"], self.acc["motion"]
        n = rest[0] + motion[0]
        d = {
            "ticks_rest": rest[0], "ticks_motion": motion[0],
            "rms_rest_mdeg": math.sqrt(rest[2] / rest[0]) if rest[0] else None,
            "rms_motion_mdeg": math.sqrt(motion[2] / motion[0]) if motion[0] else None,
            "wall_s": round(wall, 3),
        }
        if wall:
            d["world_share"] = round(board.world_s / wall, 3)  # physics, switches, IMU/ms
            d["inputs_share"] = round(board.inputs_s / wall, 3)  # IMU model + fw driver
            d["core_tick_share"] = round(tick_s / wall, 3)
            d["rest_share"] = round(1 - (board.world_s + board.inputs_s + tick_s) / wall, 3)
            d["ticks_per_wall_s"] = round((n + 0.0) / wall) if n else None
        return d


# ------------------------------------------------------------ e-stop and return


def clamp_bench():
    """Worst true angle beyond the clamp [.., min(profile max, soft max)], every simulated
    ms: a goto far beyond the profile max, then DOWN held against the clamp (jog)."""
    from states import C_GOTO, HOLDING

    from host_tools.runner import SimRunner

    root = tempfile.mkdtemp(prefix="bench-clamp-")
    try:
        runner = SimRunner(fs_root=root)
        board = runner.board
        board.physics.watch()  # the highest true angle, every simulated ms
        runner.run_ms(500)
        core = runner.core
        core.profile.consent = True
        if core.command(C_GOTO, 80000) != 0:
            raise BenchError("goto was refused in the clamp run")
        if not runner.run_until(lambda r: r.core.state == HOLDING, 120000):
            raise BenchError("the clamp run never reached HOLDING")
        runner.run_ms(3000)
        board.press("DOWN")  # hold-to-run against the clamp
        runner.run_ms(8000)
        board.release("DOWN")
        runner.run_ms(2000)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    clamp = min(core.profile.max_mdeg, core.cfg.soft_max_mdeg)
    return board.physics.max_angle_mdeg - clamp, {"clamp_mdeg": clamp}


def _moving_head_down(seed, bounce_max_ms=None):
    """A runner whose table moves head-down at normal speed past 20 deg toward 60, stopped
    on a tick boundary (the next tick not yet run)."""
    from states import MOVING

    from host_tools.runner import SimRunner

    root = _profile_fs(max_mdeg=60000)
    kw = {"rng": random.Random(seed), "fs_root": root}
    if bounce_max_ms is not None:
        kw["bounce_max_ms"] = bounce_max_ms
    runner = SimRunner(**kw)
    runner.run_ms(500)
    runner.send("goto 60")

    def cruising(r):
        c = r.core
        return (c.state == MOVING and r.board.true_angle_mdeg > 20000
                and c.plan.vel_sps == c.targets.v_normal)

    if not runner.run_until(cruising, 180000):
        raise BenchError("the table never cruised head-down (state %d, angle %.0f)"
                         % (runner.core.state, runner.board.true_angle_mdeg))
    runner.receive()
    return runner, root


def _cruise_rate_min(snapshot, ticks=30):
    """The lowest step rate the generator is commanded while cruising (it dithers between
    neighbouring 100 sps steps around the plan's speed)."""
    r = copy.deepcopy(snapshot)
    low = None
    for _ in range(ticks):
        r.step()
        rate = r.app.outputs.rate_sps
        low = rate if low is None else min(low, rate)
    return low


def _press_and_react(snapshot, offset_ms, cruise_rate_min):
    """Copy the snapshot, press the e-stop offset_ms after the next tick's instant, run.
    Returns the ms from the press to: the first tick whose plan velocity dropped (the
    reaction), the first tick commanding a step rate below any cruise rate (the
    generator slowing), and the IRQ edge (the first open reading of the contact)."""
    r = copy.deepcopy(snapshot)
    board = r.board
    press_at = board.now_ms + offset_ms
    edge = {"at": None}
    edges0 = board._estop_edges

    def hook(b):
        if b.now_ms == press_at:
            b.estop_press()
        if edge["at"] is None and b.now_ms > press_at and b._estop_edges != edges0:
            edge["at"] = b.now_ms

    board.ms_hooks.append(hook)
    prev_v = r.core.plan.vel_sps
    plan = rate = None
    for _ in range(50):
        t = board.now_ms  # this tick's instant (it reads the inputs sampled at t)
        r.step()
        v = r.core.plan.vel_sps
        if t > press_at:
            if plan is None and v < prev_v:
                plan = t - press_at
            if rate is None and r.app.outputs.rate_sps < cruise_rate_min:
                rate = t - press_at
            if plan is not None and rate is not None:
                return plan, rate, (None if edge["at"] is None else edge["at"] - press_at)
        prev_v = v
    raise BenchError("no deceleration within 50 ticks of an e-stop at +%d ms" % offset_ms)


def estop_bench(quick):
    """Worst e-stop reaction over every ms of a tick period (and over seeds)."""
    seeds = (0,) if quick else (0, 1, 2, 3, 4)
    rows = []
    tick_ms, dv, worst_fw = 10, None, 0
    roots = []
    try:
        for bounce in (None, 0):  # the default board's contact bounce, then none
            for seed in seeds if bounce is None else seeds[:1]:
                snap, root = _moving_head_down(seed, bounce)
                roots.append(root)
                row, fw, tick_ms, dv = _press_sweep(snap, seed, bounce)
                rows.append(row)
                worst_fw = max(worst_fw, fw)
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
    bounced = [r for r in rows if r["bounce"] == "default"]
    worst = max([0] + [max(r["reaction_ms_by_press_offset"]) for r in bounced])
    worst_rate = max([0] + [max(r["rate_below_cruise_ms_by_press_offset"]) for r in bounced])
    no_bounce = [r for r in rows if r["bounce"] == "none"][0]
    return worst, {
        "tick_ms": tick_ms,
        "press_offsets_ms": list(range(1, tick_ms + 1)),
        "sweeps": rows,
        "worst_without_bounce_ms": max(no_bounce["reaction_ms_by_press_offset"]),
        "worst_edge_to_decel_ms": worst_fw,
        "worst_rate_below_cruise_ms": worst_rate,
        "worst_rate_below_cruise_without_bounce_ms":
            max(no_bounce["rate_below_cruise_ms_by_press_offset"]),
        "first_tick_decrement_sps": dv,
        "rate_quantum_sps": 1000 // tick_ms,  # one step per tick
    }


def _press_sweep(snap, seed, bounce):
    """The e-stop pressed at each ms of a tick period from the snapshot: (the sweep's
    row, the worst edge-to-deceleration ms, tick_ms, the first tick's braking decrement)."""
    tick_ms = snap.app.cfg.tick_ms
    dv = snap.core.targets.a_emergency * tick_ms // 1000
    low = _cruise_rate_min(snap)
    per, per_rate = [], []
    worst_fw = 0
    for k in range(1, tick_ms + 1):
        plan, rate, edge = _press_and_react(snap, k, low)
        per.append(plan)
        per_rate.append(rate)
        if edge is not None:
            worst_fw = max(worst_fw, plan - edge)
    row = {"seed": seed, "bounce": "default" if bounce is None else "none",
           "reaction_ms_by_press_offset": per, "rate_below_cruise_ms_by_press_offset": per_rate}
    return row, worst_fw, tick_ms, dv


def upright_bench():
    """Holding at 60 deg, e-stop: seconds until the return stands still at horizontal."""
    from states import EMERGENCY_RETURN, HOLDING

    snap, root = _moving_head_down(0)
    try:
        r = snap
        if not r.run_until(lambda x: x.core.state == HOLDING, 120000):
            raise BenchError("never reached HOLDING at 60 deg")
        board = r.board
        start_angle = board.true_angle_mdeg
        press_at = board.now_ms
        board.estop_press()
        tol = r.app.cfg.arrive_tol_mdeg
        within = _first_ms_within(board, tol)
        done = r.run_until(lambda x: x.core.state == EMERGENCY_RETURN and x.core.phase == 4
                           and x.core.plan.done(), 120000)
        if not done:
            raise BenchError("the emergency return did not finish")
        stop_ms = board.now_ms
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return (stop_ms - press_at) / 1000.0, {
        "start_angle_mdeg": round(start_angle),
        "end_angle_mdeg": round(board.true_angle_mdeg),
        "to_within_arrive_tol_s": (None if within[0] is None
                                   else (within[0] - press_at) / 1000.0),
        "arrive_tol_mdeg": tol,
        "lost_steps": board.lost_steps,
    }


def _first_ms_within(board, tol_mdeg):
    """[the first ms from now the true angle is at or below tol_mdeg] (None until then)."""
    mark = [None]

    def hook(b):
        if mark[0] is None and b.true_angle_mdeg <= tol_mdeg:
            mark[0] = b.now_ms

    board.ms_hooks.append(hook)
    return mark


# ============================================================ profiling a miss


def sim_profile(seconds=20):
    """Where SimRunner's wall time goes: the top functions by own time."""
    import cProfile
    import pstats

    from host_tools.runner import SimRunner

    root = tempfile.mkdtemp(prefix="bench-sim-")
    try:
        runner = SimRunner(fs_root=root)
        prof = cProfile.Profile()
        prof.enable()
        session_script(runner, seconds * 1000)
        prof.disable()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:12]
    out = []
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in rows:
        out.append({"function": "%s:%d %s" % (os.path.relpath(fname, paths.ROOT)
                                              if fname.startswith(paths.ROOT) else fname,
                                              line, func),
                    "calls": nc, "own_share": round(tt / total, 3),
                    "cumulative_share": round(ct / total, 3)})
    return out


# ============================================================ report


def _machine(mpy_version):
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cross = _run([_tool("mpy-cross"), "--version"]).strip()
    except (BenchError, OSError):
        cross = None
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "micropython": mpy_version,
        "mpy_cross": cross,
    }


def _verdict(key, value):
    for k, op, target, _unit in TARGETS:
        if k != key:
            continue
        if op is None:
            return None
        if value is None:
            return False
        if op == "==":
            return value == target
        if op == "<=":
            return value <= target
        return value >= target
    return None


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        return "%.3g" % v
    return str(v)


def print_table(res, out=sys.stdout):
    w = 30
    out.write("\n%-*s %-14s %-16s %s\n" % (w, "figure", "target", "measured", "result"))
    out.write("-" * (w + 42) + "\n")
    for key, op, target, unit in TARGETS:
        v = res.get(key)
        tgt = "%s %s %s" % (op, target, unit) if op else "(reported)"
        ok = res["targets"][key]["pass"]
        verdict = "PASS" if ok else ("MISSED" if ok is False else "")
        out.write("%-*s %-14s %-16s %s\n" % (w, key, tgt, "%s %s" % (_fmt(v), unit), verdict))
    missed = res["missed"]
    out.write("-" * (w + 42) + "\n")
    if missed:
        out.write("MISSED: %s\n" % ", ".join(missed))
    else:
        out.write("all targets met\n")


def _notes(res):
    """What to read when a target is missed: where the cost goes."""
    notes = [_heap_note(res), _sim_note(res)] + _estop_notes(res)
    return [n for n in notes if n]


def _heap_note(res):
    h = res["details"].get("heap", {})
    if res["targets"]["heap_peak_bytes"]["pass"] is not False or not h:
        return None
    mods = h.get("imports_in_place_by_module_bytes", {})
    top = ", ".join("%s %d" % kv for kv in list(mods.items())[:6])
    fit = h.get("fit_56k", {})
    hc = h.get("heap_code_session") or {}
    return (
        "heap: the firmware (code in place, vdev --code rom) %s in -X heapsize=56K "
        "(%s); measured with %s bytes: live peak %s B, raw peak %s B, one tick "
        "allocates up to %s B. Importing the firmware with its code in place takes %s B "
        "(largest: %s). With the code loaded into the heap (vdev --code heap, deployed "
        ".mpy files) it %s 56K; live peak %s."
        % ("does not run a session" if not h.get("fits_56k") else "runs a session",
           fit.get("fatal") or "; ".join(fit.get("session_failures") or []),
           h.get("measured_with_heapsize_bytes"), res.get("heap_peak_bytes"),
           res.get("heap_peak_raw_bytes"), res.get("heap_tick_alloc_max_bytes"),
           h.get("imports_in_place_total_bytes"), top,
           "boots in" if h.get("heap_code_fits_56k") else "does not boot in",
           "%s B" % hc["heap_peak_bytes"] if hc.get("heap_peak_bytes")
           else "not measured (--quick)"))


def _sim_note(res):
    if res["targets"]["sim_realtime_factor"]["pass"] is not False:
        return None
    s = res["details"].get("sim", {})
    return (
        "sim: of the wall time, the world advanced per simulated ms (SimBoard.wait_until: "
        "physics, switches, IMU model) takes %.0f%%, reading the inputs (IMU model at "
        "register level + the firmware's driver) %.0f%%, Core.tick %.0f%%, the rest of "
        "App.step (console, persistence, loop) and the script %.0f%%%s."
        % (100 * (s.get("world_share") or 0), 100 * (s.get("inputs_share") or 0),
           100 * (s.get("core_tick_share") or 0), 100 * (s.get("rest_share") or 0),
           "; top own-time functions in details.sim.profile" if s.get("profile")
           else ""))


def _estop_notes(res):
    e = res["details"].get("estop", {})
    notes = []
    if res["targets"]["estop_reaction_ms"]["pass"] is False and e:
        notes.append(
            "estop: worst %s ms with the simulated contact bounce, %s ms without; from the "
            "first open reading (the IRQ edge) to the decelerating tick at most %s ms: the "
            "polled 10 ms tick. The rest is the bounce model (1-5 ms of random readings "
            "before the contact reads open for good)." % (
                res.get("estop_reaction_ms"), e.get("worst_without_bounce_ms"),
                e.get("worst_edge_to_decel_ms")))
    if e and e.get("worst_rate_below_cruise_ms") is not None:
        notes.append(
            "estop: the plan slows in the reacting tick, but the step rate commanded to the "
            "generator falls below its cruise values only %s ms after the press at worst "
            "(%s ms without bounce): rate_for() commands whole steps per tick toward the "
            "plan position (%s sps quanta), and the first tick's braking decrement "
            "(emergency accel x tick = %s sps) stays within one quantum." % (
                e["worst_rate_below_cruise_ms"],
                e.get("worst_rate_below_cruise_without_bounce_ms"), e.get("rate_quantum_sps"),
                e.get("first_tick_decrement_sps")))
    return notes


def measure(quick=False, progress=None, work_dir=OUT_DIR):
    """Run every benchmark; returns the result dict (not yet written). work_dir receives
    the compiled .mpy files."""
    t_all = time.perf_counter()
    os.makedirs(work_dir, exist_ok=True)
    b = _Benches(quick, progress or (lambda msg: None), work_dir)
    b.run_all()
    res, details, errors = b.res, b.details, b.errors
    _judge(res)
    res["errors"] = errors
    res["details"] = details
    res["quick"] = bool(quick)
    res["build"] = version.identity()  # which source these figures are of
    res["machine"] = _machine(details.get("micropython_version"))
    if "sim_realtime_factor" in res["missed"] and not quick:
        b.say("profiling the simulator")
        try:
            details["sim"]["profile"] = sim_profile()
        except Exception as e:
            errors["sim profile"] = "%s: %s" % (type(e).__name__, e)
    res["notes"] = _notes(res)
    res["method"] = _method(quick)
    res["wall_s"] = round(time.perf_counter() - t_all, 1)
    return res


def _judge(res):
    """Each target's verdict (res["targets"]) and the keys that missed (res["missed"])."""
    targets = {}
    missed = []
    for key, op, target, unit in TARGETS:
        ok = _verdict(key, res[key])
        targets[key] = {"target": None if op is None else "%s %s" % (op, target),
                        "unit": unit, "pass": ok}
        if ok is False:
            missed.append(key)
    res["targets"] = targets
    res["missed"] = missed


class _Benches:
    """The benchmarks of measure(), each filling its keys of res and its details; one
    that raises is reported in errors and the others still run."""

    def __init__(self, quick, say, work_dir):
        self.quick = quick
        self.say = say
        self.work_dir = work_dir
        self.res = {k: None for k in KEYS}
        self.details = {}
        self.errors = {}
        self.built = {}

    def run_all(self):
        self.step("mpy-cross", self.mpy)
        if self.built:
            self.step("tick (micropython, cpython)", self.ticks)
            self.step("estimator (micropython)", self.estimator)
            self.step("heap (micropython -X heapsize=56K)", self.heap)
        self.step("32-bit MicroPython (host_tools/bench32.py)", self.mpy32)
        self.step("simulator speed", self.sim)
        self.step("angle error", self.err)
        self.step("IMU calibration: datasheet-corner parts", self.imucal)
        self.step("e-stop reaction sweep", self.estop)
        self.step("emergency return from 60 deg", self.upright)
        self.step("clamp: goto beyond the max, DOWN held", self.clamp)
        self.step("e-stop overshoot: phases x users", self.overshoot)
        self.step("drive margin (design user)", self.drive)

    def step(self, name, fn):
        self.say(name)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as e:  # a bench that breaks is reported, the others still run
            self.errors[name] = "%s: %s" % (type(e).__name__, e)
        self.details.setdefault("wall_s", {})[name] = round(time.perf_counter() - t0, 2)

    def mpy(self):
        fw_dir, harness_dir, sizes = build_mpy(self.work_dir)
        self.built.update(fw=fw_dir, harness=harness_dir)
        self.res["mpy_total_bytes"] = sum(sizes.values())
        self.details["mpy"] = {"files": sizes, "count": len(sizes),
                               "table_params_json_bytes": os.path.getsize(paths.TABLE_PARAMS)}

    def mpy32(self):
        res, details, errors = bench32.measure(self.quick, os.path.join(self.work_dir, "32"),
                                               self.say, self.built.get("fw"))
        self.res.update(res)
        self.details["mpy32"] = details
        self.errors.update(errors)

    def estimator(self):
        rig_dir = os.path.join(paths.ROOT, "tests", "core")
        n, warm = (300, 50) if self.quick else (3000, 200)
        built = self.built
        r = _micropython(
            "import sys\nsys.path[:0] = [%r, %r, %r]\nimport bench_mpy\n"
            "bench_mpy.estimator_main(%d, %d)" % (built["harness"], built["fw"], rig_dir, n, warm),
            TICK_HEAP_K)
        self.res["estimator_us_median_mpy"] = r["estimator_us_median"]
        self.res["estimator_alloc_bytes"] = r["estimator_alloc_bytes"]
        self.details["estimator_mpy"] = r

    def ticks(self):
        mpy_r, cpy_r = tick_bench(self.built["fw"], self.built["harness"], self.quick)
        res, details = self.res, self.details
        res["tick_alloc_bytes"] = mpy_r["tick_alloc_bytes"]
        res["tick_us_median_mpy"] = mpy_r["tick_us_median"]
        res["tick_us_median_cpython"] = round(cpy_r["tick_us_median"], 3)
        details["tick_mpy"] = mpy_r
        details["tick_cpython"] = cpy_r
        details["micropython_version"] = mpy_r["version"]

    def heap(self):
        peak, d = heap_bench(self.built["fw"], self.built["harness"], self.quick)
        res = self.res
        res["heap_peak_bytes"] = peak
        sess = d.get("session") or d["fit_56k"]
        res["heap_peak_raw_bytes"] = sess.get("heap_peak_raw_bytes")
        res["heap_tick_alloc_max_bytes"] = sess.get("heap_tick_alloc_max_bytes")
        res["heap_fits_56k"] = d["fits_56k"]
        self.details["heap"] = d

    def sim(self):
        f, d = sim_factor(self.quick)
        self.res["sim_realtime_factor"] = round(f, 1)
        self.details["sim"] = d

    def err(self):
        vals, d = angle_error(self.quick)
        for k, v in vals.items():
            self.res[k] = None if v is None else round(v, 1)
        self.details["angle_error"] = d
        sim_d = self.details.setdefault("sim", {})
        for k in ("world_share", "inputs_share", "core_tick_share", "rest_share"):
            sim_d[k] = d.get(k)

    def imucal(self):
        vals, d = bench_imu.calibration_bench(self.quick)
        for k, v in vals.items():
            self.res[k] = round(v, 1)
        self.details["imu_calibration"] = d

    def estop(self):
        worst, d = estop_bench(self.quick)
        self.res["estop_reaction_ms"] = worst
        self.res["estop_rate_below_cruise_ms"] = d["worst_rate_below_cruise_ms"]
        self.details["estop"] = d

    def clamp(self):
        v, d = clamp_bench()
        self.res["clamp_exceed_max_mdeg"] = round(v, 1)
        self.details["clamp"] = d

    def overshoot(self):
        v, d = bench_safety.estop_overshoot_bench(self.quick)
        self.res["estop_overshoot_max_mdeg"] = round(v, 1)
        self.details["estop_overshoot"] = d

    def drive(self):
        m, up, d = bench_safety.drive_figures()
        self.res["drive_margin_min"] = round(m, 2)
        self.res["upright_s_from_soft_max"] = round(up, 2)
        self.details["drive"] = d

    def upright(self):
        s, d = upright_bench()
        self.res["upright_s_from_60deg"] = round(s, 2)
        self.details["upright"] = d


def _method(quick):
    """How each figure is measured (res["method"])."""
    return {
        "tick": "Core.tick alone, timed per call (MicroPython time.ticks_us, CPython "
                "perf_counter_ns) on tests/core/rig.py's stand-in; steady-state ticks per "
                "state after a warm-up; GC disabled; median pooled over moving, holding, "
                "emergency (equal counts); allocation = gc.mem_alloc() after - before "
                "tick, worst state, rounded up per tick",
        "heap": "virtual device (python -m host_tools.vdev --fast, --code rom: bytecode in "
                "place, as frozen) with -X heapsize=56K; if the firmware does not run the "
                "session there, again with %s to measure it. A session through the console "
                "client (consent, program, start, to the end, records, e-stop, ack, "
                "return). heap_peak_bytes = the "
                "vdev's heap_peak_bytes: the most live data after a tick (gc.mem_alloc() "
                "after gc.collect() in every wait_until); heap_peak_raw_bytes before the "
                "collect; heap_tick_alloc_max_bytes the most one tick allocated" % (
                    HEAP_MEASURE_K),
        "mpy": "mpy-cross -march=xtensawin of firmware/*.py except main.py + main.py",
        "sim": "SimRunner, session script (consent; beginner/interval programs) for "
               "%d s virtual; wall time of the run" % ((QUICK_SESSION_MS if quick
                                                        else SESSION_MS) // 1000),
        "estop": "press at each ms of a tick period from one deep-copied snapshot while "
                 "moving head-down at normal speed; press -> first tick whose plan "
                 "velocity dropped; worst case",
        "upright": "holding at 60 deg (profile max 60, consent); e-stop -> emergency "
                   "return stands still at horizontal (latched, plan done)",
        "angle_error": "core.est.angle_mdeg - true angle when the IMU was read, every "
                       "tick of the session script; motion = motor turning or |rate| >= "
                       "%g mdeg/s" % MOTION_RATE_MDEG_S,
        "imu_calibration": "host_tools/bench_imu.py: per part (the corners of the "
                           "datasheet tolerances; quick: 4 of 8), the real firmware on "
                           "SimBoard: goto 30 and hold (uncalibrated), calibrate 0 and -60 "
                           "(the documented points), goto 30 and hold (calibrated); the "
                           "worst |core.est.angle_mdeg - true| of each hold after %d ms "
                           "of settling" % bench_imu.HOLD_SETTLE_MS,
    }


def write(res, path=JSON_PATH):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.bench", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer iterations and shorter sessions (figures less precise)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("--out", default=JSON_PATH, help="where to write the JSON (%(default)s)")
    ap.add_argument("--against", metavar="REF",
                    help="also measure sim_realtime_factor of git REF, interleaved with this"
                    " tree's (host_tools/bench_against.py); target: ratio >= 0.90")
    ap.add_argument("--against-n", type=int, default=3, metavar="N",
                    help="runs of each tree with --against, best of N (%(default)s)")
    ap.add_argument("--against-session-ms", type=int, default=None, metavar="MS",
                    help="session length of those runs (default: the bench's session)")
    ap.add_argument("--against-only", action="store_true",
                    help="with --against: only that comparison, not the other benchmarks")
    ap.add_argument("--work-dir", default=OUT_DIR,
                    help="where the compiled .mpy files go (%(default)s)")
    args = ap.parse_args(argv)

    def progress(msg):
        sys.stderr.write("bench: %s...\n" % msg)
        sys.stderr.flush()

    if args.against_only and not args.against:
        ap.error("--against-only needs --against REF")
    if args.against_only:
        res = {"build": version.identity(), "targets": {}, "missed": [], "errors": {},
               "notes": [], "wall_s": 0.0}
    else:
        res = measure(args.quick, progress, args.work_dir)
    if args.against:
        t0 = time.perf_counter()
        ms = args.against_session_ms or (QUICK_SESSION_MS if args.quick else SESSION_MS)
        try:
            bench_against.add_to(res, bench_against.compare(args.against, args.against_n,
                                                            ms, progress))
        except (bench_against.AgainstError, subprocess.SubprocessError) as e:
            res["errors"]["against"] = "%s: %s" % (type(e).__name__, e)
        res["wall_s"] = round(res["wall_s"] + time.perf_counter() - t0, 1)
    write(res, args.out)
    if not args.against_only:
        print_table(res)
    if "sim_realtime_factor_ratio" in res:
        print(bench_against.summary(res))
    for name, e in res["errors"].items():
        print("ERROR in %s: %s" % (name, e))
    for n in res["notes"]:
        print("- " + n)
    print("wrote %s (%s run, %.0f s)" % (os.path.relpath(args.out, paths.ROOT)
                                         if args.out.startswith(paths.ROOT) else args.out,
                                         "quick" if args.quick else "full", res["wall_s"]))
    return exit_status(res, args.strict)


def exit_status(res, strict):
    """0, or with --strict 1 when a target was missed or a benchmark failed."""
    if strict and (res["missed"] or res["errors"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
