"""The benchmarks that run inside an interpreter: the control tick, and import costs.

Started by host_tools/bench.py as a subprocess; each prints one line `BENCH_JSON {...}`.

tick_main(n, warm, deep_mdeg)
    The cost and the heap allocation of one Core.tick (core state machine, estimator,
    safety checks; no I/O) per state, on the kinematic stand-in of tests/core/rig.py.
    Runs unchanged on the MicroPython unix port and on CPython. The stand-in prepares
    the inputs and applies the outputs outside the measured region: only core.tick()
    is measured. Two passes of the same deterministic script: one times every tick
    (time.ticks_us on MicroPython, perf_counter_ns on CPython), one (MicroPython only)
    reads gc.mem_alloc() just before and just after every tick with the GC disabled -
    separate, because gc.mem_alloc() walks the heap and would evict the caches of the
    tick it is timing. A tick counts for a state when state and phase are the same
    before and after it (steady state); the first `warm` such ticks of each state are
    left out. The script visits every state: boot, homing, ready, moving to deep_mdeg
    (60 deg; the quick run's 20 deg: the same states in about 3/4 of the ticks),
    holding, emergency return and its latch, the normal return, jogging, a fault with
    its reduced-speed return and latch, recovery.

imports_main()
    The heap each firmware module takes once imported, in dependency order (a
    MemoryError names the module). The whole firmware's heap in a session is measured on
    the virtual device (host_tools/vdev.py); this says where the part before the first
    tick goes.

Times are figures, never assertions; the allocation count is exact.
"""

import gc
import sys
import time

MPY = sys.implementation.name == "micropython"

if MPY:
    _clock = time.ticks_us  # 1 us resolution
    _mem_alloc = gc.mem_alloc
else:
    _clock = time.perf_counter_ns  # ns; converted to us when reported
    _mem_alloc = None


def _emit(obj):
    import json

    print("BENCH_JSON " + json.dumps(obj))


# =============================================================== the tick benchmark


class _Bin:
    """The samples of one state (steady ticks only): tick times, or allocated bytes."""

    def __init__(self, cap, warm):
        from array import array

        self.cap = cap
        self.warm = warm
        self.seen = 0  # steady ticks seen, warm-up included
        self.n = 0
        self.times = array("q" if not MPY else "l", [0] * cap)
        self.alloc_total = 0
        self.alloc_max = 0
        self.alloc_ticks = 0  # ticks measured for allocation (warm-up excluded)

    def full(self):
        return self.seen >= self.warm + self.cap

    def add(self, dt, alloc):
        self.seen += 1
        if self.seen <= self.warm:
            return
        if self.n < self.cap:
            self.times[self.n] = dt
            self.n += 1
        self.alloc_ticks += 1
        self.alloc_total += alloc
        if alloc > self.alloc_max:
            self.alloc_max = alloc


class _TickBench:
    """One pass of the script: times every tick (alloc=False) or counts the heap bytes
    each tick allocates (alloc=True, MicroPython). Two passes, because gc.mem_alloc()
    walks the heap: between timed ticks it would evict the caches the tick uses."""

    def __init__(self, n, warm, alloc=False):
        self.n = n
        self.warm = warm
        self.alloc = alloc
        self.bins = {}
        self.transition_alloc_max = 0  # ticks that changed state (not steady): reported only
        self.transitions = 0
        self.ticks = 0
        self._since_collect = 0
        self._labels = _labels()

    def bin(self, label):
        b = self.bins.get(label)
        if b is None:
            b = self.bins[label] = _Bin(self.n, self.warm)
        return b

    def run(self, rig, stop, max_ticks):
        """Tick rig until stop(rig) or max_ticks, measuring core.tick() alone."""
        core = rig.core
        plant = rig.plant
        inp = rig.inp
        out = rig.out
        mem = _mem_alloc if self.alloc else None
        from rig import TICK_MS

        k = 0
        while k < max_ticks and not stop(rig):
            k += 1
            plant.fill(inp)
            st = core.state
            ph = core.phase
            now = rig.t_ms
            dt, alloc = _measured_tick(core, now, inp, out, mem)
            plant.apply(out, TICK_MS)
            rig.t_ms = (now + TICK_MS) & 0x3FFFFFFF
            self._count(core, st, ph, dt, alloc)
        self.ticks += k
        return k

    def _count(self, core, st, ph, dt, alloc):
        """Bin a steady-state tick (same state and phase after it) by its state; count a
        transition. Collects now and then, between ticks."""
        if core.state == st and core.phase == ph:
            label = self._labels[st] if ph != 4 else self._labels[st + 16]  # 4: P_LATCHED
            if label is not None:
                self.bin(label).add(dt, alloc)
        else:
            self.transitions += 1
            if alloc > self.transition_alloc_max:
                self.transition_alloc_max = alloc
        self._since_collect += 1
        if self._since_collect >= 500:
            # between ticks, never inside one: keeps the disabled-GC heap from filling
            self._since_collect = 0
            gc.collect()



def _measured_tick(core, now, inp, out, mem, clock=_clock):
    """One core.tick(), the only thing measured: (its time, 0), or with mem (gc.mem_alloc)
    (0, the bytes it allocated)."""
    if mem is not None:
        a0 = mem()
        core.tick(now, inp, out)
        a1 = mem()
        return 0, a1 - a0
    t0 = clock()
    core.tick(now, inp, out)
    t1 = clock()
    return t1 - t0, 0


def _labels():
    """Bin label by state (index st) and, latched (phase 4), by st + 16. BOOT (the
    self-test window) is not a steady state: None."""
    from states import (
        EMERGENCY_RETURN,
        FAULT,
        HOLDING,
        HOMING,
        JOGGING,
        MOVING,
        READY,
        RECOVERY,
        RETURNING,
    )

    t = [None] * 32
    for st, name in ((MOVING, "moving"), (HOLDING, "holding"), (EMERGENCY_RETURN, "emergency"),
                     (FAULT, "fault_return"), (RETURNING, "returning"), (HOMING, "homing"),
                     (JOGGING, "jogging"), (READY, "ready"), (RECOVERY, "recovery")):
        t[st] = t[st + 16] = name
    t[EMERGENCY_RETURN + 16] = "emergency_latched"
    t[FAULT + 16] = "fault_latched"
    return t


def _script(tb, n, deep_mdeg):
    """Visit every state until moving, holding and emergency have n samples each."""
    from rig import Rig

    rig = Rig()
    rig.profile.max_mdeg = 60000  # a profile with consent that allows 60 deg
    _boot_and_home(tb, rig, n)
    main = ("moving", "holding", "emergency")
    cycles = 0
    while not all(tb.bin(k).full() for k in main):
        cycles += 1
        assert cycles < 50, "the script does not reach every state"
        _deep_cycle(tb, rig, n, deep_mdeg)
    _fault_and_recovery(tb, n, deep_mdeg)


_BIG = 600000  # a bound on any single leg, in ticks (never reached by a working core)


def _state_is(*states):
    return lambda r: r.core.state in states


def _never(_rig):
    return False


def _boot_and_home(tb, rig, n):
    """Boot, home, stand ready."""
    import faults
    from states import C_HOME, READY

    tb.run(rig, _state_is(READY), _BIG)  # boot
    rig.core.command(C_HOME)
    tb.run(rig, lambda r: r.core.state != READY, 10)
    tb.run(rig, _state_is(READY), _BIG)  # homing
    tb.run(rig, _never, min(n + tb.warm, 2000))  # standing ready
    assert rig.core.homed and rig.core.fault == faults.NONE, "homing failed"


def _deep_cycle(tb, rig, n, deep_mdeg):
    """To deep_mdeg, hold, e-stop, the emergency return and its latch, ack, return; then a
    jog down and its stop."""
    from signals import SW_DOWN
    from states import C_ACK, C_ESTOP, C_GOTO, C_RETURN, EMERGENCY_RETURN, HOLDING, READY

    rig.core.command(C_GOTO, deep_mdeg)
    tb.run(rig, _state_is(HOLDING), _BIG)  # moving (about 30 s to 60 deg)
    tb.run(rig, _never, min(n + tb.warm, 3000))  # holding there
    assert rig.core.state == HOLDING, rig.core.state
    rig.core.command(C_ESTOP)
    tb.run(rig, lambda r: r.core.phase == 4, _BIG)  # emergency return to horizontal
    tb.run(rig, _never, 200)  # latched
    assert rig.core.state == EMERGENCY_RETURN, rig.core.state
    rig.core.command(C_ACK)
    tb.run(rig, _never, 5)
    rig.core.command(C_RETURN)
    tb.run(rig, _state_is(READY), _BIG)  # returning: rest pause, to loading
    # hold-to-run DOWN for 2 s, then released: jogging and its stop
    rig.plant.buttons = SW_DOWN
    tb.run(rig, _never, 200)
    rig.plant.buttons = 0
    tb.run(rig, _state_is(HOLDING, READY), 1000)
    rig.core.command(C_RETURN)
    tb.run(rig, _state_is(READY), _BIG)


def _fault_and_recovery(tb, n, deep_mdeg):
    """A fault during a move (to 2/3 of deep_mdeg, the IMU lost past half of it): the
    reduced-speed return and the latch (its own rig, as the IMU stays untrusted
    afterwards); then a boot away from the loading position."""
    from rig import Rig
    from states import C_GOTO, FAULT, RECOVERY

    rig = Rig()
    rig.ready_homed()
    rig.profile.max_mdeg = 60000
    rig.core.command(C_GOTO, deep_mdeg * 2 // 3)
    tb.run(rig, lambda r: r.plant.angle_mdeg() > deep_mdeg // 2, _BIG)
    rig.plant.imu_error = 19  # ENODEV: the IMU is gone
    tb.run(rig, _state_is(FAULT), 2000)
    tb.run(rig, lambda r: r.core.phase == 4, _BIG)
    tb.run(rig, _never, 300)
    # booted away from the loading position: RECOVERY waits for a deliberate command
    rig = Rig(angle_mdeg=30000)
    tb.run(rig, _state_is(RECOVERY), 100)
    tb.run(rig, _never, min(n + tb.warm, 2000))


def _timer_overhead(n):
    """Median of back-to-back clock reads (what one timed region costs with nothing in it)."""
    from array import array

    clock = _clock
    a = array("q" if not MPY else "l", [0] * n)
    for i in range(n):
        t0 = clock()
        t1 = clock()
        a[i] = t1 - t0
    return _median(sorted(a))


def _median(sorted_values):
    k = len(sorted_values)
    if not k:
        return None
    if k % 2:
        return sorted_values[k // 2]
    return (sorted_values[k // 2 - 1] + sorted_values[k // 2]) / 2


def _us(v):
    """A clock difference in us: ticks_us on MicroPython, ns on CPython."""
    if v is None:
        return None
    return v if MPY else v / 1000.0


def _pass(n, warm, alloc, deep_mdeg=60000):
    tb = _TickBench(n, warm, alloc)
    gc.collect()
    gc.disable()
    try:
        _script(tb, n, deep_mdeg)
    finally:
        gc.enable()
    return tb


def _alloc_probe():
    """The allocation count of the method itself on a call known to allocate (a small
    list): proves a 0 is a measurement, not a broken counter."""
    gc.collect()
    gc.disable()
    try:
        a0 = _mem_alloc()
        x = [a0, a0]
        a1 = _mem_alloc()
    finally:
        gc.enable()
    return (a1 - a0) if x else 0


def tick_main(n=3000, warm=200, deep_mdeg=60000):
    """Measure; print BENCH_JSON with per-state and pooled figures."""
    tb = _pass(n, warm, False, deep_mdeg)  # timing
    ta = _pass(n, warm, True, deep_mdeg) if MPY else None  # allocation (MicroPython only)
    per_state = {}
    pooled = []
    worst_alloc = 0 if MPY else None
    for label in sorted(tb.bins):
        b = tb.bins[label]
        times = sorted(b.times[: b.n])
        a = ta.bins.get(label) if ta is not None else None
        per_state[label] = _state_row(b, times, a)
        if a is not None and a.alloc_ticks:
            per_tick = (a.alloc_total + a.alloc_ticks - 1) // a.alloc_ticks
            if per_tick > worst_alloc:
                worst_alloc = per_tick
        if label in ("moving", "holding", "emergency"):
            pooled.extend(times[:n])
    pooled.sort()
    _emit(_tick_report(tb, ta, per_state, pooled, worst_alloc))


def _state_row(b, times, a):
    """One state's figures: its timing bin b (times sorted), its allocation bin a."""
    return {
        "ticks": b.n,
        "median_us": _us(_median(times)),
        "mean_us": (_us(sum(times)) / len(times)) if times else None,
        "p90_us": _us(times[(len(times) * 9) // 10]) if times else None,
        "max_us": _us(times[-1]) if times else None,
        "alloc_ticks": a.alloc_ticks if a is not None else None,
        "alloc_bytes_total": a.alloc_total if a is not None else None,
        "alloc_bytes_max_tick": a.alloc_max if a is not None else None,
    }


def _tick_report(tb, ta, per_state, pooled, worst_alloc):
    medians = [per_state[k]["median_us"] for k in per_state
               if per_state[k]["median_us"] is not None]
    return {
        "implementation": sys.implementation.name,
        "version": sys.version,
        "clock": "time.ticks_us" if MPY else "time.perf_counter_ns",
        "timer_overhead_us": _us(_timer_overhead(2000)),
        "tick_us_median": _us(_median(pooled)),
        "tick_us_median_worst_state": max(medians) if medians else None,
        "pooled_states": ["moving", "holding", "emergency"],
        "pooled_ticks": len(pooled),
        "ticks_run": tb.ticks,
        "tick_alloc_bytes": worst_alloc,
        "alloc_probe_bytes": _alloc_probe() if MPY else None,
        "transitions": tb.transitions,
        "transition_alloc_bytes_max": ta.transition_alloc_max if ta is not None else None,
        "states": per_state,
    }


def estimator_main(n=3000, warm=200):
    """The estimator alone (issue 5): Estimator.update on a table turning at 4 deg/s with
    dithered samples; a timing pass, then (MicroPython) an allocation pass; BENCH_JSON."""
    from array import array

    from estimator import Estimator
    from signals import Inputs
    from support import make_config

    cfg = make_config()
    est = Estimator(cfg)
    inp = Inputs()
    times = array("q" if not MPY else "l", [0] * n)
    walk = [0, 1]  # the angle and the dither's seed, carried on from pass to pass
    alloc = 0
    for phase in (0, 1) if MPY else (0,):
        alloc = _estimator_pass(est, inp, cfg, phase == 0, warm, times, walk)
    s = sorted(times)
    _emit({
        "estimator_us_median": _us(_median(s)),
        "estimator_us_p90": _us(s[(len(s) * 9) // 10]),
        "estimator_alloc_bytes": alloc if MPY else None,
        "updates": n,
    })


def _estimator_pass(est, inp, cfg, timed, warm, times, walk):
    """warm + len(times) updates with the GC off: each timed into times, or (not timed)
    their allocation summed and returned."""
    from estimator import sample_for_angle_into

    clock = _clock
    alloc = 0
    gc.collect()
    gc.disable()
    try:
        for i in range(warm + len(times)):
            walk[0] += 40  # 4 deg/s at 100 Hz
            if walk[0] > 60000:
                walk[0] = -60000
            sample_for_angle_into(inp, walk[0], 4000, cfg)
            walk[1] = seed = (walk[1] * 1103515245 + 12345) & 0x3FFFFFFF
            inp.acc_x_mg += (seed >> 20) & 7
            inp.gyro_y_mdps += (seed >> 16) & 31
            if timed:
                t0 = clock()
                est.update(10, inp, False)
                t1 = clock()
                if i >= warm:
                    times[i - warm] = t1 - t0
            else:
                a0 = _mem_alloc()
                est.update(10, inp, False)
                a1 = _mem_alloc()
                if i >= warm:
                    alloc += a1 - a0
    finally:
        gc.enable()
    return alloc


# =============================================================== import costs

# Firmware modules in dependency order: each one's import cost is attributed to it.
MODULES = (
    "names", "faults", "events", "signals", "states", "ticks", "imath", "config", "store",
    "profiles", "programs", "kinematics", "motion", "estimator", "eventlog", "buttons",
    "position", "switches", "session", "supervisor", "homing", "reactions", "steps",
    "commands", "history", "auth", "cmdparse", "console", "control", "mpu6050",
    "persistence", "app",
)


def imports_main(romfs=None):
    """The heap each firmware module takes once imported (its code, when loaded from .mpy
    files, plus its globals), in dependency order; print BENCH_JSON. A MemoryError is
    reported with the module it hit. Where the whole firmware's heap goes before a tick.

    romfs: a ROMFS image of the .mpy files, mounted at /rom from a buffer read into the
    heap before the baseline: the bytecode then runs in place (as from a ROMFS partition
    or frozen), and what is left per module is its objects."""
    import json  # noqa: F401  (loaded first: reporting a MemoryError must not need heap)

    res = {"modules": {}, "error": None, "failed_at": None, "heap_at_error_bytes": None}
    image = None
    if romfs:
        import vfs

        with open(romfs, "rb") as f:
            image = f.read()
        vfs.mount(vfs.VfsRom(image), "/rom")
        sys.path.insert(0, "/rom")
        res["romfs_image_bytes"] = len(image)
    gc.collect()
    res["heap_total_bytes"] = gc.mem_alloc() + gc.mem_free()
    err = _import_each(res)
    for name in MODULES:  # free the firmware so the report itself has room
        sys.modules.pop(name, None)
    gc.collect()
    if err is not None:
        res["error"] = "MemoryError importing %s: %s" % (res["failed_at"], err)
    _emit(res)


def _import_each(res):
    """Import MODULES in order, each one's heap into res; the MemoryError that stopped
    it, or None."""
    res["heap_before_bytes"] = before = gc.mem_alloc()
    err = None
    for name in MODULES:
        try:
            __import__(name)
        except MemoryError as e:
            res["failed_at"] = name
            res["heap_at_error_bytes"] = gc.mem_alloc()
            err = e
            break
        gc.collect()
        a = gc.mem_alloc()
        res["modules"][name] = a - before
        before = a
    res["heap_after_bytes"] = before
    return err


if __name__ == "__main__":
    # `python host_tools/bench_mpy.py tick N WARM` (CPython: the firmware needs the shims)
    _here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    if not MPY:
        sys.path.insert(0, _here + "/cpython_shims")
    sys.path.insert(0, _here + "/../tests/core")
    sys.path.insert(0, _here + "/../firmware")
    if sys.argv[1] == "tick":
        tick_main(*[int(a) for a in sys.argv[2:5]])
