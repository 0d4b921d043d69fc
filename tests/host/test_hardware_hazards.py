"""The hazard log covers the hazards of the physical table that issue #22 names, each
with a hardware control: electric shock, pinch and crush at the bed and at the drive,
the ankle lock not engaged or opening, strap failure."""

from host_tools import hazards

NAMED = {
    "electric shock": "HZ-19",
    "crush between the bed and the frame": "HZ-20",
    "caught in the drive": "HZ-21",
    "ankle lock not engaged": "HZ-22",
    "strap": "HZ-23",
}


def test_issue_22_hazards_are_logged_with_a_hardware_control():
    report = hazards.check()
    for words, hid in NAMED.items():
        assert words in report.hazards[hid]["hazard"].lower(), hid
        kinds = {c["type"] for c in report.controls if c["hazard"] == hid}
        assert "hardware" in kinds and "docs" in kinds, hid
