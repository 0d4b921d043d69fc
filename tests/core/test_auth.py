"""Therapist PIN: hashed storage, format, lockout with growing delay, persistence,
session timeout, child lock, and failing closed (issue #21): every damaged, truncated,
deleted or unwritable security record, over several reboots, until the physical reset."""

import auth
import profiles
import setupmarks
import store
from auth import Auth, AuthError, lockout_delay_ms
from fakes import MemFS, MemNVS, NoSpaceFS, remove_scratch, scratch_fs
from secreset import reset_security
from support import make_config, raises

PIN = "4821"


def _with_pin(files=None):
    files = {} if files is None else files
    a = Auth(MemFS(files), pin_setup=True)  # the boot after the physical reset
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
    # never as a value of its own (the hex salt and hash may hold its digits by chance:
    # 4 given digits appear in 96 random hex digits about once in 700 records)
    assert b'"' + PIN.encode() + b'"' not in raw
    rec = store.decode(raw)
    assert sorted(rec) == ["hash", "salt"] and len(rec["hash"]) == 64
    assert PIN not in (rec["hash"], rec["salt"])
    b, files2 = _with_pin()  # same PIN, other salt: another hash
    assert store.decode(bytes(files2["pin"]))["hash"] != rec["hash"]
    assert a.login(PIN, 10) and a.is_authorised(10)


def test_wrong_format_pins_are_refused():
    a = Auth(MemFS(), pin_setup=True)
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
    assert b.state_status == store.CORRUPT and b.lockdown
    assert b.failures == 5 and b.lockout_remaining_ms(0) == 30000 and b.child_locked
    assert not b.login(PIN, 1000)
    assert not b.login(PIN, 30000)  # lockdown: not even after the lockout ran out


def test_corrupt_pin_refuses_everything_until_the_physical_reset():
    a, files = _with_pin()
    files["pin"][20] ^= 1
    b = Auth(MemFS(files))
    assert b.pin_status == store.CORRUPT and b.pin_damaged and not b.has_pin
    assert not b.login(PIN, 0)
    raises(AuthError, b.set_pin, None, "2468", 0)
    raises(AuthError, b.set_pin, PIN, "2468", 0)
    b.physical_reset()  # the button combination at the table (secreset.py)
    raises(AuthError, b.set_pin, None, "2468", 0)  # its boot goes on to the window's
    Auth(MemFS(files), pin_setup=True).set_pin(None, "2468", 0)
    assert Auth(MemFS(files)).login("2468", 0)


def test_failed_pin_write_keeps_the_old_pin():
    a, files = _with_pin()
    pin_record = bytes(files["pin"])
    a.fs = NoSpaceFS(files)  # no write succeeds from now on
    e = raises(AuthError, a.set_pin, PIN, "1357", 0)
    assert "PIN entry refused" in str(e)  # not even the old PIN is checked unrecorded
    assert bytes(files["pin"]) == pin_record
    assert Auth(MemFS(files)).lockdown  # the lock state could not be kept: fail closed
    b, files = _with_pin()
    b.fs.budget = len(files["authstate"]) * 2 + 10  # the attempt is stored, the PIN not
    e = raises(AuthError, b.set_pin, PIN, "1357", 0)
    assert "old one stays" in str(e)
    assert Auth(MemFS(files)).login(PIN, 0)


# --------------------------------------------------------------- failing closed


def _set_up(nvs_values, lock=False, failures=0):
    """A table set up by a therapist: PIN, maybe the child lock and wrong tries."""
    files = {}
    a = Auth(MemFS(files), MemNVS(nvs_values), True)
    a.set_pin(None, PIN, 0)
    if lock:
        a.set_child_lock(True, 0)
    _fail(a, failures, 0)
    return files


def _damages(name):
    """(what, change files) for every way a record can be damaged or lost."""

    def flip(files):
        files[name][len(files[name]) // 2] ^= 0x40

    def header(files):
        files[name][0] ^= 1

    def truncate(files):
        files[name] = files[name][:len(files[name]) - 3]

    def empty(files):
        files[name] = bytearray()

    def delete(files):
        del files[name]

    def junk(files):
        files[name] = bytearray(b"\xff" * 40)

    def delete_with_mark_file(files):
        del files[name]
        files.pop(setupmarks.FILE, None)  # the file copy of the marks: NVS still has them

    def other_record(files):
        files[name] = bytearray(store.encode({"anything": 1}))

    return (("flip", flip), ("header", header), ("truncate", truncate), ("empty", empty),
            ("delete", delete), ("junk", junk), ("delete+mark file", delete_with_mark_file),
            ("wrong shape", other_record))


def _assert_locked_down(files, nvs_values, what):
    b = Auth(MemFS(files), MemNVS(nvs_values))
    assert b.lockdown, what
    assert b.child_locked, what
    assert b.failures >= 5 and b.lockout_remaining_ms(0) > 0, what
    for t in (0, 10 ** 6):
        assert not b.login(PIN, t) and not b.is_authorised(t), what
    for old in (None, PIN, "0000"):
        raises(AuthError, b.set_pin, old, "1111", 10 ** 6)
    raises(AuthError, b.set_child_lock, False, 10 ** 6)
    assert b.set_child_lock(True, 0) == store.OK and b.child_locked


def test_every_damaged_or_missing_security_record_locks_down_over_reboots():
    for name in ("pin", "authstate"):
        for what, damage in _damages(name):
            nvs = {}
            files = _set_up(nvs)
            damage(files)
            for boot in range(4):
                _assert_locked_down(files, nvs, "%s %s boot %d" % (name, what, boot))
            # only the physical reset ends it: a new table, first PIN again
            reset_security(MemFS(files), make_config(), MemNVS(nvs))
            c = Auth(MemFS(files), MemNVS(nvs), True)  # the boot that follows it
            assert not c.lockdown and not c.has_pin and not c.child_locked, (name, what)
            c.set_pin(None, "2468", 0)
            assert Auth(MemFS(files), MemNVS(nvs)).login("2468", 0), (name, what)


def test_a_lost_security_record_never_frees_the_child_lock_or_the_lockout():
    nvs = {}
    files = _set_up(nvs, lock=True, failures=7)
    for name in ("pin", "authstate"):
        f = dict((k, bytearray(v)) for k, v in files.items())
        n = dict(nvs)
        del f[name]
        f.pop(name + ".tmp", None)
        for _ in range(3):
            b = Auth(MemFS(f), MemNVS(n))
            assert b.lockdown and b.child_locked and b.failures >= 5
            assert not b.login(PIN, b.lockout_remaining_ms(0) + 1)


def test_a_new_table_is_told_from_a_damaged_one_by_the_nvs_not_the_files():
    nvs = {}
    files = _set_up(nvs)
    assert "pin" in files and "authstate" in files
    assert nvs[setupmarks.NVS_KEY] & (setupmarks.MARK_PIN | setupmarks.MARK_STATE)
    wiped = {}  # every file gone (a filesystem erased in service mode, say)
    assert Auth(MemFS(wiped), MemNVS(nvs)).lockdown
    fresh = Auth(MemFS({}), MemNVS({}))  # a chip never set up: a new table
    assert not fresh.lockdown and not fresh.has_pin


def test_an_unreadable_nvs_counts_as_set_up():
    nvs = MemNVS()
    nvs.fail = True
    b = Auth(MemFS({}), nvs)
    assert b.lockdown and b.child_locked


def test_an_unwritable_lock_state_keeps_the_stricter_state_and_reports_it():
    # full flash (writes fail, removes work): the lock holds in RAM, the old record -
    # unlocked - is removed, so the next boots lock down; nothing of it is lost
    nvs = {}
    files = _set_up(nvs)
    a = Auth(NoSpaceFS(files), MemNVS(nvs))
    assert a.set_child_lock(True, 0) == store.WRITE_FAILED
    assert a.child_locked and "locked down" in a.storage_warning
    for _ in range(3):
        b = Auth(MemFS(files), MemNVS(nvs))
        assert b.child_locked and b.lockdown and not b.login(PIN, 10 ** 6)


def test_a_dead_flash_still_keeps_the_child_lock_through_the_nvs():
    # every file operation fails (removes too): the lock's second copy is in the NVS
    nvs = {}
    files = _set_up(nvs)
    fs = MemFS(files)
    fs.dead = True
    a = Auth(MemFS(files), MemNVS(nvs))
    a.fs = fs
    assert a.set_child_lock(True, 0) == store.WRITE_FAILED and a.child_locked
    for _ in range(3):
        assert Auth(MemFS(files), MemNVS(nvs)).child_locked


def test_an_unlock_that_cannot_be_stored_does_not_happen():
    nvs = {}
    files = _set_up(nvs, lock=True)
    a = Auth(MemFS(files), MemNVS(nvs))
    assert a.login(PIN, 0)
    a.fs = NoSpaceFS(files)
    e = raises(AuthError, a.set_child_lock, False, 0)
    assert "stays on" in str(e) and a.child_locked
    assert Auth(MemFS(files), MemNVS(nvs)).child_locked


def test_no_pin_attempt_goes_uncounted_when_the_state_cannot_be_written():
    nvs = {}
    files = _set_up(nvs, failures=3)
    a = Auth(NoSpaceFS(files), MemNVS(nvs))
    for _ in range(10):  # as many tries as you like with a full flash...
        for pin in ("0000", PIN):
            try:  # ...none is checked: refused unstored, or (RAM) locked out
                assert not a.login(pin, 0)
            except AuthError as e:
                assert "PIN entry refused" in str(e)
        assert not a.is_authorised(0)
    assert a.failures >= 5 and a.lockout_remaining_ms(0) > 0  # RAM: the stricter state
    for _ in range(3):  # the record that could not be updated was removed: lockdown
        b = Auth(NoSpaceFS(files), MemNVS(nvs))
        assert b.lockdown and not b.login(PIN, 10 ** 6)


def test_a_cut_after_the_attempt_is_stored_counts_it():
    # the attempt is stored before the PIN is compared: a power cut at any point of a
    # login never leaves a checked guess uncounted
    nvs = {}
    files = _set_up(nvs, failures=4)
    before = bytes(files["authstate"])
    for budget in range(0, 200, 7):
        f = dict((k, bytearray(v)) for k, v in files.items())
        f["authstate"] = bytearray(before)
        fs = MemFS(f)
        fs.budget = budget
        a = Auth(fs, MemNVS(dict(nvs)))
        try:
            checked = a.login("0000", 0) is not None
        except (AuthError, OSError):
            checked = False
        b = Auth(MemFS(f), MemNVS(dict(nvs)))
        assert b.lockdown or b.failures >= 4 + (1 if checked else 0), budget


def test_the_physical_reset_returns_the_beginner_profile_without_consent():
    nvs = {}
    files = _set_up(nvs, lock=True)
    cfg = make_config()
    fs = MemFS(files)
    p = profiles.default_profile("anna", cfg)
    p.consent = True
    p.max_mdeg = profiles.max_limit_mdeg(cfg)
    profiles.save_profiles(fs, [p])
    assert reset_security(fs, cfg, MemNVS(nvs)) == store.OK
    got, status = profiles.load_profiles(MemFS(files), cfg)
    assert status == store.OK and len(got) == 1
    assert not got[0].consent and got[0].max_mdeg == profiles.default_profile("x", cfg).max_mdeg
    assert nvs[setupmarks.NVS_KEY] == 0 and "pin" not in files and "authstate" not in files


def test_child_lock_anyone_locks_only_the_therapist_unlocks():
    a, files = _with_pin()
    assert a.set_child_lock(True, 0) == store.OK and a.child_locked
    raises(AuthError, a.set_child_lock, False, 0)
    b = Auth(MemFS(files))
    assert b.child_locked  # persisted
    assert b.login(PIN, 0)
    b.set_child_lock(False, 10)
    assert not Auth(MemFS(files)).child_locked
    c = Auth(MemFS(), pin_setup=True)  # no PIN set: on for anyone; off only with one
    c.set_child_lock(True, 0)
    e = raises(AuthError, c.set_child_lock, False, 0)
    assert "pin set <new> now" in str(e) and c.child_locked  # the window is open
    c.set_pin(None, PIN, 0)
    assert c.login(PIN, 0)
    c.set_child_lock(False, 0)
    assert not c.child_locked


def test_state_persists_on_a_real_directory():
    fs = scratch_fs("auth")
    try:
        a = Auth(fs, pin_setup=True)
        a.set_pin(None, "97531", 0)
        a.set_child_lock(True, 0)
        _fail(a, 5, 0)
        b = Auth(store.DirFS(fs.root))
        assert b.has_pin and b.child_locked and b.failures == 5
        assert b.lockout_remaining_ms(0) == 30000
        assert b.login("97531", 30000)
        assert sorted(fs.listdir()) == ["authmark", "authstate", "pin"]
    finally:
        remove_scratch(fs)


# --------------------------------------------------------------- the first PIN (#23)


def test_the_first_pin_only_in_the_window_after_the_physical_reset():
    # a new table and a reset one alike: no PIN from the cable alone, in any boot
    nvs = {}
    files = {}
    for boot in range(3):
        a = Auth(MemFS(files), MemNVS(nvs))
        e = raises(AuthError, a.set_pin, None, PIN, 10 ** 6 * boot)
        assert "at the table" in str(e) and a.pin_setup_left_ms(0) == 0
        assert not a.has_pin and not a.login(PIN, 0)
    assert "pin" not in files and not nvs.get(setupmarks.NVS_KEY)
    reset_security(MemFS(files), make_config(), MemNVS(nvs))
    b = Auth(MemFS(files), MemNVS(nvs), True)  # the physical reset's boot
    assert b.pin_setup_left_ms(1000) == auth.SETUP_WINDOW_MS  # counts from here
    b.set_pin(None, PIN, 1000 + auth.SETUP_WINDOW_MS - 1)
    assert b.pin_setup_left_ms(1000 + auth.SETUP_WINDOW_MS - 1) == 0  # one PIN per window
    assert Auth(MemFS(files), MemNVS(nvs), True).login(PIN, 0)
    raises(AuthError, b.set_pin, None, "2468", 0)  # a PIN is set: the old one is needed


def test_the_window_closes_after_its_time_and_stays_closed():
    a = Auth(MemFS(), pin_setup=True)
    t0 = (1 << 30) - 1000  # the window's clock wraps like ticks_ms
    assert a.pin_setup_left_ms(t0) == auth.SETUP_WINDOW_MS
    assert a.pin_setup_left_ms(t0 - 5000) == auth.SETUP_WINDOW_MS  # never extended
    end = (t0 + auth.SETUP_WINDOW_MS) & ((1 << 30) - 1)
    assert a.pin_setup_left_ms(end - 1) == 1
    e = raises(AuthError, a.set_pin, None, PIN, end)
    assert "at the table" in str(e) and a.pin_setup_left_ms(end - 1) == 0
    assert not a.has_pin


def test_no_window_in_lockdown():
    a, files = _with_pin()
    files["pin"][20] ^= 1
    b = Auth(MemFS(files), pin_setup=True)  # damage is not undone by a window
    assert b.lockdown and b.pin_setup_left_ms(0) == 0
    e = raises(AuthError, b.set_pin, None, "2468", 0)
    assert "locked down" in str(e)
