"""Session history and fault history: bounded rings persisted through store.py.

Owns two records:
- History ("history"): the last SESSIONS_KEPT sessions, each
  (session number, program id, level, deepest_mdeg, head_down_ms, ended_how), plus
  the total count. Sessions are numbered, not dated: the board has no set clock.
- FaultLog ("faults"): the last FAULTS_KEPT latched faults, each
  (fault code, boot number, session number), plus the boot counter.

Both are written once per event (a session end, a fault, a boot), never per tick.
A missing or corrupt record starts an empty ring (the status says which); counters
restart from the stored count when the record is readable.
"""

import store
from micropython import const

SESSIONS_KEPT = const(32)  # about two months at four sessions a week; ~1 KB of JSON
FAULTS_KEPT = const(16)  # enough to see a pattern; faults should be rare
_SESSION_FIELDS = const(6)
_FAULT_FIELDS = const(3)


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
        if (type(data) is not dict or type(data.get(self._counter)) is not int
                or not _valid_entries(data.get("entries"), self._width)):
            return store.CORRUPT
        self.count = data[self._counter]
        self.entries = data["entries"][-self.size:]
        return store.OK

    def _append(self, entry):
        self.entries.append(entry)
        if len(self.entries) > self.size:
            del self.entries[0]

    def save(self):
        return store.save(self.fs, self.name, {self._counter: self.count, "entries": self.entries})


class History(_Ring):
    """The session log. entries: [number, program, level, deepest_mdeg, head_down_ms, ended]."""

    def __init__(self, fs, name="history", size=SESSIONS_KEPT):
        _Ring.__init__(self, fs, name, size, _SESSION_FIELDS, "sessions")

    def add(self, program_id, level, deepest_mdeg, head_down_ms, ended_how):
        """Record a finished session (numbered count + 1); returns the store status."""
        self.count += 1
        self._append([self.count, program_id, level, deepest_mdeg, head_down_ms, ended_how])
        return self.save()

    def last(self, n):
        """The newest n entries, newest first."""
        out = self.entries[-n:] if n > 0 else []
        out.reverse()
        return out


class FaultLog(_Ring):
    """The fault log. entries: [code, boot number, session number]; count = boots."""

    def __init__(self, fs, name="faults", size=FAULTS_KEPT):
        _Ring.__init__(self, fs, name, size, _FAULT_FIELDS, "boots")

    @property
    def boot(self):
        return self.count

    def new_boot(self):
        """Count a boot (call once at start-up, after load()); returns the store status."""
        self.count += 1
        return self.save()

    def add(self, code, session):
        """Record a latched fault during this boot; returns the store status."""
        self._append([code, self.count, session])
        return self.save()
