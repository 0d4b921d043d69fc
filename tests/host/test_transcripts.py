"""The console's human replies, command by command: tests/transcripts/<command>.txt replayed
on the real firmware App on the simulated table (host_tools/transcript.py says the format).

A reply that changes fails here with the diff. If the change is meant, regenerate the
files (`make transcripts`) and review them (`git diff tests/transcripts`) before the
commit: the diff is the review of what people will read.
"""

import os

import pytest
from console import COMMANDS

from host_tools import transcript

NAMES = [c[0] for c in COMMANDS]


def _sends(text, name):
    # a line typed with the command, tagged (#<n>) or not
    for line in text.splitlines():
        words = line[2:].split() if line.startswith("> ") else []
        if words and words[0].startswith("#"):
            words = words[1:]
        if words and words[0] == name:
            return True
    return False


def test_every_command_has_a_transcript_that_types_it():
    files = {os.path.basename(p)[:-4]: p for p in transcript.paths()}
    missing = [n for n in NAMES if n not in files]
    assert not missing, "no tests/transcripts/<command>.txt for %s" % missing
    stray = sorted(set(files) - set(NAMES))
    assert not stray, "transcripts of no console command: %s" % stray
    for name, path in files.items():
        with open(path) as f:
            assert _sends(f.read(), name), "%s never types `%s`" % (path, name)


@pytest.mark.parametrize("name", NAMES)
def test_transcript(name):
    path = os.path.join(transcript.DIR, name + ".txt")
    if not os.path.exists(path):
        pytest.skip("no transcript (the test above fails for it)")
    with open(path) as f:
        want = f.read()
    have = transcript.run(want)
    assert have == want, ("the console's replies changed; if that is meant: make "
                          "transcripts, then review git diff tests/transcripts\n"
                          + transcript.diff(want, have, path))


def test_a_wrong_reply_is_a_difference():
    text = ("< inversion table console, protocol 2: 'help' lists the commands\n"
            "> json\n< ok json: on\n")
    have = transcript.run(text)
    assert have.endswith("> json\n< ok json: off\n")
    d = transcript.diff(text, have, "t.txt")
    assert "-< ok json: on" in d and "+< ok json: off" in d


@pytest.mark.parametrize("text", [
    "json\n",  # no kind
    "> json\n@ soon\n",
    "> json\n@ 1.5 s\n",
    "> json\n! service\n",  # options come first
    "# a comment\n! physical reset\n",
    "! physical reset\n! physical reset\n",  # each once
    "! reboot\n",
])
def test_a_malformed_transcript_is_refused(text):
    with pytest.raises(transcript.TranscriptError):
        transcript.run(text)


def test_the_identity_is_put_back():
    import sys

    platform, impl = sys.platform, sys.implementation
    transcript.run("> version\n")
    assert sys.platform == platform and sys.implementation is impl
