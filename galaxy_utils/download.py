"""Download the Galaxy Zoo DECaLS DR5 (GZD-5) release from Zenodo, resumably and verified.

The release is Zenodo record 4573248 (Walmsley et al. 2022, MNRAS 509, 3966; CC BY 4.0).
:func:`download_gzd5` fetches the files named in :data:`REGISTRY` with pooch and unpacks the
image archives.

Layout under ``out`` (what other modules rely on)::

    out/gz_decals_volunteers_5.csv                 catalogues sit directly in ``out``
    out/archives/gz_decals_dr5_png_partN.zip       image archives as downloaded
    out/images/gz_decals_dr5_png_partN/J###/<iauname>.png   archives unpacked AS-IS
    out/.gzd5/                                     state markers (see below)

The archives are unpacked as they are, under :func:`image_root` (``out/images``). The
catalogue's ``png_loc`` column says ``dr5/J###/<iauname>.png``, which is *not* the path on
disk: resolve an image by its ``J###/<iauname>.png`` tail in whichever
``gz_decals_dr5_png_partN`` folder holds it (the catalogue reader does this).

Guarantees:

* Every download streams into ``<name>.part`` first. A transfer that ends early (connection
  closed, fewer bytes than ``Content-Length``) raises :class:`TruncatedDownloadError` and the
  ``.part`` file stays; the next run sends ``Range: bytes=N-`` and appends. A server that
  ignores ``Range`` (answers 200 instead of 206) gets a fresh full download.
* A finished transfer is handed to pooch, which checks the known hash and only then moves
  the file to its final name. A wrong hash raises :class:`HashMismatchError` naming the file,
  the expected and the actual hash; nothing is left at the final path and the bad data is
  deleted (a complete file with the wrong hash cannot be repaired by resuming).
* HTTP errors raise :class:`HTTPStatusError` naming the URL and status.
* Re-running is cheap: a verified file and an unpacked archive leave a marker in
  ``out/.gzd5``, and a rerun that finds them makes no request and reads no large file.

Checksums -- READ THIS. No authoritative md5 of the record's files could be found while
writing this module (the search covered mwalmsley/galaxy-datasets, zoobot-era download
code, the tensorflow-datasets style ``galaxy_zoo_decals`` builder and public notes; the
galaxy-datasets / pytorch-galaxy-datasets md5s belong to *different*, Dropbox-hosted
derived files, ``decals_dr5_images.tar.gz`` and train/test parquet catalogues, not to this
record). One third-party research note lists md5s for the record's CSVs, but it is an
unreviewed transcription with at least one malformed hash in the same table, so it is not
used. Every entry of :data:`REGISTRY` therefore has ``known_hash=None``. To still verify against
the record itself, :func:`download_gzd5` asks the Zenodo REST API for the record's
checksums (:func:`record_checksums`) before downloading a file without a known hash; when
that is not possible (offline, API change) it downloads unverified and PRINTS the computed
md5 so that you can compare it with the record page
(https://zenodo.org/records/4573248). Once checked, put the md5s into :data:`REGISTRY`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import pooch

__all__ = [
    "DEFAULT_PARTS",
    "PARTS",
    "REGISTRY",
    "ZENODO_API_URL",
    "ZENODO_RECORD",
    "DownloadError",
    "HTTPStatusError",
    "HashMismatchError",
    "RemoteFile",
    "ResumableHTTPDownloader",
    "TruncatedDownloadError",
    "archive_dir",
    "catalogue_path",
    "download_gzd5",
    "image_root",
    "record_checksums",
]

log = logging.getLogger(__name__)

ZENODO_RECORD = "4573248"
#: Download URL form used by the record (Zenodo after its 2023 move to InvenioRDM).
ZENODO_FILE_URL = "https://zenodo.org/records/{record}/files/{name}?download=1"
#: REST endpoint whose JSON lists the record's files with their md5 checksums.
ZENODO_API_URL = f"https://zenodo.org/api/records/{ZENODO_RECORD}"

STATE_DIR = ".gzd5"
_CHUNK = 1 << 20
_TIMEOUT = 60


# --------------------------------------------------------------------------- errors


class DownloadError(RuntimeError):
    """A GZD-5 file could not be downloaded or unpacked."""


class HTTPStatusError(DownloadError):
    """The server answered with an HTTP error status."""

    def __init__(self, url: str, status: int, reason: str = ""):
        self.url, self.status, self.reason = url, status, reason
        super().__init__(f"HTTP {status} {reason}".rstrip() + f" for {url}")


class TruncatedDownloadError(DownloadError):
    """The transfer ended before all bytes arrived; the partial file is kept for resuming."""

    def __init__(self, url: str, received: int, expected: int | None, part: Path, cause=None):
        self.url, self.received, self.expected, self.part = url, received, expected, part
        of = f" of {expected}" if expected is not None else ""
        why = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        super().__init__(
            f"download of {url} truncated: received {received}{of} bytes{why}. "
            f"The partial data is kept in {part}; run again to resume from byte {received}."
        )


class HashMismatchError(DownloadError):
    """A complete download does not have the registered checksum."""

    def __init__(self, name: str, url: str, expected: str, actual: str, final: Path):
        self.name, self.url, self.expected, self.actual = name, url, expected, actual
        super().__init__(
            f"checksum mismatch for {name} (from {url}): expected {expected}, got {actual}. "
            f"The download was deleted, not moved to {final}. Run again to "
            f"re-download; if it persists, check the registered hash against the Zenodo "
            f"record {ZENODO_RECORD}."
        )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    """One file of the release.

    ``known_hash`` is pooch's form (``"md5:<hex>"``) or ``None`` when unknown. ``part`` is
    the group :func:`download_gzd5` selects it by; ``unpack`` marks a zip archive of images.
    ``url`` overrides the URL built from the record (or from ``base_url``).
    """

    name: str
    part: str
    known_hash: str | None = None
    unpack: bool = False
    url: str | None = None


# The record's files, as named on Zenodo record 4573248 (FORMAT.md; the tfds-style
# "galaxy_zoo_decals" builder and zoobot-era notes name the same files). known_hash is None
# on purpose: see the module docstring -- no authoritative md5 was found, none is invented.
REGISTRY: dict[str, RemoteFile] = {
    f.name: f
    for f in (
        RemoteFile("gz_decals_volunteers_5.csv", "catalogue"),
        RemoteFile("gz_decals_volunteers_1_and_2.csv", "volunteers_1_and_2"),
        RemoteFile("gz_decals_auto_posteriors.csv", "auto_posteriors"),  # about 2.6 GB
        *(
            RemoteFile(f"gz_decals_dr5_png_part{i}.zip", "images", unpack=True)
            for i in (1, 2, 3, 4)
        ),
    )
}

#: Part names :func:`download_gzd5` accepts (a file name from the registry works too).
PARTS: tuple[str, ...] = ("catalogue", "images", "volunteers_1_and_2", "auto_posteriors")
DEFAULT_PARTS: tuple[str, ...] = ("catalogue", "images")


def image_root(out: str | os.PathLike) -> Path:
    """Folder the image archives are unpacked into (as-is: ``gz_decals_dr5_png_partN/J###/``)."""
    return Path(out) / "images"


def archive_dir(out: str | os.PathLike) -> Path:
    """Folder the image archives are downloaded into."""
    return Path(out) / "archives"


def catalogue_path(out: str | os.PathLike, name: str = "gz_decals_volunteers_5.csv") -> Path:
    """Where :func:`download_gzd5` puts catalogue ``name``."""
    return Path(out) / name


# --------------------------------------------------------------------------- downloader


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``'bytes 10-99/100'`` -> (10, 99, 100); ``'bytes */100'`` -> (None, None, 100)."""
    if not value:
        return None, None, None
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value)
    if not m:
        return None, None, None
    start, end, total = m.groups()
    as_int = lambda s: int(s) if s not in (None, "*") else None  # noqa: E731
    return as_int(start), as_int(end), as_int(total)


def _hash_file(path: Path, alg: str = "md5") -> str:
    h = hashlib.new(alg)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _hash_alg(known_hash: str | None) -> str:
    """Algorithm of a pooch-style hash; md5 when unknown (what Zenodo publishes)."""
    if known_hash is None:
        return "md5"
    if ":" in known_hash:
        return known_hash.split(":", 1)[0].lower()
    return "sha256"  # pooch's default for a bare hash


class ResumableHTTPDownloader:
    """A pooch downloader (``downloader=`` argument) that resumes from ``part``.

    Pooch calls it as ``downloader(url, output_file, pooch)`` with ``output_file`` a
    temporary name beside the final file. The bytes go to ``part`` (kept across runs); when
    a ``part`` exists, the request carries ``Range: bytes=<size>-`` and a 206 answer is
    appended. A 200 answer (Range ignored) restarts from byte 0. Only a transfer that
    delivered every announced byte becomes ``output_file`` (see :meth:`_finish`), so pooch
    can verify its hash; a short one raises :class:`TruncatedDownloadError` and leaves
    ``part`` in place. Other HTTP statuses raise :class:`HTTPStatusError` (``part`` kept).

    After a call, ``digest`` holds the hex digest (algorithm ``hash_alg``) of the whole file,
    computed while streaming.
    """

    def __init__(
        self,
        part: str | os.PathLike,
        progressbar: bool = True,
        hash_alg: str = "md5",
        chunk_size: int = 64 * 1024,
        timeout: float = _TIMEOUT,
        desc: str | None = None,
    ):
        self.part = Path(part)
        self.progressbar = progressbar
        self.hash_alg = hash_alg
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.desc = desc or self.part.name.removesuffix(".part")
        self.digest: str | None = None
        self.resumed_from = 0

    def __call__(self, url, output_file, pooch_instance=None, check_only=False):
        import requests  # pooch depends on requests

        headers = {
            "Accept-Encoding": "identity",  # byte offsets must be offsets in the file itself
            "User-Agent": f"galaxy-cnn (pooch {pooch.__version__})",
        }
        if check_only:
            r = requests.head(url, headers=headers, timeout=self.timeout, allow_redirects=True)
            return r.status_code == 200

        self.digest = None
        self.part.parent.mkdir(parents=True, exist_ok=True)
        offset = self.part.stat().st_size if self.part.exists() else 0
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response = requests.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.RequestException as exc:
            raise DownloadError(f"could not download {url}: {exc}") from exc

        with response:
            status = response.status_code
            if offset and status == 416:
                # Range not satisfiable: either the part already holds the whole file or
                # it is longer than the remote file (stale); decide from Content-Range.
                _, _, total = _parse_content_range(response.headers.get("Content-Range"))
                if total == offset:
                    log.info("%s: partial file is already complete", self.desc)
                    self.resumed_from = offset
                    self.digest = _hash_file(self.part, self.hash_alg)
                    return self._finish(output_file)
                log.warning("%s: server refused the resume range; restarting", self.desc)
                self.part.unlink()
                return self(url, output_file, pooch_instance)
            if offset and status == 206:
                start, _, total = _parse_content_range(response.headers.get("Content-Range"))
                if start != offset:
                    log.warning("%s: server resumed at the wrong offset; restarting", self.desc)
                    self.part.unlink()
                    return self(url, output_file, pooch_instance)
                length = response.headers.get("Content-Length")
                expected = total if total is not None else (
                    offset + int(length) if length is not None else None
                )
                mode = "ab"
            elif status == 200:
                if offset:
                    log.warning(
                        "%s: server ignored the Range request (HTTP 200); downloading the "
                        "whole file again", self.desc,
                    )
                offset = 0
                length = response.headers.get("Content-Length")
                expected = int(length) if length is not None else None
                mode = "wb"
            else:
                # 404, 403, 5xx ... and a 206 we did not ask for. The part (if any) stays.
                raise HTTPStatusError(url, status, response.reason or "")

            self.resumed_from = offset
            hasher = hashlib.new(self.hash_alg)
            if mode == "ab":
                with open(self.part, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        hasher.update(chunk)
            received, error = offset, None
            with open(self.part, mode) as fh, _progress(
                self.progressbar, expected, offset, self.desc
            ) as bar:
                stream = response.raw.stream(self.chunk_size, decode_content=False)
                while True:
                    try:
                        chunk = next(stream)
                    except StopIteration:
                        break
                    except Exception as exc:  # connection dropped, IncompleteRead, timeout
                        if isinstance(exc, _transfer_errors()):
                            error = exc
                            break
                        raise
                    fh.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if error is not None or (expected is not None and received < expected):
                raise TruncatedDownloadError(url, received, expected, self.part, error)
            if expected is not None and received > expected:
                self.part.unlink()
                raise DownloadError(
                    f"download of {url} sent {received} bytes, more than the announced "
                    f"{expected}; the partial file was deleted"
                )
            self.digest = hasher.hexdigest()
        return self._finish(output_file)

    def _finish(self, output_file):
        """Hand the complete ``part`` to pooch as ``output_file``.

        Where the file system allows, ``output_file`` becomes a hard link to ``part``, so
        an interruption while pooch hashes a multi-GB file does not lose the download (the
        next run finds ``part`` complete: HTTP 416, no body). The caller removes ``part``
        once pooch accepted the file (:func:`download_gzd5` does); without hard links the
        part is moved.
        """
        if hasattr(output_file, "write"):
            with open(self.part, "rb") as fh:
                shutil.copyfileobj(fh, output_file)
            return
        link = Path(f"{output_file}.link")
        try:
            os.link(self.part, link)
        except OSError:
            os.replace(self.part, output_file)
        else:
            os.replace(link, output_file)


def _transfer_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3

    return (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class _NoBar:
    def update(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress(enabled: bool, total: int | None, initial: int, desc: str):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
        unit_divisor=1024, leave=True,
    )


# --------------------------------------------------------------------------- record API


def record_checksums(api_url: str = ZENODO_API_URL, timeout: float = 30) -> dict[str, str]:
    """The record's checksums from the Zenodo REST API: ``{file name: "md5:<hex>"}``.

    Understands both the current and the pre-2023 ("legacy") JSON: a ``files`` list (or
    ``entries``) whose items have ``key`` or ``filename`` and ``checksum`` (``"md5:<hex>"``
    or bare hex).
    """
    import requests

    try:
        response = requests.get(api_url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise DownloadError(f"could not reach {api_url}: {exc}") from exc
    if response.status_code != 200:
        raise HTTPStatusError(api_url, response.status_code, response.reason or "")
    data = response.json()
    files = data.get("files", data.get("entries", [])) if isinstance(data, dict) else data
    if isinstance(files, dict):  # {"entries": [...]} nested under "files"
        files = files.get("entries", [])
    out: dict[str, str] = {}
    for item in files or []:
        name = item.get("key") or item.get("filename")
        checksum = item.get("checksum")
        if not name or not checksum:
            continue
        out[name] = checksum if ":" in checksum else f"md5:{checksum}"
    if not out:
        raise DownloadError(f"no file checksums found in the answer from {api_url}")
    return out


# --------------------------------------------------------------------------- main entry


def _normalise_registry(registry: Mapping | None) -> dict[str, RemoteFile]:
    if registry is None:
        return dict(REGISTRY)
    result: dict[str, RemoteFile] = {}
    for name, value in registry.items():
        is_zip = name.lower().endswith(".zip")
        default_part = "images" if is_zip else "catalogue"
        if isinstance(value, RemoteFile):
            entry = value if value.name == name else replace(value, name=name)
        elif value is None or isinstance(value, str):
            entry = RemoteFile(name, default_part, _normalise_hash(value), unpack=is_zip)
        elif isinstance(value, Mapping):
            known = value.get("known_hash", value.get("md5"))
            entry = RemoteFile(
                name,
                value.get("part", default_part),
                _normalise_hash(known),
                unpack=bool(value.get("unpack", is_zip)),
                url=value.get("url"),
            )
        else:
            raise TypeError(f"registry entry for {name!r} must be RemoteFile, dict, str or None")
        result[name] = entry
    return result


def _normalise_hash(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if ":" in value:
        return value
    if re.fullmatch(r"[0-9a-fA-F]{32}", value):
        return f"md5:{value.lower()}"
    return value  # pooch treats a bare hash as sha256


def _select(entries: dict[str, RemoteFile], parts: Iterable[str] | str) -> list[RemoteFile]:
    wanted = (parts,) if isinstance(parts, str) else tuple(parts)
    known_parts = {e.part for e in entries.values()}
    unknown = [p for p in wanted if p not in known_parts and p not in entries]
    if unknown:
        raise ValueError(
            f"unknown part(s) {unknown}; choose from {sorted(known_parts)} or a file name "
            f"from the registry ({sorted(entries)})"
        )
    return [e for e in entries.values() if e.part in wanted or e.name in wanted]


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_marker(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _is_verified(target: Path, marker: Path, known_hash: str | None) -> bool:
    info = _read_marker(marker)
    if info is None or not target.is_file():
        return False
    if info.get("size") != target.stat().st_size:
        return False
    return known_hash is None or info.get("hash", "").lower() == known_hash.lower()


def _is_unpacked(dest: Path, marker: Path, known_hash: str | None) -> bool:
    info = _read_marker(marker)
    if info is None:
        return False
    if known_hash is not None and info.get("hash", "").lower() != known_hash.lower():
        return False
    return all((dest / root).exists() for root in info.get("roots", []))


def _unpack(archive: Path, dest: Path, progress: bool) -> tuple[int, list[str]]:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive} is not a valid zip archive: {exc}") from exc
    with zf:
        members = zf.infolist()
        for m in members:
            p = PurePosixPath(m.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                raise DownloadError(f"refusing to unpack {archive}: unsafe member {m.filename!r}")
        roots = sorted({PurePosixPath(m.filename).parts[0] for m in members if m.filename})
        dest.mkdir(parents=True, exist_ok=True)
        if progress:
            from tqdm.auto import tqdm

            members = tqdm(members, desc=f"unpacking {archive.name}", unit="file")
        for m in members:
            zf.extract(m, dest)
    return len(zf.infolist()), roots


def download_gzd5(
    out: str | os.PathLike,
    parts: Iterable[str] | str = DEFAULT_PARTS,
    base_url: str | None = None,
    registry: Mapping | None = None,
    progress: bool = True,
    *,
    keep_archives: bool = True,
    checksums_from_record: bool = True,
) -> Path:
    """Download (and unpack) the GZD-5 release into ``out``; return ``out`` as a Path.

    ``parts``: which groups to fetch -- ``"catalogue"`` (gz_decals_volunteers_5.csv),
    ``"images"`` (the four png zip archives, unpacked under :func:`image_root`),
    ``"volunteers_1_and_2"``, ``"auto_posteriors"`` (2.6 GB) -- or individual file names.
    ``base_url``: fetch ``<base_url>/<name>`` instead of from Zenodo (a mirror, or a test
    server). ``registry``: replaces :data:`REGISTRY`; maps file name to a
    :class:`RemoteFile`, a dict (``known_hash``/``md5``, ``part``, ``unpack``, ``url``), a
    hash string or ``None`` (``.zip`` names default to part ``"images"``, unpacked).
    ``progress``: tqdm progress bars. ``keep_archives=False`` deletes each zip once it is
    unpacked (the marker keeps reruns from fetching it again). ``checksums_from_record``:
    when downloading from Zenodo itself (no ``base_url``), fill in unknown hashes from the
    record's API; if that fails the file is downloaded unverified and its md5 is printed.

    Layout, resuming, verification and errors: see the module docstring. Raises
    :class:`HTTPStatusError`, :class:`TruncatedDownloadError`, :class:`HashMismatchError`
    (all :class:`DownloadError`) and ``ValueError`` for an unknown part.
    """
    out = Path(out).expanduser().resolve()
    entries = _select(_normalise_registry(registry), parts)
    state = out / STATE_DIR

    def place(entry: RemoteFile) -> Path:
        return (archive_dir(out) if entry.unpack else out) / entry.name

    def url_of(entry: RemoteFile) -> str:
        if base_url is not None:
            return f"{base_url.rstrip('/')}/{entry.name}"
        return entry.url or ZENODO_FILE_URL.format(record=ZENODO_RECORD, name=entry.name)

    # What is already done needs no request at all.
    todo: list[RemoteFile] = []
    for entry in entries:
        if entry.unpack and _is_unpacked(
            image_root(out), state / f"{entry.name}.unpacked", entry.known_hash
        ):
            log.info("%s: already unpacked, skipping", entry.name)
            continue
        todo.append(entry)

    if todo and base_url is None and checksums_from_record:
        missing = [e for e in todo if e.known_hash is None and e.url is None]
        if missing:
            try:
                from_record = record_checksums(ZENODO_API_URL)
            except Exception as exc:  # offline, API change: fall back to printing hashes
                warnings.warn(
                    f"could not read checksums from the Zenodo record ({exc}); files without "
                    "a registered hash will be downloaded unverified and their md5 printed",
                    stacklevel=2,
                )
                from_record = {}
            todo = [
                replace(e, known_hash=from_record[e.name])
                if e.known_hash is None and e.name in from_record else e
                for e in todo
            ]

    for entry in todo:
        target = place(entry)
        url = url_of(entry)
        verified = state / f"{entry.name}.verified"
        alg = _hash_alg(entry.known_hash)
        if _is_verified(target, verified, entry.known_hash):
            log.info("%s: already downloaded and verified", entry.name)
            digest = _read_marker(verified)["hash"]
        else:
            part = target.with_name(target.name + ".part")
            downloader = ResumableHTTPDownloader(
                part, progressbar=progress, hash_alg=alg, desc=entry.name
            )
            try:
                pooch.retrieve(
                    url, known_hash=entry.known_hash, fname=entry.name, path=target.parent,
                    downloader=downloader,
                )
            except ValueError as exc:
                # pooch's hash check failed and it deleted its temporary file; the data is
                # complete but wrong, so resuming cannot repair it: drop the part as well.
                expected = (entry.known_hash or "").split(":")[-1].lower()
                if downloader.digest is None or downloader.digest == expected:
                    raise
                part.unlink(missing_ok=True)
                raise HashMismatchError(
                    entry.name, url, entry.known_hash, f"{alg}:{downloader.digest}", target
                ) from exc
            part.unlink(missing_ok=True)  # accepted by pooch (or never needed)
            digest = downloader.digest
            if digest is None:  # pooch found an existing file and did not download
                digest = _hash_file(target, alg)
            digest = f"{alg}:{digest}"
            if entry.known_hash is None:
                print(
                    f"{entry.name}: downloaded WITHOUT a known checksum; computed {digest}. "
                    f"Compare it with the md5 on https://zenodo.org/records/{ZENODO_RECORD}"
                )
            _write_marker(
                verified,
                {"hash": entry.known_hash or digest, "size": target.stat().st_size, "url": url},
            )

        if entry.unpack:
            count, roots = _unpack(target, image_root(out), progress)
            _write_marker(
                state / f"{entry.name}.unpacked",
                {"hash": entry.known_hash or digest, "members": count, "roots": roots},
            )
            if not keep_archives:
                target.unlink()
    return out
