"""Read a MicroPython manifest (firmware/manifest.py): which files a board gets, and where.

A manifest is Python in micropython-lib's format, run with its functions defined, as
MicroPython's tools/manifestfile.py runs it in compile mode:

    metadata(version=..., description=...)      first, once
    package(path, files=None, base_path=".")    BASE/PATH/FILE -> PATH/FILE on the board
                                                (files=None: every .py under BASE/PATH)
    module(path, base_path=".")                 BASE/PATH -> PATH on the board
    include(manifest, **options)                another manifest (a folder: its manifest.py);
                                                `options` there holds the keyword arguments
    require(name)                               refused: the firmware imports only its own modules
                                                and keylock installs no micropython-lib package

Relative paths are relative to the manifest that names them. Targets are relative to the
board's /lib. One addition: `package_dirs` says where a package's folder is on this host
when it is not named as on the board (firmware/ is the package keylock_fw), as setuptools'
package-dir does; `package("keylock_fw", files=[...])` then reads firmware/FILE.

`read()` returns the metadata and the files; every problem is one KeylockError that names
the manifest and its line.
"""

import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import KeylockError

FUNCTIONS = ("metadata", "package", "module", "require", "include", "options")
# metadata()'s keywords in MicroPython's manifestfile.py.
METADATA_KEYS = ("version", "description", "license", "author", "stdlib", "pypi", "pypi_publish")


@dataclass(frozen=True)
class Entry:
    source: Path  # the .py on this host
    target: str  # where it goes, relative to the board's /lib: "keylock_fw/ports/rp2.py"
    opt: int | None = None  # mpy-cross's optimisation level (-O), when the manifest gives one


@dataclass
class Manifest:
    path: Path
    metadata: dict = field(default_factory=dict)
    files: list[Entry] = field(default_factory=list)

    def targets(self) -> list[str]:
        return [e.target for e in self.files]


class _Problem(Exception):
    """Raised by a manifest function; read() adds the manifest's name and line."""


class Options:
    """`options` in an included manifest: the keywords include() was given, else the
    manifest's own `options.defaults(...)`, else None (as in MicroPython)."""

    def __init__(self, **given):
        self._given = given
        self._defaults: dict = {}

    def defaults(self, **defaults) -> None:
        self._defaults = defaults

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._given.get(name, self._defaults.get(name))


def read(path: Path, package_dirs: dict[str, Path] | None = None, options: dict | None = None) -> Manifest:
    """Run the manifest at PATH; its metadata and files. `package_dirs` maps a package name
    to its folder on this host, for packages whose folder has another name; `options` is the
    manifest's own `options` (as include() gives an included one: {"board": "pico"})."""
    reader = _Reader(Path(path).resolve(), {name: Path(p).resolve() for name, p in (package_dirs or {}).items()})
    reader.run(reader.manifest.path, dict(options or {}))
    return reader.manifest


class _Reader:
    def __init__(self, path: Path, package_dirs: dict[str, Path]):
        self.manifest = Manifest(path)
        self.package_dirs = package_dirs
        self.has_metadata = False
        self.visited: set[Path] = set()
        self.here: list[Path] = []  # the folder of the manifest being run (includes nest)

    # --- running a manifest ---------------------------------------------------------------

    def run(self, path: Path, options: dict) -> None:
        if path in self.visited:  # MicroPython includes a manifest once
            return
        self.visited.add(path)
        try:
            source = path.read_text()
        except OSError as exc:
            raise KeylockError(f"cannot read the manifest {_shown(path)}: {exc.strerror or exc}") from None
        names = {
            "metadata": self.metadata,
            "package": self.package,
            "module": self.module,
            "require": self.require,
            "include": self.include,
            "options": Options(**options),
            "__file__": str(path),  # as Python sets it for a script: lets a manifest read files beside it
            "__name__": "__manifest__",
        }
        self.here.append(path.parent)
        try:
            exec(compile(source, str(path), "exec"), names)
        except KeylockError:
            raise  # from an included manifest: already names its file and line
        except SyntaxError as exc:
            raise KeylockError(f"{_shown(path)} line {exc.lineno}: {exc.msg}") from None
        except NameError as exc:
            name = getattr(exc, "name", None) or str(exc)
            raise KeylockError(f"{_at(path, exc)}: {name} is not defined in a manifest (it has {', '.join(FUNCTIONS)})") from None
        except _Problem as exc:
            raise KeylockError(f"{_at(path, exc)}: {exc}") from None
        except Exception as exc:
            said = " ".join(str(exc).split())  # one line, whatever the manifest raised
            raise KeylockError(f"{_at(path, exc)}: {type(exc).__name__}: {said}") from None
        finally:
            self.here.pop()

    # --- the manifest's functions -----------------------------------------------------------

    def metadata(self, **kwargs) -> None:
        unknown = sorted(set(kwargs) - set(METADATA_KEYS))
        if unknown:
            raise _Problem(f"metadata() takes {', '.join(METADATA_KEYS)}, not {', '.join(unknown)}")
        if self.has_metadata:
            raise _Problem("metadata() is called twice: once, first, for the whole manifest")
        self.has_metadata = True
        self.manifest.metadata = dict(kwargs)

    def package(self, package_path: str, files=None, base_path: str = ".", opt: int | None = None) -> None:
        self._metadata_first("package")
        folder = self._package_folder(package_path, base_path)
        if files is None:
            if not folder.is_dir():
                raise _Problem(f"package({package_path!r}): no folder {_shown(folder)}")
            files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
        elif isinstance(files, str):
            raise _Problem(f"package({package_path!r}): files must be a list of file names, not one string")
        for name in files:
            self._add(folder / name, f"{package_path}/{name}", opt, f"package({package_path!r})")

    def module(self, module_path: str, base_path: str = ".", opt: int | None = None) -> None:
        self._metadata_first("module")
        self._add(self._resolve(base_path) / module_path, module_path, opt, f"module({module_path!r})")

    def include(self, manifest_path, **options) -> None:
        paths = [manifest_path] if isinstance(manifest_path, (str, os.PathLike)) else list(manifest_path)
        for one in paths:
            path = self._resolve(one)
            if path.is_dir():
                path = path / "manifest.py"
            if not path.is_file():
                raise _Problem(f"include({str(one)!r}): no manifest at {_shown(path)}")
            self.run(path, options)

    def require(self, name: str, *args, **kwargs) -> None:
        raise _Problem(f"require({name!r}): keylock installs no micropython-lib packages; the firmware imports only its own modules")

    # --- helpers ------------------------------------------------------------------------------

    def _metadata_first(self, function: str) -> None:
        # MicroPython's compile mode asks the same, so the manifest says what it is before what it holds.
        if not self.has_metadata:
            raise _Problem(f"{function}() before metadata(): a manifest starts with metadata(version=...)")

    def _resolve(self, path) -> Path:
        return (self.here[-1] / path).resolve()

    def _package_folder(self, package_path: str, base_path: str) -> Path:
        head, _, rest = package_path.partition("/")
        if head in self.package_dirs:
            if base_path != ".":
                raise _Problem(
                    f"package({package_path!r}): {head} is read from {_shown(self.package_dirs[head])}, so base_path does not apply"
                )
            return self.package_dirs[head] / rest if rest else self.package_dirs[head]
        return self._resolve(base_path) / package_path

    def _add(self, source: Path, target: str, opt: int | None, call: str) -> None:
        target = Path(target).as_posix()
        if not target.endswith(".py"):
            raise _Problem(f"{call}: {target} is not a .py file")
        if target.startswith("/") or ".." in Path(target).parts:
            raise _Problem(f"{call}: {target} would land outside the board's /lib")
        if not source.is_file():
            raise _Problem(f"{call}: no such file {_shown(source)}")
        if target in self.manifest.targets():
            raise _Problem(f"{call}: {target} is listed twice")
        self.manifest.files.append(Entry(source.resolve(), target, opt))


def _shown(path: Path) -> str:
    """PATH relative to the working directory when it is under it (as a user typed it)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _at(path: Path, exc: BaseException) -> str:
    """'MANIFEST line N' for the manifest line the exception came through."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    return f"{_shown(path)} line {line}" if line else _shown(path)
