"""The therapist PIN, its lockout, the therapist session, and the child lock.

Owns two records written through store.py:
- "pin": {"salt": hex, "hash": hex} - sha256(b"ITC-PIN" + salt + PIN), salt from
  os.urandom; the PIN itself is never stored. A 4-8 digit PIN cannot resist an
  offline search of a copied flash (at most 10**8 guesses); the hash keeps it out of
  plain sight, and the lockout is what stops guessing at the table or the console.
- "authstate": {"failures": n, "lockout_ms": remaining, "child_lock": bool}.

Lockout: the 5th wrong PIN in a row locks for 30 s; each further wrong PIN (tried once
the lockout is over) locks for twice as long, capped at 16 min; a right PIN clears it.
The failure count and the lockout are persisted at every wrong attempt, so a reset
never buys more guesses. The board's clock restarts at boot, so the stored lockout is
the full delay set at the last wrong attempt and it restarts, in full, at the first
call after boot that passes the time: power-cycling never shortens a lockout.

Therapist session: login() opens it; it ends on logout(), after 5 min without an
authorised command (is_authorised() refreshes it), and at every reset.

The first PIN (issue #23): a table without a PIN takes `pin set <new>` only in the
setup window - the boot that followed the physical reset at the table (START and DOWN
held 10 s at power-up at the loading stop: firmware/powerup.py sets the board's
pin_setup), or the service mode's bring-up loop (reached only at the table or with
the PIN; firmware/bringup.py) - for SETUP_WINDOW_MS from the console's first pass,
until a PIN is set. Anyone on the USB cable could otherwise set the first PIN of a new
table (or of one whose PIN was reset) and lock the clinic out or raise the limits; the
window needs someone at the table, as the physical reset itself does, and the table's
three buttons are all it needs. It is never stored: a reset closes it.

Child lock (kept here, with the other access state): when on, the table's buttons
except the emergency return are disabled - the core enforces that. Anyone may turn
it on (the safe direction); turning it off needs a therapist session, so a PIN, which
only someone at the table can set first (above).

Fails closed (issue #21). A table is new only while no security record was ever
stored: firmware/setupmarks.py keeps that fact in the chip's NVS (and a second copy in
a file), where deleting or damaging the records cannot reach it. A PIN or lock-state
record that is corrupt, truncated or missing on a table that has stored one is damage:
the table is in lockdown - login and set_pin refused (no way to a new PIN), the child
lock on, the lockout in force - at this boot and every later one, until the physical
reset at the table (firmware/secreset.py: a button combination held at power-up) calls
physical_reset(). In lockdown nothing is written, so no reboot can make a damaged
record look valid or absent-and-new.

Every PIN attempt is stored before it is checked: the failure count and lockout are
written as if the PIN were wrong, and if that write fails the attempt is refused
unchecked, so no guess is ever free of the count. A right PIN then clears them. A
failed write of the lock state keeps the stricter state in RAM, is reported
(storage_warning), and deletes the old record, whose state may be less strict: the
next boot then finds it missing and locks down. An unlock that cannot be stored does
not happen (the lock stays on).

Flash writes wait for standstill (firmware/flashgate.py): a write while the drive may
pulse would let it pulse through an 80 ms CPU stall. A deferred write is lost if the
power fails first, so what the brute-force count depends on is not deferred: while the
table moves, login, PIN changes and the child lock's unlock are refused (MOVING_TEXT) -
deferring them would let a power cut during a move undo the stored attempts. Locking
the child lock is deferred (on in RAM and in the core at once; a cut before the
standstill boots with the lock as it was stored before).

Time: now_ms is a ticks_ms() value (wrapping at 2**30) or a monotonic ms count;
intervals use ticks_diff arithmetic, correct for gaps below 2**29 ms (6.2 days).
Runs per command, not per tick: it may allocate.
"""

import binascii
import hashlib
import os

import store
from flashgate import gate_of
from micropython import const
from setupmarks import MARK_LOCK, MARK_PIN, MARK_STATE, Marks
from ticks import ticks_diff

PIN_FILE = "pin"
STATE_FILE = "authstate"

_MIN_DIGITS = const(4)  # 10**4 combinations, with the lockout ~ months of guessing
_MAX_DIGITS = const(8)  # longer is not remembered by a therapist standing at the table
_LOCK_AFTER = const(5)  # five tries allow for typos, not for guessing
_LOCK_BASE_MS = const(30000)  # first lockout: long enough to stop rapid guessing
_LOCK_MAX_MS = const(960000)  # 16 min (30 s doubled 5 times): bounded, a therapist can wait
_IDLE_MS = const(300000)  # 5 min without a therapist command ends the session
_SALT_BYTES = const(16)  # 128-bit salt: no two devices share a hash for the same PIN
_DOMAIN = b"ITC-PIN"  # hash domain: this hash is for nothing else
# The first PIN's window after the physical reset: time to walk from the table to the
# laptop and type it; a therapist who walks away leaves it open to a visitor no longer.
SETUP_WINDOW_MS = const(600000)
# now_ms - then_ms like time.ticks_diff for a 2**30 period (negative if earlier)
elapsed_ms = ticks_diff


MOVING_TEXT = ("refused while the table moves: PIN entry is stored before it is checked,"
               " and no flash write runs while the drive may pulse; try again when it"
               " stands still")
SETUP_TEXT = ("the first PIN is set at the table: power off, hold START and DOWN, power on"
              " at the loading stop, hold 10 s (the physical reset: README, Setting the"
              " first PIN), then pin set <new> within 10 min")
LOCKDOWN_TEXT = ("security records damaged or missing: locked down until the physical "
                 "reset at the table (README: Physical reset)")


class AuthError(ValueError):
    pass


def valid_pin(pin):
    """True for a str of 4-8 ASCII digits (an int would lose leading zeros)."""
    if type(pin) is not str or not _MIN_DIGITS <= len(pin) <= _MAX_DIGITS:
        return False
    for c in pin:
        if c not in "0123456789":
            return False
    return True


def lockout_delay_ms(failures):
    """Lockout after `failures` wrong PINs in a row: 0 before the 5th, then 30 s doubling."""
    if failures < _LOCK_AFTER:
        return 0
    delay = _LOCK_BASE_MS
    for _ in range(failures - _LOCK_AFTER):
        delay *= 2
        if delay >= _LOCK_MAX_MS:
            return _LOCK_MAX_MS
    return delay


def _digest(salt, pin):
    return hashlib.sha256(_DOMAIN + salt + pin.encode()).digest()


def _same(a, b):
    # Constant time: the comparison takes as long whichever byte differs.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


class Auth:
    """PIN check, lockout, therapist session and child lock, persisted in fs.

    nvs: the board's NVS (setupmarks.py), or None on a board without one.
    pin_setup: this boot followed the physical reset (firmware/powerup.py sets the
    board's `pin_setup`): the first PIN may be set (SETUP_WINDOW_MS)."""

    def __init__(self, fs, nvs=None, pin_setup=False):
        self.fs = fs
        self.marks = Marks(fs, nvs)
        self._salt = b""
        self._hash = b""  # empty: no PIN set (or the PIN record is damaged)
        self.pin_damaged = False
        self.state_damaged = False
        self.storage_warning = None  # the last security write that failed, as text
        self._logged_in = False
        self._last_ms = 0
        self._setup_ms = SETUP_WINDOW_MS if pin_setup else 0
        self._setup_start_ms = None  # the window starts counting at the first call
        self.pin_status = self._load_pin()
        self.state_status = self._load_state()
        if self.lockdown:
            self._restrict()

    def _moving(self):
        """The drive may be pulsing: a write now would wait (flashgate.py)."""
        gate = gate_of(self.fs)
        return gate is not None and not gate.still

    @property
    def lockdown(self):
        """A security record is damaged: everything a therapist could do is refused."""
        return self.pin_damaged or self.state_damaged

    def _load_pin(self):
        rec, status = store.load(self.fs, PIN_FILE, {})
        if status == store.OK:
            try:
                self._salt = binascii.unhexlify(rec["salt"])
                self._hash = binascii.unhexlify(rec["hash"])
                if len(self._hash) != 32 or len(self._salt) != _SALT_BYTES:
                    raise ValueError("bad sizes")
            except (KeyError, TypeError, ValueError):
                status = store.CORRUPT
        if status == store.OK:
            self.marks.add(MARK_PIN)
        elif status == store.CORRUPT or self.marks.has(MARK_PIN):
            self._salt = self._hash = b""
            self.pin_damaged = True
        return status

    def _load_state(self):
        rec, status = store.load(self.fs, STATE_FILE, {})
        self.failures = 0
        self._lock_ms = 0
        self.child_locked = False
        if status == store.OK:
            try:
                failures = rec["failures"]
                lock_ms = rec["lockout_ms"]
                child = rec["child_lock"]
                if (type(failures) is not int or type(lock_ms) is not int
                        or type(child) is not bool or failures < 0
                        or not 0 <= lock_ms <= _LOCK_MAX_MS):
                    raise ValueError("bad values")
                self.failures, self._lock_ms, self.child_locked = failures, lock_ms, child
            except (KeyError, TypeError, ValueError):
                status = store.CORRUPT
        if status == store.OK:
            self.marks.add(MARK_STATE)
        elif status == store.CORRUPT or self.marks.has(MARK_STATE):
            self.state_damaged = True
        if self.marks.has(MARK_LOCK):
            self.child_locked = True  # the lock's second copy, in NVS
        self._lock_start_ms = None  # a stored lockout starts counting at the first call
        return status

    def _restrict(self):
        # Unknown access state: the restrictive one, in every field.
        if self.failures < _LOCK_AFTER:
            self.failures = _LOCK_AFTER
        if self._lock_ms < _LOCK_BASE_MS:
            self._lock_ms = _LOCK_BASE_MS
        self.child_locked = True

    def _save_state(self, now_ms):
        """Store the lock state; store.OK or WRITE_FAILED (then reported, RAM kept)."""
        if self.lockdown:
            return store.OK  # nothing is written until the physical reset: RAM is stricter
        if self.child_locked:
            self.marks.add(MARK_LOCK)  # first: a cut after it leaves the lock on
        rec = {"failures": self.failures, "lockout_ms": self.lockout_remaining_ms(now_ms),
               "child_lock": self.child_locked}
        status = store.save(self.fs, STATE_FILE, rec)
        self.marks.add(MARK_STATE)
        if status == store.DEFERRED:
            return status  # only the lock-on while moving: the lock is on in RAM
        if status == store.OK:
            if not self.child_locked:
                self.marks.remove(MARK_LOCK)
            return status
        # the old record may say less than RAM: remove it, so the next boot locks down
        store.delete(self.fs, STATE_FILE)
        self.storage_warning = "lock state not stored: locked down at the next reset"
        return status

    @property
    def has_pin(self):
        return len(self._hash) > 0

    def lockout_remaining_ms(self, now_ms):
        """How long PIN entry stays refused (0 when not locked out)."""
        if self._lock_ms <= 0:
            return 0
        if self._lock_start_ms is None:
            self._lock_start_ms = now_ms
        left = self._lock_ms - elapsed_ms(now_ms, self._lock_start_ms)
        if left <= 0:
            self._lock_ms = 0
            return 0
        return min(left, self._lock_ms)  # a clock seen going backwards never extends it

    def pin_setup_left_ms(self, now_ms):
        """How long `pin set <new>` stays open without an old PIN (0: closed). Counted
        from the first call (the console calls it every second from its first pass);
        closed for good once a PIN is set, the time is up, or in lockdown."""
        if self._setup_ms <= 0 or self.has_pin or self.lockdown:
            return 0
        if self._setup_start_ms is None:
            self._setup_start_ms = now_ms
        left = self._setup_ms - elapsed_ms(now_ms, self._setup_start_ms)
        if left <= 0:
            self._setup_ms = 0
            return 0
        return min(left, self._setup_ms)  # a clock seen going backwards never extends it

    def first_pin_text(self, now_ms):
        """How the first PIN is set, for a reply: now, or at the table."""
        left = self.pin_setup_left_ms(now_ms)
        if left > 0:
            return "pin set <new> now (open %d s more)" % ((left + 999) // 1000)
        return SETUP_TEXT

    def _check(self, pin, now_ms):
        """True if pin is right. The attempt is stored as a wrong one first; AuthError if
        that write fails (the PIN is then not checked at all)."""
        self.failures += 1
        self._lock_ms = lockout_delay_ms(self.failures)
        self._lock_start_ms = now_ms
        if self._save_state(now_ms) != store.OK:
            raise AuthError("the attempt could not be stored: PIN entry refused")
        if valid_pin(pin) and _same(_digest(self._salt, pin), self._hash):
            recorded = self.failures
            self.failures = 0
            self._lock_ms = 0
            if self._save_state(now_ms) != store.OK:
                self.failures = recorded  # the stricter count stays in RAM
            return True
        return False

    def login(self, pin, now_ms):
        """Open a therapist session if pin is right. False if wrong (a malformed PIN counts
        as a wrong one), locked out, locked down, or no PIN set. AuthError if the attempt
        could not be stored (then it was not checked), or the table moves (MOVING_TEXT)."""
        if self._moving():
            raise AuthError(MOVING_TEXT)  # not an attempt: an open session stays
        self._logged_in = False
        if self.lockdown or not self.has_pin or self.lockout_remaining_ms(now_ms) > 0:
            return False
        if not self._check(pin, now_ms):
            return False
        self._logged_in = True
        self._last_ms = now_ms
        return True

    def logout(self):
        self._logged_in = False

    def is_authorised(self, now_ms, refresh=True):
        """True while a therapist session is open. refresh=True (an authorised command)
        restarts the 5 min inactivity timer; a status display passes refresh=False.
        Call it now and then (say every second) so a session cannot outlive 2**29 ms."""
        if not self._logged_in:
            return False
        idle = elapsed_ms(now_ms, self._last_ms)
        if idle < 0 or idle >= _IDLE_MS:
            self._logged_in = False
            return False
        if refresh:
            self._last_ms = now_ms
        return True

    def set_pin(self, old_pin, new_pin, now_ms):
        """Set the PIN: old_pin None only when no PIN is set yet, and then only in the
        setup window (pin_setup_left_ms). AuthError if refused (bad format, wrong old
        PIN - which counts as a failed attempt -, locked out, locked down, no PIN and
        the window closed, or the write failed; the old PIN then stays)."""
        if not valid_pin(new_pin):
            raise AuthError("PIN must be %d-%d digits" % (_MIN_DIGITS, _MAX_DIGITS))
        if self.lockdown:
            raise AuthError(LOCKDOWN_TEXT)
        if self._moving():
            raise AuthError(MOVING_TEXT)
        if self.has_pin:
            left = self.lockout_remaining_ms(now_ms)
            if left > 0:
                raise AuthError("locked out for %d s" % ((left + 999) // 1000))
            if old_pin is None or not self._check(old_pin, now_ms):
                raise AuthError("wrong PIN")
        elif old_pin is not None:
            raise AuthError("no PIN is set yet: give None as the old PIN")
        elif self.pin_setup_left_ms(now_ms) <= 0:
            raise AuthError(SETUP_TEXT)
        salt = os.urandom(_SALT_BYTES)
        digest = _digest(salt, new_pin)
        rec = {"salt": binascii.hexlify(salt).decode(), "hash": binascii.hexlify(digest).decode()}
        if store.save(self.fs, PIN_FILE, rec) != store.OK:
            raise AuthError("could not store the PIN; the old one stays")
        self._salt = salt
        self._hash = digest
        self._setup_ms = 0  # the window served its one PIN
        if self.marks.add(MARK_PIN) != store.OK:
            self.storage_warning = "the setup mark was not stored"
        if not self.marks.has(MARK_STATE):
            self._save_state(now_ms)  # a table with a PIN always has a lock-state record

    def physical_reset(self):
        """Forget the PIN, the lock state and the marks: a new table again. Only on the
        physical reset at the table (firmware/secreset.py). Returns the marks' store
        status."""
        for name in (PIN_FILE, STATE_FILE):
            store.delete(self.fs, name)
            try:
                self.fs.remove(name + store.BAD)
            except OSError:
                pass
        status = self.marks.clear()
        self._salt = self._hash = b""
        self.pin_damaged = self.state_damaged = False
        self._logged_in = False
        self.failures = 0
        self._lock_ms = 0
        self.child_locked = False
        self.storage_warning = None
        return status

    def set_child_lock(self, locked, now_ms):
        """Turn the child lock on (anyone) or off (therapist session: a PIN is set).
        Returns the store status of the write (DEFERRED while moving: flashgate.py).
        AuthError if unlocking is refused (also while moving) or its write failed (the
        lock then stays on)."""
        if not locked:
            if self.lockdown:
                raise AuthError(LOCKDOWN_TEXT)
            if not self.has_pin:
                raise AuthError("unlocking the child lock needs the therapist PIN: none is"
                                " set yet; " + self.first_pin_text(now_ms))
            if not self.is_authorised(now_ms):
                raise AuthError("unlocking the child lock needs the therapist PIN")
            if self._moving():
                raise AuthError(MOVING_TEXT)
            self.child_locked = False
            if self._save_state(now_ms) != store.OK:
                self.child_locked = True
                raise AuthError("the unlock could not be stored: the child lock stays on")
            return store.OK
        self.child_locked = True
        return self._save_state(now_ms)
