"""A bounded ring of integer events (t_ms, code, a, b), allocated once.

Adding an event never allocates, so the control tick can log freely. Readers (the
console's `log`, the persistence of fault history) walk it with a sequence number:
`seq` counts every event ever added, so a reader can ask "what is new since N".
"""


class EventLog:
    def __init__(self, size=64):
        self.size = size
        self.t_ms = [0] * size
        self.code = [0] * size
        self.a = [0] * size
        self.b = [0] * size
        self.seq = 0  # events ever added; the newest is seq - 1

    def add(self, t_ms, code, a=0, b=0):
        i = self.seq % self.size
        self.t_ms[i] = t_ms
        self.code[i] = code
        self.a[i] = a
        self.b[i] = b
        self.seq += 1

    def oldest_seq(self):
        return self.seq - self.size if self.seq > self.size else 0

    def get(self, seq):
        """(t_ms, code, a, b) of event number seq, or None if it has been overwritten."""
        if seq < self.oldest_seq() or seq >= self.seq:
            return None
        i = seq % self.size
        return (self.t_ms[i], self.code[i], self.a[i], self.b[i])

    def since(self, seq):
        """Events from number seq on (clamped to what is still held), oldest first."""
        start = max(seq, self.oldest_seq())
        return [self.get(s) for s in range(start, self.seq)]
