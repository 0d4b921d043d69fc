"""The contraindication list has one source, the firmware's (profiles.contraindications(),
what `consent` shows); README.md, the warning label and the sourced table in
hardware/warnings.md repeat it word for word, between markers, and every row there
names its sources.
"""

import os
import re

import profiles

from host_tools.paths import ROOT

README = os.path.join(ROOT, "README.md")
WARNINGS = os.path.join(ROOT, "hardware", "warnings.md")


def _block(path, marker):
    """The lines between <!-- MARKER... --> and <!-- /MARKER -->, quote marks stripped."""
    with open(path) as f:
        text = f.read()
    m = re.search(r"<!-- %s\b[^>]*-->\n(.*?)\n[> ]*<!-- /%s -->" % (marker, marker), text,
                  re.S)
    assert m, "%s: no %s block" % (path, marker)
    return [ln.lstrip("> ").rstrip() for ln in m.group(1).splitlines()]


def _items(path):
    return [ln[2:] for ln in _block(path, "contraindications") if ln.startswith("- ")]


def test_the_firmware_list_has_the_conditions_the_makers_name():
    text = " ".join(profiles.contraindications())
    for word in ("blood pressure", "stroke", "TIA", "retinal detachment", "glaucoma",
                 "spinal injury", "severe obesity", "pregnancy", "anticoagulant", "hernia",
                 "middle-ear", "heart"):
        assert word in text, word


def test_readme_and_the_label_repeat_the_firmware_list_word_for_word():
    assert _items(README) == profiles.contraindications()
    assert _items(WARNINGS) == profiles.contraindications()


def test_every_condition_has_its_reasons_and_sources_in_warnings():
    rows = [ln for ln in _block(WARNINGS, "contraindication sources")
            if ln.startswith("|") and not ln.startswith("| ---")][1:]  # without the header
    cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows]
    assert [c[0] for c in cells] == profiles.contraindications()
    with open(WARNINGS) as f:
        text = f.read()
    for cond, why, sources in cells:
        assert why, cond
        refs = re.findall(r"\[([A-Z])\]", sources)
        assert refs, cond
        for r in refs:
            assert "- [%s] " % r in text, "source [%s] of %r is not listed" % (r, cond)


def test_warnings_links_only_to_files_that_exist():
    with open(WARNINGS) as f:
        text = f.read()
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith("http"):
            assert os.path.exists(os.path.join(ROOT, "hardware", target)), target
    assert "shared/reference" not in text  # beside the repository, not in it
