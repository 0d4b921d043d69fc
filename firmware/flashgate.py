"""The one gate every flash write passes: none while the drive may be pulsing.

Why: a flash write or erase on the ESP32 stalls the CPU with the cache off (~80 ms per
4 KB block) and masks every interrupt whose code is not in IRAM, while LEDC keeps
pulsing STEP: the soft dead-man cannot stop the drive meanwhile (issue #19), and the
PCNT overflow interrupt, not in IRAM, would crash the chip. So a write is made only in
a loop pass whose tick commanded no pulse (app.standing_still: the step generator can
emit none until the next tick); the app sets `still` each pass, before the console runs,
and calls flush() in every still pass.

Owns the pending writes: store.save() (every record file: settings, profiles,
calibration, history, the fault history, the service log, the PIN and the lock state,
the setup marks' file) and setupmarks' NVS commit call submit(key, fn). Standing still,
fn runs at once and its status is returned; otherwise fn waits under its key (a newer
write of the same key replaces it, in its place: the records are whole snapshots, and
the order of first submission - a setup mark before the lock state it guards - is kept)
and DEFERRED is returned. A table stands still at the latest at the end of a return, so
a write waits at most that long.

Power fails before a deferred write: that write is lost and the flash keeps the previous
record (store.py's write-then-rename: never a broken one); the next boot starts from it.
What may not be lost that way is not deferred but refused while moving: a PIN attempt
(auth.py stores each before checking it, so a brute-forcer cutting the power during a
move would otherwise get free guesses), a PIN change and the child lock's unlock. The
child lock's lock-on is deferred: it holds in RAM (and in the core) at once; a cut
before the write boots without it.

A deferred write that fails when flushed is counted in `failed` and named in
`last_failed` (a storage fault the console can show); the caller had its reply already.
Runs per command and in still passes, never inside a tick: it may allocate.
"""

from micropython import const

DEFERRED = const(4)  # store's status numbering: OK 0 .. WRITE_FAILED 3


class FlashGate:
    def __init__(self):
        self.still = True  # before the first tick nothing pulses (the step generator is off)
        self._keys = []
        self._fns = []
        self.failed = 0
        self.last_failed = None

    @property
    def pending(self):
        """How many writes wait for standstill."""
        return len(self._keys)

    def submit(self, key, fn):
        """fn() now if standing still (its status), else keep it for flush(): DEFERRED."""
        if self.still:
            return fn()
        keys = self._keys
        for i in range(len(keys)):
            if keys[i] == key:
                self._fns[i] = fn
                return DEFERRED
        keys.append(key)
        self._fns.append(fn)
        return DEFERRED

    def flush(self):
        """Make the waiting writes, oldest first (only where `still`: the app's rule)."""
        if not self._keys or not self.still:
            return
        keys, fns = self._keys, self._fns
        self._keys = []
        self._fns = []
        for i in range(len(keys)):
            if fns[i]() != 0:  # store.OK
                self.failed += 1
                self.last_failed = keys[i]


def gate_of(fs):
    """The gate a filesystem object carries (App sets it), or None: write at once (boot,
    the physical reset, the tools and tests that use a plain filesystem)."""
    return getattr(fs, "gate", None)
