"""The flash gate (firmware/flashgate.py): no record, NVS mark or PIN state is written
while the drive may pulse; the writes made then wait, newest snapshot per file, in
their first order, and are made at standstill; a PIN attempt, a PIN change and the
child lock's unlock are refused while moving instead (a power cut would undo a deferred
attempt count)."""

import store
from auth import MOVING_TEXT, Auth, AuthError
from fakes import MemFS, MemNVS
from flashgate import DEFERRED, FlashGate
from support import raises

PIN = "4821"


def _gated(files, nvs=None):
    fs = MemFS(files)
    fs.gate = FlashGate()
    return fs, Auth(fs, nvs, True)  # the boot after the physical reset: a first PIN


def test_a_save_while_moving_waits_for_standstill_as_its_newest_snapshot():
    files = {}
    fs = MemFS(files)
    fs.gate = gate = FlashGate()
    assert store.save(fs, "a", {"v": 1}) == store.OK and "a" in files  # still: at once
    gate.still = False
    assert store.save(fs, "b", {"v": 1}) == DEFERRED == store.DEFERRED
    assert store.save(fs, "a", {"v": 2}) == DEFERRED
    assert store.save(fs, "b", {"v": 3}) == DEFERRED
    assert gate.pending == 2 and "b" not in files
    assert store.load(fs, "a", None) == ({"v": 1}, store.OK)
    gate.flush()  # not still: nothing happens
    assert gate.pending == 2
    gate.still = True
    gate.flush()
    assert gate.pending == 0 and gate.failed == 0
    assert store.load(fs, "a", None) == ({"v": 2}, store.OK)
    assert store.load(fs, "b", None) == ({"v": 3}, store.OK)


def test_the_first_order_is_kept_and_a_failed_flush_is_counted():
    gate = FlashGate()
    done = []
    gate.still = False
    gate.submit("mark", lambda: done.append("mark1") or 0)
    gate.submit("state", lambda: done.append("state") or 3)  # WRITE_FAILED
    gate.submit("mark", lambda: done.append("mark2") or 0)
    gate.still = True
    gate.flush()
    assert done == ["mark2", "state"]  # the mark guarding the state stays first
    assert gate.failed == 1 and gate.last_failed == "state"


def test_no_pin_entry_while_moving_and_nothing_written():
    files = {}
    fs, a = _gated(files)
    a.set_pin(None, PIN, 0)
    a.set_child_lock(True, 0)
    assert a.login(PIN, 0)
    before = dict(files)
    fs.gate.still = False
    for call in (lambda: a.login(PIN, 10), lambda: a.login("0000", 10),
                 lambda: a.set_pin(PIN, "5555", 10), lambda: a.set_child_lock(False, 10)):
        assert str(raises(AuthError, call)) == MOVING_TEXT
    assert a.failures == 0 and a.child_locked and fs.gate.pending == 0
    assert files == before and a.is_authorised(10)  # refused, not attempted: still open
    fs.gate.still = True
    assert not a.login("0000", 20) and a.failures == 1  # standing still: counted, stored
    assert Auth(MemFS(files)).failures == 1


def test_the_child_lock_goes_on_while_moving_and_is_stored_at_standstill():
    files = {}
    nvs = MemNVS()
    fs, a = _gated(files, nvs)
    a.set_pin(None, PIN, 0)
    fs.gate.still = False
    assert a.set_child_lock(True, 10) == DEFERRED and a.child_locked
    assert not Auth(MemFS(files), MemNVS(dict(nvs.values))).child_locked  # a cut now
    assert fs.gate.pending == 3 and a.storage_warning is None  # NVS, authmark, authstate
    fs.gate.still = True
    fs.gate.flush()
    assert fs.gate.failed == 0
    assert Auth(MemFS(files), MemNVS(dict(nvs.values))).child_locked
