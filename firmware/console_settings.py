"""Console commands for the limits: `config get|set`, `profile [set]`, and the patients
(`profile list|new|select|rename|remove`: firmware/patients.py, loaded on demand).

Reading is open to anyone; a change needs a therapist session and the table in READY
(nothing changes under a moving table), and goes through the app (AppView.set_setting,
set_profile_field), which validates it, keeps every profile valid and stores it. A
refused change leaves everything as it was.
"""

import profiles
import states
import store
from cmdparse import ParseError, fmt_milli, is_fixed
from config import ConfigError, field, field_at, field_count
from console_text import setting_row


def save_warning(status):
    """The warning for a store status: '' when stored, else why it is lost at a reset."""
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
        con.out.ok(None, {"fields": ["name", "value", "min", "max", "fixed"]},
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
        _patients(con, setting, value)
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


def _patients(con, op, names):
    """`profile list|new|select|rename|remove`: the patients (firmware/patients.py)."""
    view = con.view
    if op == "list":
        sel = view.profile()
        con.out.ok(None, {"selected": sel.name,
                          "fields": ["name", "level", "max_mdeg", "consent", "selected"]},
                   key="profiles", rows=list(view.profiles()),
                   row=lambda p, js: profile_row(p, p is sel, js))
        return
    con.need_therapist()
    con.need_ready("profile " + op)
    try:
        if op == "new":
            p, status = view.patients("create", names[0])
            text = "ok profile '%s' created: level 0, max %s deg, no consent yet" % (
                p.name, fmt_milli(p.max_mdeg))
        elif op == "select":
            r, status = view.patients("select", names[0])
            if r != states.OK:
                con.out.error("refused: " + states.reason_name(r), {"reason": r})
                return
            text = "ok profile '%s' selected: the buttons and programs use its limits" % (
                names[0])
        elif op == "rename":
            status = view.patients("rename", names[0], names[1])
            text = "ok profile '%s' renamed '%s'" % (names[0], names[1])
        else:
            status = view.patients("remove", names[0])
            text = "ok profile '%s' removed, with its sessions" % names[0]
    except profiles.ProfileError as e:
        raise ParseError("refused: %s" % e)
    warn = save_warning(status)
    con.out.ok(text + ("; " + warn if warn else ""),
               {"profile": names[-1], "op": op, "selected": view.profile().name,
                "warning": warn or None})


def profile_row(p, selected, js):
    if js:
        return [p.name, p.level, p.max_mdeg, bool(p.consent), selected]
    return "%s %-16s level %d  max %7s deg  consent %s" % (
        "*" if selected else " ", p.name, p.level, fmt_milli(p.max_mdeg),
        "yes" if p.consent else "no")
