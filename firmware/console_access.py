"""Console commands for access: the therapist session (login, logout), the PIN, and
the child lock.

The PIN rules, the lockout and the session live in firmware/auth.py; the child lock is
stored there and given to the core as a core command (C_CHILD_LOCK), the only way it
changes. Anyone may turn the lock on; turning it off needs the PIN (or a session), and
nothing of this works in lockdown (a damaged security record: firmware/auth.py).
Turning it on is resident (firmware/console.py c_lock): it works while the table moves.
"""

import states
from auth import LOCKDOWN_TEXT, AuthError
from cmdparse import ParseError
from console import lock_reply


def login(con, pin):
    """Open a therapist session or raise ParseError saying why not. A wrong PIN counts
    toward the lockout (auth.py), even though the reply is an error."""
    auth = con.view.auth
    now = con.now_ms
    if auth.lockdown:
        raise ParseError(LOCKDOWN_TEXT)
    if not auth.has_pin:
        raise ParseError("no PIN is set; " + auth.first_pin_text(now))
    left = auth.lockout_remaining_ms(now)
    if left <= 0:
        try:
            if auth.login(pin, now):
                return
        except AuthError as e:
            raise ParseError(str(e))
        left = auth.lockout_remaining_ms(now)
        if left <= 0:
            raise ParseError("wrong PIN")
        raise ParseError("wrong PIN; locked out for %d s" % ((left + 999) // 1000))
    raise ParseError("locked out for %d s" % ((left + 999) // 1000))


def c_login(con, pin):
    login(con, pin)
    con.out.ok("ok login: therapist session open (ends on logout, 5 min idle or a reset)",
               {"therapist": True})


def c_logout(con):
    con.view.auth.logout()
    con.out.ok("ok logout", {"therapist": False})


def c_pin(con, old, new):
    auth = con.view.auth
    if auth.lockdown:
        raise ParseError(LOCKDOWN_TEXT)
    if old is None and auth.has_pin:
        raise ParseError("a PIN is set: pin set <old> <new>")
    try:
        auth.set_pin(old, new, con.now_ms)
    except AuthError as e:
        raise ParseError(str(e))
    con.out.ok("ok pin: set", {"pin": True})


def c_unlock(con, pin):
    if pin is not None:
        login(con, pin)
    try:
        status = con.view.auth.set_child_lock(False, con.now_ms)
    except AuthError as e:
        raise ParseError(str(e))
    con.view.command(states.C_CHILD_LOCK, 0)
    lock_reply(con, status)
