"""Every console command hardware/bringup.md names exists and parses.

Each `code` span of the document is classified: a host command (`make <target>`,
checked against the Makefile's targets; `python -m ...`), a REPL statement (`import
...`), a table_params.json key (`frame.overtravel_mdeg`), a setting or reply field
(`imu_zero_mdeg`), or else a console command, which must parse with the firmware's
own grammar (cmdparse.parse; `<pin>` stands for a PIN). A span that fits none fails:
a command the document names but the firmware lacks is caught, whatever its first word.
"""

import re
from pathlib import Path

import pytest
from cmdparse import ParseError, command, parse, split

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "hardware" / "bringup.md"
_PLACEHOLDERS = {"<pin>": "2468"}
# the bring-up commands of the service mode (firmware/console_service.py) the document
# must name: one per step it covers
BRINGUP_COMMANDS = ("drive", "imu", "steps", "switches", "jog", "freeze")


def _spans():
    # a span may wrap across a line break, as Markdown allows
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", DOC.read_text())]


def _make_targets():
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", text, re.M))


def _kind(span):
    words = span.split()
    if words[0] == "make":
        return "make"
    if words[0] == "python" or words[0] == "import":
        return "host"
    if len(words) == 1 and re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", span):
        return "key"
    if len(words) == 1 and "_" in span and command(span) is None:
        return "field"
    return "console"


def _console_spans():
    return [s for s in _spans() if _kind(s) == "console"]


def test_the_document_names_console_commands():
    names = {s.split()[0] for s in _console_spans()}
    for c in BRINGUP_COMMANDS + ("status", "selftest", "calibrate", "goto", "home"):
        assert c in names, c


@pytest.mark.parametrize("span", sorted(set(_console_spans())))
def test_each_console_command_parses(span):
    text = span
    for k, v in _PLACEHOLDERS.items():
        text = text.replace(k, v)
    _, _, words = split(text)
    if len(words) == 1 and command(words[0]) is not None:
        return  # named without its arguments (`goto`, `calibrate`): it exists
    try:
        parse(words)
    except ParseError as e:
        pytest.fail("hardware/bringup.md: `%s` does not parse: %s" % (span, e))


def test_make_targets_exist():
    targets = _make_targets()
    for s in _spans():
        if _kind(s) == "make":
            assert s.split()[1] in targets, s


def test_an_unknown_command_would_fail():
    # the check itself: a span naming no command is classified as one and refused
    assert _kind("wobble 500") == "console"
    with pytest.raises(ParseError):
        parse(split("wobble 500")[2])
