# Runs first at every power-up of the ESP32, before main.py: the USB console's Ctrl-C
# stops being a keyboard interrupt before anything else runs, so that no byte on the
# serial line can stop main.py and open the REPL (issue #21). Only the service mode
# (firmware/powerup.py) turns it back on. Kept as source, like main.py.
#
# A Ctrl-C byte that arrived before kbd_intr(-1) is not raised where it arrives: the
# UART/USB ISR only marks a pending KeyboardInterrupt, and the VM raises it at its next
# pending check, made only at jumps (micropython py/vm.c, DISPATCH_WITH_PEND_EXC_CHECK:
# MP_BC_JUMP and the conditional jumps, lines 572-611 at 1c3c201). The first jump of a
# try with no loop is its MP_BC_POP_EXCEPT_JUMP (py/vm.c 813-818), which pops the
# handler *before* that check, and pyexec checks once more after the file returns,
# outside any try (shared/runtime/pyexec.c 139-140): the interrupt would escape this
# file, pyexec would return 0, and ports/esp32/main.c (155-165) would skip main.py
# for the REPL.
# The loop below is a jump inside the try: a pending interrupt is raised there and
# caught (tests/host/test_attack21.py shows where on the unix port). It is raised only
# after kbd_intr(-1) ran (no check before the loop), so no other Ctrl-C can follow it
# and the boot goes on: a flood of Ctrl-C at power-up is no reset loop.
try:
    import micropython

    micropython.kbd_intr(-1)
    for _ in range(2):  # a pending check inside the try (see above)
        pass
except KeyboardInterrupt:
    pass
except BaseException:  # start again rather than leave a REPL open
    import machine

    machine.reset()
