"""Buttons: hand-worked press, release, long press, chord and stuck; the idle shortcut.

Runs on CPython and the MicroPython unix port. Defaults from make_config(): 10 ms ticks.
"""

from buttons import Buttons
from signals import SW_DOWN, SW_START, SW_UP
from support import make_config

TICK = 10


def _run(b, bits, ms):
    """Hold `bits` for ms; returns the OR of each per-tick result over that time."""
    seen = [0, 0, 0, 0, False]
    for _ in range(ms // TICK):
        b.update(TICK, bits)
        seen[0] |= b.pressed
        seen[1] |= b.released
        seen[2] |= b.short
        seen[3] |= b.long
        seen[4] = seen[4] or b.chord
    return seen


def test_short_and_long_press_of_start():
    cfg = make_config()
    b = Buttons(cfg)
    _run(b, 0, 100)
    pressed, released, short, long_, _ = _run(b, SW_START, 200)
    assert pressed == SW_START and not released and not long_
    assert b.active() == SW_START
    pressed, released, short, long_, _ = _run(b, 0, 100)
    assert released == SW_START and short == SW_START
    _run(b, SW_START, cfg.long_press_ms + 100)
    assert b.long == 0  # fired once, earlier
    pressed, released, short, long_, _ = _run(b, 0, 100)
    assert released == SW_START and short == 0  # a long press is not also a short one


def test_chord_fires_once_and_a_stuck_button_is_masked():
    cfg = make_config()
    b = Buttons(cfg)
    _run(b, 0, 100)
    chord = _run(b, SW_UP | SW_DOWN, cfg.chord_ms + 200)[4]
    assert chord and not b.chord
    _run(b, 0, 100)
    _run(b, SW_DOWN, cfg.stuck_button_ms + 100)
    assert b.stuck == SW_DOWN and b.active() == 0
    released = _run(b, 0, 100)[1]
    assert b.stuck == 0 and released == 0  # the release of a stuck button is no command


def test_a_button_held_at_boot_is_ignored_until_released():
    b = Buttons(make_config())
    assert _run(b, SW_UP, 500)[0] == 0 and b.active() == 0
    _run(b, 0, 100)
    assert _run(b, SW_UP, 100)[0] == SW_UP


def _state(b):
    return (b.raw, b.stable, b.stuck, b.pressed, b.released, b.short, b.long, b.chord,
            b._long_done, b._chord_ms, b._chord_done, b.unarmed, b.raw_ms[0], b.raw_ms[1],
            b.raw_ms[2], b.held_ms[0], b.held_ms[1], b.held_ms[2])


def test_idle_shortcut_gives_what_the_full_update_gives():
    # update() skips its per-button loop while nothing is pressed and every level is
    # older than the debounce time; forcing the full loop every tick must agree
    cfg = make_config()
    fast = Buttons(cfg)
    full = Buttons(cfg)
    x = 7
    bits = 0
    for i in range(20000):
        x = (x * 75 + 74) % 65537  # ZX81 LCG: small ints only
        r = x % 1000
        if r < 6:
            bits = 0
        elif r < 9:
            bits ^= 1 << (x % 3)  # press or release one button
        elif r < 10:
            bits = SW_UP | SW_DOWN
        dt = TICK if r > 20 else 1 + x % 30  # some late and early ticks
        full._idle = False
        fast.update(dt, bits)
        full.update(dt, bits)
        assert _state(fast) == _state(full), i
