"""The firmware manifest (issue #21): the boot check on hand-made files, and what the core
does with its fault - nothing moves but the slow return, and it cannot be acknowledged.

The manifest here is written by hand (_manifest) from the format in firmware/manifest.py;
tests/host/test_deploy_manifest.py checks the one host_tools/deploy.py writes against the
same check, through a deploy cut after each file.
"""

import binascii
import hashlib

import faults
import manifest
from fakes import MemFS, remove_scratch, scratch_fs
from rig import Rig
from states import C_ACK, C_ESTOP, C_GOTO, C_RETURN, EMERGENCY_RETURN, FAULT, OK, R_CAUSE

APP = b"app code " * 100  # longer than one 512-byte read
MAIN = b"import app\n"
PARAMS = b'{"frame": {}}'


def _hex(data):
    return binascii.hexlify(hashlib.sha256(data).digest())


def _manifest(files, build=b"v1.2-3-gabc"):
    out = [manifest.MAGIC, b"build " + build]
    for name in sorted(files):
        data = files[name]
        out.append(b"%s %d %s" % (_hex(data), len(data), name.encode()))
    out.append(b"end %d" % len(files))
    return b"\n".join(out) + b"\n"


def _board(extra=None, rom=None):
    """(root, rom): a deployed board's two filesystems; rom {} is a board without /rom."""
    listed = {"app.mpy": APP, "main.py": MAIN, "table_params.json": PARAMS}
    files = {}
    for name, data in listed.items():
        if rom is None or name not in rom:
            files[name] = bytearray(data)
    files[manifest.NAME] = bytearray(_manifest(listed))
    files["settings"] = bytearray(b"ITC1 data files are not firmware")
    files.update(extra or {})
    return MemFS(files), MemFS(rom or {})


def _problem(fs, rom):
    return manifest.check(fs, rom)[1]


# ------------------------------------------------------------ the check


def test_a_complete_deploy_passes_and_gives_its_build():
    fs, rom = _board()
    assert manifest.check(fs, rom) == ("v1.2-3-gabc", None)


def test_a_listed_module_found_in_rom_passes():
    # the virtual device, a ROMFS partition: modules identical to /rom are not copied
    fs, rom = _board(rom={"app.mpy": bytearray(APP)})
    assert "app.mpy" not in fs.files
    assert manifest.check(fs, rom) == ("v1.2-3-gabc", None)


def test_no_manifest_is_a_fault_with_no_build():
    fs, rom = _board()
    del fs.files[manifest.NAME]
    build, problem = manifest.check(fs, rom)
    assert build is None and problem.startswith("no manifest.txt")


def test_one_changed_byte_anywhere_in_a_module_is_found():
    for i in (0, 511, 512, len(APP) - 1):  # both sides of the read-chunk boundary
        fs, rom = _board()
        fs.files["app.mpy"][i] ^= 1
        assert _problem(fs, rom) == "app.mpy differs from the manifest", i


def test_a_truncated_or_grown_module_is_found():
    fs, rom = _board()
    fs.files["app.mpy"] = fs.files["app.mpy"][:-1]
    assert _problem(fs, rom) == "app.mpy differs from the manifest"
    fs, rom = _board()
    fs.files["main.py"].extend(b"\n")
    assert _problem(fs, rom) == "main.py differs from the manifest"


def test_a_root_copy_that_differs_from_rom_is_what_counts():
    # imports look in the root first: an identical /rom copy does not make it right
    fs, rom = _board(rom={"app.mpy": bytearray(APP)})
    fs.files["app.mpy"] = bytearray(b"replaced")
    assert _problem(fs, rom) == "app.mpy differs from the manifest"


def test_a_missing_or_unreadable_file_is_found():
    fs, rom = _board()
    del fs.files["table_params.json"]
    assert _problem(fs, rom) == "table_params.json is missing"
    fs, rom = _board()
    fs.fail_read = True  # the manifest itself cannot be opened
    assert _problem(fs, rom).startswith("no manifest.txt")


def test_every_cut_of_the_manifest_is_found():
    fs, rom = _board()
    whole = bytes(fs.files[manifest.NAME])
    for n in range(len(whole)):
        fs.files[manifest.NAME] = bytearray(whole[:n])
        assert _problem(fs, rom) is not None, n


def test_a_damaged_manifest_is_found():
    whole = _board()[0].files[manifest.NAME]
    cases = (
        whole.replace(b"itc-manifest 1", b"itc-manifest 2"),  # another format
        whole.replace(b"build ", b"bild "),
        whole.replace(b"end 3", b"end 2"),  # a line lost
        whole.replace(b" 11 main.py", b" 1x main.py"),
        whole.replace(b" 11 main.py", b" 11  main.py"),
        whole + b"extra\n",
        whole.replace(b"\n", b"\r\n"),
        whole[:-1],  # no end of line after the last one
        whole.replace(b"build v1.2-3-gabc", b"build " + b"x" * 200),  # too long a line
    )
    for i, data in enumerate(cases):
        assert data != whole, i
        fs, rom = _board()
        fs.files[manifest.NAME] = bytearray(data)
        assert _problem(fs, rom) is not None, i


def test_an_unlisted_module_in_the_root_is_found():
    # app.py next to app.mpy is what `import app` loads
    for extra in ("app.py", "tool.mpy"):
        fs, rom = _board({extra: bytearray(b"x = 1\n")})
        assert _problem(fs, rom) == "%s is not in the manifest" % extra


def test_an_unlisted_directory_in_the_root_is_found():
    # a directory app/ is imported as `app` before app.mpy, with or without an
    # __init__ (a namespace package): on a real directory
    import os

    fs = scratch_fs("manifest")
    mem, rom = _board()
    try:
        for name, data in mem.files.items():
            with fs.open(name, "wb") as f:
                f.write(data)
        assert _problem(fs, rom) is None
        os.mkdir(fs.path("app"))
        with fs.open("app/__init__.mpy", "wb") as f:
            f.write(b"M")
        assert _problem(fs, rom) == "app/ is not in the manifest"
        os.remove(fs.path("app/__init__.mpy"))
        assert _problem(fs, rom) == "app/ is not in the manifest"
    finally:
        for n in ("app/__init__.mpy",):
            try:
                os.remove(fs.path(n))
            except OSError:
                pass
        try:
            os.rmdir(fs.path("app"))
        except OSError:
            pass
        remove_scratch(fs)


def test_data_files_and_deploy_leftovers_are_not_firmware():
    fs, rom = _board({"profiles": bytearray(b"x"), "pin.bad": bytearray(b"x"),
                      "app.mpy.new": bytearray(b"cut copy"), "settings.tmp": bytearray()})
    assert _problem(fs, rom) is None


# ------------------------------------------------------------ the core with its fault


def _booted(angle_mdeg):
    r = Rig(angle_mdeg=angle_mdeg, config_fault=faults.MANIFEST)
    r.boot()
    return r


def test_the_fault_latches_at_boot_and_nothing_moves_by_itself():
    for angle in (0, 30000):  # at the loading stop and head-down
        r = _booted(angle)
        assert r.core.state == FAULT and r.core.fault == faults.MANIFEST, angle
        start = r.plant.count
        r.tick(300)
        assert r.plant.count == start and not r.out.enable


def test_only_the_return_moves_and_it_cannot_be_acknowledged():
    r = _booted(30000)
    assert r.core.command(C_GOTO, 40000) != OK
    assert r.core.command(C_ACK) == R_CAUSE
    assert r.core.command(C_RETURN) == OK
    r.run_until(lambda x: x.plant.angle_mdeg() < 1000 and not x.out.enable, 120000)
    assert -1000 < r.plant.angle_mdeg() < 1000
    assert r.core.state == FAULT and r.core.command(C_ACK) == R_CAUSE
    assert r.core.command(C_GOTO, 20000) != OK


def test_another_fault_latched_first_is_not_a_way_out():
    # the manifest fault wins the self-test; an e-stop and its ack lead back to FAULT
    r = Rig(angle_mdeg=20000, config_fault=faults.MANIFEST, estop=True)
    r.boot()
    assert r.core.fault == faults.MANIFEST
    r.plant.estop = False
    r.tick(5)
    assert r.core.command(C_ESTOP) == OK and r.core.state == EMERGENCY_RETURN
    r.run_until(lambda x: x.core.phase == 4, 60000)
    assert r.core.command(C_ACK) == OK
    assert r.core.state == FAULT and r.core.command(C_ACK) == R_CAUSE
