"""Run a Python module and record its own peak RSS (VmHWM) when it exits.

`python -m testing.peak_rss OUT -m MODULE ARGS...`

Why not the ru_maxrss that wait4 reports for a child: Linux folds the
parent's high-water mark into the child's at exec (exec_mmap), so a child of
a 170 MB pytest worker "peaks" at 170 MB whatever it does. VmHWM of the
process's own address space has no such inheritance.
"""

from __future__ import annotations

import atexit
import runpy
import sys


def _record(path: str) -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(path, "w") as out:
                    out.write(line.split()[1])  # kB
                return


def main() -> None:
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m testing.peak_rss OUT -m MODULE ARGS...")
    atexit.register(_record, out)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
