"""The e-stop interrupt's effect on the step generator (simulated board twin of
firmware/board_esp32.py): after the edge no more head-down motion is queued - the
head-down rate can only fall - but nothing is cut dead, so the core brakes on a ramp."""

from signals import Outputs

from host_tools.simboard import SimBoard


def _out(rate):
    o = Outputs()
    o.rate_sps = rate
    o.limit_lo = -10**6
    o.limit_hi = 10**6
    o.enable = True
    return o


def test_after_an_estop_edge_the_head_down_rate_never_rises():
    """Covers: HZ-07"""
    b = SimBoard()
    b.wait_until(10)
    b.apply_outputs(_out(1000))
    b.estop_press()
    b.advance(2)  # the edge is seen by the ISR twin
    b.apply_outputs(_out(3000))
    assert b.physics.stepgen.rate_sps == 1000  # not faster head-down
    b.apply_outputs(_out(400))
    assert b.physics.stepgen.rate_sps == 400  # braking passes through
    b.apply_outputs(_out(900))
    assert b.physics.stepgen.rate_sps == 400
    b.apply_outputs(_out(-2000))
    assert b.physics.stepgen.rate_sps == -2000  # head-up is always allowed
    b.estop_release()
    b.estop_rearm()  # the latch was acknowledged
    b.apply_outputs(_out(3000))
    assert b.physics.stepgen.rate_sps == 3000
