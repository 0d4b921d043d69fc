"""Words for numeric codes: faults, events, sub-phases, refusal reasons...

Two kinds of table, both without a dict or a tuple of strings, which would cost the RAM
heap a slot and often a string object per entry (code run in place, frozen or ROMFS,
keeps a string constant's text out of the heap):
- a module's own constants: a fault's name is its constant's name in lower case
  (faults.IMU_BUS -> "imu_bus"), an event's is its E_ constant's without the prefix
  (events.E_SESSION_END -> "session_end"), so a name cannot drift from its code;
- a text table: one string of lines "\\n<code> <name>", ending with "\\n", for names
  that are not identifiers (refusal reasons, reset causes...).

A lookup allocates the name it returns: per command or telemetry line, never in the
control tick.
"""


def constant(space, code, prefix=""):
    """The name of the constant in space (a module's globals()) whose name starts with
    prefix (uppercase, public) and whose value is code: without the prefix, in lower
    case. None if there is none."""
    n = len(prefix)
    for k in space:
        v = space[k]
        if type(v) is int and v == code and k.startswith(prefix) and "A" <= k[n:n + 1] <= "Z":
            return k[n:].lower()
    return None


def constants(space, prefix=""):
    """{code: name} of every such constant in space (for the host tools)."""
    n = len(prefix)
    return {space[k]: k[n:].lower() for k in space
            if type(space[k]) is int and k.startswith(prefix) and "A" <= k[n:n + 1] <= "Z"}


def text(table, code):
    """The name of code in a text table, or None if the table has no such code."""
    i = table.find("\n%d " % code)
    if i < 0:
        return None
    i = table.find(" ", i) + 1
    return table[i:table.find("\n", i)]


def texts(table):
    """{code: name} of a whole text table (for the host tools)."""
    d = {}
    for line in table.split("\n"):
        if line:
            code, _, name = line.partition(" ")
            d[int(code)] = name
    return d
