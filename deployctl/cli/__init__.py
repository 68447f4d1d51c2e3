"""Command-line interface: parse, call one command, print, exit.

- `base`: the application, its global flags, and `main` (errors to messages and
  exit codes);
- `flags`: the options every cluster command shares, declared once;
- `commands`: the environment commands (render ... down, init, completion);
- `cluster`: `deployctl cluster ...`, the local sandbox.

Heavy modules (the kubernetes client above all, ~0.5 s to import) are imported
inside the commands that need them, so `deployctl --help` stays fast.
"""

from deployctl.cli import cluster, commands  # noqa: F401  (they register the commands)
from deployctl.cli.base import app, main

__all__ = ["app", "main"]
