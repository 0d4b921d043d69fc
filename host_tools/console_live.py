"""The console client's live view: telemetry, the hold time left and the session cap,
and keys that act on the table.

Keys (one press each; no Enter): s `stop`, r `return`, e `estop` (the console's
emergency return; the table's own e-stop button never depends on this link), q or
Ctrl-C leaves the view (the table carries on). In the service mode's bring-up console
(firmware/console_service.py) u and d jog head-up and head-down while held.

A terminal reports no key release, only the keyboard's autorepeat while a key is held:
a first press after a pause of up to REPEAT_DELAY_S, then a press every ~33 ms. JogKey
takes the key as held until no press came for that long (RELEASE_S after the first,
REPEAT_GAP_S once it repeats) and, while held, has a `keep` sent every KEEP_S (half
the firmware's 200 ms, so one late line does not stop the table). Let go, it sends `jog
stop`; should the client or the link die, the firmware stops the jog itself within one
tick of the missing keep-alive (firmware/commands.py). Times are passed in (testable).
"""

import time
from collections import deque

KEEP_S = 0.1  # a keep-alive every 100 ms while the key is held (the firmware's limit: 200)
RELEASE_S = 0.6  # after the first press: the usual autorepeat delay is 250-600 ms
REPEAT_GAP_S = 0.15  # once repeating (~30 Hz): a gap this long is a let-go key
STATUS_S = 1.0  # `status` (hold time left, session head-down time) once a second
KEYS = {"s": "stop", "r": "return", "e": "estop"}
JOG_KEYS = {"u": "up", "d": "down"}


class JogKey:
    """The held jog key's state, from its presses and the time (seconds, passed in)."""

    def __init__(self):
        self.direction = None  # "up" / "down" while held
        self._first = 0.0
        self._last = 0.0
        self._kept = 0.0

    def press(self, direction, now):
        """A press (or an autorepeat). Returns the line to send: `jog ...` for a new
        jog, None while the same key repeats."""
        if direction == self.direction:
            self._last = now
            return None
        self.direction = direction
        self._first = self._last = self._kept = now
        return "jog " + direction

    def due(self, now):
        """The line to send now: `keep` while held, `jog stop` once let go, or None."""
        if self.direction is None:
            return None
        repeating = self._last > self._first
        gap = REPEAT_GAP_S if repeating else RELEASE_S
        if now - self._last > gap:
            self.direction = None
            return "jog stop"
        if now - self._kept >= KEEP_S:
            self._kept = now
            return "keep"
        return None


def tty_keys():
    """A key source for the terminal (cbreak, non-blocking): a context manager whose
    value is a function returning the keys typed since the last call. None if stdin is
    not a terminal."""
    import sys

    if not sys.stdin.isatty():
        return None
    return _TtyKeys(sys.stdin)


class _TtyKeys:
    def __init__(self, stream):
        self.stream = stream
        self._saved = None

    def __enter__(self):
        import termios
        import tty

        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        return self.read

    def __exit__(self, *exc):
        import termios

        termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def read(self):
        import os
        import select

        fd = self.stream.fileno()
        got = ""
        while select.select([fd], [], [], 0)[0]:
            got += os.read(fd, 64).decode("ascii", "replace")
        return got


def live_view(client, seconds=None, out=None, keys=None, clock=time.monotonic):
    """A live panel (rich) until q, Ctrl-C or `seconds` have passed. keys: a function
    returning the keys typed since its last call (tty_keys()), or None: no keys."""
    from rich.console import Console as RichConsole
    from rich.live import Live

    prev = client.on_telemetry
    view = LivePanel(prev)
    client.on_telemetry = view.on_tel
    jog = JogKey()
    start = clock()
    end = None if seconds is None else start + seconds
    next_status = start
    try:
        with Live(view.panel(), console=RichConsole(file=out) if out else None,
                  refresh_per_second=10) as live:
            while end is None or clock() < end:
                now = clock()
                # not while a jog key is held: the console writes status's two dozen
                # fields over about 12 ticks before it takes the next line, which would
                # hold the keep-alive back past the firmware's 200 ms and stop the jog
                if now >= next_status and jog.direction is None:
                    next_status = now + STATUS_S
                    view.on_status(client.request("status"))
                if keys is not None and not _act(client, view, jog, keys(), now):
                    break
                line = jog.due(clock())
                if line:
                    view.said(line, client.request(line, person=True))
                client.poll(0.05)
                live.update(view.panel())
    except KeyboardInterrupt:
        pass
    finally:
        client.on_telemetry = prev
        if jog.direction is not None:
            client.request("jog stop")
    return view.count


def _act(client, view, jog, typed, now):
    """The keys typed: their commands sent. False on q (leave the view)."""
    for ch in typed.lower():
        if ch == "q":
            return False
        if ch in KEYS:
            view.said(KEYS[ch], client.request(KEYS[ch], person=True))
        elif ch in JOG_KEYS:
            line = jog.press(JOG_KEYS[ch], now)
            if line:
                view.said(line, client.request(line, person=True))
    return True


class LivePanel:
    """The latest telemetry, the angle's recent trail, the hold time left and the
    session's head-down time against its cap (from `status`), as a rich table."""

    def __init__(self, prev):
        self.prev = prev  # the client's own telemetry callback, still called
        self.latest = {}
        self.status = {}
        self.trail = deque(maxlen=60)
        self.count = 0
        self.last = ""  # the last key's command and its answer

    def on_tel(self, sample):
        if self.prev:
            self.prev(sample)
        self.latest.update(sample)
        self.trail.append(sample["angle_mdeg"])
        self.count += 1

    def on_status(self, reply):
        if reply.get("ok"):
            self.status = reply

    def said(self, line, reply):
        """A key's command and the console's reply to it, in the firmware's words."""
        if line == "keep" and reply.get("ok"):
            return  # the keep-alives are not news
        text = reply.get("text") or ("ok" if reply.get("ok") else "error: %s"
                                     % reply.get("error"))
        self.last = "%s: %s" % (line, text)

    def panel(self):
        from rich.table import Table

        tab = Table(title="inversion table - live", show_header=False, min_width=60,
                    caption="keys: s stop  r return  e estop  (u/d held: jog, bring-up)"
                            "  q leave")
        tab.add_column("what", style="bold")
        tab.add_column("value")
        latest = self.latest
        if not latest:
            tab.add_row("waiting", "for telemetry...")
        else:
            a = latest["angle_mdeg"] / 1000.0
            tab.add_row("state", latest["state"])
            tab.add_row("angle", "%8.3f deg  %s" % (a, _gauge(a)))
            tab.add_row("target", self.target_text())
            tab.add_row("rate", "%8.3f deg/s" % (latest["rate_mdeg_s"] / 1000.0))
            fault = latest["fault"]
            tab.add_row("fault", "[red]%s[/red]" % fault if fault != "none" else fault)
            tab.add_row("angle, last %d" % len(self.trail), _sparkline(self.trail))
            tab.add_row("samples", str(self.count))
        for k, v in self.status_rows():
            tab.add_row(k, v)
        if self.last:
            from rich.markup import escape

            tab.add_row("last key", escape(self.last))  # the console's text, not markup
        return tab

    def target_text(self):
        """The telemetry's target, or the firmware's words where there is none (`status`'s
        no_target, while its state is still the telemetry's)."""
        latest = self.latest
        st = self.status
        if st.get("no_target") and st.get("state") == latest["state"]:
            return st["no_target"]
        return "%8.3f deg" % (latest["target_mdeg"] / 1000.0)

    def status_rows(self):
        """(name, text) of the hold time left and the session cap, from `status`."""
        st = self.status
        if not st:
            return []
        hold = "-"
        if st.get("state") == "HOLDING":
            hold = "%.1f s" % (st.get("timer_ms", 0) / 1000.0)
        used = st.get("head_down_ms", 0) / 1000.0
        cap = st.get("session_cap_ms", 0) / 1000.0
        return [("hold left", hold),
                ("session", "%.0f of %.0f s head-down (cap), %.0f s left"
                 % (used, cap, max(0.0, cap - used)))]


def _gauge(angle_deg, width=37):
    """-90 .. +90 deg as a bar with the horizontal marked."""
    pos = int(round((max(-90.0, min(90.0, angle_deg)) + 90.0) / 180.0 * (width - 1)))
    cells = ["-"] * width
    cells[(width - 1) // 2] = "|"
    cells[pos] = "#"
    return "head-up [" + "".join(cells) + "] head-down"


def _sparkline(values):
    blocks = " .:-=+*#%@"
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    return "".join(blocks[int((v - lo) * (len(blocks) - 1) / span)] for v in values)
