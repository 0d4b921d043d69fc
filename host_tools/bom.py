"""The bill of materials: hardware/bom.csv checked, and hardware/bom.md generated from it.

Owns: reading the BOM data, the rules every line must keep (designators, quantity,
manufacturer and part number, a distributor and its order number, an indicative price
with currency and date, why the part; where the builder chooses, the rule and a second
concrete part; whether, when and where the part number was confirmed), and the rendered
bom.md with totals per currency and the count of confirmed lines. Which parts exist in
the circuit is the netlist's business (host_tools/netlist.py); the tests compare the two.

    python -m host_tools.bom                 # check; print the markdown
    python -m host_tools.bom --write FILE    # write it (make hardware)
"""

import argparse
import csv
import os
import re
import sys

from host_tools import paths

BOM_CSV = os.path.join(paths.HARDWARE, "bom.csv")
COLUMNS = ("designator", "qty", "group", "description", "manufacturer", "mpn",
           "distributor", "distributor_pn", "unit_price", "currency", "price_date", "why",
           "choice_rule", "alt_part", "checked")
GROUPS = (
    ("electronics", "Electronics (every line is a part of host_tools/netlist.py)"),
    ("board", "Carrier board"),
    ("drive", "Drive train"),
    ("mechanics", "Mechanics: bearings, frame interface, guards, crank"),
    ("mains", "Mains side and enclosure"),
    ("cable", "Cables, wires and plugs (hardware/harness.yml)"),
    ("accessory", "Accessories"),
)
CURRENCIES = ("EUR", "USD")
# Words that mean an open item: the BOM has none (issue #22).
OPEN_WORDS = ("to select", "not confirmed", "not selected", "tbd", "to be decided")
# "checked" says, on every line, whether the part number was confirmed (issue #22):
# - confirmed: the date, then the source where the manufacturer's part number was seen,
#   with its URL (a reader must be able to open it), and what the source says of the
#   distributor's order number ("order no. ... checked" or "... not checked");
# - not confirmed: "not found: " and what was searched, so the next person does not
#   repeat the same searches and a builder knows to check the number before ordering.
# Empty is refused: a line whose status nobody wrote down reads as neither.
_CHECKED = re.compile(r"\d{4}-\d\d-\d\d \S.*")
_URL = re.compile(r"https?://\S+")
NOT_FOUND = "not found: "
_REQUIRED = ("designator", "qty", "group", "description", "manufacturer", "mpn",
             "distributor", "distributor_pn", "unit_price", "currency", "price_date", "why")


class BomError(ValueError):
    pass


def read(path=BOM_CSV):
    """The BOM lines as dicts (strings as in the file); BomError on a malformed file."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise BomError("%s: columns are %s, expected %s" % (path, reader.fieldnames,
                                                                 list(COLUMNS)))
        return list(reader)


def refs(line):
    """The designators of a line: 'R1 R2 R5' -> ['R1', 'R2', 'R5']."""
    return line["designator"].split()


def problems(lines):
    """Every rule a line breaks, as text; [] for a clean BOM."""
    out, seen = [], set()
    groups = [g for g, _t in GROUPS]
    for n, line in enumerate(lines, 2):
        where = "bom.csv line %d (%s)" % (n, line["designator"])
        for col in _REQUIRED:
            if not line[col].strip():
                out.append("%s: %s is empty" % (where, col))
        text = " ".join(line.values()).lower()
        for word in OPEN_WORDS:
            if word in text:
                out.append("%s: open item %r" % (where, word))
        if line["group"] not in groups:
            out.append("%s: group %r not in %s" % (where, line["group"], groups))
        if not re.fullmatch(r"\d+", line["qty"]):
            out.append("%s: qty %r is not a whole number" % (where, line["qty"]))
        elif line["group"] == "electronics" and int(line["qty"]) != len(refs(line)):
            out.append("%s: qty %s but %d designators" % (where, line["qty"],
                                                          len(refs(line))))
        if not re.fullmatch(r"\d+\.\d\d", line["unit_price"]):
            out.append("%s: unit_price %r is not 0.00" % (where, line["unit_price"]))
        if line["currency"] not in CURRENCIES:
            out.append("%s: currency %r not in %s" % (where, line["currency"], CURRENCIES))
        if not re.fullmatch(r"\d{4}-\d\d-\d\d", line["price_date"]):
            out.append("%s: price_date %r is not YYYY-MM-DD" % (where, line["price_date"]))
        out += ["%s: %s" % (where, msg) for msg in _checked_problems(line["checked"])]
        if bool(line["choice_rule"].strip()) != bool(line["alt_part"].strip()):
            out.append("%s: a builder's choice needs both the rule and a second part"
                       % where)
        for ref in refs(line):
            if ref in seen:
                out.append("%s: designator %s on two lines" % (where, ref))
            seen.add(ref)
    return out


def _checked_problems(text):
    """What is wrong with one line's checked column; [] when it is well formed."""
    if text.startswith(NOT_FOUND):
        if len(text) - len(NOT_FOUND) < 10:
            return ["checked %r does not say what was searched" % text]
        return []
    if not _CHECKED.fullmatch(text):
        return ["checked %r is not 'YYYY-MM-DD source' or 'not found: ...'" % text]
    out = []
    if not _URL.search(text):
        out.append("checked %r names no source URL" % text)
    if "order no." not in text:
        out.append("checked %r does not say whether the order no. was checked" % text)
    return out


def confirmed(line):
    """True when the line's part number was confirmed against a source."""
    return bool(_CHECKED.fullmatch(line["checked"]))


def totals(lines):
    """{currency: total of qty x unit price} in cents, to stay exact."""
    out = {}
    for line in lines:
        cents = int(line["qty"]) * int(line["unit_price"].replace(".", ""))
        out[line["currency"]] = out.get(line["currency"], 0) + cents
    return out


def checked_count(lines):
    """How many lines have their part number confirmed (a dated source, not 'not found')."""
    return sum(1 for line in lines if confirmed(line))


CHECKED_MARK = "**(checked)**"


def _mpn(line):
    if not confirmed(line):
        return line["mpn"]
    return line["mpn"] + " " + CHECKED_MARK


def _money(cents, currency):
    return "%d.%02d %s" % (cents // 100, cents % 100, currency)


def _cell(s):
    return s.replace("|", "/").replace("\n", " ")


def render(lines=None):
    """bom.md as text."""
    lines = read() if lines is None else lines
    bad = problems(lines)
    if bad:
        raise BomError("bom.csv is not clean:\n  " + "\n  ".join(bad))
    dates = sorted({line["price_date"] for line in lines})
    out = [
        "# Bill of materials",
        "",
        "<!-- generated by python -m host_tools.bom from hardware/bom.csv; do not edit -->",
        "",
        "Every part the build needs, one line per part number, from [bom.csv](bom.csv)"
        " (edit that file, then `make hardware`). Electronics lines are the parts of the"
        " checked netlist (host_tools/netlist.py, drawn in [schematic.svg](schematic.svg));"
        " cables and their ends are in [harness.yml](harness.yml) and"
        " [harness.svg](harness.svg); mains safety in [mains_safety.md](mains_safety.md)."
        " The sizing figures are in [mechanics_figures.md](mechanics_figures.md).",
        "",
        "Prices are indicative unit prices in the currency shown, estimated on %s for"
        " budgeting at one-off quantities; the distributor's page at the time of ordering"
        " is the price, and its order number should be checked against the manufacturer's"
        " part number before ordering." % ", ".join(dates),
        "",
        "A part number marked " + CHECKED_MARK + " was confirmed against the public source"
        " listed under [Checked part numbers](#checked-part-numbers), on the date given; an"
        " unmarked line's part number follows the maker's naming scheme and could not be"
        " confirmed with the sources at hand ([Unconfirmed part numbers]"
        "(#unconfirmed-part-numbers) says what was searched): check it before ordering.",
        "",
        "Where the builder chooses, the line gives the rule the part must meet and two"
        " concrete parts that meet it: the line's own part and the alternative.",
        "",
    ]
    for key, title in GROUPS:
        group = [line for line in lines if line["group"] == key]
        if not group:
            continue
        out += ["## " + title, "",
                "| Ref | Qty | Part | Manufacturer, part number | Distributor, order no. |"
                " Unit price | Why |",
                "|---|---|---|---|---|---|---|"]
        for line in group:
            why = line["why"]
            if line["choice_rule"]:
                why += " **Builder's choice:** %s Second part: %s." % (
                    line["choice_rule"], line["alt_part"])
            out.append("| %s | %s | %s | %s %s | %s %s | %s %s | %s |" % tuple(
                _cell(x) for x in (
                    line["designator"], line["qty"], line["description"],
                    line["manufacturer"], _mpn(line), line["distributor"],
                    line["distributor_pn"], line["unit_price"], line["currency"], why)))
        out.append("")
    out += ["## Totals", "",
            "| Currency | Total of qty x unit price |", "|---|---|"]
    for currency, cents in sorted(totals(lines).items()):
        out.append("| %s | %s |" % (currency, _money(cents, currency)))
    out += ["", "Lines with quantity 0 (the brake decision) are not in the totals.", "",
            "Part numbers confirmed against a public source: %d of %d lines."
            % (checked_count(lines), len(lines)), "",
            "## Checked part numbers", "",
            "Date and source for each line marked " + CHECKED_MARK + " (bom.csv column"
            " `checked`). A distributor's order number counts as checked only where the"
            " source says so.", ""]
    for line in lines:
        if confirmed(line):
            out.append("- %s (%s): %s" % (line["designator"], line["mpn"], line["checked"]))
    out += ["", "## Unconfirmed part numbers", "",
            "No public source at hand showed these part numbers; each says what was searched."
            " Check them on the maker's or the distributor's site before ordering.", ""]
    for line in lines:
        if not confirmed(line):
            out.append("- %s (%s): %s" % (line["designator"], line["mpn"], line["checked"]))
    out.append("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.bom", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", help="write bom.md here instead of printing it")
    args = ap.parse_args(argv)
    try:
        text = render()
    except BomError as e:
        print(e, file=sys.stderr)
        return 1
    paths.write_or_print(text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
