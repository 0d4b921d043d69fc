"""The stored log of service-mode entries and physical resets, with each boot's reset cause.

One store record, "servicelog": {"n": entries ever, "last": [[what, how, cause], ...]}
with at most _KEEP entries, oldest first. what is "service" (the REPL, file access and
deploy were opened), "refused" (the service buttons held away from the loading
stop: a normal boot ran) or "reset" (the physical reset of the security state); how is
"buttons" (held at power-up: physical presence) or "pin" (the console's `maintenance
<pin>`); cause is the board's reset cause at that boot (console_text.RESETS). The
console's `version` shows the count and the newest entry. A damaged record starts
afresh (the count then restarts: it is a record of what happened, not a guard).
Runs at boot only: it may allocate.
"""

import store
from micropython import const

FILE = "servicelog"
_KEEP = const(8)


def load(fs):
    """(count, entries) - (0, []) for a missing or damaged record."""
    rec, status = store.load(fs, FILE, {})
    if status != store.OK or type(rec) is not dict:
        return 0, []
    n = rec.get("n")
    last = rec.get("last")
    if type(n) is not int or type(last) is not list:
        return 0, []
    return n, last[-_KEEP:]


def add(fs, what, how, cause):
    """Append an entry; store.OK or store.WRITE_FAILED."""
    n, last = load(fs)
    last.append([what, how, cause])
    return store.save(fs, FILE, {"n": n + 1, "last": last[-_KEEP:]})
