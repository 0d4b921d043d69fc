"""The wiring harness (hardware/harness.yml): every wire has a colour, a gauge and both
ends; the carrier-board plugs carry the netlist's nets; protective earth reaches every
exposed metal part, in green-yellow only; the committed table and drawing are current."""

import os

from host_tools import bom, harness, netlist, paths

DOC = harness.load()
WIRES = harness.wires(DOC)


def test_every_wire_has_colour_gauge_and_both_ends():
    assert len(WIRES) > 60
    for w in WIRES:
        assert w["colour"] and w["gauge"].endswith("mm2"), w
        if w["wire"] == "s":
            assert w["a"] or w["b"], w  # a screen is bonded at one end only
        else:
            assert w["a"] and w["b"], w


def test_board_plugs_carry_the_netlist_nets():
    conn = netlist.connections()
    for ref in netlist.CONNECTORS:
        labels = DOC["connectors"][ref]["pinlabels"]
        expected = [conn[ref].get(str(i + 1), "NC") for i in range(len(labels))]
        assert labels == expected, ref


def test_every_signal_cable_has_its_ground_and_every_netlist_wire_is_run():
    # each plug pin that carries a net (not NC) has a wire on it
    wired = {(e[0], e[1]) for w in WIRES if w["wire"] != "s" for e in (w["a"], w["b"]) if e}
    for ref in netlist.CONNECTORS:
        for i, label in enumerate(DOC["connectors"][ref]["pinlabels"]):
            if label != "NC":
                assert (ref, i + 1) in wired, (ref, label)


def _pe_wires():
    return [w for w in WIRES if w["colour"] == "GNYE"]


def test_protective_earth_reaches_every_exposed_metal_part():
    """Covers: HZ-19"""
    pe_ends = {e[0] + ":" + e[2] for w in _pe_wires() for e in (w["a"], w["b"])}
    for end in ("PLUG:PE", "J1:PE", "PS1:FG", "CH1:FG", "ENC1:body stud", "ENC1:door stud",
                "FRAME:frame bolt", "FRAME:drive plate bolt", "M1:body (flange screw)"):
        assert end in pe_ends, end


def test_green_yellow_is_used_for_protective_conductors_only():
    for w in _pe_wires():
        ends = [w["a"], w["b"]]
        assert any(e[0] in ("PE1", "PLUG") for e in ends), w


def test_cables_are_bom_lines_and_the_mains_parts_are_in_the_harness():
    lines = bom.read()
    group_of = {ref: line["group"] for line in lines for ref in bom.refs(line)}
    for name, cable in DOC["cables"].items():
        assert group_of[cable["pn"]] == "cable", name
    for ref in ("J1", "RCD1", "TB1", "PE1", "FH1", "CH1", "ENC1", "PS1", "PS2", "A1", "M1"):
        assert ref in DOC["connectors"] and ref in group_of, ref


def test_committed_wire_table_is_current():
    with open(os.path.join(paths.HARDWARE, "harness.md")) as f:
        assert f.read() == harness.render_md(DOC), "run make hardware"


def test_committed_drawing_was_made_from_this_description():
    with open(os.path.join(paths.HARDWARE, "harness.svg")) as f:
        assert harness.stamp_of(f.read()) == harness.source_hash(), "run make hardware"
