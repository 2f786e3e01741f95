"""The runtime's /var/runtime/bootstrap.py, as devkit lambda-run lays it out.

Copied into the runtime folder and run as a script with `python -S`, so
sys.path starts with that folder and then PYTHONPATH, as on Lambda. The steps
are the managed runtime's (public.ecr.aws/lambda/python:3.11,
awslambdaric): the layer paths and /var/lang's site-packages go in front only
when PYTHONPATH is unset, LAMBDA_TASK_ROOT goes first, site.addsitedir runs
the .pth files of the task root and the layers, then awslambdaric's main takes
over with the handler name. It must run on every Python Lambda offers: no
devkit imports, nothing newer than 3.9.
"""

from __future__ import annotations

import os
import site
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Stands for /var/lang/lib/python3.X/site-packages: the runtime's boto3.
LANG_SITE = os.path.join(os.path.dirname(HERE), "lang-site-packages")
# Stands for /opt; popped so the function sees only Lambda's variables.
OPT = os.environ.pop("_DEVKIT_OPT", "/opt")


def is_pythonpath_set() -> bool:
    return "PYTHONPATH" in os.environ


def get_opt_site_packages_directory() -> str:
    version = "python{}.{}".format(*sys.version_info[:2])
    return os.path.join(OPT, "python", "lib", version, "site-packages")


def get_opt_python_directory() -> str:
    return os.path.join(OPT, "python")


def set_default_sys_path() -> None:
    if not is_pythonpath_set():
        sys.path.insert(0, LANG_SITE)
        sys.path.insert(0, get_opt_python_directory())
        sys.path.insert(0, get_opt_site_packages_directory())
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])


def add_default_site_directories() -> None:
    site.addsitedir(os.environ["LAMBDA_TASK_ROOT"])
    if not is_pythonpath_set():
        site.addsitedir(get_opt_site_packages_directory())
        site.addsitedir(get_opt_python_directory())


def main() -> None:
    # Under -S the host interpreter's site-packages are left out (Lambda has
    # none of them); /var/lang's are always on Lambda's path, last.
    sys.path.append(LANG_SITE)
    set_default_sys_path()
    add_default_site_directories()
    from awslambdaric import __main__ as ric  # type: ignore[import-not-found]

    ric.main([os.environ["LAMBDA_TASK_ROOT"], os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
