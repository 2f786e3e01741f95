"""The three checks; each works on one file's parsed tree and returns findings."""

from __future__ import annotations
