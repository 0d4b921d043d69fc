"""The hazard log covers the hazards of the physical table that issue #22 names, each
with a hardware control and an instruction: electric shock, pinch and crush at the bed
and at the drive, the ankle lock not engaged or opening, strap failure. (That every
named test and document exists is test_hazard_log.py's job.)"""

from host_tools import hazards

NAMED = {
    "electric shock": "HZ-19",
    "crush between the bed and the frame": "HZ-20",
    "caught in the drive": "HZ-21",
    "ankle lock not engaged": "HZ-22",
    "strap": "HZ-23",
}


def test_issue_22_hazards_are_logged_with_a_hardware_control():
    # only the log's two tables: the full check (which parses every test file) is
    # test_hazard_log.py's
    with open(hazards.LOG) as f:
        tables = hazards._tables(f.read())
    report = hazards.Report()
    rows = hazards._rows(tables["Hazards"], ("id", "hazard", "cause", "severity"), "", report)
    controls = hazards._rows(tables["Controls"], ("hazard", "type", "control", "verified by"),
                             "", report)
    assert not report.failures
    by_id = {r["id"]: r for r in rows}
    for words, hid in NAMED.items():
        assert words in by_id[hid]["hazard"].lower(), hid
        kinds = {c["type"] for c in controls if c["hazard"] == hid}
        assert "hardware" in kinds and "docs" in kinds, hid
