"""The figures of `make bench` measured on the 32-bit MicroPython (host_tools/mpy32: the
WebAssembly port 1.27.0 under Node, sys.maxsize 2**31-1), as the ESP32 has them: 31-bit
small ints, 16-byte GC blocks, 4-byte pointers, boxed floats.

    python -m host_tools.bench32          # these figures alone (build/bench32.json)

`make bench` (host_tools/bench.py) runs measure() and records its keys in build/bench.json:

- tick_alloc_bytes_32bit: host_tools/bench_mpy.py tick_main() (every state, Core.tick
  alone, gc.mem_alloc() around each tick with the GC disabled) on the 32-bit port: the
  worst state's bytes per tick.
- tick_us_moving_32bit: the same run's timing pass, median of the moving ticks, less the
  clock's own cost (a read of Node's microsecond clock is a call into JavaScript, the
  harness's timer_overhead_us; on the chip a read costs well under a microsecond).
- esp32_tick_ms_estimate: tick_us_moving_32bit x (pystones/s of the 32-bit port, measured
  in the same run with Pystone 1.2, host_tools/mpy32/pystone.py) / (pystones/s of an
  ESP32 at 240 MHz, PYSTONE_ESP32_240: the low end of the published 1,660-1,850/s,
  shared/reference/micropython-esp32.md). Both interpreters are MicroPython, so the
  ratio is of one bytecode interpreter on two CPUs; pystone is mostly calls, attribute
  access and small-int arithmetic, as the tick is. An estimate: the WebAssembly JIT and
  the Xtensa core do not keep one ratio across all bytecodes (x 1.5 either way would not
  surprise), and the host's load moves both figures (best of three each).
- heap_boot_bytes_32bit, heap_peak_bytes_32bit: host_tools/bench32_mpy.py session_main():
  the firmware's code loaded from its .mpy files (mpy-cross -march=xtensawin, what deploy
  puts on the board; no native code, so the port runs them) into the heap, as on the stock
  ESP32 image; the live heap after boot and the most live heap after any loop pass of a
  full console session, the harness's own bytes left out. Per module: what importing it
  added to the heap. This port's heap grows on demand: it measures, it never refuses.
- gc_in_moving_ticks: garbage collections in loop passes where the table was moving (the
  tick before or the pass's own commanded pulses; firmware/app.py standing_still()) over
  the same session, on the supported board: the ESP32_GENERIC-SPIRAM image on an
  ESP32-WROVER-E, whose heap starts at 56 KB in PSRAM and doubles when a collection
  leaves too little room (SPIRAM_HEAP_FIRST .. SPIRAM_HEAP_MAX). This port collects
  only between steps (README "The 32-bit MicroPython"), so it cannot show one: the
  figure is py/gc.c's rule applied to what it measured (bench32_mpy._Session._model):
  the threshold is off (firmware/app.py), so a collection lands in the pass whose
  allocation takes the heap in use past the heap's capacity, and the loop's own
  collections (only where the table stands still) bring it back to the live heap.
- gc_in_moving_ticks_wroom_stock: the same rule on the stock image of a board without
  PSRAM (ESP32_HEAP_CAP, no growth past it): missed, the heap after boot is above it.
  details.mpy32.gc_unix has the same session on the 64-bit unix port with its real GC
  (bench32_mpy.gc_main), in a heap with twice the stock model's free room after boot
  (objects there take about twice the room), or more where importing needs it (grown
  16 KB at a time; heap_free_boot_bytes says what it got), collections seen as drops of
  the heap in use: a cross-check of the model with a real collector.
- gc_ms_estimate_psram: a collection's stall on the supported board, every block of the
  heap its model ends with at GC_PSRAM_US_PER_BLOCK (a published ESP32 SPIRAM figure,
  cited there; details.mpy32.gc_psram has the basis); held against the heartbeat's
  shortest hold time (24 ms) here, and the loop's collections on the chip model against
  the watchdog in tests/host/test_board_esp32_gc.py.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from host_tools import paths

HERE = os.path.dirname(os.path.abspath(__file__))
MPY32_DIR = os.path.join(HERE, "mpy32")
RUN_MJS = os.path.join(MPY32_DIR, "run.mjs")
OUT_DIR = os.path.join(paths.BUILD, "bench32")
JSON_PATH = os.path.join(paths.BUILD, "bench32.json")
PYSTONE_ESP32_240 = 1660  # pystones/s, ESP32 at 240 MHz (reference: 1,660-1,850)
PYSTONE_LOOPS = 20000
ESP32_MHZ = 240
# the most GC heap a stock ESP32_GENERIC gets: 56,000 bytes grown to about 112 KB, plus
# the largest free IDF block, about 30 KB (shared/reference/micropython-esp32.md)
ESP32_HEAP_CAP = 140 * 1024

# The supported board (issue #20): ESP32_GENERIC-SPIRAM on an ESP32-WROVER-E (8 MB PSRAM).
# MicroPython 1.27 (ports/esp32/main.c, mpconfigport.h) starts the GC heap with one area
# of MICROPY_GC_INITIAL_HEAP_SIZE (56 KB on the ESP32) from malloc(), which that image
# serves from PSRAM (boards/sdkconfig.spiram: SPIRAM_USE_MALLOC, and anything over
# SPIRAM_MALLOC_ALWAYSINTERNAL = 8 KB tries PSRAM first, commit 98fd784), and
# MICROPY_GC_SPLIT_HEAP_AUTO adds an area when a collection leaves too little room:
# py/gc.c gc_try_add_heap() doubles the total each time, up to the largest free block
# (gccollect.c gc_get_max_new_split): about the 4 MB of PSRAM the original ESP32 maps
# (ESP-IDF api-guides/external-ram.rst "up to 4 MB"; an 8 MB part's upper half only
# through the himem API). An area costs 1/64 + 1/128 of its size in allocation and
# finaliser tables (py/gc.c gc_setup_area): usable = raw x 128 / 131.
GC_BLOCK_BYTES = 16  # BYTES_PER_BLOCK, 4-byte words (py/gc.c)
SPIRAM_HEAP_FIRST = 56 * 1024 * 128 // 131
SPIRAM_HEAP_MAX = 4 * 1024 * 1024 * 128 // 131
# A collection's cost per block of a PSRAM heap: 286 ms on an ESP32 with SPIRAM
# (github.com/peterhinch/micropython-micro-gui issue 10, 2022-03-24), timed with ticks_us
# around gc.collect() and gc.threshold(gc.mem_free() // 4 + gc.mem_alloc()) - two more
# walks of the allocation table, so an upper bound for the collection - on MicroPython
# of then (1.18: ports/esp32/main.c made the whole PSRAM the heap, 4 MB on a WROVER, and
# the sweep visited every block; it stops at the last used block since 1.21, commit
# 2dcd745434): 4 MB / 16 = 262,144 blocks, 1.09 us a block, marking included (a small
# live heap there). The same thread: 2 ms without SPIRAM. Used on every block of the heap
# the model ends with (an upper bound again for 1.27). Had that heap been 2 MB, the
# figure doubles (README "The supported board: PSRAM").
GC_PSRAM_US_PER_BLOCK = 286475 / (4 * 1024 * 1024 // GC_BLOCK_BYTES)
# What a collection's stall is held against (firmware/app.py collects only where the
# table stands still): the heartbeat monostable's hold time, 37 ms nominal and 24 ms for
# a low-tolerance part (hardware/safety_wiring.md), and the shortest watchdog timeout
# table_params may set (firmware/config.py wdt_timeout_ms 200..8000).
HEARTBEAT_HOLD_MS = (24, 37)
WDT_MIN_MS = 200

# (key, comparison, target, unit), as host_tools/bench.py's TARGETS (issue #20)
TARGETS = (
    ("tick_alloc_bytes_32bit", "==", 0, "B"),
    ("tick_us_moving_32bit", None, None, "us"),
    ("esp32_tick_ms_estimate", "<=", 3.0, "ms"),
    ("heap_boot_bytes_32bit", "<=", 81920, "B"),
    ("heap_peak_bytes_32bit", "<=", 98304, "B"),
    ("gc_in_moving_ticks", "==", 0, ""),
    ("gc_in_moving_ticks_wroom_stock", "==", 0, ""),
    ("gc_ms_estimate_psram", "<=", HEARTBEAT_HOLD_MS[0], "ms"),
)
KEYS = tuple(t[0] for t in TARGETS)


class Bench32Error(Exception):
    pass


def node():
    return os.environ.get("NODE") or shutil.which("node") or "node"


def ensure_installed():
    """The pinned port, installed by `make mpy32`; a clear error if it is not there."""
    mjs = os.path.join(MPY32_DIR, "node_modules", "@micropython",
                       "micropython-webassembly-pyscript", "micropython.mjs")
    if not os.path.exists(mjs):
        raise Bench32Error("the 32-bit MicroPython is not installed: make mpy32")


def run_mpy32(code, copies, work_dir, timeout=900, heap="1M"):
    """Run `code` (a script's text) on the 32-bit port with `copies` (paths) visible at
    their own paths; returns the BENCH_JSON object it printed."""
    script = os.path.join(work_dir, "driver_%d.py" % os.getpid())
    with open(script, "w") as f:
        f.write(code)
    argv = [node(), RUN_MJS, "--heap", heap]
    for c in copies:
        argv += ["--copy", c]
    p = subprocess.run(argv + [script], capture_output=True, text=True, timeout=timeout,
                       cwd=paths.ROOT)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise Bench32Error("the 32-bit MicroPython exited %d without a result: %s" % (
        p.returncode, (p.stdout + p.stderr).strip()[-2000:]))


def build(work_dir):
    """The deployed firmware (.mpy, xtensawin, main.py left out as deploy does) and the
    harness into work_dir; returns the firmware directory."""
    from host_tools import deploy

    fw_dir = os.path.join(work_dir, "fw")
    srcs = [p for p in deploy.firmware_sources() if os.path.basename(p) != "main.py"]
    deploy.compile_files(srcs, fw_dir, "xtensawin")
    return fw_dir


def tick_bench(fw_dir, work_dir, quick):
    n, warm, deep = (300, 50, 20000) if quick else (2000, 200, 60000)  # bench.tick_script
    rig_dir = os.path.join(paths.ROOT, "tests", "core")
    code = ("import sys\nsys.path[:0] = [%r, %r, %r]\nimport bench32_mpy\n"
            "bench32_mpy.tick_main(%d, %d, %d)\n" % (HERE, fw_dir, rig_dir, n, warm, deep))
    # a small heap: the allocation pass's gc.mem_alloc() walks all of it, twice a tick
    return run_mpy32(code, [fw_dir, rig_dir, paths.TABLE_PARAMS,
                            os.path.join(HERE, "bench_mpy.py"),
                            os.path.join(HERE, "bench32_mpy.py")], work_dir, heap="128K")


def pystone(work_dir):
    code = ("import sys\nsys.path.insert(0, %r)\nimport pystone\npystone.main(%d)\n"
            % (MPY32_DIR, PYSTONE_LOOPS))
    return run_mpy32(code, [os.path.join(MPY32_DIR, "pystone.py")], work_dir)


def session_bench(fw_dir, work_dir, quick):
    rig_dir = os.path.join(paths.ROOT, "tests", "core")
    fs_root = "/tmp/bench32-fs"  # inside the port's own in-memory filesystem
    code = ("import os\nos.mkdir(%r)\nimport sys\nsys.path.insert(0, %r)\n"
            "import bench32_mpy\nbench32_mpy.session_main(%r, %r, %r, %r, %r, %d, %r)\n"
            % (fs_root, HERE, fw_dir, rig_dir, paths.TABLE_PARAMS, fs_root, bool(quick),
               ESP32_HEAP_CAP, (SPIRAM_HEAP_FIRST, SPIRAM_HEAP_MAX)))
    return run_mpy32(code, [fw_dir, rig_dir, paths.TABLE_PARAMS,
                            os.path.join(HERE, "bench32_mpy.py")], work_dir)


def gc_unix(fw_dir, work_dir, quick, free_bytes):
    """bench32_mpy.gc_main on the 64-bit unix port, in a heap with free_bytes of room
    after boot (found by a first run in a large heap)."""
    def run(heap, boot_only=False):
        fs_root = tempfile.mkdtemp(prefix="gcfs-", dir=work_dir)
        code = ("import sys\nsys.path.insert(0, %r)\nimport bench32_mpy\n"
                "bench32_mpy.gc_main(%r, %r, %r, %r, %r, %r)\n"
                % (HERE, fw_dir, os.path.join(paths.ROOT, "tests", "core"),
                   paths.TABLE_PARAMS, fs_root, bool(quick), boot_only))
        p = subprocess.run([os.path.join(paths.ROOT, ".venv", "bin", "micropython"), "-X",
                            "heapsize=%d" % heap, "-c", code], capture_output=True,
                           text=True, timeout=600, cwd=paths.ROOT)
        for line in reversed(p.stdout.splitlines()):
            if line.startswith("BENCH_JSON "):
                return json.loads(line[len("BENCH_JSON "):])
        raise Bench32Error("unix port gc run exited %d: %s" % (
            p.returncode, (p.stdout + p.stderr).strip()[-2000:]))

    big = 1024 * 1024
    probe = run(big, boot_only=True)
    # heapsize holds the allocation tables too: scale by what the big one gave
    heap = (probe["heap_alloc_boot_bytes"] + free_bytes) * big // probe["heap_total_bytes"] + 1
    for _ in range(16):  # importing needs more room than the heap after boot: grow
        try:
            r = run(heap)
        except Bench32Error as e:
            if "MemoryError" not in str(e):
                raise
            heap += 16 * 1024
            continue
        r["heapsize"] = heap
        return r
    raise Bench32Error("unix port gc run: no room to import in %d bytes" % heap)


def imports_bench(fw_dir, work_dir, order):
    code = ("import sys\nsys.path.insert(0, %r)\nimport bench32_mpy\n"
            "bench32_mpy.imports_main(%r, %r)\n" % (HERE, fw_dir, list(order)))
    return run_mpy32(code, [fw_dir, os.path.join(HERE, "bench32_mpy.py")], work_dir)


def gc_estimate_psram(heap_bytes):
    """A collection's stall on the supported board: every block of a PSRAM heap of
    heap_bytes (usable) at GC_PSRAM_US_PER_BLOCK, with what it is held against."""
    blocks = heap_bytes // GC_BLOCK_BYTES
    ms = round(blocks * GC_PSRAM_US_PER_BLOCK / 1000.0, 1)
    return {"heap_bytes": heap_bytes, "blocks": blocks,
            "us_per_block": round(GC_PSRAM_US_PER_BLOCK, 3), "gc_ms_estimate": ms,
            "heartbeat_hold_ms": list(HEARTBEAT_HOLD_MS), "wdt_min_ms": WDT_MIN_MS,
            "whole_psram_heap_ms": round(SPIRAM_HEAP_MAX // GC_BLOCK_BYTES
                                         * GC_PSRAM_US_PER_BLOCK / 1000.0, 1),
            "basis": "blocks x us_per_block; us_per_block: 286 ms for a 4 MB SPIRAM heap, "
                     "MicroPython 1.18 (peterhinch/micropython-micro-gui issue 10)"}


def measure(quick=False, work_dir=OUT_DIR, say=lambda msg: None, fw_dir=None):
    """Returns (figures by KEYS, details, errors). fw_dir: the firmware already compiled
    as build() compiles it (make bench's own build), else it is built here."""
    ensure_installed()
    os.makedirs(work_dir, exist_ok=True)
    res = {k: None for k in KEYS}
    details = {}
    errors = {}
    if fw_dir is None:
        say("mpy32: mpy-cross")
        fw_dir = build(work_dir)
    tmp = tempfile.mkdtemp(prefix="bench32-", dir=work_dir)
    try:
        for name, fn in (("tick", lambda: _ticks(fw_dir, tmp, quick, res, details)),
                         ("session", lambda: _session(fw_dir, tmp, quick, res, details))):
            say("mpy32: %s" % name)
            t0 = time.perf_counter()
            try:
                fn()
            except Exception as e:  # one that breaks is reported, the other still runs
                errors["mpy32 " + name] = "%s: %s" % (type(e).__name__, e)
            details.setdefault("wall_s", {})[name] = round(time.perf_counter() - t0, 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res, details, errors


def _ticks(fw_dir, tmp, quick, res, details):
    ps = [pystone(tmp)]
    t = tick_bench(fw_dir, tmp, quick)
    if not quick:
        ps.append(pystone(tmp))  # before and after: the host's load moves it
    rate = max(p["pystones_per_s"] for p in ps)
    moving = t["states"]["moving"]["median_us"]
    overhead = t["timer_overhead_us"] or 0
    tick_us = max(moving - overhead, 0)
    factor = rate / PYSTONE_ESP32_240
    res["tick_alloc_bytes_32bit"] = t["tick_alloc_bytes"]
    res["tick_us_moving_32bit"] = round(tick_us, 1)
    res["esp32_tick_ms_estimate"] = round(tick_us * factor / 1000.0, 2)
    details["tick_32bit"] = t
    details["esp32_estimate"] = {
        "pystones_per_s_32bit": rate, "pystone_runs": ps,
        "pystones_per_s_esp32": PYSTONE_ESP32_240, "esp32_mhz": ESP32_MHZ,
        "factor": round(factor, 2),
        "per_state_ms": {k: round(max(v["median_us"] - overhead, 0) * factor / 1000.0, 2)
                         for k, v in t["states"].items() if v["median_us"] is not None},
        "method": "tick_us_moving_32bit x pystones_per_s_32bit / pystones_per_s_esp32",
    }


def _session(fw_dir, tmp, quick, res, details):
    s = session_bench(fw_dir, tmp, quick)
    details["heap_32bit"] = s
    if s.get("error"):
        raise Bench32Error("the session stopped: %s" % s["error"])
    res["heap_boot_bytes_32bit"] = s["heap_boot_bytes"]
    res["heap_peak_bytes_32bit"] = s["heap_peak_bytes"]
    stock, psram = s["gc_models"]
    res["gc_in_moving_ticks"] = psram["gc_in_moving_ticks"]
    res["gc_in_moving_ticks_wroom_stock"] = stock["gc_in_moving_ticks"]
    details["gc_psram"] = gc_psram = gc_estimate_psram(psram["heap_cap_bytes"])
    res["gc_ms_estimate_psram"] = gc_psram["gc_ms_estimate"]
    free = max(ESP32_HEAP_CAP - s["heap_boot_bytes"], 0)
    if quick:  # tests/host/test_gc_policy.py runs it; `make bench` in full does here
        return
    try:
        details["gc_unix"] = gc_unix(fw_dir, tmp, quick, 2 * free)  # objects twice the size
    except (Bench32Error, OSError, subprocess.SubprocessError) as e:
        details["gc_unix"] = {"error": "%s: %s" % (type(e).__name__, e)}
    # the firmware's modules only (the harness's rig and support were imported too)
    order = [m for m in s["import_order"]
             if os.path.exists(os.path.join(fw_dir, m + ".mpy"))]
    imp = imports_bench(fw_dir, tmp, order)
    mods = imp["modules"]
    s["imports_by_module_bytes"] = dict(sorted(mods.items(), key=lambda kv: -kv[1]))
    s["imports_total_bytes"] = sum(mods.values())
    if imp.get("error"):
        raise Bench32Error("per-module imports: %s" % imp["error"])


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="python -m host_tools.bench32",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer ticks (figures less precise)")
    ap.add_argument("--out", default=JSON_PATH)
    args = ap.parse_args(argv)
    res, details, errors = measure(args.quick, say=lambda m: print(m, file=sys.stderr))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"figures": res, "errors": errors, "details": details}, f, indent=2)
        f.write("\n")
    for key, op, target, unit in TARGETS:
        print("%-26s %-12s %s %s" % (key, "%s %s" % (op, target) if op else "(reported)",
                                     res[key], unit))
    for k, e in errors.items():
        print("ERROR in %s: %s" % (k, e))
    print("wrote %s" % os.path.relpath(args.out, paths.ROOT))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
