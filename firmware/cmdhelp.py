"""What each console command does, one line per command: the `help` command's text
(firmware/console_about.py) and, with firmware/cmdparse.py's usage, the host client's.

A module of its own, loaded on demand (console._ON_DEMAND) and dropped after the help
was written: its text is the console's longest, and a stock ESP32 image holds every
loaded module in the heap. Its commands are cmdparse.py's table's, in the same order
(tests/core/test_console_ondemand.py checks).
"""

# name|what it does, one command per line, in cmdparse._TABLE's order. One string: code
# run in place (frozen, ROMFS) keeps it out of the RAM heap.
_HELP = (
    "\nhelp|list the commands, or one command's usage"
    "\nstatus|state, angle, target, fault, session, profile, access"
    "\ngoto|move to an angle (clamped to the profile max and soft max)"
    "\nhold|hold time at the target (capped by the profile)"
    "\nprogram|show or select: beginner progression interval custom"
    "\nstart|start the selected program (custom/interval: angle, hold)"
    "\nstop|decelerate and hold here"
    "\nreturn|normal return: rest at horizontal, then the loading position"
    "\nestop|emergency return, latched until 'ack'"
    "\nack|acknowledge the emergency latch or a fault (never moves by itself)"
    "\ndiscomfort|the person feels unwell: return at once"
    "\nconsent|show the contraindications; 'consent yes' confirms none apply (who:"
    " default therapist when logged in, else patient)"
    "\nhome|find the loading switch and set the step reference"
    "\ncalibrate|IMU calibration at a known angle (READY: the loading stop; HOLDING:"
    " standing still); two points 20 deg apart also take the offsets"
    "\nfaults|the latched fault and the fault history kept across resets"
    "\nlog|the last n events (default 20)"
    "\nhistory|the last n sessions (default 10) of the selected profile, or of the one"
    " named"
    "\nclock|the date and time records are stamped with (UTC); the client sets it when it"
    " connects"
    "\nconfig|settings (set: login, READY)"
    "\nprofile|the selected profile (patient); list all; set (max_deg hold_s cap_s"
    " advance_after), new, select, rename, remove: login, READY"
    "\nselftest|boot self-test result, reset cause and the live checks"
    "\nstream|telemetry lines at 1-50 Hz"
    "\njson|machine mode: every reply one JSON object per line"
    "\nversion|firmware and protocol version"
    "\nlogin|open a therapist session (5 wrong PINs lock out)"
    "\nlogout|close the therapist session"
    "\npin|set the therapist PIN, 4-8 digits (the first: no old, set only with someone"
    " at the table - README, Setting the first PIN)"
    "\nlock|child lock on: nothing starts motion, from the buttons or here; stop, return,"
    " estop, discomfort, ack and the recovery return still work"
    "\nunlock|child lock off (therapist PIN)"
    "\nreboot|reset the controller (READY only)"
    "\nmaintenance|restart into service mode (REPL, files, deploy; the table does not"
    " move): therapist PIN, READY only"
    "\ndrive|bring-up (service mode, login): the driver energised at rest, no motion; off"
    " de-energises it"
    "\nimu|bring-up: the raw accelerometer (mg), gyro (mdps) and the part's WHO_AM_I"
    "\nsteps|bring-up: the step count, commanded and counted (PCNT)"
    "\nswitches|bring-up: the e-stop, home, over-travel, ankle-lock and button inputs"
    "\njog|bring-up hold-to-run: moves only while 'keep' arrives at least every 200 ms"
    "\nkeep|bring-up: the jog's keep-alive (the client sends it while a key is held)"
    "\nfreeze|bring-up: block the loop for 1-10000 ms (the heartbeat gate and watchdog"
    " tests)"
    "\n"
)


def text(name):
    """What the command does, or None if there is no such command."""
    if "|" in name or "\n" in name:
        return None
    i = _HELP.find("\n%s|" % name)
    if i < 0:
        return None
    i = _HELP.find("|", i + 1) + 1
    return _HELP[i:_HELP.find("\n", i)]


def names():
    """The commands named here, in order."""
    return [line[:line.find("|")] for line in _HELP.split("\n") if line]
