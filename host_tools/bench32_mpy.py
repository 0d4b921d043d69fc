"""The heap benchmark that runs inside the 32-bit MicroPython (host_tools/mpy32): the
firmware's live heap after boot and at the peak of a full session, as on a stock ESP32.

Started by host_tools/bench32.py (through host_tools/mpy32/run.mjs); prints one line
`BENCH_JSON {...}`.

session_main(fw_dir, rig_dir, params_path, fs_root, quick=False)
    The firmware's code is loaded from its .mpy files into the GC heap, as the stock
    ESP32_GENERIC image loads the deployed files from littlefs (no ROMFS there). The real
    App runs on a small board of this harness: tests/core/rig.py's kinematic stand-in of
    the table, a virtual clock, storage in a fresh directory, the console as two buffers
    (the App loop is the real one: core tick, console, persistence). The session, typed
    on the console: consent, homing, a program to its end with telemetry streaming, the
    records (status, log, history, faults, profile, config, help), a move and an e-stop
    with its acknowledgement and return, a fault during a move (the IMU stops answering)
    and its latch.

    Every loop pass is one step (toplevel.run_steps of host_tools/mpy32: that port
    collects garbage between two steps only; the unix port collects in _live()):
    gc.mem_alloc() after the collection (the live heap), then the pass with the GC
    disabled and gc.mem_alloc() again (the most one pass allocated, and the raw peak).
    The harness's own objects are measured and left out (its code, the stand-in, the
    board); what remains is the firmware's: its code, its objects, its buffers. Also
    prints the order the firmware's modules were imported in (dependencies first), for
    imports_main. The board module of the chip (board_esp32, powerup) is not in it: the
    host provides the board. quick: no program, shallower, a collection every 25 passes
    while waiting.

imports_main(fw_dir, order)
    What importing each firmware module put on the heap (its code and globals), one
    module per step in `order` (dependencies first, so each import loads that module
    alone), with the code loaded from the .mpy files.
"""

import builtins
import gc
import sys

TICK_MS = 10


def _emit(obj):
    import json

    print("BENCH_JSON " + json.dumps(obj))


def _live():
    gc.collect()
    return gc.mem_alloc()


class _Imports:
    """builtins.__import__ wrapped: the firmware modules in the order they finished
    importing (dependencies first), and those first imported after boot."""

    def __init__(self):
        self.order = []
        self.booted = False
        self.late = []  # modules first imported after boot (lazy imports)
        self._real = builtins.__import__

    def install(self):
        builtins.__import__ = self._import

    def uninstall(self):
        builtins.__import__ = self._real

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        new = name not in sys.modules and level == 0
        m = self._real(name, globals, locals, fromlist, level)
        if new and name in sys.modules:  # a built-in module is never in sys.modules
            (self.late if self.booted else self.order).append(name)
        return m


class _Board:
    """The board interface of firmware/app.py over rig.Plant (as tests/core/
    test_console.py's ConsoleBoard), the console as two buffers drained every pass."""

    def __init__(self, fs_root, params_path, plant):
        self.fs_root = fs_root
        self.hw_params_path = params_path
        # firmware/app.py's manifest check (issue #21) is not run here: this board has no
        # deploy to check, like host_tools/simboard.py (its 512-byte reads are transient)
        self.code_root = None
        self.plant = plant
        self.now_ms = 1000
        self.rx = b""
        self.out = bytearray()
        self._outputs = None
        from ticks import ticks_diff  # once: an import in every pass allocates

        self._ticks_diff = ticks_diff

    def ticks_ms(self):
        return self.now_ms

    def wait_until(self, t_ms):
        dt = self._ticks_diff(t_ms, self.now_ms)
        if dt > 0:
            if self._outputs is not None:
                self.plant.apply(self._outputs, dt)
            self.now_ms = t_ms

    def read_inputs(self, inp):
        self.plant.fill(inp)

    def apply_outputs(self, out):
        self._outputs = out

    def estop_rearm(self):
        pass

    def wdt_arm(self, timeout_ms):
        pass

    def wdt_feed(self):
        pass

    def reset_cause(self):
        return 1  # power-on

    def reset(self):
        pass

    def enter_maintenance(self):
        pass

    def console_read_into(self, buf):
        n = min(len(buf), len(self.rx))
        if n:
            buf[:n] = self.rx[:n]
            self.rx = self.rx[n:]
        return n

    def console_write(self, data):
        self.out.extend(data)


class _Session:
    """Loop passes, each one step, measured; console lines typed between them."""

    def __init__(self, board):
        from app import standing_still  # the firmware's rule (imported by now)

        self.still = standing_still
        self.app = None
        self.board = board
        self.base = 0  # heap that is not the firmware's
        self.peak = 0
        self.raw_peak = 0
        self.tick_max = 0
        self.tick_max_at = None
        self.line = "(boot)"
        self.passes = 0
        self.said = []  # error and alert lines of the console
        self.alerts = []  # alert lines that answer a world event of the session
        self.trace = []  # (pass, console line, live heap) every 500 passes
        self.every = 1  # while waiting, a step (a collection) every this many passes
        self.collected = True  # no allocation since the last collection
        self.run_alloc = 0  # bytes allocated since the last still pass
        self.run_alloc_max = 0
        # py/gc.c's rule on the chip's heap (_Session._model), one per board: [capacity,
        # in use, collections in moving passes, in still passes, where, the most the heap
        # may grow to (0: it does not grow), times it grew]
        self.models = []
        self.last_live = 0

    def step(self):
        """One measured loop pass; the caller yields after it."""
        if self.collected:  # else the garbage of the last pass is still counted
            live = self.last_live = _live() - self.base
            if live > self.peak:
                self.peak = live
            if self.passes % 500 == 0:
                self.trace.append((self.passes, self.line, live))
        self.collected = False
        app = self.app
        was_still = self.still(app.outputs)
        c0 = app.gc_collections
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            app.step()
            a1 = gc.mem_alloc()
        finally:
            gc.enable()
        if self.models:
            moving = not (was_still and self.still(app.outputs))
            for m in self.models:
                self._model(m, a1 - a0, moving, app.gc_collections != c0)
        self.passes += 1
        if a1 - a0 > self.tick_max:
            self.tick_max = a1 - a0
            self.tick_max_at = self.line
        if a1 - self.base > self.raw_peak:
            self.raw_peak = a1 - self.base
        self._runs(a1 - a0)
        self._drain()

    def _model(self, m, alloc, moving, loop_collected):
        """py/gc.c on a heap of the chip's capacity, fed with this pass's allocation: with
        the threshold off (firmware/app.py) gc_alloc() collects only when no free block is
        left, so a collection lands in the pass whose allocation takes the heap in use
        past the capacity. After any collection the heap in use is the live heap (the
        last one measured). A heap that grows (the SPIRAM image, MICROPY_GC_SPLIT_HEAP_AUTO)
        adds an area after a collection that left too little room: gc_try_add_heap()
        doubles the total. Fragmentation is left out: the chip may collect sooner."""
        m[1] += alloc
        if m[1] > m[0]:
            m[2 if moving else 3] += 1
            if moving and len(m[4]) < 20:
                m[4].append((self.passes, self.line))
            m[1] = self.last_live
            while m[5] and m[1] + alloc > m[0] and m[0] < m[5]:
                m[0] = min(2 * m[0], m[5])
                m[6] += 1
        if loop_collected:
            m[1] = self.last_live

    def _runs(self, alloc):
        """What a move allocates before the loop may collect again (firmware/app.py
        collects only once the table has stood still a while): the headroom it needs.
        Counted from the pass the move began to the first still pass after it, so it is
        a lower bound by the _GC_STILL passes the loop then waits."""
        self.run_alloc += alloc
        if self.run_alloc > self.run_alloc_max:
            self.run_alloc_max = self.run_alloc
        if self.still(self.app.outputs):
            self.run_alloc = 0

    def _drain(self):
        out = self.board.out
        if out:
            self.board.out = bytearray()  # the host read it: not the firmware's heap
            text = bytes(out).decode()
            for ln in text.split("\n"):
                if ln.startswith("alert") and self.line.startswith("(") and self.line != "(boot)":
                    # the firmware's word on a fault the session caused on purpose (a
                    # world event, in parentheses): expected, kept apart
                    self.alerts.append("%s -> %s" % (self.line, ln[:120]))
                elif ln.startswith("error") or ln.startswith("alert"):
                    self.said.append("%s -> %s" % (self.line, ln[:120]))

    def until(self, pred, max_ms):
        waited = 0
        while not pred():
            if waited >= max_ms:
                raise AssertionError("not reached in %d ms after %r (state %d)" % (
                    max_ms, self.line, self.app.core.state))
            self.step()
            if self.passes % self.every == 0:
                self.collected = True
                yield
            waited += TICK_MS

    def send(self, line):
        self.line = line
        self.board.rx = self.board.rx + (line + "\n").encode()
        con = self.app.console
        yield from self.until(lambda: not self.board.rx and not con.busy(), 5000)
        self.step()
        self.collected = True
        yield


class _GcSession(_Session):
    """The session with the GC left on and never collected by the harness: only the
    firmware's own collections (firmware/app.py) and the automatic ones of py/gc.c.

    MicroPython counts no collections and this port runs no finaliser of a Python class,
    so an automatic collection is seen as a pass after which the heap holds at least
    GC_SEEN_BYTES fewer bytes than before it, in a pass where the loop did not collect
    (App.gc_collections did not change). Without a collection the heap only shrinks by
    what the firmware frees explicitly (a dict's old table when it grows: small); a
    collection that the heap being full forced frees all the garbage since the last one
    (the headroom, tens of KB). The same rule also sees the loop's own collections,
    which are counted apart: `collections_seen_in_loop_gc` / `loop_collections` says how
    well it sees them. A pass is moving if the tick before it or its own commanded pulses
    (firmware/app.py standing_still())."""

    GC_SEEN_BYTES = 2048

    def __init__(self, board):
        _Session.__init__(self, board)
        self.gc_moving = 0  # automatic collections in moving passes
        self.gc_moving_at = []
        self.gc_idle_auto = 0  # automatic collections in still passes
        self.seen_loop = 0  # the loop's own collections the rule saw
        self.loop_in_moving = 0  # the loop's own collections in moving passes
        self.moving_passes = 0
        self.free_min = None  # the least free heap after a pass

    def step(self):
        app = self.app
        still = self.still
        was_still = still(app.outputs)
        c0 = app.gc_collections
        a0 = gc.mem_alloc()
        app.step()
        a1 = gc.mem_alloc()
        self.passes += 1
        moving = not (was_still and still(app.outputs))
        if moving:
            self.moving_passes += 1
        if app.gc_collections != c0 and moving:
            self.loop_in_moving += 1  # firmware/app.py must never: the tests check it
        if a1 <= a0 - self.GC_SEEN_BYTES:
            if app.gc_collections != c0:
                self.seen_loop += 1
            elif moving:
                self.gc_moving += 1
                if len(self.gc_moving_at) < 20:
                    self.gc_moving_at.append((self.passes, self.line))
            else:
                self.gc_idle_auto += 1
        free = gc.mem_free()
        if self.free_min is None or free < self.free_min:
            self.free_min = free
        self._drain()


def gc_main(fw_dir, rig_dir, params_path, fs_root, quick=False, boot_only=False):
    """The session of session_main on the unix port with the GC on (_GcSession); prints
    BENCH_JSON with gc_in_moving_ticks. Its heap is the -X heapsize it was started with.
    boot_only: stop after boot (the heap it takes)."""
    r = {"error": None, "quick": quick}
    sys.path[:0] = [fw_dir, rig_dir]
    import app
    from rig import Plant
    from support import make_config

    cfg = make_config()
    board = _Board(fs_root, params_path, Plant(cfg, cfg.loading_angle_mdeg))
    _commission(fs_root, cfg)
    s = _GcSession(board)
    s.app = a = app.App(board)
    a.start()
    try:
        for _ in s.until(lambda: a.core.state != 0, 5000):
            pass
        gc.collect()  # the harness's one collection: the heap after boot
        r["heap_alloc_boot_bytes"] = gc.mem_alloc()
        r["heap_free_boot_bytes"] = gc.mem_free()
        if not boot_only:
            for _ in _script(s, board.plant, quick):
                pass
    except Exception as e:  # reported with the figures so far
        r["error"] = "%s: %s" % (type(e).__name__, e)
    gc.collect()
    r.update({
        "gc_in_moving_ticks": s.gc_moving,
        "gc_in_moving_at": s.gc_moving_at,
        "gc_auto_in_idle_passes": s.gc_idle_auto,
        "loop_collections": a.gc_collections,
        "loop_collections_in_moving_passes": s.loop_in_moving,
        "collections_seen_in_loop_gc": s.seen_loop,
        "moving_passes": s.moving_passes,
        "passes": s.passes,
        "heap_free_min_bytes": s.free_min,
        "heap_total_bytes": gc.mem_alloc() + gc.mem_free(),
        "console_errors": s.said,
        "console_alerts": s.alerts,
        "final_state": a.core.state,
        "version": sys.version,
    })
    _emit(r)


def _script(s, plant, quick):
    """The session of the module docstring (a generator: one loop pass per step); quick:
    no program, 5 deg instead of 15."""
    from states import EMERGENCY_RETURN, FAULT, HOLDING, READY

    core = s.app.core
    for line in ("consent", "consent yes", "home"):
        yield from s.send(line)
    yield from s.until(lambda: core.state == READY and core.homed, 60000)
    deg = 5 if quick else 15
    if not quick:
        for line in ("stream 10", "program custom", "start 15 10"):
            yield from s.send(line)
        yield from s.until(lambda: core.state != READY, 5000)
        yield from s.until(lambda: core.state == READY, 300000)
        yield from s.send("stream off")
    for line in ("status", "log 40", "history", "faults", "profile", "config get", "help"):
        yield from s.send(line)
    yield from s.send("goto %d" % deg)
    yield from s.until(lambda: core.state == HOLDING, 60000)
    yield from s.send("estop")
    yield from s.until(lambda: core.state == EMERGENCY_RETURN and core.phase == 4, 120000)
    for line in ("ack", "return"):
        yield from s.send(line)
    yield from s.until(lambda: core.state == READY, 120000)
    yield from s.send("goto %d" % deg)
    yield from s.until(lambda: plant.angle_mdeg() > deg * 300, 60000)
    s.line = "(the IMU stops answering)"
    plant.imu_error = 19  # ENODEV
    yield from s.until(lambda: core.state == FAULT and core.phase == 4, 120000)
    for line in ("status", "faults", "log"):
        yield from s.send(line)


def _steps(run, generator):
    """Run a generator one step per top-level call on the 32-bit port (run_steps), or in
    a loop where gc.collect() works (the unix port); then run()."""
    try:
        import toplevel
    except ImportError:
        for _ in generator:
            pass
        run()
        return
    toplevel.run_steps(generator, run)


def session_main(fw_dir, rig_dir, params_path, fs_root, quick=False, heap_cap=0,
                 psram=None):
    """heap_cap: the stock image's heap capacity in bytes for the collection model (0:
    none). psram: (first area, the most it grows to) of the SPIRAM image's heap, in usable
    bytes, for a second model (None: none)."""
    r = {"error": None, "quick": quick, "heap_cap": heap_cap, "psram": psram}
    imports = _Imports()
    _steps(lambda: _session_report(r, imports),
           _session_steps(r, imports, (fw_dir, rig_dir, params_path, fs_root), quick))


def _commission(fs_root, cfg):
    """The flash of a commissioned table (host_tools/simboard.py commission(): the IMU's
    two-point calibration done), else the session's head-down goto is refused."""
    import profiles
    import store

    fs = store.DirFS(fs_root)
    if not fs.exists("settings"):
        profiles.save_profiles(fs, profiles.load_profiles(fs, cfg)[0])
        store.save(fs, "settings", {"imu_calibrated": 1})


def _session_steps(r, imports, where, quick):
    fw_dir, rig_dir, params_path, fs_root = where
    yield  # collected: the baseline is the heap before the firmware
    base = _live()
    sys.path[:0] = [fw_dir]
    imports.install()
    import app  # every firmware module App needs, from .mpy files into the heap

    yield
    r["heap_code_bytes"] = code = _live() - base
    sys.path.insert(0, rig_dir)
    from rig import Plant  # the harness: the stand-in, its config (not the firmware's)
    from support import make_config

    cfg = make_config()
    board = _Board(fs_root, params_path, Plant(cfg, cfg.loading_angle_mdeg))
    _commission(fs_root, cfg)
    cfg = None
    s = r["session"] = _Session(board)
    if quick:
        s.every = 25
    yield
    r["heap_harness_bytes"] = harness = _live() - base - code
    s.base = base + harness
    s.app = a = app.App(board)
    a.start()
    s.collected = True
    yield  # the garbage of the construction collected before the first pass
    yield from s.until(lambda: a.core.state != 0, 5000)  # 0: BOOT
    imports.booted = True
    s.step()
    s.collected = True
    yield
    r["heap_boot_bytes"] = boot = s.last_live = _live() - s.base
    if r["heap_cap"]:
        s.models.append([r["heap_cap"], boot, 0, 0, [], 0, 0])
    if r["psram"]:
        cap, top = r["psram"]
        while cap < boot and cap < top:  # the areas importing the code added
            cap = min(2 * cap, top)
        s.models.append([cap, boot, 0, 0, [], top, 0])
    s.peak = max(s.peak, boot)
    try:
        yield from _script(s, board.plant, quick)
    except Exception as e:  # reported with the figures so far
        r["error"] = "%s: %s" % (type(e).__name__, e)
    s.collected = True
    yield
    s.step()  # the heap after the last pass is measured too


def _session_report(r, imports):
    imports.uninstall()
    s = r.get("session")
    if s is not None:
        r.update({
            "heap_peak_bytes": s.peak,
            "heap_peak_raw_bytes": s.raw_peak,
            "alloc_between_idle_max_bytes": s.run_alloc_max,
            "gc_models": [{
                "heap_cap_bytes": m[0], "gc_in_moving_ticks": m[2],
                "gc_in_still_passes": m[3], "gc_in_moving_at": m[4], "grows_to": m[5],
                "grew": m[6],
                "loop_collections": s.app.gc_collections if s.app is not None else None}
                for m in s.models],
            "tick_alloc_max_bytes": s.tick_max,
            "tick_alloc_max_at": s.tick_max_at,
            "passes": s.passes,
            "virtual_ms": s.passes * TICK_MS,
            "console_errors": s.said,
            "console_alerts": s.alerts,
            "live_trace": s.trace,
            "final_state": s.app.core.state if s.app is not None else None,
        })
        del r["session"]
    r["import_order"] = imports.order
    r["imported_after_boot"] = imports.late
    r["version"] = sys.version
    _emit(r)


def imports_main(fw_dir, order):
    r = {"modules": {}, "error": None}
    _steps(lambda: _emit(r), _import_steps(r, fw_dir, order))


def _import_steps(r, fw_dir, order):
    sys.path.insert(0, fw_dir)
    yield
    for name in order:
        before = _live()
        try:
            __import__(name)
        except Exception as e:
            r["error"] = "%s importing %s: %s" % (type(e).__name__, name, e)
            return
        yield
        r["modules"][name] = _live() - before


def tick_main(n, warm, deep_mdeg=60000):
    """host_tools/bench_mpy.py tick_main(), its two passes as two steps: the 32-bit port
    collects the timing pass's garbage (its clock reads) before the allocation pass, whose
    gc.mem_alloc() calls walk the whole heap."""
    import bench_mpy

    r = {}

    def timing():
        yield
        r["tb"] = bench_mpy._pass(n, warm, False, deep_mdeg)
        yield
        r["ta"] = bench_mpy._pass(n, warm, True, deep_mdeg)

    def report():
        tb, ta = r["tb"], r["ta"]
        per_state = {}
        pooled = []
        worst = 0
        for label in sorted(tb.bins):
            b = tb.bins[label]
            times = sorted(b.times[: b.n])
            a = ta.bins.get(label)
            per_state[label] = bench_mpy._state_row(b, times, a)
            if a is not None and a.alloc_ticks:
                worst = max(worst, (a.alloc_total + a.alloc_ticks - 1) // a.alloc_ticks)
            if label in ("moving", "holding", "emergency"):
                pooled.extend(times[:n])
        pooled.sort()
        bench_mpy._emit(bench_mpy._tick_report(tb, ta, per_state, pooled, worst))

    _steps(report, timing())
