"""The console's grammar: a line's words, the command table, strict numbers.

Owns everything that turns console text into validated values before anything runs:
the command table (name, usage, help), the request id, each command's arguments, and
the one number syntax the console accepts. firmware/console.py runs a command only
with what parse() returned, so a malformed line is refused before anything changes.
Runs per command, not per tick: it may allocate.

Numbers. A whole number is an optional '-' and 1-9 ASCII digits. A decimal quantity
(degrees, seconds) is an optional '-', 1-6 ASCII digits, and optionally one '.' and
1-3 digits; it becomes an int in thousandths (deg -> mdeg, s -> ms). Everything else
raises ParseError: '', '-', '+1', '--3', ' 1', '1e5', '0x10', '1_000', 'nan', 'inf',
'1.', '.5', '1.2345', non-ASCII digits, too many digits, values outside the bounds.
No floats anywhere (single precision and boxed on the ESP32): the number typed on the
host is exactly the integer the core gets. Python's int() is not used: it accepts
'1_000', ' 1 ', '+1' and non-ASCII digits.
"""

import profiles
import programs
import wallclock
from config import field
from micropython import const

_INT_DIGITS = const(9)  # 999_999_999 < 2**30: stays a small int on MicroPython
_WHOLE_DIGITS = const(6)  # 999_999.999 -> 999_999_999 thousandths: still a small int
_FRAC_DIGITS = const(3)  # thousandths: mdeg, ms
MAX_ANGLE_MDEG = const(180000)  # the core refuses angles beyond +-180 deg; so do we
MAX_HOLD_MS = const(3600000)  # the core refuses holds over an hour; so do we
_REQ_ID_MAX = const(999999999)
_LIST_MAX = const(999)  # log/history n: more than is kept just shows all of it
STREAM_MAX_HZ = const(50)  # 20 ms: two 10 ms ticks per line at most
_FREEZE_MAX_MS = const(10000)  # past the longest watchdog timeout (8 s: config.py)

# name|usage, one command per line: drives parsing and the host client's completion;
# what each command does is firmware/cmdhelp.py's table (loaded for `help` only). One
# string, not a tuple per command: code run in place (frozen, ROMFS) then keeps it out
# of the RAM heap; command() and commands() read it on demand.
_TABLE = (
    "\nhelp|help [command]"
    "\nstatus|status"
    "\ngoto|goto <deg>"
    "\nhold|hold <s>"
    "\nprogram|program [name|id]"
    "\nstart|start [<deg> <s>]"
    "\nstop|stop"
    "\nreturn|return"
    "\nestop|estop"
    "\nack|ack"
    "\ndiscomfort|discomfort"
    "\nconsent|consent [yes [<who>]]"
    "\nhome|home"
    "\ncalibrate|calibrate [<deg>]"
    "\nfaults|faults"
    "\nlog|log [n]"
    "\nhistory|history [<name>] [n]"
    "\nclock|clock [set <unix s>]"
    "\nconfig|config get [name] | config set <name> <value>"
    "\nprofile|profile [set <field> <value>] | profile list | profile new|select|remove"
    " <name> | profile rename <old> <new>"
    "\nselftest|selftest"
    "\nstream|stream <hz>|off"
    "\njson|json [on|off]"
    "\nversion|version"
    "\nlogin|login <pin>"
    "\nlogout|logout"
    "\npin|pin set [<old>] <new>"
    "\nlock|lock"
    "\nunlock|unlock [<pin>]"
    "\nreboot|reboot"
    "\nmaintenance|maintenance <pin>"
    "\ndrive|drive on|off"
    "\nimu|imu"
    "\nsteps|steps"
    "\nswitches|switches"
    "\njog|jog up|down|stop"
    "\nkeep|keep"
    "\nfreeze|freeze <ms>"
    "\n"
)


def _line(start):
    # (name, usage) of the table line starting at start (just after its \n). The usage
    # may hold '|' itself ("program [name|id]"): the name is up to the first '|'.
    end = _TABLE.find("\n", start)
    a = _TABLE.find("|", start)
    return _TABLE[start:a], _TABLE[a + 1:end]


def command(name):
    """(name, usage) of a command, or None if there is no such command."""
    if "|" in name or "\n" in name:
        return None
    i = _TABLE.find("\n%s|" % name)
    return _line(i + 1) if i >= 0 else None


def command_at(k):
    """The k-th command's (name, usage), or None past the last one."""
    i = 1
    while k > 0 and i > 0:
        i = _TABLE.find("\n", i) + 1
        k -= 1
    return _line(i) if 0 < i < len(_TABLE) else None


def command_count():
    return _TABLE.count("\n") - 1


def commands():
    """Every command's (name, usage, help), in table order (the host tools and tests;
    the help from firmware/cmdhelp.py)."""
    import cmdhelp

    out = []
    for k in range(command_count()):
        c = command_at(k)
        assert c is not None
        out.append(c + (cmdhelp.text(c[0]),))
    return tuple(out)


def __getattr__(name):
    # COMMANDS, the table as tuples, for the host tools and tests; the board never asks.
    if name == "COMMANDS":
        return commands()
    raise AttributeError(name)


# Settings `config set` refuses. The frame, drive and IMU mounting numbers come from
# the hardware file (one source of truth: deploy a new file to change them); the
# kinematics, loop period and watchdog are taken once at boot; the IMU zero and offsets
# are taken by `calibrate` (checked against the steps and |g|; typed-in ones would not),
# and so is the commissioning mark imu_calibrated (a typed 1 would skip the calibration).
_FIXED = (
    " imu_zero_mdeg imu_acc_sin_off_mg imu_acc_cos_off_mg imu_calibrated"
    " loading_angle_mdeg home_switch_mdeg soft_max_mdeg overtravel_mdeg"
    " motor_steps_per_rev microsteps gear_ratio backlash_mdeg kinematics screw_lead_um"
    " screw_frame_mm screw_table_mm screw_offset_mdeg imu_axis imu_sign tick_ms"
    " wdt_timeout_ms "
)


def is_fixed(name):
    """True for a setting `config set` refuses (see above)."""
    return " " not in name and (" %s " % name) in _FIXED

# `profile set` fields: (console name, Profile field, decimal in thousandths?).
PROFILE_SETTINGS = (
    ("max_deg", "max_mdeg", True),
    ("hold_s", "hold_max_ms", True),
    ("cap_s", "session_cap_ms", True),
    ("advance_after", "advance_after", False),
)


class ParseError(ValueError):
    pass


# ------------------------------------------------------------------ numbers


def _digits(text, start, end):
    """The value of text[start:end] if it is 1+ ASCII digits, else -1."""
    if end <= start:
        return -1
    v = 0
    for i in range(start, end):
        d = ord(text[i]) - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


def _check_range(v, lo, hi, what, shown):
    if v < lo or v > hi:
        raise ParseError("%s %s is outside [%s, %s]" % (what, shown(v), shown(lo), shown(hi)))
    return v


def parse_int(text, lo, hi, what="value"):
    """A whole number in [lo, hi] from text, strictly; ParseError otherwise."""
    if type(text) is not str:
        raise ParseError("%s: not text" % what)
    start = 1 if text[:1] == "-" else 0
    n = len(text) - start
    v = _digits(text, start, len(text)) if 0 < n <= _INT_DIGITS else -1
    if v < 0:
        raise ParseError("%s must be a whole number, got '%s'" % (what, _clip(text)))
    if start:
        v = -v
    return _check_range(v, lo, hi, what, str)


def parse_milli(text, lo, hi, what="value"):
    """A decimal with up to 3 decimals, in thousandths, in [lo, hi] (also thousandths).

    '20' -> 20000, '-1.25' -> -1250, '0.001' -> 1. ParseError for anything else.
    """
    if type(text) is not str:
        raise ParseError("%s: not text" % what)
    start = 1 if text[:1] == "-" else 0
    end = len(text)
    dot = text.find(".", start)
    whole_end = dot if dot >= 0 else end
    whole = -1
    frac = 0
    if 0 < whole_end - start <= _WHOLE_DIGITS:
        whole = _digits(text, start, whole_end)
    if whole >= 0 and dot >= 0:
        nf = end - dot - 1
        frac = _digits(text, dot + 1, end) if 0 < nf <= _FRAC_DIGITS else -1
        if frac >= 0:
            for _ in range(_FRAC_DIGITS - nf):
                frac *= 10
    if whole < 0 or frac < 0:
        raise ParseError(
            "%s must be a number with at most 3 decimals, got '%s'" % (what, _clip(text))
        )
    v = whole * 1000 + frac
    if start:
        v = -v
    return _check_range(v, lo, hi, what, fmt_milli)


def fmt_milli(v):
    """Thousandths as a decimal string: -1250 -> '-1.250' (mdeg -> deg, ms -> s)."""
    if v < 0:
        return "-%d.%03d" % (-v // 1000, -v % 1000)
    return "%d.%03d" % (v // 1000, v % 1000)


def _clip(text):
    # Echo a bad token, shortened: a reply line stays short whatever was typed.
    return text if len(text) <= 16 else text[:16] + "..."


# ------------------------------------------------------------------ lines


NO_COMMAND = "request id without a command"


def split(text):
    """(request id or None, for a person, words) of a printable-ASCII line, lower-cased.

    A first word '#<n>' is a request id (0-999999999), echoed in JSON replies; '%<n>'
    is one whose reply is for a person (True): the human text, then its end line
    (firmware/console_out.py). A tag alone gives no words: the caller answers it under
    its tag (its client waits for that id), with NO_COMMAND.
    """
    words = text.lower().split()
    if not words or words[0][0] not in "#%":
        return None, False, words
    req = parse_int(words[0][1:], 0, _REQ_ID_MAX, "request id")
    return req, words[0][0] == "%", words[1:]


def parse(words):
    """(name, values) of a command line's words; ParseError says what is wrong.

    The values are what the console's handler for `name` takes, already checked
    against every bound that does not depend on the table's current state.
    """
    name = words[0]
    cmd = command(name)
    if cmd is None:
        raise ParseError("unknown command '%s' (help lists them)" % _clip(name))
    args = words[1:]
    n = len(args)
    usage = ParseError("usage: " + cmd[1])
    if name == "goto" or name == "calibrate":
        if n != 1 and not (n == 0 and name == "calibrate"):
            raise usage
        return name, (_angle(args[0]) if n else None,)
    if name == "hold":
        if n != 1:
            raise usage
        return name, (parse_milli(args[0], 0, MAX_HOLD_MS, "hold (s)"),)
    if name == "start":
        return name, _start(args, cmd)
    if name == "config":
        return name, _config(args, usage)
    if name == "profile":
        return name, _profile_args(args, usage)
    if name == "history":
        return name, _history(args, usage)
    if name == "clock":
        if n == 0:
            return name, (None,)
        if n != 2 or args[0] != "set":
            raise usage
        return name, (_unix_time(args[1]),)
    if name == "consent" and n == 2 and args[0] == "yes":
        return name, ("yes", args[1])
    if name == "pin":
        if not 2 <= n <= 3 or args[0] != "set":
            raise usage
        return name, (_pin(args[1]) if n == 3 else None, _pin(args[-1]))
    if n > 1:
        raise usage  # the rest take one argument at most
    return name, _one(name, args[0] if n else None, usage)


def _one(name, arg, usage):
    """The values of a command with one optional argument (arg None: not given)."""
    if name == "program":
        return (_program(arg) if arg is not None else None,)
    if name == "log":
        return (parse_int(arg, 1, _LIST_MAX, "n") if arg is not None else None,)
    if name == "stream":
        if arg is None:
            raise usage
        return (0 if arg == "off" else parse_int(arg, 1, STREAM_MAX_HZ, "rate (Hz)"),)
    if name == "json" or name == "consent":
        if arg is not None and arg not in (("yes",) if name == "consent" else ("on", "off")):
            raise usage
        return (arg,) if name == "json" else (arg, None)
    if name == "help":
        if arg is not None and command(arg) is None:
            raise ParseError("unknown command '%s'" % _clip(arg))
        return (arg,)
    if name == "freeze":
        if arg is None:
            raise usage
        return (parse_int(arg, 1, _FREEZE_MAX_MS, "ms"),)
    if name == "drive" or name == "jog":
        if arg not in (("on", "off") if name == "drive" else ("up", "down", "stop")):
            raise usage
        return (arg,)
    if name == "login" or name == "unlock" or name == "maintenance":
        if arg is None and name != "unlock":
            raise usage
        return (_pin(arg) if arg is not None else None,)
    if arg is not None:
        raise usage  # the rest take no arguments
    return ()


def _start(args, cmd):
    """(angle mdeg, hold ms) for `start`: both or neither (0, 0)."""
    if len(args) == 0:
        return 0, 0
    if len(args) != 2:
        raise ParseError("usage: %s (both the angle and the hold, or neither)" % cmd[1])
    return (parse_milli(args[0], 0, MAX_ANGLE_MDEG, "angle (deg)"),
            parse_milli(args[1], 0, MAX_HOLD_MS, "hold (s)"))


def _angle(text):
    return parse_milli(text, -MAX_ANGLE_MDEG, MAX_ANGLE_MDEG, "angle (deg)")


def _program(text):
    names = programs.NAMES
    for k in names:
        if names[k] == text:
            return k
    if "0" <= text[0] <= "9":
        pid = parse_int(text, 0, 99, "program id")
        if pid in names:
            return pid
    raise ParseError("unknown program '%s' (%s)"
                     % (_clip(text), " ".join([names[k] for k in sorted(names)])))


def _pin(text):
    # The format only (the PIN itself is checked by auth.py): 4-8 ASCII digits.
    if not 4 <= len(text) <= 8 or _digits(text, 0, len(text)) < 0:
        raise ParseError("a PIN is 4-8 digits")
    return text


def config_field(name):
    """config.field(name): (name, default, lo, hi) of a setting; ParseError if none."""
    f = field(name)
    if f is not None:
        return f
    raise ParseError("unknown setting '%s' (config get lists them)" % _clip(name))


def _config(args, usage):
    """('get', name or None, 0) or ('set', name, value) for `config ...`."""
    n = len(args)
    if n == 0 or (args[0] == "get" and n <= 2):
        return "get", (config_field(args[1])[0] if n == 2 else None), 0
    if args[0] != "set" or n != 3:
        raise usage
    f = config_field(args[1])
    value = parse_int(args[2], f[2], f[3], f[0])
    if f[0] in ("imu_zero_mdeg", "imu_acc_sin_off_mg", "imu_acc_cos_off_mg"):
        raise ParseError("%s is set by calibrate" % f[0])
    if is_fixed(f[0]):
        raise ParseError("%s comes from the hardware file or is read at boot: "
                         "deploy a new hardware file to change it" % f[0])
    return "set", f[0], value


_PROFILE_OPS = " list new select remove rename "


def _profile_args(args, usage):
    """(None, 0) show; (PROFILE_SETTINGS entry, value) set; (op, names) the patients:
    ('list', ()), ('new'|'select'|'remove', (name,)), ('rename', (old, new))."""
    n = len(args)
    if n == 0:
        return None, 0
    op = args[0]
    if op == "set" and n == 3:
        return _profile(args[1], args[2])
    if " " in op or (" %s " % op) not in _PROFILE_OPS:
        raise usage
    if n != (1 if op == "list" else 3 if op == "rename" else 2):
        raise usage
    return op, tuple(args[1:])


def _history(args, usage):
    """(profile name or None, n or None) for `history [<name>] [n]`: a name starts with
    a letter (firmware/patients.py), a count with a digit."""
    name = None
    n = None
    for a in args:
        if "0" <= a[0] <= "9" and n is None:
            n = parse_int(a, 1, _LIST_MAX, "n")
        elif name is None and n is None:
            name = a
        else:
            raise usage
    return name, n


_UNIX_DIGITS = const(10)


def _unix_time(text):
    """A wallclock record time from Unix seconds (10 digits until 2286): 2024..2058."""
    v = _digits(text, 0, len(text)) if 0 < len(text) <= _UNIX_DIGITS else -1
    if v < 0:
        raise ParseError("clock set takes Unix seconds (UTC), got '%s'" % _clip(text))
    t = v - wallclock.EPOCH_UNIX_S
    if t < 0 or t > wallclock.MAX_T:
        raise ParseError("the time must lie in 2024-2058, got %s s" % _clip(text))
    return t


def _profile(name, text):
    """(PROFILE_SETTINGS entry, value) for `profile set <name> <text>`."""
    for s in PROFILE_SETTINGS:
        if s[0] == name:
            f = field(s[1], profiles.FIELDS)
            assert f is not None
            if s[2]:
                return s, parse_milli(text, f[2], f[3], name)
            return s, parse_int(text, f[2], f[3], name)
    raise ParseError("profile set takes %s" % " ".join([s[0] for s in PROFILE_SETTINGS]))
