"""The state transitions are documented both ways: every change `states.NEXT` allows is in
the README's transition table and in `states.TRANSITIONS`, and neither documents one that
NEXT forbids.

The README table's `from` cell is a state name or "any state" (every other state); its
`to` cell is one or more state names separated by " / ". A self-transition (MOVING ->
MOVING: a new target) is a row like any other.
"""

import os

import states as S

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
HEADER = "| from | to | cause |"
ANY = "any state"


def _names(pairs):
    return sorted("%s -> %s" % (S.STATE_NAMES[a], S.STATE_NAMES[b]) for a, b in pairs)


def allowed():
    """Every (from, to) that NEXT allows."""
    n = len(S.STATE_NAMES)
    return {(a, b) for a in range(n) for b in range(n) if S.NEXT[a] & (1 << b)}


def readme_rows(text):
    """The README transition table's rows as (from cell, [to names]), in order."""
    lines = text.split("\n")
    start = lines.index(HEADER) + 2  # past the header and the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append((cells[0], [t.strip() for t in cells[1].split("/")]))
    return rows


def readme_pairs(rows):
    """The rows as (from, to) state numbers; an unknown name fails with its row."""
    out = set()
    for src, dsts in rows:
        for dst in dsts:
            assert dst in S.STATE_NAMES, "README transition to an unknown state: %r" % dst
            b = S.STATE_NAMES.index(dst)
            if src == ANY:
                out |= {(a, b) for a in range(len(S.STATE_NAMES)) if a != b}
            else:
                assert src in S.STATE_NAMES, "README transition from %r" % src
                out.add((S.STATE_NAMES.index(src), b))
    return out


def _readme():
    with open(README) as f:
        return f.read()


def test_the_readme_table_is_found_and_read():
    rows = readme_rows(_readme())
    assert ("BOOT", ["READY"]) in rows  # its first row
    assert (ANY, ["FAULT"]) in rows
    assert ("FAULT", ["HOLDING", "READY", "RECOVERY"]) in rows  # a row of three
    assert len(rows) >= 20


def test_the_readme_table_is_exactly_what_next_allows():
    documented = readme_pairs(readme_rows(_readme()))
    next_ = allowed()
    assert not next_ - documented, "in NEXT, not in README.md: %s" % _names(next_ - documented)
    assert not documented - next_, "in README.md, not in NEXT: %s" % _names(documented - next_)


def test_states_transitions_are_exactly_what_next_allows():
    documented = {(a, b) for a, b, _why in S.TRANSITIONS}
    next_ = allowed()
    assert not next_ - documented, "in NEXT, not in TRANSITIONS: %s" % _names(next_ - documented)
    assert not documented - next_, "in TRANSITIONS, not in NEXT: %s" % _names(
        documented - next_)


def test_the_check_sees_a_missing_and_an_extra_transition():
    rows = readme_rows(_readme())
    next_ = allowed()
    fewer = [r for r in rows if r != ("MOVING", ["JOGGING"])]
    assert next_ - readme_pairs(fewer) == {(S.MOVING, S.JOGGING)}
    more = rows + [("HOMING", ["RETURNING"])]  # refused: NEXT forbids it (see test_control)
    assert readme_pairs(more) - next_ == {(S.HOMING, S.RETURNING)}
