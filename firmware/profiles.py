"""User profiles: each person's limits, consent and progression level.

Owns the Profile fields with their bounds, validation (ProfileError), conversion to
and from dicts, the progression level table, the progression rule record_session(),
and loading/saving the profile list through store.py.

Units are in the names: mdeg = millidegrees from horizontal, positive head-down;
ms = milliseconds. Inversion guidance: start at 15-30 deg for 1-2 minutes, build up
over weeks towards about 60 deg for a few minutes; 60 deg is the useful maximum.
Runs once per session or command: it may allocate.
"""

import store
from config import field, field_names, fields
from micropython import const
from wallclock import MAX_T, NO_TIME


class ProfileError(ValueError):
    pass


# Progression levels: (angle, hold). Each step is small (5-10 deg, 0.5-1 min) so that a
# person who tolerated a level for `advance_after` sessions is not surprised by the next.
# With the default advance_after = 3 and about three sessions a week, the table takes
# about 7 weeks from level 0 to level 7 ("increase over weeks").
LEVEL_ANGLE_MDEG = (
    15000,  # 0: first sessions, the low end of "start at 15-30 deg"
    20000,  # 1
    25000,  # 2
    30000,  # 3: top of the beginner range (the default profile max stops here)
    35000,  # 4: from here "3-5 minutes" once adapted
    40000,  # 5
    50000,  # 6
    60000,  # 7: the useful maximum; never beyond it
)
LEVEL_HOLD_MS = (
    60000,  # 0: 1 min ("1-2 minutes" for the first one or two weeks)
    90000,  # 1: 1.5 min
    120000,  # 2: 2 min
    120000,  # 3: 2 min (default hold_max_ms; the therapist raises it to go further)
    180000,  # 4: 3 min
    180000,  # 5: 3 min
    240000,  # 6: 4 min
    300000,  # 7: 5 min, the top of "3-5 minutes"
)
NUM_LEVELS = const(8)

# How a session ended (record_session, the history).
COMPLETED = const(0)  # the program ran to its end and the normal return finished
EMERGENCY = const(1)  # emergency return (e-stop)
DISCOMFORT = const(2)  # the person asked to come up (dizziness, discomfort)
ABORTED = const(3)  # stopped early by a normal stop, not a sign of intolerance
FAULT = const(4)  # the machine faulted: says nothing about the person
_ENDINGS = (COMPLETED, EMERGENCY, DISCOMFORT, ABORTED, FAULT)
_ENDED_NAMES = "completed emergency discomfort aborted fault"  # by code


def ended_name(how):
    """The word for how a session ended (history, log), or its number as text."""
    if how in _ENDINGS:
        return _ENDED_NAMES.split()[how]
    return str(how)


# Makers' contraindication list, one per line; consent = the person (or therapist)
# confirmed none apply. profiles.CONTRAINDICATIONS gives it as a tuple. The one copy
# the others follow: README.md and hardware/warnings.md list these words, with the
# reasons and sources there (kept short here: it is on the 56K heap; tests/host/
# test_contraindications.py checks the three agree).
_CONTRAINDICATIONS = (
    "high blood pressure (above 140/90)"
    "\nheart or circulatory disorder"
    "\nrecent stroke or mini-stroke (TIA)"
    "\nglaucoma, retinal detachment or other eye disease"
    "\nmiddle-ear infection"
    "\nhernia"
    "\nspinal injury or instability"
    "\nweak bones, recent fractures, surgery or implants"
    "\nsevere obesity"
    "\npregnancy"
    "\nanticoagulant medication"
)


def contraindications():
    return _CONTRAINDICATIONS.split("\n")


def __getattr__(attr):
    if attr == "CONTRAINDICATIONS":
        return tuple(contraindications())
    raise AttributeError(attr)


ABS_MAX_MDEG = const(60000)  # about 60 deg is the useful maximum; 90 is never the goal
# A completed session counts toward the next level only if it reached the level's angle,
# within the largest arrive tolerance the config allows (arrive_tol_mdeg <= 3000).
_REACHED_TOL_MDEG = const(3000)
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_NAME_MAX = const(16)  # fits a console line and the history
MAX_PROFILES = const(8)  # a household or a small practice; keeps the file small
MAX_PID = const(255)  # the history packs it in a byte
FILE = "profiles"

# Integer fields, "name default low high" one per line (config.py's format: field(),
# fields()); each line says why. The bounds taken from other constants are filled in
# once, at import.
FIELDS = (
    # beginner default 30 deg; the floor is level 0's angle; the ceiling is max_limit_mdeg()
    "\nmax_mdeg 30000 %d %d"
    # one hold: 2 min default ("1-2 minutes" at first); 5 min is the top of the guidance
    "\nhold_max_ms 120000 10000 300000"
    # head-down time per session: 3 min default; 10 min leaves room for intervals at level 7
    "\nsession_cap_ms 180000 10000 600000"
    "\nlevel 0 0 %d"
    # consecutive qualifying sessions; saturates at advance_after
    "\nsessions_at_level 0 0 20"
    # completed sessions before the next level: at least 1; 20 = a very cautious therapist
    "\nadvance_after 3 1 20"
    # the patient's number: the history's sessions carry it, so a rename keeps them
    "\npid 1 1 %d"
    # when consent was given: a wallclock.py record time (NO_TIME: none, or undated)
    "\nconsent_t %d %d %d"
    "\n"
) % (LEVEL_ANGLE_MDEG[0], ABS_MAX_MDEG, NUM_LEVELS - 1, MAX_PID, NO_TIME, NO_TIME, MAX_T)


def max_limit_mdeg(cfg):
    """The deepest max_mdeg any profile may have: the soft max, and never past 60 deg."""
    return min(cfg.soft_max_mdeg, ABS_MAX_MDEG)


def top_level(max_mdeg):
    """The highest level whose angle does not exceed max_mdeg (0 at least)."""
    top = 0
    for i in range(NUM_LEVELS):
        if LEVEL_ANGLE_MDEG[i] <= max_mdeg:
            top = i
    return top


class Profile:
    """One person's settings. Valid once check(cfg) passes; update() keeps it valid."""

    def __init__(self, name="default"):
        self.name = name
        self.max_mdeg = 30000
        self.hold_max_ms = 120000
        self.session_cap_ms = 180000
        self.level = 0
        self.sessions_at_level = 0
        self.advance_after = 3
        self.consent = False  # contraindications acknowledged; programs refuse without it
        self.consent_by = ""  # who confirmed it ("" none); consent_t: when
        self.pid = 1
        self.consent_t = NO_TIME

    def to_dict(self):
        d = {"name": self.name, "consent": self.consent, "consent_by": self.consent_by}
        for n in field_names(FIELDS):
            d[n] = getattr(self, n)
        return d

    def check(self, cfg):
        """Raise ProfileError naming the first field or rule that fails."""
        check_name(self.name)
        if type(self.consent) is not bool:
            raise ProfileError("consent must be true or false")
        if self.consent_by != "":
            check_name(self.consent_by, "consent_by")
        for f in fields(FIELDS):
            _check_int(f, getattr(self, f[0]))
        limit = max_limit_mdeg(cfg)
        if self.max_mdeg > limit:
            raise ProfileError("max_mdeg=%d is above the limit %d (soft max, 60 deg)"
                               % (self.max_mdeg, limit))
        if self.hold_max_ms > self.session_cap_ms:
            raise ProfileError("hold_max_ms (%d) must not exceed session_cap_ms (%d)"
                               % (self.hold_max_ms, self.session_cap_ms))
        if LEVEL_ANGLE_MDEG[self.level] > self.max_mdeg:
            raise ProfileError("level %d (%d mdeg) is deeper than max_mdeg=%d"
                               % (self.level, LEVEL_ANGLE_MDEG[self.level], self.max_mdeg))

    def update(self, values, cfg):
        """Apply a dict of fields, all or none; ProfileError leaves the profile unchanged.

        Lowering max_mdeg below the current level's angle lowers the level to fit
        (and restarts its session count), unless the level is set in the same update.
        Setting a different level restarts the count unless it is set too.
        """
        old = self.to_dict()
        for n in values:
            if n not in ("name", "consent", "consent_by") and field(n, FIELDS) is None:
                raise ProfileError("unknown profile field '%s'" % n)
        try:
            for n in values:
                setattr(self, n, values[n])
            hand_set = "level" in values and "sessions_at_level" not in values
            if hand_set and self.level != old["level"]:
                self.sessions_at_level = 0  # a level set by hand starts its count afresh
            if "level" not in values and "max_mdeg" in values and _is_int(self.max_mdeg):
                fit = top_level(self.max_mdeg)
                if self.level > fit:
                    self.level = fit
                    self.sessions_at_level = 0
            self.check(cfg)
        except ProfileError:
            for n in old:
                setattr(self, n, old[n])
            raise

    def set(self, name, value, cfg):
        self.update({name: value}, cfg)


def _is_int(v):
    return type(v) is int


def _check_int(field, value):
    if not _is_int(value):
        raise ProfileError("%s must be an integer, got %r" % (field[0], value))
    if value < field[2] or value > field[3]:
        raise ProfileError("%s=%d is outside [%d, %d]" % (field[0], value, field[2], field[3]))


def check_name(name, what="name"):
    """ProfileError unless name is 1-16 letters, digits, '_' or '-'."""
    if type(name) is not str or not 1 <= len(name) <= _NAME_MAX:
        raise ProfileError("%s must be 1-%d characters" % (what, _NAME_MAX))
    for c in name:
        if c not in _NAME_CHARS:
            raise ProfileError("%s may only use letters, digits, '_' and '-'" % what)



def from_dict(d, cfg):
    """A checked Profile from a dict; missing fields take the (beginner) defaults."""
    if type(d) is not dict:
        raise ProfileError("profile must be a dict")
    p = Profile(d.get("name", "default"))
    p.update(d, cfg)
    return p


def fallback_profile(name, cfg):
    """What a damaged profile becomes: every limit at its lowest bound, no consent, level
    0. The stored limits are unknown, so only the lowest can never be a raise."""
    p = default_profile(name, cfg)
    for n in ("max_mdeg", "hold_max_ms", "session_cap_ms"):
        f = field(n, FIELDS)
        assert f is not None
        setattr(p, n, f[2])
    return p


def default_profile(name, cfg):
    """The beginner defaults, with max_mdeg lowered if the table's soft max is lower."""
    p = Profile(name)
    p.max_mdeg = max(LEVEL_ANGLE_MDEG[0], min(p.max_mdeg, max_limit_mdeg(cfg)))
    return p


def record_session(profile, ended_how, deepest_mdeg, head_down_ms):
    """Progression after a session. Returns the level change: +1, -1 or 0.

    - COMPLETED and reached the level's angle (deepest_mdeg within 3 deg of it, with
      some head-down time): counts; after advance_after such sessions in a row the
      level goes up one - never to a level deeper than profile.max_mdeg.
    - EMERGENCY or DISCOMFORT: one level down (not below 0), the count restarts.
    - ABORTED: the run of completed sessions is broken; the count restarts.
    - FAULT, or COMPLETED at a shallower angle (another program): no change.
    """
    if ended_how not in _ENDINGS:
        raise ValueError("unknown session ending %r" % (ended_how,))
    if ended_how == EMERGENCY or ended_how == DISCOMFORT:
        profile.sessions_at_level = 0
        if profile.level > 0:
            profile.level -= 1
            return -1
        return 0
    if ended_how == ABORTED:
        profile.sessions_at_level = 0
        return 0
    if ended_how == FAULT:
        return 0
    if deepest_mdeg < LEVEL_ANGLE_MDEG[profile.level] - _REACHED_TOL_MDEG or head_down_ms <= 0:
        return 0
    profile.sessions_at_level = min(profile.sessions_at_level + 1, profile.advance_after)
    nxt = profile.level + 1
    if (profile.sessions_at_level >= profile.advance_after and nxt < NUM_LEVELS
            and LEVEL_ANGLE_MDEG[nxt] <= profile.max_mdeg):
        profile.level = nxt
        profile.sessions_at_level = 0
        return 1
    return 0


def save_profiles(fs, profiles, selected=None):
    """Persist the profile list and the selected profile (the one the table buttons act
    on; None: the first); returns store.OK or store.WRITE_FAILED."""
    if len(profiles) > MAX_PROFILES:
        raise ProfileError("at most %d profiles" % MAX_PROFILES)
    sel = (selected if selected is not None else profiles[0]).pid
    return store.save(fs, FILE, {"profiles": [p.to_dict() for p in profiles],
                                 "selected": sel})


def find(profiles, name):
    """The index of the profile called name, or -1."""
    for i in range(len(profiles)):
        if profiles[i].name == name:
            return i
    return -1


def selected_index(fs, profiles):
    """The index of the profile stored as selected (0 if none or unknown)."""
    data, status = store.load(fs, FILE, None)
    sel = data.get("selected") if status == store.OK and type(data) is dict else None
    for i in range(len(profiles)):
        if profiles[i].pid == sel:
            return i
    return 0


def _fix_pids(out, given):
    """Give each profile stored without a profile id (the older format) or with one
    already taken the smallest free id, in order: the first of an older file becomes
    patient 1, whose sessions the older history holds (history.FIRST_PID)."""
    for i in range(len(out)):
        taken = [q.pid for q in out[:i]]
        if not given[i] or out[i].pid in taken:
            pid = 1
            while pid in taken:
                pid += 1
            out[i].pid = pid


def load_profiles(fs, cfg):
    """(profiles, status). Never empty, never raises for a bad file.

    A missing file on a new table gives one beginner profile without consent. A missing
    file on a table that has stored anything before, a corrupt file, or a
    stored profile that no longer validates (say the soft max was lowered), gives
    fallback_profile() - every limit at its lowest bound - and the status CORRUPT, so
    nothing damaged can raise a limit; the caller reports it.
    """
    data, status = store.load(fs, FILE, None)
    out = []
    given = []  # stored with a profile id
    if type(data) is dict and type(data.get("profiles")) is list:
        for d in data["profiles"][:MAX_PROFILES]:
            given.append(type(d) is dict and "pid" in d)
            try:
                out.append(from_dict(d, cfg))
            except ProfileError:
                status = store.CORRUPT
                name = d.get("name") if type(d) is dict else None
                try:
                    check_name(name)
                except ProfileError:
                    name = "user%d" % len(out)
                out.append(fallback_profile(name, cfg))
        _fix_pids(out, given)
    elif status == store.OK:
        status = store.CORRUPT  # a valid record holding the wrong shape
    if not out:
        # a new table (no file) starts at the beginner defaults; a damaged file at the
        # lowest limits, so a broken record never raises what a therapist had set
        if status == store.MISSING and not _used_before(fs):
            out.append(default_profile("default", cfg))
        else:
            # missing on a table that has run before (deleted, or set aside as .bad
            # last boot) is damage too: the stored limits are unknown
            out.append(fallback_profile("default", cfg))
            status = store.CORRUPT
    return out, status


def _used_before(fs):
    """True if this table has stored anything before: then no profile file is damage."""
    for name in ("faults", "history", "settings", FILE + ".bad"):
        try:
            if fs.exists(name):
                return True
        except OSError:
            return True  # cannot tell: assume the restrictive case
    return False
