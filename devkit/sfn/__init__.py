"""`devkit sfn`: Step Functions definitions checked, simulated, scaffolded, deployed."""

from __future__ import annotations
