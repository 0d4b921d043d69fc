"""Where the main loop collects garbage (firmware/app.py _collect_if_idle): only once the
table has stood still for a while, never in a pass where it moves; and, with a real
collector (the unix port, bench32_mpy.gc_main), no collection lands in a moving pass of
the quick bench session when the heap has the room the model of host_tools/bench32.py
gives the chip.
"""

import os
import sys

import app
import pytest
from signals import Outputs

from host_tools import bench32

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


class _CountingGc:
    def __init__(self):
        self.n = 0

    def collect(self):
        self.n += 1


def _passes(monkeypatch, pattern):
    """_collect_if_idle over passes ('s' still, 'm' moving); the passes (1-based) that
    collected."""
    fake = _CountingGc()
    monkeypatch.setattr(app, "gc", fake)
    monkeypatch.setattr(app, "_MPY_GC", True)  # CPython: the loop would not collect
    loop = app.App.__new__(app.App)
    loop._gc_idle = 0
    loop.gc_collections = 0
    out = Outputs()
    hits = []
    for i, c in enumerate(pattern, 1):
        out.rate_sps = 0 if c == "s" else 1200
        out.limit_hi = out.limit_lo + (0 if c == "s" else 3)
        n = fake.n
        loop._collect_if_idle(out)
        if fake.n != n:
            hits.append(i)
    assert loop.gc_collections == fake.n
    return hits


def test_collects_after_ten_still_passes_then_every_fifty(monkeypatch):
    assert _passes(monkeypatch, "s" * 120) == [10, 60, 110]


def test_a_moving_pass_starts_the_wait_again(monkeypatch):
    # moving at 1-5: the still run begins at 6, collects at its tenth pass (15); a
    # reversal's single still pass (22) and 9 still passes (30-38) collect nothing
    pattern = "m" * 5 + "s" * 15 + "m" + "s" + "m" * 7 + "s" * 9 + "m" * 3
    assert _passes(monkeypatch, pattern) == [15]


def test_a_still_window_that_is_open_is_moving(monkeypatch):
    fake = _CountingGc()
    monkeypatch.setattr(app, "gc", fake)
    monkeypatch.setattr(app, "_MPY_GC", True)
    loop = app.App.__new__(app.App)
    loop._gc_idle = 0
    loop.gc_collections = 0
    out = Outputs()
    out.limit_hi = out.limit_lo + 2  # rate 0 but the dead-man window still open
    for _ in range(100):
        loop._collect_if_idle(out)
    assert fake.n == 0


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="needs .venv's micropython")
def test_no_collection_in_a_moving_pass_on_the_unix_port(tmp_path):
    fw_dir = bench32.build(str(tmp_path))
    # the free room after boot the stock chip would have (about 137 KB live after boot
    # on the 32-bit port this round: heap_boot_bytes_32bit), doubled for the unix port's
    # objects
    free = 2 * max(bench32.ESP32_HEAP_CAP - 137 * 1024, 2048)
    r = bench32.gc_unix(fw_dir, str(tmp_path), True, free)
    assert r["error"] is None, r["error"]
    assert r["console_errors"] == []
    # the IMU's loss is answered: the return latched where nothing confirms horizontal
    assert any("IMU stops answering" in a and "latched" in a for a in r["console_alerts"]), \
        r["console_alerts"]
    assert r["loop_collections"] > 0  # the loop did collect, where it may
    assert r["collections_seen_in_loop_gc"] > 0  # and the drop rule sees a collection
    assert r["loop_collections_in_moving_passes"] == 0
    assert r["moving_passes"] > r["passes"] // 2
    assert r["gc_in_moving_ticks"] == 0, r["gc_in_moving_at"]
