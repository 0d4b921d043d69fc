"""Console and storage fuzzing at scale, against the running firmware on the simulator.

Unlike tests/host/test_console_fuzz.py (hypothesis, on a fake core), this feeds thousands
of random console inputs - command-shaped lines with random arguments, printable noise,
raw bytes - to the real App on the simulated table (host_tools/faultinject.fuzz_console),
with every motion invariant of host_tools/invariants.py checked at every millisecond:
the loop never crashes (app.crashed stays False, no internal-error alert), every reply is
well-formed JSON, and an input answered only with errors changes nothing.

Storage: every stored file kind (settings, profiles, history, faults, pin, authstate)
damaged every way faultinject.CORRUPTIONS knows (bit flip, truncation, empty, garbage,
deleted, a leftover .tmp, a lone complete .tmp, a valid record with out-of-range values,
a wrong format version), booted at the loading position and inverted: the firmware comes
up without moving, reports the damage, keeps a .bad copy, falls back to safe values, and
the recovery probe brings the table to READY. FUZZ_LINES scales the console part.
"""

import os
import shutil

import pytest

from host_tools import faultinject as fi

LINES = int(os.environ.get("FUZZ_LINES", "3000"))


@pytest.mark.parametrize("seed,json_mode", [(11, True), (12, True), (13, False)])
def test_console_fuzz_against_the_running_firmware(seed, json_mode):
    r = fi.fuzz_console(seed, lines=LINES, json_mode=json_mode)
    assert r["lines"] == LINES
    assert r["errors"] > LINES // 4  # most random input is refused: the checks did run


@pytest.fixture(scope="module")
def template():
    root = fi.populated_files(0)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_template_holds_every_file_kind(template):
    names = set(os.listdir(template))
    # authstate is written on the first lockout or child-lock change; damage creates it
    assert {"settings", "profiles", "history", "faults", "pin"} <= names


@pytest.mark.parametrize("name", fi.FILES)
def test_every_damage_to_every_file_kind_at_boot(template, name):
    for k, how in enumerate(fi.CORRUPTIONS):
        start = (None, 25000)[k % 2]  # at the loading stop and inverted, alternately
        fi.check_damaged_boot(template, name, how, seed=k, start_mdeg=start)
