"""The bring-up console on the virtual device: the service mode's prompt is recognised
by the client (it says how to come back instead of timing out), `import bringup;
bringup.main()` there starts the control loop with the bring-up commands, and they
answer through the client. One vdev (the firmware under the unix port, as on a board)."""

import time

import pytest
from test_vdev import ISSUE21_HEAP, SPEED, Vdev

from host_tools.console import ClientError, ConsoleClient, SerialTransport

PIN = "2468"


def test_the_bringup_console_from_the_service_mode(tmp_path, code_dir):
    v = Vdev(tmp_path, "--heapsize", ISSUE21_HEAP, "--speed", str(SPEED), "--on-fatal", "exit",
             "--service-boot", mpy_dir=code_dir)
    try:
        v.wait_state(("maintenance",), timeout_s=60)
        t = SerialTransport(v.port)
        try:
            with pytest.raises(ClientError) as e:
                ConsoleClient(t, timeout_s=5).connect()
            assert "MicroPython prompt" in str(e.value) and "Ctrl-D" in str(e.value)
            t.write(b"import bringup; bringup.main()\r")
            time.sleep(1.0)
            c = ConsoleClient(t, timeout_s=10)
            end = time.monotonic() + 60
            while True:  # the self-test runs first; the console answers once it is up
                try:
                    c.connect()
                    break
                except ClientError:
                    assert time.monotonic() < end, v.output()
            assert c.found_json is False
            assert c.request("pin set " + PIN)["ok"]
            assert c.request("login " + PIN)["ok"]
            sw = c.request("switches")
            assert sw["ok"] and sw["home"] is True, sw  # at the loading stop
            imu = c.request("imu")
            assert imu["ok"] and abs(imu["acc_x_mg"]) + abs(imu["acc_y_mg"]) + abs(
                imu["acc_z_mg"]) > 500, imu  # gravity, on some axis
            assert c.request("steps")["ok"]
            assert c.request("drive on")["drive_hold"] is True
            assert c.request("drive off")["drive_hold"] is False
            c.restore()
        finally:
            t.close()
    finally:
        rc, left = v.shut_down()
    assert rc == 0, v.output()
    assert not left
