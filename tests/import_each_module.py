"""Import each module named on the command line first, in a child that has loaded no ``entitle`` module.

An import cycle shows up only when one of its later modules is imported first, so importing the
whole package once proves nothing. Third-party libraries are loaded once in the parent (they
cannot be part of an ``entitle`` cycle); each module is then imported in its own forked child.
Prints one line per module that fails to import, nothing when all import.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
import traceback
from collections.abc import Callable


def in_child(work: Callable[[], str]) -> tuple[bool, str]:
    """Run ``work`` in a forked child: (it succeeded, its text or its error's last line)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        try:
            os.write(write_end, work().encode())
        except BaseException:
            os.write(write_end, traceback.format_exc().strip().splitlines()[-1].encode())
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    return os.waitpid(child, 0)[1] == 0, text


def _is_ours(module: str) -> bool:
    return module.split(".")[0] in ("entitle", "__main__")


def third_party_modules(names: list[str]) -> list[str]:
    def load_all() -> str:
        for name in names:
            importlib.import_module(name)
        return " ".join(m for m in sys.modules if not _is_ours(m))

    return in_child(load_all)[1].split()


def _import(name: str) -> str:
    importlib.import_module(name)
    return ""


def main(names: list[str]) -> None:
    for library in third_party_modules(names):
        # private or platform-specific modules may refuse: the children load what they need
        with contextlib.suppress(Exception):
            importlib.import_module(library)
    assert not any(_is_ours(m) for m in sys.modules if m != "__main__")
    for name in names:
        ok, reason = in_child(functools.partial(_import, name))
        if not ok:
            print(f"{name}: {reason}")


if __name__ == "__main__":
    main(sys.argv[1:])
