"""`make vdev` as documented: the virtual device started with no heap or code option
boots the firmware and runs, in its default heap (host_tools/vdev.py DEFAULT_HEAP).
Uses test_vdev.py's Vdev; one short start, stopped as soon as it runs.
"""

import os

import pytest
from test_vdev import MICROPYTHON, MPREMOTE, Vdev

from host_tools import vdev as vdev_mod

pytestmark = pytest.mark.skipif(
    not (os.path.exists(MPREMOTE) and os.path.exists(MICROPYTHON)),
    reason="needs .venv's micropython and mpremote (make venv)")


def test_the_vdev_runs_with_its_default_heap(tmp_path, monkeypatch, code_dir):
    monkeypatch.delenv("VDEV_HEAPSIZE", raising=False)
    monkeypatch.delenv("VDEV_CODE", raising=False)  # the vdev process inherits these
    # no --heapsize, no --code; the firmware compiled once per pytest process (code_dir)
    v = Vdev(tmp_path, "--speed", "10", "--on-fatal", "exit", mpy_dir=code_dir)
    try:
        st = v.wait_state(("running", "fatal"), timeout_s=60)
        assert st["state"] == "running", st.get("fatal")
        v.wait_virtual_ms(3000)  # past the boot's self-test window, a few hundred ticks
        st = v.state()
        assert st["state"] == "running", st.get("fatal")
        assert st["heapsize_bytes"] == vdev_mod.parse_heapsize("288K")  # the documented one
        assert 0 < st["heap_peak_raw_bytes"] < st["heapsize_bytes"]
    finally:
        rc, left = v.shut_down()
    assert rc == 0, v.output()
    assert not left, "processes left running: %s" % left
