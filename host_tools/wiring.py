"""The wiring diagram (hardware/wiring.svg), drawn from the pin table hardware/pinout.csv.

Owns: where each box sits on the sheet, which box port each ESP32 signal goes to, and
the SVG drawing. The pins themselves (GPIO, pull, level) come only from pinout.csv: a
signal the diagram does not know how to route is an error, so the two cannot drift.

    python -m host_tools.wiring                  # print the SVG
    python -m host_tools.wiring --write FILE     # write it (make hardware)

Layout: power chain along the top, the ESP32 on the left, the boxes it wires to in a
column in the middle, the driver, motor and drive train on the right. Signal wires leave
the ESP32 to the right; each takes its own vertical channel, ordered so that wires
running down never cross.
"""

import argparse
import csv
import os
import sys
from xml.sax.saxutils import escape

from host_tools import params, paths

PINOUT = os.path.join(paths.HARDWARE, "pinout.csv")

WIDTH = 1600
HEIGHT = 1120
_FONT = "font-family='DejaVu Sans, Arial, sans-serif'"
_ROW = 30  # ESP32 pin row pitch
_PIN_TOP = 270  # first ESP32 pin row
_ESP_X, _ESP_W = 40, 270
_COL_X, _COL_W = 660, 250  # middle column of boxes
_DRV_X, _DRV_W = 1130, 200

# signal (pinout.csv role) -> (box, port) it is wired to
ROUTES = {
    "STEP": ("gate", "STEP in (U5 1A)"),
    "DIR": ("gate", "DIR in (1B, 3A, 3B)"),
    "ENABLE": ("gate", "ENABLE in (4A, 4B)"),
    "STEP_SENSE": ("gate", "2Y via 10k/20k divider"),
    "SDA": ("imu", "SDA"),
    "SCL": ("imu", "SCL"),
    "UP": ("buttons", "UP (NO)"),
    "DOWN": ("buttons", "DOWN (NO)"),
    "START": ("buttons", "START (NO)"),
    "ESTOP": ("estop", "NC contact 21-22"),
    "OVERTRAVEL": ("limits", "S1 over-travel NC"),
    "HOME": ("limits", "S2 home NC"),
    "ANKLE_LOCK": ("limits", "S8 ankle lock NC"),
    "HEARTBEAT": ("gate", "HEARTBEAT in (U4 1B)"),
    "LED": ("indicators", "LED + 330R"),
    "BUZZER": ("indicators", "ZVNL110A gate"),
}


class Box:
    def __init__(self, key, x, y, w, h, title, lines=(), left=(), right=(), style="box"):
        self.key, self.x, self.y, self.w, self.h = key, x, y, w, h
        self.title, self.lines, self.style = title, tuple(lines), style
        self.left, self.right = tuple(left), tuple(right)

    def port(self, name):
        """(x, y) of a named port: ports are spread evenly down the side they are on."""
        for side, names in (("l", self.left), ("r", self.right)):
            if name in names:
                i = names.index(name)
                top = self.y + 22 + 12 * len(self.lines)
                step = (self.y + self.h - top) / (len(names) + 0.5)
                y = round(top + step * (i + 0.75))
                return (self.x if side == "l" else self.x + self.w, y)
        raise KeyError("box %s has no port %r" % (self.key, name))


def read_pinout(path=PINOUT):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _boxes():
    """Every box of the drawing by key."""
    b = {}

    def add(*args, **kw):
        box = Box(*args, **kw)
        b[box.key] = box

    _power_boxes(add)
    _column_boxes(add)
    _drive_boxes(add)
    return b


def _power_boxes(add):
    """The power chain (top) and the controller."""
    add("mains", 40, 40, 150, 90, "Mains inlet",
        ("IEC inlet with switch", "and fuse holder"), right=("L/N",))
    add("f1", 230, 55, 100, 60, "F1", ("mains fuse",), left=("in",), right=("out",))
    add("psu48", 370, 40, 190, 90, "PSU1 48 V DC", ("Mean Well LRS-350-48", "48 V 7.3 A"),
        left=("AC",), right=("+48 V",))
    add("f2", 610, 40, 110, 50, "F2", ("48 V driver fuse",), left=("in",), right=("out",))
    add("f3", 610, 100, 110, 50, "F3", ("48 V logic fuse",), left=("in",), right=("out",))
    add("psu5", 770, 95, 190, 70, "PSU2 48 V to 5 V", ("Mean Well SD-15C-5",),
        left=("+48 V in",), right=("+5 V",))
    add("bat", 1000, 30, 250, 60, "BT1-BT4, F4, D2", ("48 V reserve for one return",),
        left=("+48 V",), style="optional")
    # controller
    add("esp", _ESP_X, 200, _ESP_W, 580, "ESP32-DevKitC V4",
        ("ESP32-WROVER-E (PSRAM), 3.3 V logic", "5V pin from PSU2; USB for the console"))


def _column_boxes(add):
    """The middle column: the STEP gate, the sensors, the hand control, the indicators."""
    add("gate", _COL_X, 200, _COL_W, 270, "Step gate U3, U4, U5",
        ("U4 monostable: HB_OK while HEARTBEAT", "toggles; U5: STEP AND HB_OK; U3 NAND:",
         "PUL- = NOT(STEP.HB_OK.NOT(OT.DIR))"),
        left=("STEP in (U5 1A)", "DIR in (1B, 3A, 3B)", "ENABLE in (4A, 4B)",
              "2Y via 10k/20k divider", "HEARTBEAT in (U4 1B)"),
        right=("PUL- (2Y)", "DIR- (3Y)", "ENA- (4Y)", "OT in (1A)"))
    add("imu", _COL_X, 500, _COL_W, 90, "IMU: GY-521 (MPU-6050)",
        ("on the table bed, addr 0x68",), left=("SDA", "SCL"))
    add("buttons", _COL_X, 615, _COL_W, 120, "Hand control",
        ("NO buttons to GND; DOWN, START", "through key switch XB5AG21"),
        left=("UP (NO)", "DOWN (NO)", "START (NO)"))
    add("estop", _COL_X, 760, _COL_W, 70, "E-STOP XB4BS8442",
        ("mushroom, latching, to GND",), left=("NC contact 21-22",))
    add("limits", _COL_X, 855, _COL_W, 100, "Limit switches D4N-4120",
        ("NC contacts to GND",), left=("S1 over-travel NC", "S2 home NC", "S8 ankle lock NC"),
        right=("OT node",))
    add("indicators", _COL_X, 980, _COL_W, 100, "Indicators",
        ("LED; 5 V active buzzer",), left=("LED + 330R", "ZVNL110A gate"))


def _drive_boxes(add):
    """The driver and the drive train."""
    add("driver", _DRV_X, 200, _DRV_W, 300, "Stepper driver",
        ("StepperOnline DM860T", "opto inputs, anodes to +5 V"),
        left=("PUL-", "DIR-", "ENA-", "+48 V VDC"), right=("A+ A- B+ B-",))
    add("motor", 1390, 260, 180, 90, "Motor",
        ("NEMA 34, 12 N m, dual shaft", "34HS59-6004D"), left=("A+ A- B+ B-",))
    add("gearbox", 1390, 400, 180, 90, "Gearbox %g:1" % params.load().drive.gear_ratio,
        ("planetary 10:1 into", "self-locking worm 60:1"))
    add("table", 1390, 540, 180, 90, "Table pivot",
        ("manual crank: motor rear", "shaft, driver disabled"))


def _rect(box):
    dash = " stroke-dasharray='6 4'" if box.style == "optional" else ""
    out = [
        "<rect x='%d' y='%d' width='%d' height='%d' rx='6' fill='#f7f9fc' stroke='#34495e'"
        " stroke-width='1.5'%s/>" % (box.x, box.y, box.w, box.h, dash),
        "<text x='%d' y='%d' font-size='14' font-weight='bold' %s>%s</text>"
        % (box.x + 8, box.y + 17, _FONT, escape(box.title)),
    ]
    for i, line in enumerate(box.lines):
        out.append("<text x='%d' y='%d' font-size='11' fill='#555' %s>%s</text>"
                   % (box.x + 8, box.y + 31 + 12 * i, _FONT, escape(line)))
    for names, side in ((box.left, "l"), (box.right, "r")):
        for name in names:
            px, py = box.port(name)
            anchor, tx = ("start", px + 6) if side == "l" else ("end", px - 6)
            out.append("<circle cx='%d' cy='%d' r='3' fill='#34495e'/>" % (px, py))
            out.append("<text x='%d' y='%d' font-size='11' text-anchor='%s' %s>%s</text>"
                       % (tx, py + 4, anchor, _FONT, escape(name)))
    return out


def _wire(points, label, color="#1f6fb2", dashed=False, label_at=None, width=1.6):
    pts = " ".join("%d,%d" % p for p in points)
    dash = " stroke-dasharray='5 3'" if dashed else ""
    out = ["<polyline points='%s' fill='none' stroke='%s' stroke-width='%s'%s/>"
           % (pts, color, width, dash)]
    if label:
        lx, ly = label_at if label_at else (points[-2][0] + 5, points[-1][1] - 4)
        out.append("<text x='%d' y='%d' font-size='10' fill='%s' %s>%s</text>"
                   % (lx, ly, color, _FONT, escape(label)))
    return out


def _pin_label(row):
    pull = row["pull"] if row["pull"] != "none" else ""
    level = {"high": "active high", "low": "active low"}.get(row["active_level"], "")
    return ", ".join(x for x in (row["role"], pull, level) if x)


def render(rows=None):
    """The SVG text for the given pinout rows (default: hardware/pinout.csv)."""
    if rows is None:
        rows = read_pinout()
    unknown = [r["role"] for r in rows if r["role"] not in ROUTES]
    if unknown:
        raise ValueError("wiring.py does not know where to route: %s" % ", ".join(unknown))
    boxes = _boxes()
    svg = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d'>"
        % (WIDTH, HEIGHT, WIDTH, HEIGHT),
        "<!-- Generated by python -m host_tools.wiring from hardware/pinout.csv."
        " Do not edit: change the CSV or host_tools/wiring.py and run make hardware. -->",
        "<rect width='100%' height='100%' fill='white'/>",
        "<text x='40' y='24' font-size='18' font-weight='bold' %s>Inversion table controller:"
        " wiring (signals from hardware/pinout.csv)</text>" % _FONT,
    ]
    for key in sorted(boxes):
        svg += _rect(boxes[key])
    svg += _pin_wires(rows, boxes)
    svg += _gate_and_drive(boxes)
    svg += _power_wires(boxes)
    svg += _notes()
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def _pin_wires(rows, boxes):
    """ESP32 pins and their wires. Channels step left as the pins go down, so no two
    wires that run downward cross."""
    esp = boxes["esp"]
    svg = []
    n = len(rows)
    for i, row in enumerate(rows):
        y = _PIN_TOP + _ROW * i
        x = esp.x + esp.w
        svg.append("<circle cx='%d' cy='%d' r='3' fill='#34495e'/>" % (x, y))
        svg.append("<text x='%d' y='%d' font-size='12' text-anchor='end' %s>GPIO%s  %s (%s)"
                   "</text>" % (x - 8, y + 4, _FONT, row["gpio"], escape(row["role"]),
                                row["direction"]))
        box, port = ROUTES[row["role"]]
        tx, ty = boxes[box].port(port)
        cx = x + 30 + 18 * (n - 1 - i)
        # label the longer horizontal run: near the ESP32 for the top pins, else near the box
        at = (x + 6, y - 4) if cx - x > tx - cx else (cx + 5, ty - 4)
        svg += _wire([(x, y), (cx, y), (cx, ty), (tx, ty)], _pin_label(row), label_at=at)
    return svg


def _gate_and_drive(boxes):
    """The over-travel net into the gate, the gate into the driver, the drive train."""
    svg = []
    # the over-travel node also drives the gate (same net, drawn on the right)
    ox, oy = boxes["limits"].port("OT node")
    gx, gy = boxes["gate"].port("OT in (1A)")
    svg += _wire([(ox, oy), (ox + 30, oy), (gx + 30, gy), (gx, gy)],
                 "same net as GPIO35: open = block head-down STEP", color="#c0392b",
                 dashed=True, label_at=(ox + 36, (oy + gy) // 2))
    # gate outputs to the driver's opto cathodes
    for i, (src, dst) in enumerate((("PUL- (2Y)", "PUL-"), ("DIR- (3Y)", "DIR-"),
                                    ("ENA- (4Y)", "ENA-"))):
        sx, sy = boxes["gate"].port(src)
        dx, dy = boxes["driver"].port(dst)
        cx = sx + 60 + 40 * i
        svg += _wire([(sx, sy), (cx, sy), (cx, dy), (dx, dy)], "", color="#8e44ad")
    svg.append("<text x='%d' y='%d' font-size='10' fill='#8e44ad' %s>U3 outputs sink the"
               " driver's opto LEDs</text>" % (_COL_X + _COL_W + 8, 212, _FONT))
    # motor phases and the drive train
    ax, ay = boxes["driver"].port("A+ A- B+ B-")
    mx, my = boxes["motor"].port("A+ A- B+ B-")
    svg += _wire([(ax, ay), (ax + 20, ay), (ax + 20, my), (mx, my)],
                 "4-core shielded", color="#333", width=3, label_at=(ax - 90, ay + 18))
    for top, bottom in (("motor", "gearbox"), ("gearbox", "table")):
        t, b = boxes[top], boxes[bottom]
        cx = t.x + t.w // 2
        svg += _wire([(cx, t.y + t.h), (cx, b.y)], "shaft", color="#333", width=4,
                     label_at=(cx + 6, (t.y + t.h + b.y) // 2 + 4))
    return svg


def _power_wires(boxes):
    """Mains to the 48 V and 5 V supplies, the driver's supply, the optional battery."""

    def link(a, pa, b, pb, label, color="#c0392b", dashed=False, via=None):
        x1, y1 = boxes[a].port(pa)
        x2, y2 = boxes[b].port(pb)
        mid = via if via is not None else (x1 + x2) // 2
        return _wire([(x1, y1), (mid, y1), (mid, y2), (x2, y2)], label, color=color,
                     dashed=dashed, label_at=(x1 + 4, y1 - 5))

    svg = link("mains", "L/N", "f1", "in", "AC")
    svg += link("f1", "out", "psu48", "AC", "")
    svg += link("psu48", "+48 V", "f2", "in", "+48 V", via=585)
    svg += link("psu48", "+48 V", "f3", "in", "", via=585)
    svg += link("f3", "out", "psu5", "+48 V in", "")
    f2x, f2y = boxes["f2"].port("out")
    vx, vy = boxes["driver"].port("+48 V VDC")
    svg += _wire([(f2x, f2y), (1100, f2y), (1100, vy), (vx, vy)], "+48 V to driver",
                 color="#c0392b", label_at=(f2x + 6, f2y - 5))
    bx, by = boxes["bat"].port("+48 V")
    svg += _wire([(bx, by), (1080, by), (1080, f2y)], "diode-OR D2",
                 color="#c0392b", dashed=True, label_at=(bx - 130, by - 6))
    p5x, p5y = boxes["psu5"].port("+5 V")
    svg += _wire([(p5x, p5y), (p5x + 40, p5y)], "", color="#c0392b")
    for i, text in enumerate(("+5 V to: ESP32 5V pin, U3-U5 VCC, GY-521 VCC,",
                              "driver opto anodes (PUL+ DIR+ ENA+), buzzer")):
        svg.append("<text x='%d' y='%d' font-size='11' fill='#c0392b' %s>%s</text>"
                   % (boxes["psu5"].x, 180 + 13 * i, _FONT, escape(text)))
    return svg


def _notes():
    """The safety notes box."""
    svg = []
    notes = (
        "GPIO34/35/36/39 are input-only: pull-ups are",
        "external. Every part and wire: schematic.svg",
        "and harness.md; mains and PE: mains_safety.md.",
        "Reset, brownout or a dead ESP32: ENABLE",
        "pulled up (driver off), STEP and DIR pulled",
        "down; the self-locking worm holds the table.",
        "Over-travel switch open (actuated or wire",
        "cut): U3 passes no head-down STEP pulse;",
        "heartbeat stopped: U5 passes no pulse.",
        "Details: hardware/safety_wiring.md",
    )
    svg.append("<rect x='1130' y='700' width='450' height='%d' rx='6' fill='#fffbea'"
               " stroke='#b7950b'/>" % (24 + 17 * len(notes)))
    for i, text in enumerate(notes):
        svg.append("<text x='1142' y='%d' font-size='13' %s>%s</text>"
                   % (722 + 17 * i, _FONT, escape(text)))
    return svg


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.wiring", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", metavar="FILE", help="write the SVG to FILE")
    args = ap.parse_args(argv)
    text = render()
    paths.write_or_print(text, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
