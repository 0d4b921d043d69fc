"""What tells a new table from one whose security records were damaged or deleted.

A mark is set once a valid security record has been stored (or seen at boot): MARK_PIN
for the PIN record, MARK_STATE for the lock-state record, MARK_LOCK while the child
lock is on. A missing record whose mark is set is damage, not a new table: auth.py
then keeps the table locked down until the physical reset at the table (secreset.py).

The marks live in two places, and a mark counts if either holds it:
- the chip's NVS (esp32.NVS; the virtual device's board keeps its model of it outside
  the filesystem), reached through the board's `nvs` object (get(key) -> int or None,
  set(key, value), OSError on failure). Deleting or corrupting files - a deploy, a
  service-mode REPL, flash wear - does not touch it;
- the store record "authmark" on the filesystem, for a board without NVS (the
  in-process simulator) and as a second copy.
A mark that cannot be read (an NVS error, a corrupt authmark record) counts as set:
unknown means set up. Only clear() - the physical reset - removes marks; MARK_LOCK is
also removed when the child lock is turned off and that was stored.

Both writes pass the flash gate (firmware/flashgate.py): while the drive may pulse they
wait for standstill, and a power cut first loses them (the marks read then are the
previous ones).
Runs at boot and per command, never per tick: it may allocate.
"""

import store
from flashgate import gate_of
from micropython import const

MARK_PIN = const(1)
MARK_STATE = const(2)
MARK_LOCK = const(4)
_ALL = const(7)
NVS_KEY = "authmarks"
FILE = "authmark"


class Marks:
    def __init__(self, fs, nvs=None):
        self.fs = fs
        self.nvs = nvs
        self.bits = self._read()

    def _read(self):
        bits = 0
        if self.nvs is not None:
            try:
                v = self.nvs.get(NVS_KEY)
            except OSError:
                v = _ALL
            if type(v) is int:
                bits |= v & _ALL
        rec, status = store.load(self.fs, FILE, {})
        if status == store.CORRUPT:
            bits |= _ALL
        elif status == store.OK:
            v = rec.get("bits") if type(rec) is dict else None
            bits |= (v & _ALL) if type(v) is int else _ALL
        return bits

    def has(self, mark):
        return bool(self.bits & mark)

    def _write(self, bits):
        """Both places; store.OK or store.WRITE_FAILED (the RAM bits are set anyway)."""
        self.bits = bits
        status = store.OK
        if self.nvs is not None:
            gate = gate_of(self.fs)  # an NVS commit writes the flash too
            if gate is None:
                status = self._set_nvs(bits)
            else:
                status = gate.submit("nvs:" + NVS_KEY, lambda: self._set_nvs(bits))
        s = store.save(self.fs, FILE, {"bits": bits})
        if s != store.OK and status != store.WRITE_FAILED:
            status = s  # WRITE_FAILED, or DEFERRED to standstill (flashgate.py)
        return status

    def _set_nvs(self, bits):
        try:
            self.nvs.set(NVS_KEY, bits)  # pyright: ignore[reportOptionalMemberAccess]
        except OSError:
            return store.WRITE_FAILED
        return store.OK

    def add(self, mark):
        if self.bits & mark == mark:
            return store.OK
        return self._write(self.bits | mark)

    def remove(self, mark):
        if not self.bits & mark:
            return store.OK
        return self._write(self.bits & ~mark)

    def clear(self):
        """Forget every mark: the table is new again. Only the physical reset calls it."""
        status = self._write(0)
        store.delete(self.fs, FILE)
        return status
