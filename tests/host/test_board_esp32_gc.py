"""The loop's garbage collections (firmware/app.py _collect_if_idle) on the chip model of
the supported board: the ESP32_GENERIC-SPIRAM image, its heap in PSRAM, where a
collection holds the CPU for every block of the heap (host_tools/bench32.py
gc_estimate_psram: 1.09 us a block, a published ESP32 SPIRAM figure). They land only
where the table stands still (no pulse leaves the chip while one runs), each stalls the
loop for less than the heartbeat's shortest hold time and the shortest watchdog, and the
table moves normally after them, also after a stall past the heartbeat's hold time (at a
standstill the step gate closing holds back no pulse). A heap as large as all the PSRAM
would stall longer than a short watchdog: the bound the heap size keeps."""

import shutil

import app as app_module
import pins
import pytest
from states import C_GOTO, FAULT, HOLDING, READY

from host_tools import bench32, paths
from host_tools.chip.board import HOLD_US
from host_tools.chip.core import WDT_RESET, ChipReset
from host_tools.chip.modules import GcModule
from host_tools.chip.rig import Rig
from host_tools.simboard import commission

# The SPIRAM image's heap once the code is loaded: 56 KB doubled twice (bench32's model
# of gc_try_add_heap for the 145-154 KB the firmware holds; gc_psram.heap_bytes in
# build/bench.json)
HEAP_BYTES = 4 * bench32.SPIRAM_HEAP_FIRST


@pytest.fixture
def fs(tmp_path, monkeypatch):
    shutil.copy(paths.TABLE_PARAMS, tmp_path / "table_params.json")
    monkeypatch.chdir(tmp_path)
    commission(".", "table_params.json")


@pytest.fixture
def rig(fs):
    r = Rig(table=True)  # at the loading stop
    yield r
    r.close()


def _gc_on_chip(rig, monkeypatch, heap_bytes):
    """The chip's gc in firmware/app.py, each collection recorded with the pulses LEDC
    emitted and the driver received while it ran."""
    gcm = GcModule(heap_bytes, bench32.GC_PSRAM_US_PER_BLOCK)
    monkeypatch.setattr(app_module, "gc", gcm)
    monkeypatch.setattr(app_module, "_MPY_GC", True)  # CPython's gc would not collect
    ledc = rig.chip.ledc
    during = []
    real = gcm.collect

    def collect():
        ch = ledc.get(pins.STEP)
        e0, p0 = (ch.emitted if ch else 0), rig.gate.pulses
        real()
        during.append(((ch.emitted if ch else 0) - e0, rig.gate.pulses - p0))

    gcm.collect = collect
    return gcm, during


def _app(rig, wdt_timeout_ms=None):
    board = rig.board()
    board.code_root = None  # the firmware is imported from the source tree: no manifest
    a = app_module.App(board)
    if wdt_timeout_ms is not None:
        a.cfg.wdt_timeout_ms = wdt_timeout_ms
    a.start()
    return a


def _until(a, pred, passes):
    for _ in range(passes):
        a.step()
        if pred():
            return
    raise AssertionError("not reached: state %d" % a.core.state)


def test_the_psram_heap_collects_within_the_heartbeat_and_the_watchdog():
    est = bench32.gc_estimate_psram(HEAP_BYTES)
    assert est["gc_ms_estimate"] < min(bench32.HEARTBEAT_HOLD_MS) < bench32.WDT_MIN_MS
    # all of the PSRAM as heap would not (MicroPython before 1.21 did that)
    assert est["whole_psram_heap_ms"] > bench32.WDT_MIN_MS


@pytest.mark.parametrize("heap_bytes, hold_us", [
    (HEAP_BYTES, HOLD_US),
    # three times the heap (46 ms a collection) on a 24 ms monostable: a stall past the
    # heartbeat's hold time at a standstill gates no pulse that was due, so it is no
    # fault either; the watchdog is the bound (the last test)
    (3 * HEAP_BYTES, 24000),
])
def test_collections_on_the_psram_heap_only_at_a_standstill_and_the_table_moves_on(
        fs, monkeypatch, heap_bytes, hold_us):
    rig = Rig(table=True, hold_us=hold_us)
    try:
        _standstill_collections_then_a_move(rig, monkeypatch, heap_bytes)
    finally:
        rig.close()


def _standstill_collections_then_a_move(rig, monkeypatch, heap_bytes):
    gcm, during = _gc_on_chip(rig, monkeypatch, heap_bytes)
    a = _app(rig, wdt_timeout_ms=bench32.WDT_MIN_MS)
    assert gcm.threshold() == -1  # the loop turned collection by amount off
    _until(a, lambda: a.core.state == READY, 300)
    for _ in range(60):  # standing at the loading stop: the loop collects
        a.step()
    n0 = len(during)
    assert n0 >= 1
    assert a.core.command(C_GOTO, -20000) == 0  # homes first, then to -20 deg
    _until(a, lambda: a.core.state == HOLDING and a.core.homed, 3000)
    n1 = len(during)
    _until(a, lambda: len(during) > n1, 120)  # holding: still, so the loop collects
    pulses = rig.gate.pulses
    assert a.core.command(C_GOTO, -10000) == 0  # a move in the pass after a collection
    _until(a, lambda: a.core.state in (HOLDING, READY) and a.outputs.rate_sps == 0
           and rig.gate.pulses != pulses, 3000)
    assert a.core.state != FAULT and not a.crashed
    assert len(during) > n1 >= n0 >= 1  # at the loading stop and while holding
    assert during == [(0, 0)] * len(during)  # no pulse while a collection ran
    assert rig.gate.drops == 0  # and the step gate held back none after one
    assert all(us == gcm.collect_us for _t, us in gcm.stalls)
    assert rig.chip.panics == []


def test_a_collection_over_all_the_psram_outlasts_a_short_watchdog(rig, monkeypatch):
    """What the heap's size bounds: 4 MB of heap (286 ms a collection) resets a board
    whose watchdog is set to its shortest, 200 ms, at the first idle collection."""
    _gc_on_chip(rig, monkeypatch, bench32.SPIRAM_HEAP_MAX)
    a = _app(rig, wdt_timeout_ms=bench32.WDT_MIN_MS)
    with pytest.raises(ChipReset) as e:
        for _ in range(300):
            a.step()
    assert e.value.cause == WDT_RESET
