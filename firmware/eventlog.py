"""A bounded ring of integer events (t_ms, code, a, b), allocated once.

Adding an event never allocates, so the control tick can log freely. Readers (the
console's `log`, the persistence of fault history) walk it with a sequence number:
`seq` counts every event ever added, so a reader can ask "what is new since N".

The ring is one array of 32-bit ints, four per event: a quarter of what four lists of
int objects cost the heap on a 64-bit port (half on the ESP32). Every real value fits
(times wrap at 2**30; codes, angles in mdeg, step counts); one that does not (not an
int, or beyond +-(2**30 - 1), which the ESP32 could not hold without allocating) is
logged as -(2**30 - 1), so that add() never raises.
"""

from array import array

from micropython import const

_LIM = const(0x3FFFFFFF)


class EventLog:
    def __init__(self, size=64):
        self.size = size
        # t_ms, code, a, b of each slot; from a range, not a list of zeros: no 8-byte-per-
        # item temporary wants a large contiguous block of a fragmented heap
        r = self._ring = array("i", range(4 * size))
        for i in range(4 * size):
            r[i] = 0
        self.seq = 0  # events ever added; the newest is seq - 1

    def add(self, t_ms, code, a=0, b=0):
        r = self._ring
        i = (self.seq % self.size) * 4
        r[i] = t_ms if type(t_ms) is int and -_LIM <= t_ms <= _LIM else -_LIM
        r[i + 1] = code if type(code) is int and -_LIM <= code <= _LIM else -_LIM
        r[i + 2] = a if type(a) is int and -_LIM <= a <= _LIM else -_LIM
        r[i + 3] = b if type(b) is int and -_LIM <= b <= _LIM else -_LIM
        self.seq += 1

    def oldest_seq(self):
        return self.seq - self.size if self.seq > self.size else 0

    def get(self, seq):
        """(t_ms, code, a, b) of event number seq, or None if it has been overwritten."""
        if seq < self.oldest_seq() or seq >= self.seq:
            return None
        r = self._ring
        i = (seq % self.size) * 4
        return (r[i], r[i + 1], r[i + 2], r[i + 3])

    def since(self, seq):
        """Events from number seq on (clamped to what is still held), oldest first."""
        start = max(seq, self.oldest_seq())
        return [self.get(s) for s in range(start, self.seq)]
