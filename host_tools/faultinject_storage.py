"""Storage fuzzing: boots on damaged stored files, each with the safe fallbacks checked.

    fuzz_storage(seed, boots=20)   # {"boots", "virtual_ms"}; Violation "F2" on a failure

A template filesystem holds every file kind (populated_files); each boot damages one file
of a copy (host_tools/faultinject_files.py) and must report it, keep a .bad copy, fall
back to the safe profile and settings, and come back to READY with one press.
"""

import atexit
import os
import random
import shutil
import tempfile

from host_tools import invariants, paths
from host_tools.faultinject_files import CORRUPTIONS, RANDOM_FILES
from host_tools.faultinject_harness import Harness

paths.use_firmware()

import states as S  # noqa: E402  (firmware/)


def populated_files(seed=0):
    """A filesystem with every stored file kind: a completed session (history, profiles
    with progress), a fault history, settings and a PIN with its access state."""
    h = Harness({"seed": seed, "consent": True, "hold_s": 10}, pin_setup=True)
    try:
        h.run_ms(500)
        for line in ("pin set 1234", "login 1234", "config set rest_pause_ms 5000",
                     "logout", "start"):
            h.send(line)
            h.run_ms(300)
        if not h.runner.run_until(lambda r: r.core.state == S.READY and r.core.homed, 120000):
            raise RuntimeError("populated_files: the session did not end")
        h.run_ms(500)
        root = tempfile.mkdtemp(prefix="reliability-files-")
        shutil.rmtree(root)
        shutil.copytree(h.fs_root, root)
        return root
    finally:
        h.close()


def boot_with_damage(template, name, how, seed, start_mdeg=None):
    """A harness booted on a copy of template with file `name` damaged (`how`)."""
    h = Harness({"seed": seed, "start_mdeg": start_mdeg, "max_deg": 30}, files_from=template,
                damage=((name, how, seed),))
    return h


_TEMPLATES = {}
atexit.register(lambda: [shutil.rmtree(r, ignore_errors=True) for r in _TEMPLATES.values()])


def _template(seed=0):
    if seed not in _TEMPLATES:
        _TEMPLATES[seed] = populated_files(seed)
    return _TEMPLATES[seed]


def check_damaged_boot(template, name, how, seed, start_mdeg=None):
    """Boot on damaged files with the invariants checked; then the fallbacks must be the
    safe ones and the recovery probe must bring the table to READY. Raises Violation."""
    h = boot_with_damage(template, name, how, seed, start_mdeg)
    try:
        h.run_ms(700)
        app = h.app
        t = h.board.now_ms
        if app.crashed:
            raise invariants.Violation("F2", t, "%s/%s: the firmware crashed at boot" % (name, how))
        bad = os.path.exists(os.path.join(h.fs_root, name + ".bad"))
        damaged = how in ("flip", "truncate", "empty", "garbage", "bad_values", "wrong_version")
        if damaged and not app.startup_errors:
            raise invariants.Violation("F2", t, "%s/%s: damage not reported" % (name, how))
        if damaged and how != "bad_values" and not bad:
            raise invariants.Violation("F2", t, "%s/%s: no .bad copy kept" % (name, how))
        p = app.core.profile
        if damaged and name == "profiles" and (p.consent or p.max_mdeg > 30000):
            raise invariants.Violation("F2", t, "%s/%s: profile fallback not the beginner "
                                       "default (consent %s, max %d)" % (name, how, p.consent,
                                                                         p.max_mdeg))
        if damaged and name == "settings" and app.cfg.rest_pause_ms != 10000:
            raise invariants.Violation("F2", t, "%s/%s: settings not back to defaults" % (
                name, how))
        if how == "tmp_only" and name == "settings" and app.cfg.rest_pause_ms != 5000:
            raise invariants.Violation("F2", t, "settings/tmp_only: the complete .tmp was not "
                                       "promoted")
        h.recover(max_acks=1, max_presses=1)  # the damage's boot fault, then one press
        return h
    finally:
        h.close()


def fuzz_storage(seed, boots=20):
    """Boots on randomly damaged stored files (every kind), each checked by
    check_damaged_boot. Returns {"boots", "virtual_ms"}."""
    rng = random.Random(seed)
    template = _template(0)
    vms = 0
    for _ in range(boots):
        h = check_damaged_boot(template, rng.choice(RANDOM_FILES), rng.choice(CORRUPTIONS),
                               rng.randrange(1 << 20),
                               rng.choice((None, None, 0, 20000, 30000)))
        vms += h.board.now_ms
    return {"boots": boots, "virtual_ms": vms}
