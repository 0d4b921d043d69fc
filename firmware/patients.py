"""The patients: creating, naming, selecting and removing profiles, for the console.

Owns the rules for the profile list as a whole: names unique and starting with a letter,
at most profiles.MAX_PROFILES, never removing the selected profile or the last one, a
removed patient's sessions leaving the history with them, and selecting only through
the core's C_PROFILE command (the core takes a profile only by command; in READY).
Each function checks everything first and raises ProfileError with the reason, so a
refusal changes nothing; a change is stored at once (a store status is returned).
The console checks the therapist session and READY before calling. Imported on demand
(the first patient command): rarely used code stays out of the resident heap.
"""

import profiles
import states
import store
from profiles import ProfileError


def _name(app, name, what="name"):
    profiles.check_name(name, what)
    if not "a" <= name[0].lower() <= "z":
        raise ProfileError("%s must start with a letter" % what)
    if profiles.find(app.profiles, name) >= 0:
        raise ProfileError("there is a profile called '%s' already" % name)


def _index(app, name):
    i = profiles.find(app.profiles, name)
    if i < 0:
        raise ProfileError("no profile called '%s' (profile list)" % name)
    return i


def create(app, name):
    """A new profile at the beginner defaults, without consent; (profile, status)."""
    plist = app.profiles
    if len(plist) >= profiles.MAX_PROFILES:
        raise ProfileError("all %d profiles are in use: remove one first"
                           % profiles.MAX_PROFILES)
    _name(app, name)
    p = profiles.default_profile(name, app.cfg)
    p.pid = _new_pid(plist)
    plist.append(p)
    return p, app.save_profiles_and_settings()


def rename(app, old, new):
    """Rename a profile (its sessions keep its number); store status."""
    p = app.profiles[_index(app, old)]
    _name(app, new, "new name")
    p.name = new
    return app.save_profiles_and_settings()


def remove(app, name):
    """Remove a profile that is neither selected nor the last, and its sessions; status."""
    plist = app.profiles
    i = _index(app, name)
    if plist[i] is app.core.profile:
        raise ProfileError("'%s' is selected: select another profile first" % name)
    if len(plist) == 1:
        raise ProfileError("the last profile cannot be removed")  # selected anyway
    p = plist.pop(i)
    a = _forget(app.history, p.pid)
    b = app.save_profiles_and_settings()
    return a if a != store.OK else b


def select(app, name):
    """Select a profile through the core; (refusal reason or states.OK, store status)."""
    r = app.core.command(states.C_PROFILE, _index(app, name))
    if r != states.OK:
        return r, None
    return r, app.save_profiles_and_settings()


def _new_pid(plist):
    """The smallest profile id no profile has (a removed patient's sessions went with
    them: _forget)."""
    taken = [p.pid for p in plist]
    pid = 1
    while pid in taken:
        pid += 1
    return pid


def _forget(hist, pid):
    """Remove every session of profile pid from the history (history.History); status."""
    keep = [hist.entry(i) for i in range(hist.n) if hist.entry(i)[6] != pid]
    if len(keep) == hist.n:
        return store.OK
    return hist.replace(keep)
