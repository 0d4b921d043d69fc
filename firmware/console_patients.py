"""Console commands for the patients: `profile list|new|select|rename|remove`.

Imported on demand by console_settings.c_profile (the first such command), as is
firmware/patients.py, which holds the rules: the code for the few commands a therapist
gives now and then stays out of the resident heap. Listing is open to anyone; a change
needs a therapist session and READY, and a refusal changes nothing.
"""

import profiles
import states
from cmdparse import ParseError, fmt_milli
from console_settings import save_warning


def run(con, op, names):
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
