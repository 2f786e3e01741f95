"""devkit hook: check exactly what is being committed, before it is committed."""

from __future__ import annotations
