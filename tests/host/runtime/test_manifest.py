"""Reading a MicroPython manifest: the firmware's own, small ones written here, and bad ones,
each refused with one line naming the manifest and its line."""

import pytest

from keylock.firmware.version import FW_VERSION
from keylock.host.errors import KeylockError
from keylock.host.runtime import deploy, manifest
from keylock.host.runtime.micropython import FIRMWARE_DIR, FIRMWARE_PACKAGE

FIRMWARE_MANIFEST = FIRMWARE_DIR / "manifest.py"


def read_firmware():
    return manifest.read(FIRMWARE_MANIFEST, package_dirs={FIRMWARE_PACKAGE: FIRMWARE_DIR})


# --- the firmware's manifest ------------------------------------------------------------------


def test_the_firmware_manifest_is_every_board_module_of_firmware():
    read = read_firmware()
    targets = read.targets()
    board = {f"keylock_fw/{p.name}" for p in FIRMWARE_DIR.glob("*.py")} - {"keylock_fw/manifest.py"}
    assert set(targets) == board  # every top-level module but the manifest; nothing under ports/
    assert {
        "keylock_fw/__init__.py",
        "keylock_fw/board_main.py",
        "keylock_fw/key_app.py",
        "keylock_fw/lock_app.py",
        "keylock_fw/version.py",
    } <= set(targets)
    assert not [t for t in targets if t.startswith("keylock_fw/ports/")]
    for entry in read.files:  # keylock_fw/X on the board is firmware/X here
        assert entry.source == FIRMWARE_DIR / entry.target.removeprefix("keylock_fw/")
        assert entry.opt is None
    assert len(targets) == len(set(targets))


def test_the_firmware_manifest_version_is_fw_version():
    read = read_firmware()
    assert read.metadata["version"] == ".".join(map(str, FW_VERSION))
    assert read.metadata["description"]


def test_flash_sends_the_manifest():
    assert deploy.firmware_manifest() == read_firmware()
    assert deploy.MANIFEST == FIRMWARE_MANIFEST


# --- small manifests ----------------------------------------------------------------------------


def write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_package_module_and_include_as_micropython_reads_them(tmp_path):
    write(tmp_path / "src" / "pkg" / "__init__.py")
    write(tmp_path / "src" / "pkg" / "a.py")
    write(tmp_path / "src" / "pkg" / "sub" / "b.py")
    write(tmp_path / "src" / "pkg" / "left_out.py")
    write(tmp_path / "lib" / "tool.py")
    write(tmp_path / "extra" / "walked" / "x.py")
    write(tmp_path / "extra" / "walked" / "deep" / "y.py")
    write(tmp_path / "extra" / "manifest.py", "options.defaults(walk=False)\nif options.walk:\n    package('walked')\n")
    top = write(
        tmp_path / "manifest.py",
        "metadata(version='1.2.3', description='test')\n"
        "package('pkg', files=['__init__.py', 'a.py', 'sub/b.py'], base_path='src', opt=3)\n"
        "module('tool.py', base_path='lib')\n"
        "include('extra', walk=True)\n"
        "include('extra/manifest.py')  # once only, as in MicroPython\n",
    )
    read = manifest.read(top)
    assert read.metadata == {"version": "1.2.3", "description": "test"}
    assert read.targets() == ["pkg/__init__.py", "pkg/a.py", "pkg/sub/b.py", "tool.py", "walked/deep/y.py", "walked/x.py"]
    sources = {e.target: e.source for e in read.files}
    assert sources["pkg/sub/b.py"] == tmp_path / "src" / "pkg" / "sub" / "b.py"
    assert sources["tool.py"] == tmp_path / "lib" / "tool.py"
    assert sources["walked/x.py"] == tmp_path / "extra" / "walked" / "x.py"
    assert [e.opt for e in read.files][:4] == [3, 3, 3, None]


def test_included_options_default_to_none(tmp_path):
    write(tmp_path / "inc" / "manifest.py", "if options.walk is None:\n    module('m.py')\n")
    write(tmp_path / "inc" / "m.py")
    top = write(tmp_path / "manifest.py", "metadata(version='1')\ninclude('inc')\n")
    assert manifest.read(top).targets() == ["m.py"]


def test_a_package_folder_named_otherwise_here(tmp_path):
    # As firmware/ is the package keylock_fw: package_dirs says where its folder is.
    write(tmp_path / "firmware" / "a.py")
    write(tmp_path / "firmware" / "ports" / "p.py")
    top = write(tmp_path / "firmware" / "manifest.py", "metadata(version='1')\npackage('fw', files=['a.py', 'ports/p.py'])\n")
    read = manifest.read(top, package_dirs={"fw": tmp_path / "firmware"})
    assert [(e.target, e.source) for e in read.files] == [
        ("fw/a.py", tmp_path / "firmware" / "a.py"),
        ("fw/ports/p.py", tmp_path / "firmware" / "ports" / "p.py"),
    ]


def test_a_manifest_reads_files_beside_it_through_its_file_name(tmp_path):
    write(tmp_path / "VERSION", "4.5.6\n")
    top = write(
        tmp_path / "manifest.py", "import os\nmetadata(version=open(os.path.join(os.path.dirname(__file__), 'VERSION')).read().strip())\n"
    )
    assert manifest.read(top).metadata["version"] == "4.5.6"


# --- bad manifests: one clear line each --------------------------------------------------------


def refused(tmp_path, text, **kwargs) -> str:
    top = write(tmp_path / "manifest.py", text)
    with pytest.raises(KeylockError) as exc:
        manifest.read(top, **kwargs)
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "metadata(version='1')\nfreeze('.')\n",
            "line 2: freeze is not defined in a manifest (it has metadata, package, module, require, include, options)",
        ),
        ("metadata(version='1')\nmodule('nope.py')\n", "line 2: module('nope.py'): no such file nope.py"),
        ("metadata(version='1')\npackage('pkg', files=['gone.py'])\n", "line 2: package('pkg'): no such file pkg/gone.py"),
        ("metadata(version='1')\npackage('pkg')\n", "line 2: package('pkg'): no folder"),
        ("metadata(version='1')\nrequire('aioble')\n", "line 2: require('aioble'): keylock installs no micropython-lib packages"),
        ("module('m.py')\n", "line 1: module() before metadata(): a manifest starts with metadata(version=...)"),
        ("metadata(version='1')\nmetadata(version='2')\n", "line 2: metadata() is called twice"),
        (
            "metadata(version='1', colour='red')\n",
            "line 1: metadata() takes version, description, license, author, stdlib, pypi, pypi_publish, not colour",
        ),
        ("metadata(version='1')\nmodule('notes.txt')\n", "line 2: module('notes.txt'): notes.txt is not a .py file"),
        ("metadata(version='1')\nmodule('../up.py')\n", "line 2: module('../up.py'): ../up.py would land outside the board's /lib"),
        ("metadata(version='1')\nmodule('m.py')\nmodule('m.py')\n", "line 3: module('m.py'): m.py is listed twice"),
        ("metadata(version='1')\npackage('p', files='a.py')\n", "line 2: package('p'): files must be a list of file names, not one string"),
        ("metadata(version='1')\ninclude('nowhere')\n", "line 2: include('nowhere'): no manifest at"),
        ("metadata(version='1')\nx = 1 +\n", "line 2: invalid syntax"),
        ("metadata(version='1')\n1 / 0\n", "line 2: ZeroDivisionError: division by zero"),
    ],
    ids=[
        "unknown-function",
        "missing-module",
        "missing-package-file",
        "missing-package-folder",
        "require",
        "metadata-not-first",
        "metadata-twice",
        "metadata-keyword",
        "not-py",
        "outside-lib",
        "twice",
        "files-as-string",
        "missing-include",
        "syntax",
        "raises",
    ],
)
def test_a_bad_manifest_is_one_clear_error(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)  # manifests are named as the user would type them
    write(tmp_path / "m.py")
    write(tmp_path / "up.py")
    write(tmp_path / "notes.txt")
    message = refused(tmp_path / "sub" if "../" in text else tmp_path, text)
    assert expected in message, message
    assert message.startswith(("manifest.py line", "sub/manifest.py line")), message


def test_an_error_in_an_included_manifest_names_that_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "inc" / "manifest.py", "\n\nmodule('missing.py')\n")
    message = refused(tmp_path, "metadata(version='1')\ninclude('inc')\n")
    assert message.startswith("inc/manifest.py line 3: module('missing.py'): no such file inc/missing.py"), message


def test_a_mapped_package_takes_no_base_path(tmp_path):
    write(tmp_path / "firmware" / "a.py")
    message = refused(
        tmp_path,
        "metadata(version='1')\npackage('fw', files=['a.py'], base_path='elsewhere')\n",
        package_dirs={"fw": tmp_path / "firmware"},
    )
    assert "package('fw'): fw is read from" in message and "base_path does not apply" in message


def test_a_missing_manifest(tmp_path):
    with pytest.raises(KeylockError, match="cannot read the manifest .*manifest.py"):
        manifest.read(tmp_path / "manifest.py")
