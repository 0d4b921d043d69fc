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


def _netlist_pin(connector, pin, label):
    """The netlist (ref, pin) a harness connector pin is, or None (mains, PE, bodies)."""
    if connector in netlist.CONNECTORS:
        return (connector, str(pin))
    if connector == "HC":
        ref, _, num = label.partition(".")
        return (ref, num)
    if connector == "BT":
        ref, sign = label.split()
        return (ref, sign)
    if connector == "FH1":
        ref, end = label.split()
        return (ref, "1" if end == "in" else "2")
    conn = netlist.connections()
    name = label.split()[0] if connector == "D2" else label
    kind = {ref: k for ref, k, _v, _p, _s in netlist.PARTS}.get(connector)
    if kind and name in [n for n, _t in netlist.PART_TYPES[kind][1]]:
        return (connector, name) if name in conn[connector] else None
    return None


def _connection_problems(doc):
    """How the harness differs from the netlist: nets split or joined; [] if none."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    nets = netlist.connections()
    for w in harness.wires(doc):
        if w["wire"] != "s":
            union(w["a"][:2], w["b"][:2])
    # bridged terminal groups and the PE bar are one node each; the carrier board joins
    # the plug pins that carry the same net
    for name, conn in doc["connectors"].items():
        for i, label in enumerate(conn["pinlabels"]):
            if name == "TB1":
                union((name, i + 1), ("TB1", label.split()[0]))
            elif name == "PE1":
                union((name, i + 1), ("PE1", "bar"))
            elif name in netlist.CONNECTORS and str(i + 1) in nets[name]:
                union((name, i + 1), ("net", nets[name][str(i + 1)]))
    seen = {}
    for name, conn in doc["connectors"].items():
        for i, label in enumerate(conn["pinlabels"]):
            ref_pin = _netlist_pin(name, i + 1, str(label))
            if ref_pin is None or ref_pin[1] not in nets.get(ref_pin[0], {}):
                continue
            net = nets[ref_pin[0]][ref_pin[1]]
            seen.setdefault(net, set()).add(find((name, i + 1)))
    problems = ["net %s is split in the harness" % net
                for net, groups in sorted(seen.items()) if len(groups) > 1]
    owners = {}
    for net, groups in sorted(seen.items()):
        for group in groups:
            if group in owners and owners[group] != net:
                problems.append("nets %s and %s are joined" % (owners[group], net))
            owners[group] = net
    return problems, len(seen)


def test_the_harness_makes_exactly_the_netlist_connections():
    """Covers: HZ-07, HZ-22"""
    problems, checked = _connection_problems(DOC)
    assert problems == [] and checked > 30


def test_must_fail_a_missing_or_crossed_wire():
    import copy
    doc = copy.deepcopy(DOC)  # drop the key switch's GND link to its START contact
    for conn_set in doc["connections"]:
        if "C1J" in conn_set[1]:
            for item in conn_set:
                item[next(iter(item))] = next(iter(item.values()))[:3]
    assert "net GND is split in the harness" in _connection_problems(doc)[0]
    doc = copy.deepcopy(DOC)  # the ankle-lock cable's two cores crossed at X6
    for conn_set in doc["connections"]:
        if conn_set[0] == {"X6": [1, 2]}:
            conn_set[0]["X6"] = [2, 1]
    assert "nets ANKLE_LOCK and GND are joined" in _connection_problems(doc)[0]


def test_bom_cable_lengths_cover_the_harness():
    # a screened multi-core cable is bought by the metre of cable, single cores by the
    # metre of wire
    need = {}
    for cable in DOC["cables"].values():
        per = cable["wirecount"] if cable.get("category") == "bundle" else 1
        need[cable["pn"]] = need.get(cable["pn"], 0) + cable["length"] * per
    for line in bom.read():
        if "per metre" in line["description"]:
            (ref,) = bom.refs(line)
            assert need.get(ref, 0) <= int(line["qty"]), (ref, need.get(ref))
