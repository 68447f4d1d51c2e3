"""`deployctl init [DIR]`: write a minimal project of one's own.

The project is the package data under ``deployctl/templates/init``, copied as
it is: a profile for the local sandbox (``environments/dev.yaml``, context
``kwok-deployctl``) and a two-component Kustomize app (``manifests/base`` and
``manifests/overlays/dev``): ``cache`` (Redis), then ``web`` (nginx) once
``cache`` is healthy. Run in DIR, ``deployctl cluster up && deployctl up dev``
deploys it.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from deployctl.errors import ConfigError

TEMPLATE = ("templates", "init")


def _template_root() -> Traversable:
    root = resources.files("deployctl")
    for part in TEMPLATE:
        root = root / part
    return root


def template_files() -> dict[PurePosixPath, bytes]:
    """Every file of the project template, by its path inside the project."""
    files: dict[PurePosixPath, bytes] = {}

    def walk(folder: Traversable, prefix: PurePosixPath) -> None:
        for entry in folder.iterdir():
            if entry.name == "__pycache__":
                continue
            if entry.is_dir():
                walk(entry, prefix / entry.name)
            else:
                files[prefix / entry.name] = entry.read_bytes()

    walk(_template_root(), PurePosixPath())
    if not files:  # an installation that left the package data out
        raise ConfigError("deployctl's project template is missing; reinstall deployctl")
    return dict(sorted(files.items()))


def write_project(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the project template into `directory` (created if missing); return the
    written files. Refuses, writing nothing, if any of them exists, unless `force`:
    then those files are overwritten and every other file is left alone."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory}: not a folder")
    files = template_files()
    targets = {relative: directory.joinpath(*relative.parts) for relative in files}
    for path in targets.values():
        if path.is_dir():
            raise ConfigError(f"{path}: a folder is in the way of a file of the project")
        for parent in path.relative_to(directory).parents:
            if (directory / parent).exists() and not (directory / parent).is_dir():
                raise ConfigError(f"{directory / parent}: a file is in the way of a folder")
    existing = [path for path in targets.values() if path.exists() or path.is_symlink()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ConfigError(
            f"{existing[0]} already exists{more}; nothing was written "
            "(use --force to overwrite, or choose an empty folder)"
        )
    written: list[Path] = []
    for relative, content in files.items():
        path = targets[relative]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():  # replace the link itself, never the file it points at
                path.unlink()
            path.write_bytes(content)
        except OSError as error:
            done = f"; wrote {len(written)} of {len(files)} files" if written else ""
            raise ConfigError(f"{path}: cannot write ({error.strerror or error}){done}") from None
        written.append(path)
    return written
