"""The console-script entry point: answers `--version` before importing anything heavy.

Every other invocation goes to the typer application in `deployctl.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from deployctl import __version__

        print(f"deployctl {__version__}")
        return
    from deployctl import cli

    cli.main()


if __name__ == "__main__":  # python3 -m deployctl.main
    main()
