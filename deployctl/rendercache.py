"""A cache of kustomize's output, keyed by everything it reads.

kustomize takes most of a second over a few hundred objects, and gives the
same output for the same files. The key is a digest of every file under the
`manifests/` folder that holds the overlay, the overlay's place in it, and
the kustomize binary. The cache is used only where that digest surely covers
every input: no remote bases, no paths that leave `manifests/`, no symbolic
links, and no plugins (generators, transformers, validators, Helm charts), whose output may
depend on more than files. Anything else renders every time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from deployctl.model import Obj

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
PLUGIN_KEYS = ("generators", "transformers", "validators", "helmCharts", "helmGlobals")
KEPT = 20  # entries; the oldest go


def _folder() -> Path:
    from deployctl.cluster.binaries import cache_dir

    return cache_dir() / "renders"


def _tree(overlay: Path) -> Path | None:
    """The `manifests/` folder holding the overlay, or None."""
    for parent in overlay.resolve().parents:
        if parent.name == "manifests":
            return parent
    return None


def _references(value: Any) -> list[str]:
    """Every string in a kustomization: paths, URLs, and harmless values alike."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _references(v)]
    if isinstance(value, list):
        return [s for v in value for s in _references(v)]
    return []


def _self_contained(tree: Path, kustomization: Path) -> bool:
    try:
        data = yaml.safe_load(kustomization.read_text())
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(data, dict) or any(key in data for key in PLUGIN_KEYS):
        return False
    for text in _references(data):
        if "://" in text or text.startswith(("git@", "github.com/", "gitlab.com/")):
            return False
        if "/" in text or text.startswith(".."):
            target = (kustomization.parent / text).resolve()
            if tree != target and tree not in target.parents:
                return False  # a path that leaves manifests/: its files are not in the key
    return True


def key(overlay: Path, kustomize: list[str]) -> str | None:
    """The digest of everything `kustomize build overlay` reads, or None if unknowable."""
    tree = _tree(overlay)
    if tree is None:
        return None
    digest = hashlib.sha256()
    binary = Path(kustomize[0])
    try:
        stat = binary.stat()
        digest.update(f"{binary.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    except OSError:
        return None
    digest.update(str(overlay.resolve().relative_to(tree)).encode())
    for folder, dirs, files in os.walk(tree):
        dirs.sort()
        if any((Path(folder) / d).is_symlink() for d in dirs):
            return None  # its files may live anywhere: not in the key
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink():
                return None
            if name in KUSTOMIZATION_FILES and not _self_contained(tree, path):
                return None
            try:
                content = path.read_bytes()
            except OSError:
                return None
            digest.update(str(path.relative_to(tree)).encode() + b"\0")
            digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


def load(digest: str) -> list[Obj] | None:
    try:
        return json.loads((_folder() / f"{digest}.json").read_text())
    except (OSError, ValueError):
        return None


def store(digest: str, objects: list[Obj]) -> None:
    folder = _folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{digest}.{os.getpid()}"
        partial.write_text(json.dumps(objects, separators=(",", ":")))
        partial.replace(folder / f"{digest}.json")  # never a half-written entry
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written only costs time
