"""The hazard log's traceability check: hardware/hazards.md against the tests.

Owns: parsing the two tables of the log (hazards; controls) and the rules that tie them
to the code. A clean log means:
- every hazard has an ID (HZ-nn, unique), a cause, a severity from the scale, and at
  least one control;
- every control belongs to a listed hazard and has a type: firmware, hardware or docs;
- every firmware control names at least one test, as `tests/path.py::test_name`, and no
  control is marked `pending` (a test the log expects but that does not exist yet);
- every named test exists: the file exists and defines that function (module level or
  in a class); every named document exists, and so does its #anchor heading;
- reverse link: a test whose docstring carries `Covers: HZ-nn` names a listed hazard.

    python -m host_tools.hazards            # print the report; exit 1 if not clean
    python -m host_tools.hazards --root DIR --log FILE
"""

import argparse
import ast
import os
import re
import sys

from host_tools import paths

LOG = os.path.join(paths.HARDWARE, "hazards.md")
SEVERITIES = ("catastrophic", "critical", "serious", "minor")
TYPES = ("firmware", "hardware", "docs")
HAZARD_ID = re.compile(r"^HZ-\d{2}$")
COVERS = re.compile(r"Covers:\s*(HZ-\d+(?:\s*,\s*HZ-\d+)*)")
PENDING = "pending:"


class Report:
    def __init__(self):
        self.hazards = {}  # id -> dict(hazard, cause, severity)
        self.controls = []  # dicts(hazard, type, control, verified)
        self.failures = []
        self.pending = []  # (hazard id, test ref) still to be written
        self.covers = {}  # "tests/x.py::test_y" -> [hazard ids] from Covers: tags

    @property
    def clean(self):
        return not self.failures

    def text(self):
        out = ["hazard log: %d hazards, %d controls, %d tests tagged Covers:" % (
            len(self.hazards), len(self.controls), len(self.covers))]
        if self.pending:
            out.append("pending tests (%d):" % len(self.pending))
            out += ["  %s  %s" % p for p in self.pending]
        out.append("clean" if self.clean else "%d failures:" % len(self.failures))
        out += ["  " + f for f in self.failures]
        return "\n".join(out)


def slug(heading):
    """GitHub's anchor for a markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def _tables(text):
    """{section heading: [rows as lists of cells]} for the first table under each ## heading."""
    tables = {}
    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if section is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            continue  # the header separator
        tables.setdefault(section, []).append(cells)
    return tables


def _rows(table, header, where, report):
    """Rows of a table as dicts keyed by the expected header (lower case)."""
    if not table:
        report.failures.append("%s: table missing" % where)
        return []
    got = [c.lower() for c in table[0]]
    if got != list(header):
        report.failures.append("%s: header is %s, expected %s" % (where, got, list(header)))
        return []
    out = []
    for cells in table[1:]:
        if len(cells) != len(header):
            report.failures.append("%s: row %r has %d cells" % (where, cells, len(cells)))
            continue
        out.append(dict(zip(header, cells)))
    return out


def _items(cell):
    """The references of a 'verified by' cell: comma separated, backticks dropped."""
    cell = cell.replace("`", "")
    return [i.strip() for i in cell.split(",") if i.strip() and i.strip() != "-"]


def _defined_functions(path):
    """Names of functions defined at module level or in a class of a Python file."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(node.name + "::" + sub.name)
                    names.add(sub.name)
    return names


def _check_test_ref(ref, root, report, where, cache):
    path, _, name = ref.partition("::")
    if not path.startswith("tests/") or not path.endswith(".py") or not name:
        report.failures.append("%s: %r is not tests/path.py::test_name" % (where, ref))
        return
    full = os.path.join(root, path)
    if not os.path.isfile(full):
        report.failures.append("%s: test file %s does not exist" % (where, path))
        return
    if full not in cache:
        cache[full] = _defined_functions(full)
    if name not in cache[full]:
        report.failures.append("%s: %s defines no %s" % (where, path, name))


def _check_doc_ref(ref, root, report, where):
    path, _, anchor = ref.partition("#")
    full = os.path.join(root, path)
    if not os.path.isfile(full):
        report.failures.append("%s: document %s does not exist" % (where, path))
        return
    if anchor:
        with open(full) as f:
            anchors = {slug(line.lstrip("#")) for line in f if line.startswith("#")}
        if anchor not in anchors:
            report.failures.append("%s: %s has no heading #%s" % (where, path, anchor))


def _covers_tags(root):
    """{test ref: [hazard ids]} for every docstring under tests/ carrying Covers: tags."""
    found = {}
    tests_dir = os.path.join(root, "tests")
    for dirpath, dirnames, filenames in os.walk(tests_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full) as f:
                tree = ast.parse(f.read(), full)
            nodes = [(rel, tree)]
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    nodes.append(("%s::%s" % (rel, node.name), node))
            for ref, node in nodes:
                doc = ast.get_docstring(node) or ""
                ids = []
                for m in COVERS.finditer(doc):
                    ids += [i.strip() for i in m.group(1).split(",")]
                if ids:
                    found[ref] = ids
    return found


def check(root=None, log=None):
    """Check the log at `log` (default hardware/hazards.md) against the tests under root."""
    root = root or paths.ROOT
    log = log or os.path.join(root, "hardware", "hazards.md")
    report = Report()
    with open(log) as f:
        tables = _tables(f.read())
    for h in _rows(tables.get("Hazards"), ("id", "hazard", "cause", "severity"),
                   "Hazards", report):
        _check_hazard(h, report)
    cache = {}
    counted = dict.fromkeys(report.hazards, 0)
    for c in _rows(tables.get("Controls"), ("hazard", "type", "control", "verified by"),
                   "Controls", report):
        _check_control(c, root, report, counted, cache)
    for hid, n in counted.items():
        if n == 0:
            report.failures.append("%s: hazard has no control" % hid)
    report.covers = _covers_tags(root)
    for ref, ids in sorted(report.covers.items()):
        for hid in ids:
            if hid not in report.hazards:
                report.failures.append("%s: Covers: %s names no listed hazard" % (ref, hid))
    return report


def _check_hazard(h, report):
    """One row of the Hazards table: its ID, text and severity; kept in report.hazards."""
    hid = h["id"]
    if not HAZARD_ID.match(hid):
        report.failures.append("%s: ID is not HZ-nn" % hid)
    if hid in report.hazards:
        report.failures.append("%s: ID used twice" % hid)
    if not h["hazard"] or not h["cause"]:
        report.failures.append("%s: hazard or cause empty" % hid)
    if h["severity"].lower() not in SEVERITIES:
        report.failures.append("%s: severity %r not in %s" % (hid, h["severity"],
                                                               "/".join(SEVERITIES)))
    report.hazards[hid] = h


def _check_control(c, root, report, counted, cache):
    """One row of the Controls table: its hazard, type, text and what verifies it."""
    report.controls.append(c)
    hid, kind = c["hazard"], c["type"].lower()
    where = "%s %s control %r" % (hid, kind, c["control"][:50])
    if hid not in report.hazards:
        report.failures.append("%s: no such hazard" % where)
    else:
        counted[hid] += 1
    if kind not in TYPES:
        report.failures.append("%s: type must be one of %s" % (where, "/".join(TYPES)))
    if not c["control"]:
        report.failures.append("%s: control text empty" % where)
    tests = pending = 0
    for item in _items(c["verified by"]):
        if item.lower().startswith(PENDING):
            ref = item[len(PENDING):].strip()
            pending += 1
            report.pending.append((hid, ref))
            report.failures.append("%s: pending test %s" % (where, ref))
        elif "::" in item:
            tests += 1
            _check_test_ref(item, root, report, where, cache)
        else:
            _check_doc_ref(item, root, report, where)
    if kind == "firmware" and tests == 0 and pending == 0:
        report.failures.append("%s: firmware control names no existing test" % where)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.hazards", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="repository root (default: this one)")
    ap.add_argument("--log", help="the hazard log (default: ROOT/hardware/hazards.md)")
    args = ap.parse_args(argv)
    report = check(args.root, args.log)
    print(report.text())
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
