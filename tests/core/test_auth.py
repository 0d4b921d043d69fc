"""Therapist PIN: hashed storage, format, lockout with growing delay, persistence,
session timeout, recovery, child lock."""

import auth
import store
from auth import Auth, AuthError, lockout_delay_ms
from fakes import MemFS, remove_scratch, scratch_fs
from support import raises

PIN = "4821"


def _with_pin(files=None):
    files = {} if files is None else files
    a = Auth(MemFS(files))
    a.set_pin(None, PIN, 0)
    return a, files


def _fail(a, n, now_ms):
    for _ in range(n):
        assert not a.login("0000", now_ms)


def test_new_device_has_no_pin_and_nobody_logs_in():
    a = Auth(MemFS())
    assert a.pin_status == store.MISSING and a.state_status == store.MISSING
    assert not a.has_pin and not a.login("0000", 0) and not a.is_authorised(0)
    assert a.failures == 0 and not a.child_locked


def test_pin_is_stored_salted_and_hashed_never_in_clear():
    a, files = _with_pin()
    raw = bytes(files["pin"])
    assert PIN.encode() not in raw
    rec = store.decode(raw)
    assert sorted(rec) == ["hash", "salt"] and len(rec["hash"]) == 64
    b, files2 = _with_pin()  # same PIN, other salt: another hash
    assert store.decode(bytes(files2["pin"]))["hash"] != rec["hash"]
    assert a.login(PIN, 10) and a.is_authorised(10)


def test_wrong_format_pins_are_refused():
    a = Auth(MemFS())
    for bad in ("123", "123456789", 1234, "12a4", "", None, " 1234", "12.4"):
        e = raises(AuthError, a.set_pin, None, bad, 0)
        assert "4-8 digits" in str(e)
    assert not a.has_pin
    a.set_pin(None, "00001234", 0)  # leading zeros kept: PINs are strings
    assert a.login("00001234", 0) and not a.login("1234", 0)


def test_changing_the_pin_needs_the_old_one():
    a, _ = _with_pin()
    raises(AuthError, a.set_pin, None, "5555", 0)
    e = raises(AuthError, a.set_pin, "9999", "5555", 0)
    assert "wrong" in str(e) and a.failures == 1  # a wrong old PIN is a failed attempt
    a.set_pin(PIN, "5555", 0)
    assert a.failures == 0 and a.login("5555", 0) and not a.login(PIN, 0)


def test_five_failures_lock_out_for_30_s():
    a, _ = _with_pin()
    _fail(a, 4, 1000)
    assert a.lockout_remaining_ms(1000) == 0
    _fail(a, 1, 1000)
    assert a.failures == 5 and a.lockout_remaining_ms(1000) == 30000
    assert not a.login(PIN, 20000)  # even the right PIN is refused while locked
    e = raises(AuthError, a.set_pin, PIN, "1111", 20000)
    assert "locked out for 11 s" in str(e)
    assert a.failures == 5  # attempts during a lockout are not even checked
    assert a.lockout_remaining_ms(30999) == 1 and a.lockout_remaining_ms(31000) == 0
    assert a.login(PIN, 31000) and a.failures == 0


def test_each_further_failure_doubles_the_delay_up_to_a_cap():
    assert [lockout_delay_ms(n) for n in range(5)] == [0, 0, 0, 0, 0]
    assert [lockout_delay_ms(n) for n in range(5, 12)] == [
        30000, 60000, 120000, 240000, 480000, 960000, 960000]
    assert lockout_delay_ms(10 ** 6) == 960000
    a, _ = _with_pin()
    t = 0
    _fail(a, 5, t)
    for expected in (60000, 120000, 240000):
        t += a.lockout_remaining_ms(t)
        _fail(a, 1, t)
        assert a.lockout_remaining_ms(t) == expected


def test_failures_and_lockout_survive_a_reset():
    a, files = _with_pin()
    _fail(a, 3, 0)
    assert Auth(MemFS(files)).failures == 3  # a reset buys no extra guesses
    _fail(a, 2, 0)
    b = Auth(MemFS(files))
    assert b.failures == 5
    # the board's clock restarted: the stored lockout restarts, in full, at the first call
    assert b.lockout_remaining_ms(777) == 30000
    assert not b.login(PIN, 20000)
    assert b.lockout_remaining_ms(20777) == 10000
    c = Auth(MemFS(files))  # a reset in the middle of the lockout restarts it
    assert c.lockout_remaining_ms(5) == 30000
    assert c.login(PIN, 30005)
    assert Auth(MemFS(files)).failures == 0


def test_session_ends_after_5_min_idle_or_logout():
    a, _ = _with_pin()
    assert a.login(PIN, 1000)
    assert a.is_authorised(300999)  # 4:59.999 idle; refreshes
    assert a.is_authorised(600998, refresh=False)
    assert not a.is_authorised(600999)
    assert not a.is_authorised(601000)  # stays closed
    assert a.login(PIN, 0)
    a.logout()
    assert not a.is_authorised(1)
    assert not Auth(a.fs).is_authorised(2)  # a reset ends the session too


def test_time_may_wrap_like_ticks_ms():
    a, _ = _with_pin()
    near_wrap = (1 << 30) - 1000
    assert a.login(PIN, near_wrap)
    assert a.is_authorised(500)  # 1.5 s later, after ticks_ms wrapped
    assert auth.elapsed_ms(500, near_wrap) == 1500
    _fail(a, 5, near_wrap)
    assert a.lockout_remaining_ms(28000) == 1000  # 29 s after the lock, across the wrap


def test_corrupt_state_is_the_restrictive_one():
    a, files = _with_pin()
    files["authstate"] = bytearray(b"junk")
    b = Auth(MemFS(files))
    assert b.state_status == store.CORRUPT
    assert b.failures == 5 and b.lockout_remaining_ms(0) == 30000 and b.child_locked
    assert not b.login(PIN, 1000)
    assert b.login(PIN, 30000)


def test_corrupt_pin_refuses_everything_until_cleared():
    a, files = _with_pin()
    files["pin"][20] ^= 1
    b = Auth(MemFS(files))
    assert b.pin_status == store.CORRUPT and b.pin_damaged and not b.has_pin
    assert not b.login(PIN, 0)
    raises(AuthError, b.set_pin, None, "2468", 0)
    raises(AuthError, b.set_pin, PIN, "2468", 0)
    b.clear_pin()  # the physical-presence recovery at the table
    b.set_pin(None, "2468", 0)
    assert Auth(MemFS(files)).login("2468", 0)


def test_failed_pin_write_keeps_the_old_pin():
    a, files = _with_pin()
    a.fs.budget = 0  # the next write fails
    e = raises(AuthError, a.set_pin, PIN, "1357", 0)
    assert "old one stays" in str(e)
    assert Auth(MemFS(files)).login(PIN, 0)


def test_child_lock_anyone_locks_only_the_therapist_unlocks():
    a, files = _with_pin()
    assert a.set_child_lock(True, 0) == store.OK and a.child_locked
    raises(AuthError, a.set_child_lock, False, 0)
    b = Auth(MemFS(files))
    assert b.child_locked  # persisted
    assert b.login(PIN, 0)
    b.set_child_lock(False, 10)
    assert not Auth(MemFS(files)).child_locked
    c = Auth(MemFS())  # no PIN set: the lock guards against accidents only
    c.set_child_lock(True, 0)
    c.set_child_lock(False, 0)
    assert not c.child_locked


def test_state_persists_on_a_real_directory():
    fs = scratch_fs("auth")
    try:
        a = Auth(fs)
        a.set_pin(None, "97531", 0)
        a.set_child_lock(True, 0)
        _fail(a, 5, 0)
        b = Auth(store.DirFS(fs.root))
        assert b.has_pin and b.child_locked and b.failures == 5
        assert b.lockout_remaining_ms(0) == 30000
        assert b.login("97531", 30000)
        assert sorted(fs.listdir()) == ["authstate", "pin"]
    finally:
        remove_scratch(fs)
