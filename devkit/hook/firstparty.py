"""Which imports name the project's own code, decided per importing file.

As deptry does, by the importing file's package context rather than by any
tracked name anywhere: a file inside a package (folders with `__init__.py`)
imports absolutely from the folder above its top package, so `pkg/requests.py`
does not make `import requests` in `pkg/api.py` first-party; a script in a
folder that is not a package also imports its siblings (its folder is on
sys.path). The repository root and `src/` always count. A folder without
`__init__.py` is a namespace portion: a tracked `google/myproto/` owns
`google.myproto`, never `google.cloud.storage`. A git submodule counts as a
package at its path.
"""

from __future__ import annotations

from collections.abc import Iterable

_PROJECT_ROOTS = ("", "src")


class LocalModules:
    """The project's module tree, from its tracked paths."""

    def __init__(self, paths: Iterable[str], submodules: Iterable[str] = ()) -> None:
        self.modules: set[str] = set()  # "a/b/c" for a/b/c.py
        self.packages: set[str] = set(submodules)  # folders with __init__.py
        self.folders: set[str] = set()  # every folder holding Python files
        for path in paths:
            if not path.endswith((".py", ".pyi")):
                continue
            stem = path[: path.rindex(".")]
            folder, _, name = stem.rpartition("/")
            if name == "__init__":
                self.packages.add(folder)
            else:
                self.modules.add(stem)
            while folder and folder not in self.folders:
                self.folders.add(folder)
                folder = folder.rpartition("/")[0]
        self.folders.update(self.packages)
        self._roots: dict[str, tuple[str, ...]] = {}

    def roots_of(self, importer: str) -> tuple[str, ...]:
        """Where absolute imports of the file at `importer` may resolve."""
        folder = importer.rpartition("/")[0]
        roots = self._roots.get(folder)
        if roots is None:
            # Up through the packages: the first folder that is not one is
            # where absolute imports of this file start.
            top = folder
            while top and top in self.packages:
                top = top.rpartition("/")[0]
            roots = self._roots[folder] = tuple(dict.fromkeys((*_PROJECT_ROOTS, top)))
        return roots

    def owns(self, dotted: str, roots: tuple[str, ...]) -> bool:
        """Whether `dotted`, imported by a file with these roots, is the project's."""
        parts = dotted.split(".")
        return any(self._resolves(root, parts) for root in roots)

    def _resolves(self, root: str, parts: list[str]) -> bool:
        prefix = root
        for part in parts:
            candidate = f"{prefix}/{part}" if prefix else part
            if candidate in self.modules or candidate in self.packages:
                return True  # a module or a regular package owns the rest
            if candidate not in self.folders:
                return False
            prefix = candidate  # a namespace portion: look one level deeper
        return True  # the import names a local namespace folder itself
