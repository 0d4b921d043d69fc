"""What the application loads at start-up, before the core exists: the build identity
from the firmware manifest, the hardware parameters, the stored settings, the profiles,
the session and fault histories and the PIN state, each falling back to safe defaults
with a startup error and the fault it sets (the first one wins).

Runs once, from App.__init__ (firmware/app.py), which drops this module afterwards: a
stock ESP32 image holds every loaded module's code in the heap (README "Benchmarks").
It may allocate.
"""

import sys

import faults
import profiles
import store
from auth import Auth
from config import ConfigError, load_hardware, migrate
from history import FaultLog, History
from persistence import SETTINGS


def load(app, board):
    """(build, profiles, history, faultlog, auth, the settings a save compares against:
    the hardware's) for app, whose cfg (the defaults), fs, config_fault and
    startup_errors it fills and sets."""
    cfg = app.cfg
    build = _check_firmware(app, board.code_root)  # first: its fault wins
    try:
        load_hardware(cfg, board.hw_params_path)
    except ConfigError as e:
        _startup_error(app, faults.CONFIG, str(e))
    base_settings = _load_settings(app, cfg)
    profs, status = profiles.load_profiles(app.fs, cfg)
    if status == store.CORRUPT:
        _startup_error(app, faults.STORAGE, "profiles file damaged or missing; the "
                       "lowest limits are in use until a therapist sets them")
    elif status == store.MISSING:
        # a new table: store its beginner profile now, so that a profiles file
        # missing at a later boot is known to be damage (profiles._used_before)
        profiles.save_profiles(app.fs, profs)
    history, faultlog = _load_records(app)
    # no NVS: setupmarks.py. The first PIN's window (auth.py): the boot after the
    # physical reset (powerup.py sets pin_setup), or the service mode's bring-up loop,
    # which only presence at the table or the PIN reaches
    setup = app.service or getattr(board, "pin_setup", False)
    auth = Auth(app.fs, getattr(board, "nvs", None), setup)
    if auth.lockdown:
        _startup_error(app, faults.STORAGE, "PIN or lock state damaged or missing; "
                       "locked down until the physical reset at the table")
    return build, profs, history, faultlog, auth, base_settings


def _load_settings(app, cfg):
    """The stored settings over the hardware's; returns what a save compares against
    (the hardware's, taken once: rebuilding it per save cost 16 KB)."""
    base_settings = cfg.as_dict()
    settings, status = store.load(app.fs, SETTINGS, {})
    if status == store.CORRUPT:
        _startup_error(app, faults.STORAGE, "settings file corrupt; safe defaults in use")
    elif type(settings) is dict and settings:
        app.startup_errors.extend(migrate(settings))  # narrowed ranges: clamped, said
        try:
            cfg.update(settings)
        except ConfigError as e:
            _startup_error(app, faults.CONFIG, "stored settings refused: %s" % e)
    return base_settings


def _load_records(app):
    """The session and fault histories (empty, with a startup error, if damaged)."""
    history = History(app.fs)
    if history.load() == store.CORRUPT:
        _startup_error(app, faults.STORAGE, "session history corrupt; started afresh")
    faultlog = FaultLog(app.fs)
    if faultlog.load() == store.CORRUPT:
        _startup_error(app, faults.STORAGE, "fault history corrupt; started afresh")
    faultlog.new_boot()
    return history, faultlog


def _check_firmware(app, code_root):
    """The build identity from the manifest; a mismatch is a startup error with the
    fault that allows only the slow return (firmware/manifest.py). code_root None:
    the firmware is imported from the source tree (the simulator): nothing to check."""
    loaded = "manifest" in sys.modules  # dropped again unless someone else had it
    import manifest

    try:
        if code_root is None:
            return manifest.NOT_DEPLOYED
        build, problem = manifest.check(store.DirFS(code_root), store.DirFS(manifest.ROM))
    finally:
        if not loaded:
            del sys.modules["manifest"]
    if problem is not None:
        _startup_error(app, faults.MANIFEST, "firmware manifest: %s. Nothing moves but "
                       "the slow return; deploy again" % problem)
    return build if build is not None else "unknown"


def _startup_error(app, code, text):
    if app.config_fault == faults.NONE:
        app.config_fault = code
    app.startup_errors.append(text)
