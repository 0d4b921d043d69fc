"""The drawn schematic (hardware/schematic.svg) of the netlist in host_tools/netlist.py.

Owns: the drawing only. It is a net-label schematic: every part is drawn with its pins,
and every pin carries the name of its net, so two pins with the same label are joined
(the usual style of multi-sheet schematics). Parts are grouped in the sheets of
netlist.PARTS (ESP32, inputs, step gate, connectors, off-board parts, power). Nothing
here knows a connection: they all come from netlist.PARTS, so the drawing and the
checked netlist cannot drift. Deterministic: same netlist, same bytes.

    python -m host_tools.schematic --write hardware/schematic.svg
"""

import argparse
import sys
from xml.sax.saxutils import escape

from host_tools import netlist, paths

SHEETS = (
    ("esp32", "ESP32 module, safe levels through reset, indicators"),
    ("inputs", "Switch and button inputs: pull-ups and RC filters"),
    ("gate", "Step gate: heartbeat monostable U4, AND U5, over-travel gate U3, STEP sense"),
    ("connectors", "Carrier-board connectors"),
    ("offboard", "Off-board parts (reached through the connectors)"),
    ("power", "48 V bus, battery reserve, fuses, 5 V converter, driver and motor"),
)
WIDTH = 1500
_FONT = "font-family='DejaVu Sans Mono, monospace'"
_PITCH = 16  # pin pitch
_COLS = 4
_CELL_W = WIDTH // _COLS
_TWO_PIN = {"R", "C", "LED", "fuse", "NP7-12"}


def _net_color(net):
    if net in ("GND", "0V48"):
        return "#222222"
    if net in netlist.POWER_NETS:
        return "#c0392b"
    return "#1f6fb2"


def _text(x, y, s, size=11, anchor="start", color="#000", weight="normal"):
    return ("<text x='%d' y='%d' %s font-size='%d' text-anchor='%s' fill='%s' "
            "font-weight='%s'>%s</text>" % (x, y, _FONT, size, anchor, color, weight,
                                            escape(s)))


def _two_pin(x, y, ref, kind, value, pins):
    """A two-pin part drawn as its symbol between two net labels; returns (svg, height)."""
    names = [n for n, _k in netlist.PART_TYPES[kind][1]]
    a, b = pins.get(names[0], "NC"), pins.get(names[1], "NC")
    cx = x + _CELL_W // 2
    out = [_text(x + 150, y + 14, a, anchor="end", color=_net_color(a)),
           "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#000'/>" % (x + 154, y + 10,
                                                                        cx - 20, y + 10),
           "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#000'/>" % (cx + 20, y + 10,
                                                                        x + 216, y + 10),
           _text(x + 220, y + 14, b, color=_net_color(b))]
    if kind == "C":
        out.append("<path d='M%d %d v16 M%d %d v16' stroke='#000' stroke-width='2'/>" % (
            cx - 4, y + 2, cx + 4, y + 2))
        out.append("<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#fff' stroke-width='3'/>"
                   % (cx - 3, y + 10, cx + 3, y + 10))
    elif kind in ("LED",):
        out.append("<path d='M%d %d l16 8 l-16 8 z M%d %d v16' fill='none' stroke='#000'/>"
                   % (cx - 8, y + 2, cx + 8, y + 2))
    elif kind == "NP7-12":
        out.append("<path d='M%d %d v20 M%d %d v10' stroke='#000' stroke-width='2'/>" % (
            cx - 4, y, cx + 4, y + 5))
    else:  # resistor and fuse: IEC rectangle (a fuse has its line through it)
        out.append("<rect x='%d' y='%d' width='40' height='12' fill='#fff' stroke='#000'/>"
                   % (cx - 20, y + 4))
        if kind == "fuse":
            out.append("<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#000'/>" % (
                cx - 20, y + 10, cx + 20, y + 10))
    out.append(_text(cx, y + 32, "%s %s" % (ref, value), size=10, anchor="middle"))
    return "\n".join(out), 44


def _box(x, y, ref, kind, value, pins):
    """A multi-pin part: a box, pin names inside, net labels outside; (svg, height)."""
    names = [n for n, _k in netlist.PART_TYPES[kind][1]]
    half = (len(names) + 1) // 2
    left, right = names[:half], names[half:]
    bx, bw = x + 120, _CELL_W - 240
    h = _PITCH * max(len(left), len(right)) + 28
    out = ["<rect x='%d' y='%d' width='%d' height='%d' fill='#fdfdf5' stroke='#000'/>" % (
        bx, y + 18, bw, h - 22),
        _text(bx + bw // 2, y + 12, "%s  %s" % (ref, value), size=10, anchor="middle",
              weight="bold")]
    for side, group in (("l", left), ("r", right)):
        for i, name in enumerate(group):
            py = y + 34 + _PITCH * i
            net = pins.get(name, "NC")
            num = names.index(name) + 1
            if side == "l":
                out.append("<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#000'/>" % (
                    bx - 14, py - 4, bx, py - 4))
                out.append(_text(bx + 3, py, "%d %s" % (num, name), size=9))
                out.append(_text(bx - 16, py, net, size=10, anchor="end",
                                 color=_net_color(net)))
            else:
                out.append("<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#000'/>" % (
                    bx + bw, py - 4, bx + bw + 14, py - 4))
                out.append(_text(bx + bw - 3, py, "%s %d" % (name, num), size=9,
                                 anchor="end"))
                out.append(_text(bx + bw + 16, py, net, size=10, color=_net_color(net)))
    return "\n".join(out), h + 10


def _sheet(y, key, title):
    """One sheet: its frame, title and parts in a grid; returns (svg, height)."""
    body, col_y = [], [y + 34] * _COLS
    for ref, kind, value, pins, sheet in netlist.parts():
        if sheet != key:
            continue
        col = col_y.index(min(col_y))
        draw = _two_pin if kind in _TWO_PIN else _box
        svg, h = draw(col * _CELL_W, col_y[col], ref, kind, value, pins)
        body.append(svg)
        col_y[col] += h + 8
    height = max(col_y) - y + 8
    frame = ["<rect x='4' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>" % (
        y, WIDTH - 8, height), _text(14, y + 20, title, size=14, weight="bold")]
    return "\n".join(frame + body), height


def render():
    """The whole schematic as SVG text."""
    parts, y = [], 60
    for key, title in SHEETS:
        svg, h = _sheet(y, key, title)
        parts.append(svg)
        y += h + 16
    head = [
        "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d'>"
        % (WIDTH, y, WIDTH, y),
        "<!-- generated by python -m host_tools.schematic from host_tools/netlist.py; "
        "do not edit -->",
        "<rect width='100%' height='100%' fill='#fff'/>",
        _text(14, 28, "Inversion table controller: schematic (net labels: pins with the "
              "same label are connected)", size=16, weight="bold"),
        _text(14, 48, "red: supply rails, black: grounds, blue: signals; NC: not "
              "connected. Checked by SKiDL's ERC (tests/host/test_netlist.py).", size=11),
    ]
    return "\n".join(head + parts + ["</svg>"]) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.schematic", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", help="write the SVG here instead of printing it")
    args = ap.parse_args(argv)
    svg = render()
    paths.write_or_print(svg, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
