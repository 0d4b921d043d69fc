"""The bill of materials (hardware/bom.csv -> bom.md): every line complete, no open
items anywhere in hardware/, totals right, the committed bom.md generated from the CSV."""

import copy
import os

import pytest

from host_tools import bom, paths

BOM_MD = os.path.join(paths.HARDWARE, "bom.md")
LINES = bom.read()


def test_bom_is_clean():
    assert bom.problems(LINES) == []


def test_committed_bom_md_is_current():
    with open(BOM_MD) as f:
        assert f.read() == bom.render(LINES), "run make hardware"


def test_no_open_items_anywhere_in_hardware():
    for name in sorted(os.listdir(paths.HARDWARE)):
        with open(os.path.join(paths.HARDWARE, name), errors="replace") as f:
            text = f.read().lower()
        for word in ("to select", "not confirmed", "not selected"):
            assert word not in text, (name, word)


def test_the_module_is_the_wroom_32e_everywhere():
    for name in sorted(os.listdir(paths.HARDWARE)):
        with open(os.path.join(paths.HARDWARE, name), errors="replace") as f:
            text = f.read()
        assert text.count("WROOM-32") == text.count("WROOM-32E"), name


def test_every_group_the_build_needs_is_present():
    groups = {line["group"] for line in LINES}
    assert {"electronics", "drive", "mechanics", "mains", "cable"} <= groups
    descriptions = " ".join(line["description"].lower() for line in LINES)
    for thing in ("coupling", "bearing", "enclosure", "inlet", "rcbo", "protective-earth",
                  "planetary", "worm", "crank", "guard", "bolt"):
        assert thing in descriptions, thing


def test_the_brake_decision_is_recorded_with_a_part():
    (line,) = [x for x in LINES if "brake" in x["description"].lower()]
    assert line["qty"] == "0" and "self-locking" in line["description"]
    assert line["mpn"] and line["alt_part"]


def _line(**changes):
    line = copy.deepcopy(LINES[0])
    line.update(changes)
    return line


@pytest.mark.parametrize("changes, message", [
    ({"distributor_pn": ""}, "distributor_pn is empty"),
    ({"why": "part to select later"}, "open item 'to select'"),
    ({"choice_rule": "any 10k", "alt_part": ""}, "needs both the rule and a second part"),
    ({"qty": "2"}, "qty 2 but 1 designators"),
    ({"unit_price": "10"}, "is not 0.00"),
    ({"currency": "GBP"}, "currency 'GBP'"),
    ({"price_date": "Dec 2026"}, "is not YYYY-MM-DD"),
    ({"group": "misc"}, "group 'misc'"),
])
def test_must_fail_an_incomplete_line(changes, message):
    text = "\n".join(bom.problems([_line(**changes)]))
    assert message in text


@pytest.mark.parametrize("checked", [
    "yes", "", "2026-12-03", "03.12.2026 mouser.com", "2026-12-03https://x", " 2026-12-03 x",
    "Not found: x"])
def test_must_fail_a_checked_column_of_neither_form(checked):
    assert "is not 'YYYY-MM-DD source' or 'not found: ...'" in "\n".join(
        bom.problems([_line(checked=checked)]))


@pytest.mark.parametrize("checked, message", [
    ("2026-12-03 Phoenix Contact catalogue (order no. not checked)", "names no source URL"),
    ("2026-12-03 https://www.ti.com/product/CD74HCT123", "whether the order no. was checked"),
    ("not found: ", "does not say what was searched"),
    ("not found: x", "does not say what was searched"),
])
def test_must_fail_a_confirmation_without_url_or_order_no_or_a_bare_not_found(checked, message):
    assert message in "\n".join(bom.problems([_line(checked=checked)]))


def test_a_dated_confirmation_with_url_and_a_not_found_with_searches_pass():
    for checked in (
            "2026-12-03 https://www.mouser.com/ProductDetail/595-CD74HCT123E (order no. checked)",
            "not found: 'CD74HCT123E' in the pages corpus, no TI page returned"):
        assert bom.problems([_line(checked=checked)]) == []


def test_every_line_says_whether_its_part_number_was_confirmed():
    for line in LINES:
        assert line["checked"].startswith(bom.NOT_FOUND) or bom.confirmed(line), \
            line["designator"]


def test_every_confirmed_line_names_a_dated_source_url_in_the_file():
    for line in LINES:
        if bom.confirmed(line):
            date, source = line["checked"].split(" ", 1)
            assert date <= "2026-12-31" and "http" in source, line["designator"]


def test_the_totals_count_the_confirmed_lines_only():
    lines = [_line(checked="not found: 'GY-521' in the pages corpus"),
             _line(checked="2026-12-03 https://www.phoenixcontact.com/ (order no. checked)")]
    assert bom.checked_count(lines) == 1
    text = bom.render()
    assert "confirmed against a public source: %d of %d lines" % (
        bom.checked_count(LINES), len(LINES)) in text
    assert text.count(bom.CHECKED_MARK) - text.count("marked " + bom.CHECKED_MARK) == \
        bom.checked_count(LINES)
    # Each line's status, confirmed or not, reaches bom.md, under its own heading.
    confirmed_part, unconfirmed_part = text.split("## Unconfirmed part numbers")
    for line in LINES:
        where = confirmed_part if bom.confirmed(line) else unconfirmed_part
        assert line["checked"] in where, line["designator"]


def test_must_fail_a_designator_on_two_lines():
    assert "on two lines" in "\n".join(bom.problems([LINES[0], LINES[0]]))


def test_totals_by_hand():
    lines = [_line(qty="3", unit_price="0.10", currency="EUR"),
             _line(designator="U9", qty="1", unit_price="65.00", currency="USD"),
             _line(designator="U8", qty="2", unit_price="1.25", currency="EUR")]
    assert bom.totals(lines) == {"EUR": 280, "USD": 6500}


def test_render_refuses_a_bom_with_problems():
    with pytest.raises(bom.BomError):
        bom.render([_line(manufacturer="")])
