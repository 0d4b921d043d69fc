"""Console commands for the limits: `config get|set`, `profile [set]`, and the patients
(`profile list|new|select|rename|remove`: firmware/console_patients.py, on demand).

Reading is open to anyone; a change needs a therapist session and the table in READY
(nothing changes under a moving table), and goes through the app (AppView.set_setting,
set_profile_field), which validates it, keeps every profile valid and stores it. A
refused change leaves everything as it was.
"""

import profiles
import store
from cmdparse import ParseError, fmt_milli, is_fixed
from config import ConfigError, field, field_at, field_count
from console_text import SETTINGS_HEAD, setting_row


def save_warning(status):
    """The warning for a store status: '' when stored, else why it is lost at a reset."""
    if status == store.DEFERRED:  # the table moves (firmware/flashgate.py)
        return "stored when the table stands still: lost if the power fails before"
    if status is not None and status != store.OK:
        return "not stored (%s): lost at the next reset" % store.status_name(status)
    return ""


def c_config(con, op, name, value):
    if op == "get":
        config_get(con, name)
        return
    con.need_therapist()
    con.need_ready("config set")
    try:
        old, status = con.view.set_setting(name, value)
    except ConfigError as e:
        raise ParseError(str(e))
    except profiles.ProfileError as e:
        raise ParseError("refused: " + str(e))
    warn = save_warning(status)
    text = "ok config: %s = %d (was %d)" % (name, value, old)
    con.out.ok(text + ("; " + warn if warn else ""),
               {"name": name, "value": value, "old": old, "warning": warn or None})


def config_get(con, name):
    view = con.view

    def row(f, js):
        # f: a field number (the whole list) or config.field(); read when its turn comes
        if type(f) is int:
            f = field_at(f)
        assert f is not None
        return setting_row(f, view.setting(f[0]), is_fixed(f[0]), js)

    if name is None:
        con.out.ok(SETTINGS_HEAD, {"fields": ["name", "value", "min", "max", "fixed"]},
                   key="config", rows=range(field_count()), row=row)
        return
    f = field(name)
    if f is not None:
        r = row(f, True)
        con.out.ok(row(f, False), {"name": r[0], "value": r[1], "min": r[2], "max": r[3],
                                   "fixed": r[4]})


def c_profile(con, setting, value):
    view = con.view
    if setting is None:
        con.out.ok(None, pairs=view.profile_pairs())
        return
    if type(setting) is str:
        import console_patients  # on demand: rarely used, kept out of the resident heap

        console_patients.run(con, setting, value)
        return
    name, field_, milli = setting
    con.need_therapist()
    con.need_ready("profile set")
    try:
        old, status = view.set_profile_field(field_, value)
    except profiles.ProfileError as e:
        raise ParseError(str(e))
    warn = save_warning(status)
    p = view.profile()
    shown = fmt_milli if milli else str
    text = "ok profile '%s': %s = %s (was %s)" % (p.name, name, shown(value), shown(old))
    con.out.ok(text + ("; " + warn if warn else ""),
               {"profile": p.name, "field": field_, "value": value, "old": old,
                "level": p.level, "warning": warn or None})

