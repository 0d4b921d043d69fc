"""Deploy and flash: the plan, the .mpy compatibility checks, the esptool commands.

The end-to-end deploy (maintenance boot, the real mpremote, reset) runs against the
virtual device in test_vdev.py; these are the decisions, on hand-made inputs.
"""

import hashlib
import os

import pytest

from host_tools import deploy, flash, paths

# ------------------------------------------------------------------ .mpy compatibility


def test_decode_mpy_of_the_unix_port_and_an_esp32():
    # the unix port here reports 2822 = v6.3 on x64; an ESP32 6.3 on xtensawin
    assert deploy.decode_mpy(2822) == (6, 3, "x64")
    assert deploy.decode_mpy(6 | (3 << 8) | (10 << 10)) == (6, 3, "xtensawin")
    assert deploy.decode_mpy(6 | (3 << 8)) == (6, 3, None)  # no native arch


def test_mpy_cross_emits_the_format_the_unix_port_loads():
    emitted = deploy.mpy_cross_format()
    assert emitted == (6, 3)
    assert deploy.check_compatible(2822, emitted) == "x64"


def test_an_older_board_is_refused_before_anything_is_copied():
    v6_1_xtensawin = 6 | (1 << 8) | (10 << 10)
    with pytest.raises(deploy.CompatError, match=r"loads \.mpy v6\.1 but mpy-cross emits v6\.3"):
        deploy.check_compatible(v6_1_xtensawin, (6, 3))
    with pytest.raises(deploy.CompatError, match="cannot load .mpy"):
        deploy.check_compatible(None, (6, 3))


def test_compile_files_for_xtensawin(tmp_path):
    src = os.path.join(paths.FIRMWARE, "ticks.py")
    out = deploy.compile_files([src], str(tmp_path), "xtensawin")
    assert [os.path.basename(p) for p in out] == ["ticks.mpy"]
    with open(out[0], "rb") as f:
        head = f.read(4)
    assert head[0] == ord("M") and head[1] == 6  # magic, format version 6


def test_a_compile_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    with pytest.raises(deploy.CompatError, match="bad.py"):
        deploy.compile_files([str(bad)], str(tmp_path / "out"), "xtensawin")


def test_esp32_files_go_to_the_make_mpy_directory():
    assert deploy.mpy_dir_for("xtensawin") == os.path.join(paths.BUILD, "mpy")
    assert deploy.mpy_dir_for("x64") == os.path.join(paths.BUILD, "mpy-x64")


# ------------------------------------------------------------------ the plan


def _local(tmp_path, files):
    out = {}
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        out[name] = str(p)
    return out


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_plan_copies_only_what_differs(tmp_path):
    local = _local(tmp_path, {"app.mpy": b"A2", "core.mpy": b"C", "main.py": b"M",
                              "table_params.json": b"{}"})
    remote = {"app.mpy": _sha(b"A1"), "core.mpy": _sha(b"C"), "main.py": _sha(b"M"),
              "settings": _sha(b"s"), "history": _sha(b"h")}
    to_copy, to_remove = deploy.plan(local, remote)
    assert to_copy == ["app.mpy", "table_params.json"]
    assert to_remove == []  # data files are never touched


def test_plan_removes_shadowing_sources_and_stale_modules(tmp_path):
    local = _local(tmp_path, {"app.mpy": b"A", "main.py": b"M"})
    remote = {"app.mpy": _sha(b"A"), "main.py": _sha(b"M"),
              "app.py": _sha(b"old source"),  # imported before app.mpy: must go
              "gone.mpy": _sha(b"x"),  # a module the firmware no longer has
              "main.mpy": _sha(b"y"),  # main stays source
              "app.mpy.new": _sha(b"z"),  # left by an interrupted deploy
              "profiles": _sha(b"p"), "settings.bad": _sha(b"b")}
    to_copy, to_remove = deploy.plan(local, remote)
    assert to_copy == []
    assert to_remove == ["app.mpy.new", "app.py", "gone.mpy", "main.mpy"]


def test_modules_identical_in_rom_are_not_copied_and_a_root_copy_goes(tmp_path):
    # /rom (a ROMFS partition, the virtual device's built-in firmware) runs modules in
    # place; a root copy would be imported first, into the heap
    local = _local(tmp_path, {"app.mpy": b"A", "core.mpy": b"C2", "main.py": b"M",
                              "table_params.json": b"{}"})
    rom = {"app.mpy": _sha(b"A"), "core.mpy": _sha(b"C1"), "main.mpy": _sha(b"m"),
           "table_params.json": _sha(b"{}")}
    in_rom = deploy.identical_in_rom(local, rom)
    assert in_rom == ["app.mpy"]  # only modules, only byte-identical ones
    remote = {"app.mpy": _sha(b"A"), "table_params.json": _sha(b"{}"), "history": _sha(b"h")}
    to_copy, to_remove = deploy.plan(local, remote, in_rom)
    assert to_copy == ["core.mpy", "main.py"]  # core differs from /rom: it goes to the heap
    assert to_remove == ["app.mpy"]


def test_without_a_rom_everything_is_copied(tmp_path):
    # a stock ESP32_GENERIC build has no /rom: the board reports no files there
    local = _local(tmp_path, {"app.mpy": b"A", "main.py": b"M"})
    assert deploy.identical_in_rom(local, {}) == []
    assert deploy.plan(local, {}, []) == (["app.mpy", "main.py"], [])


def test_local_files_main_stays_source_the_rest_mpy():
    files = deploy.local_files("xtensawin")
    assert files["main.py"].endswith(os.path.join("firmware", "main.py"))
    assert files["table_params.json"] == paths.TABLE_PARAMS
    assert "app.mpy" in files and "console.mpy" in files
    # boot.py too: it turns the keyboard interrupt off before main.py runs (issue #21)
    assert files["boot.py"].endswith(os.path.join("firmware", "boot.py"))
    assert not any(n.endswith(".py") and n not in ("main.py", "boot.py") for n in files)
    assert "main.mpy" not in files


def test_deploy_needs_a_port():
    with pytest.raises(deploy.DeployError, match="PORT="):
        deploy.deploy("")


def test_deploy_reports_an_unreachable_port(tmp_path):
    with pytest.raises(deploy.DeployError, match="cannot open"):
        deploy.deploy(str(tmp_path / "no-such-tty"), say=lambda s: None)


# ------------------------------------------------------------------ flash


def _image(tmp_path, name, size=1_600_000, magic=b"\xe9"):
    p = tmp_path / name
    p.write_bytes(magic + bytes(size - 1))
    return str(p)


def test_flash_commands_erase_then_write_at_0x1000(tmp_path):
    img = _image(tmp_path, "ESP32_GENERIC-SPIRAM-20250101-v1.27.0.bin")
    out = []
    cmds = flash.flash("/dev/ttyUSB0", img, dry_run=True, say=out.append, python="py")
    assert cmds[0] == ["py", "-m", "esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0",
                       "erase_flash"]
    assert cmds[1][-4:] == ["write_flash", "-z", "0x1000", img]
    assert not [o for o in out if o.startswith("warning")]


def test_flash_refuses_an_old_or_wrong_image(tmp_path):
    with pytest.raises(flash.FlashError, match="1.27 or newer"):
        flash.check_image(_image(tmp_path, "ESP32_GENERIC-SPIRAM-20240602-v1.23.0.bin"))
    with pytest.raises(flash.FlashError, match="magic"):
        flash.check_image(_image(tmp_path, "ESP32_GENERIC-SPIRAM-v1.27.0.uf2", magic=b"U"))
    with pytest.raises(flash.FlashError, match="not a MicroPython"):
        flash.check_image(_image(tmp_path, "ESP32_GENERIC-SPIRAM-v1.27.0.bin", size=1000))
    with pytest.raises(flash.FlashError, match="no such file"):
        flash.check_image(str(tmp_path / "missing.bin"))
    with pytest.raises(flash.FlashError, match="FW="):
        flash.check_image("")


def test_flash_refuses_the_plain_image_the_firmware_does_not_fit(tmp_path):
    """The supported board is the WROVER (PSRAM): the plain image's heap (about 140 KB)
    is smaller than what the firmware takes after boot, so it would reset in a loop."""
    for name in ("ESP32_GENERIC-20250101-v1.27.0.bin", "esp32_generic-v1.28.0.bin",
                 "ESP32_GENERIC-OTA-20250101-v1.27.0.bin"):
        with pytest.raises(flash.FlashError, match="not the SPIRAM variant"):
            flash.check_image(_image(tmp_path, name))
        with pytest.raises(flash.FlashError, match="SPIRAM"):
            flash.flash("/dev/ttyUSB0", _image(tmp_path, name), dry_run=True,
                        say=lambda s: None)
    assert flash.check_image(_image(tmp_path, "ESP32_GENERIC-SPIRAM-20250101-v1.27.0.bin")) == []


def test_flash_warns_about_other_variants(tmp_path):
    w = flash.check_image(_image(tmp_path, "ESP32_GENERIC-SPIRAM-OTA-20250101-v1.27.0.bin"))
    assert any("OTA" in x for x in w)
    w = flash.check_image(_image(tmp_path, "ESP32_GENERIC_S3-SPIRAM-20250101-v1.27.0.bin"))
    assert any("S3" in x for x in w)


def test_flash_asks_before_erasing(tmp_path):
    img = _image(tmp_path, "ESP32_GENERIC-SPIRAM-20250101-v1.27.0.bin")
    with pytest.raises(flash.FlashError, match="--yes"):
        flash.flash("/dev/ttyUSB0", img, interactive=False, say=lambda s: None)
    with pytest.raises(flash.FlashError, match="not confirmed"):
        flash.flash("/dev/ttyUSB0", img, interactive=True, ask=lambda q: "n",
                    say=lambda s: None)


def test_the_board_report_is_read_line_by_line_and_must_be_complete():
    out = ("noise\nDEPLOY-INFO esp32 1.27.0 2822\nDEPLOY-FILE %s main.py\n"
           "DEPLOY-FILE %s a name.json\nDEPLOY-ROM %s app.mpy\nDEPLOY-DIR - lib\n"
           "DEPLOY-DIR - rom\nDEPLOY-END\n" % ("a" * 64, "b" * 64, "c" * 64))
    info = deploy.parse_info(out)
    assert info == {"platform": "esp32", "version": [1, 27, 0], "mpy": 2822,
                    "files": {"main.py": "a" * 64, "a name.json": "b" * 64},
                    "rom": {"app.mpy": "c" * 64}, "dirs": ["lib", "rom"]}
    assert deploy.stray_dirs(info) == ["lib"]  # the /rom mount point is no stray
    assert deploy.parse_info(out.replace("DEPLOY-END\n", "")) is None  # cut short
    assert deploy.parse_info("DEPLOY-INFO esp32 1.27.0 -1\nDEPLOY-END\n")["mpy"] is None
