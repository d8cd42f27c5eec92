"""Which Python frames are the user's: the one rule behind a program error's `(at file:line)` and SARIF's program
locations (`ResourceRecord.source`).

A frame is the user's when its file is neither the interpreter's standard library nor installed into an import root
named `site-packages`/`dist-packages` (third-party packages, and mlops-infra itself when installed from a wheel), nor
frozen/generated code (`<frozen runpy>`, `<string>`), and its module is not the Pulumi SDKs' or the plan engine's.
So mlops-infra's own files count as the user's only where they are checked out (this repository, an editable install):
there they are the lines a person edits. Installed, the user's frame is their own line that called into the library.
"""

from __future__ import annotations

import sys
import sysconfig
from functools import lru_cache
from pathlib import Path
from types import FrameType, TracebackType

_ENGINE_MODULES = ("pulumi.", "pulumi_", "mlops_infra.plan.")
_INSTALL_DIRS = frozenset({"site-packages", "dist-packages"})


def _stdlib_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    roots = {Path(paths[k]).resolve() for k in ("stdlib", "platstdlib") if paths.get(k)}
    return tuple(sorted(roots))


_STDLIB = _stdlib_roots()


@lru_cache(maxsize=4096)
def user_file(filename: str) -> bool:
    """Whether `filename` (a code object's `co_filename`) is the user's code (module docstring)."""
    if not filename or filename.startswith("<"):
        return False
    path = Path(filename)
    if _INSTALL_DIRS.intersection(path.parts):
        return False
    resolved = path.resolve()
    if _INSTALL_DIRS.intersection(resolved.parts):
        return False
    return not any(resolved.is_relative_to(root) for root in _STDLIB)


def engine_module(module: str) -> bool:
    """The Pulumi SDKs and the plan engine (their frames are never the user's, wherever they are installed)."""
    return module == "pulumi" or module.startswith(_ENGINE_MODULES)


def user_frame(frame: FrameType) -> bool:
    return user_file(frame.f_code.co_filename) and not engine_module(str(frame.f_globals.get("__name__", "")))


def innermost_user_line(tb: TracebackType | None) -> tuple[str, int] | None:
    """(file, line) of the innermost traceback entry that is the user's: the line that raised when the user's code
    raised, else the user's line that called into the library (or the stdlib, or a third-party package) that raised."""
    found = None
    while tb is not None:
        if user_frame(tb.tb_frame):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def innermost_line_under(tb: TracebackType | None, directory: Path) -> tuple[str, int] | None:
    """(file, line) of the innermost traceback entry whose file lies under `directory` (the program's own)."""
    found = None
    root = directory.resolve()
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if user_file(name) and Path(name).resolve().is_relative_to(root):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def caller_outside(skip: frozenset[str]) -> tuple[str, int] | None:
    """(file, line) of the nearest caller of the current frame that is the user's and whose module is not in `skip`
    (helpers every call goes through, such as the Helm release helper)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if user_frame(frame) and str(frame.f_globals.get("__name__", "")) not in skip:
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None
