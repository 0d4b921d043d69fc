"""Session history and fault history: bounded rings persisted through store.py.

Owns two records:
- History ("history"): the last SESSIONS_KEPT sessions of every profile (patient), each
  (session number, program id, level, deepest_mdeg, head_down_ms, ended_how, profile
  id, record time), plus the total count. Held and stored packed, ENTRY_BYTES each (one
  bytearray, base64 in the record): a third of the heap lists of ints would take, and
  one small write (about 2 KB) per session. The time is a firmware/wallclock.py record time (dated,
  or "clock not set" with the uptime).
- FaultLog ("faults"): the last FAULTS_KEPT latched faults, each
  (fault code, boot number, session number, record time), plus the boot counter.

Both are written once per event (a session end at the loading stop, a fault, a boot),
never per tick. A missing or corrupt record starts an empty ring (the status says
which); counters restart from the stored count when the record is readable. Records
of the older formats migrate at load: undated ("no time"), sessions of profile id 1 (a
table in the field had one profile; it becomes patient 1: profiles.py).
"""

import binascii
import struct

import store
from micropython import const
from wallclock import NO_TIME

# 96 x 16 bytes: the heap the older 32 sessions took as lists of ints on the ESP32;
# eight patients x 12 sessions, or one patient's eight months at three a week
SESSIONS_KEPT = const(96)
FAULTS_KEPT = const(16)  # enough to see a pattern; faults should be rare
ENTRY_BYTES = const(16)
# t, profile id, program (-1 manual), level, ended, deepest_mdeg, head_down_ms
_ENTRY = "<iBbBBiI"
_OLD_SESSION_FIELDS = const(6)  # [number, program, level, deepest, head_down, ended]
_FAULT_FIELDS = const(4)
FIRST_PID = const(1)  # the profile id older records belong to


def _valid_entries(entries, width):
    if type(entries) is not list:
        return False
    for e in entries:
        if type(e) is not list or len(e) != width:
            return False
        for v in e:
            if type(v) is not int:
                return False
    return True


class _Ring:
    """Entries (lists of ints) oldest first, at most `size`, persisted under `name`."""

    def __init__(self, fs, name, size, width, counter):
        self.fs = fs
        self.name = name
        self.size = size
        self._width = width
        self._counter = counter  # JSON key of the ring's running count
        self.entries = []
        self.count = 0

    def load(self):
        """Read the record; returns store.OK, MISSING or CORRUPT (ring empty if not OK)."""
        data, status = store.load(self.fs, self.name, None)
        self.entries = []
        self.count = 0
        if status != store.OK:
            return status
        if type(data) is not dict or type(data.get(self._counter)) is not int:
            return store.CORRUPT
        entries = data.get("entries")
        if type(entries) is not list:
            return store.CORRUPT
        if _valid_entries(entries, self._width - 1):
            for e in entries:  # the older format, without the record time
                e.append(NO_TIME)
        elif not _valid_entries(entries, self._width):
            return store.CORRUPT
        self.count = data[self._counter]
        self.entries = entries[-self.size:]
        return store.OK

    def _append(self, entry):
        self.entries.append(entry)
        if len(self.entries) > self.size:
            del self.entries[0]

    def save(self):
        return store.save(self.fs, self.name, {self._counter: self.count, "entries": self.entries})


class History:
    """The session log, packed: entry(i) (i = 0 oldest) is (number, program, level,
    deepest_mdeg, head_down_ms, ended, profile id, record time)."""

    def __init__(self, fs, name="history", size=SESSIONS_KEPT):
        self.fs = fs
        self.name = name
        self.size = size
        self._buf = bytearray(0)  # the ring, allocated with the first entry
        self._first = 0  # ring slot of the oldest entry
        self.n = 0  # entries held
        self.count = 0  # sessions ever recorded

    def load(self):
        """Read the record; returns store.OK, MISSING or CORRUPT (empty if not OK)."""
        data, status = store.load(self.fs, self.name, None)
        self._first = self.n = self.count = 0
        if status != store.OK:
            return status
        if type(data) is not dict or type(data.get("sessions")) is not int:
            return store.CORRUPT
        packed = data.get("packed")
        old = data.get("entries")
        if type(packed) is str:
            try:
                raw = binascii.a2b_base64(packed.encode())  # bytes: every port takes them
            except ValueError:
                return store.CORRUPT
            if len(raw) % ENTRY_BYTES:
                return store.CORRUPT
            k = len(raw) // ENTRY_BYTES
            skip = k - self.size if k > self.size else 0
            for i in range(skip, k):
                self._put(struct.unpack_from(_ENTRY, raw, i * ENTRY_BYTES))
        elif type(old) is list and _valid_entries(old, _OLD_SESSION_FIELDS):
            for e in old[-self.size:]:  # the older format: undated, profile 1
                self._put((NO_TIME, FIRST_PID, e[1], e[2], e[5], e[3], e[4]))
        else:
            return store.CORRUPT
        self.count = data["sessions"] if data["sessions"] >= self.n else self.n
        return store.OK

    def _put(self, rec):
        """Append one packed record (the _ENTRY fields), dropping the oldest if full."""
        if not self._buf:
            self._buf = bytearray(self.size * ENTRY_BYTES)
        if self.n == self.size:
            self._first = (self._first + 1) % self.size
            self.n -= 1
        slot = (self._first + self.n) % self.size
        struct.pack_into(_ENTRY, self._buf, slot * ENTRY_BYTES, *rec)
        self.n += 1

    def _rec(self, i):
        slot = (self._first + i) % self.size
        return struct.unpack_from(_ENTRY, self._buf, slot * ENTRY_BYTES)

    def entry(self, i):
        """Entry i (0 = the oldest held), as the class docstring says."""
        t, pid, prog, level, ended, deepest, head_down = self._rec(i)
        return (self.count - self.n + 1 + i, prog, level, deepest, head_down, ended, pid, t)

    @property
    def entries(self):
        """Every entry held, oldest first (host tools and tests; the console pages)."""
        return [self.entry(i) for i in range(self.n)]

    def add(self, program_id, level, deepest_mdeg, head_down_ms, ended_how, pid=FIRST_PID,
            t=NO_TIME):
        """Record a finished session (numbered count + 1); returns the store status."""
        self.count += 1
        self._put((t, pid, program_id, level, ended_how, deepest_mdeg,
                   head_down_ms if head_down_ms > 0 else 0))
        return self.save()

    def last(self, n, pid=None):
        """Indices (for entry()) of the newest n entries of profile pid (None: all),
        newest first."""
        out = []
        i = self.n - 1
        while i >= 0 and len(out) < n:
            if pid is None or self._rec(i)[1] == pid:
                out.append(i)
            i -= 1
        return out

    def replace(self, entries):
        """Hold these entries (entry() tuples, oldest first) instead; store status."""
        self._first = self.n = 0
        for e in entries:
            self._put((e[7], e[6], e[1], e[2], e[5], e[3], e[4]))
        return self.save()

    def save(self):
        out = bytearray(self.n * ENTRY_BYTES)
        for i in range(self.n):
            slot = (self._first + i) % self.size
            a = slot * ENTRY_BYTES
            out[i * ENTRY_BYTES:(i + 1) * ENTRY_BYTES] = self._buf[a:a + ENTRY_BYTES]
        packed = binascii.b2a_base64(bytes(out)).decode().strip()
        return store.save(self.fs, self.name, {"sessions": self.count, "packed": packed})


class FaultLog(_Ring):
    """The fault log. entries: [code, boot number, session number, record time];
    count = boots."""

    def __init__(self, fs, name="faults", size=FAULTS_KEPT):
        _Ring.__init__(self, fs, name, size, _FAULT_FIELDS, "boots")

    @property
    def boot(self):
        return self.count

    def new_boot(self):
        """Count a boot (call once at start-up, after load()); returns the store status."""
        self.count += 1
        return self.save()

    def add(self, code, session, t=NO_TIME):
        """Record a latched fault during this boot (t: its record time); store status."""
        self._append([code, self.count, session, t])
        return self.save()
