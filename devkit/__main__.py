from __future__ import annotations

from devkit.cli import main

raise SystemExit(main())
