"""The simulator's world under the chip model (host_tools/chip/world.py): stepped lazily
(only where the world can change what the chip sees) it gives exactly what stepping it
at every millisecond gives, tick for tick, through a session that homes, moves and
holds (the consent and beginner program of the bench's session script)."""

from host_tools import chip_bench


def _trace(every_ms):
    t = chip_bench._Trace()
    res = chip_bench.run_phys(25000, trace=t, every_ms=every_ms)
    return t, res


def test_lazy_world_equals_the_world_stepped_every_ms():
    lazy, res = _trace(False)
    ref, _ = _trace(True)
    assert res["pulses"] > 5000 and res["sessions"] == 1  # the table moved
    assert len(lazy) == len(ref) > 2000
    assert [(t, s, repr(a)) for t, s, a in lazy] == [(t, s, repr(a)) for t, s, a in ref]
