"""File facts and helpers every layer shares: the project root, a survey folder's file
names, atomic writes and file digests. Imports nothing from the package."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path

CATALOGUE_NAME = "gz_decals_volunteers_5.csv"
TRUTH_NAME = "truth.csv"  # a mock survey's ground truth, beside its catalogue


def project_root() -> Path:
    """The repository root: the folder with pyproject.toml above this package (or the
    current directory's nearest such folder, for an installed copy)."""
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "galaxy_utils").is_dir():
                return folder
    return Path.cwd().resolve()


def partial_name(path: Path) -> Path:
    """A temporary name beside ``path`` that no other process or call uses."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.partial")


@contextlib.contextmanager
def written_atomically(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it into place if the block succeeds,
    else delete it. Readers see the whole file or none, and concurrent writers never
    share a temporary file."""
    partial = partial_name(Path(path))
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """``Path(path).write_bytes(data)``, atomically (:func:`written_atomically`)."""
    with written_atomically(path) as partial:
        partial.write_bytes(data)


def file_sha1(path: str | os.PathLike) -> str:
    """A file's SHA-1 (:func:`hashlib.file_digest`): what a run or a saved comparison was made from.

    A folder (a catalogue of class sub-folders) is fingerprinted by the paths and sizes
    of the files in it.
    """
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha1()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(path).as_posix()}\t{file.stat().st_size}\n".encode())
        return digest.hexdigest()
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha1").hexdigest()
