# Runs first at every power-up of the ESP32, before main.py: the USB console's Ctrl-C
# stops being a keyboard interrupt before anything else runs, so that no byte on the
# serial line can stop main.py and open the REPL (issue #21). Only the service mode
# (firmware/powerup.py) turns it back on. Kept as source, like main.py.
try:
    import micropython

    micropython.kbd_intr(-1)
except BaseException:  # even a Ctrl-C that arrived before the line above: start again
    import machine

    machine.reset()
