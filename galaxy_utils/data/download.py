"""Download the Galaxy Zoo DECaLS DR5 (GZD-5) release from Zenodo, resumably and verified.

The release is Zenodo record 4573248, DOI 10.5281/zenodo.4573248 (Walmsley et al. 2022,
MNRAS 509, 3966; CC BY 4.0). pooch does the bookkeeping: it reads the record's file list
and md5 checksums from Zenodo through its DOI support (:func:`gzd5_pooch`), gives each
file's download URL, and checks every download against its checksum before the file gets
its final name. This module adds what pooch cannot do: resume an interrupted transfer with
an HTTP ``Range`` request (:class:`ResumableHTTPDownloader`, a pooch downloader), unpack
the image archives where the catalogue reader looks, and remember what is done.

Layout under ``out`` (what other modules rely on)::

    out/gz_decals_volunteers_5.csv                 catalogues sit directly in ``out``
    out/archives/gz_decals_dr5_png_partN.zip       image archives as downloaded
    out/images/gz_decals_dr5_png_partN/J###/<iauname>.png   archives unpacked AS-IS
    out/.gzd5/                                     state markers (see below)

The catalogue's ``png_loc`` column says ``dr5/J###/<iauname>.png``, which is *not* the path
on disk: the catalogue reader finds an image by its ``J###/<iauname>.png`` tail in
whichever ``gz_decals_dr5_png_partN`` folder holds it.

Guarantees:

* Every download streams into ``<name>.part`` first. A transfer that ends early raises
  :class:`TruncatedDownloadError` and the ``.part`` file stays; the next run sends
  ``Range: bytes=N-`` and appends. A server that ignores ``Range`` (answers 200) gets a
  fresh full download.
* pooch checks the complete file against the record's checksum and only then moves it to
  its final name. A wrong checksum raises :class:`HashMismatchError` naming the file, the
  expected and the actual hash; nothing is left at the final path and the bad data is
  deleted (a complete file with the wrong hash cannot be repaired by resuming).
* HTTP errors raise :class:`HTTPStatusError` naming the URL and status; a DOI or record
  that cannot be read raises :class:`DownloadError`.
* A verified file and an unpacked archive leave a marker in ``out/.gzd5``; a rerun that
  finds them makes no request and reads no large file.

A mirror (or a test server) works too: ``base_url`` plus a ``registry`` of
``{file name: "md5:<hex>" or None}``; a file without a checksum is downloaded unverified and
its md5 printed, to compare with https://zenodo.org/records/4573248.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pooch

from galaxy_utils.data.files import write_bytes_atomically

__all__ = [
    "DEFAULT_PARTS",
    "FILES",
    "GZD5_DOI",
    "PARTS",
    "DownloadError",
    "HTTPStatusError",
    "HashMismatchError",
    "ResumableHTTPDownloader",
    "TruncatedDownloadError",
    "archive_dir",
    "catalogue_path",
    "download_gzd5",
    "gzd5_pooch",
    "image_root",
]

log = logging.getLogger(__name__)

GZD5_DOI = "10.5281/zenodo.4573248"
ZENODO_RECORD = "4573248"
STATE_DIR = ".gzd5"
_TIMEOUT = 60

#: The record's files and the part :func:`download_gzd5` selects each by; ``images`` are zip
#: archives, unpacked under :func:`image_root`.
FILES: dict[str, str] = {
    "gz_decals_volunteers_5.csv": "catalogue",
    "gz_decals_volunteers_1_and_2.csv": "volunteers_1_and_2",
    "gz_decals_auto_posteriors.csv": "auto_posteriors",  # about 2.6 GB
    **{f"gz_decals_dr5_png_part{i}.zip": "images" for i in (1, 2, 3, 4)},
}
PARTS: tuple[str, ...] = ("catalogue", "images", "volunteers_1_and_2", "auto_posteriors")
DEFAULT_PARTS: tuple[str, ...] = ("catalogue", "images")


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
            f"The download was deleted, not moved to {final}. Run again to re-download; if it "
            f"persists, compare with the checksums of Zenodo record {ZENODO_RECORD}."
        )


# --------------------------------------------------------------------------- layout


def image_root(out: str | os.PathLike) -> Path:
    """Folder the image archives are unpacked into (as-is: ``gz_decals_dr5_png_partN/J###/``)."""
    return Path(out) / "images"


def archive_dir(out: str | os.PathLike) -> Path:
    """Folder the image archives are downloaded into."""
    return Path(out) / "archives"


def catalogue_path(out: str | os.PathLike, name: str = "gz_decals_volunteers_5.csv") -> Path:
    """Where :func:`download_gzd5` puts catalogue ``name``."""
    return Path(out) / name


# --------------------------------------------------------------------------- registry


def gzd5_pooch(out: str | os.PathLike, base_url: str | None = None,
               registry: Mapping[str, str | None] | None = None) -> pooch.Pooch:
    """The pooch that knows the release's files, checksums and download URLs.

    Without ``base_url``: from the DOI, through pooch's Zenodo support (one request to
    doi.org and one to the Zenodo API; the checksums are the record's md5s). With
    ``base_url`` (a mirror or a test server): ``<base_url>/<name>``, checksums from
    ``registry`` (default: every file of :data:`FILES`, unverified).
    """
    if base_url is not None:
        return pooch.create(path=out, base_url=base_url.rstrip("/") + "/",
                            registry=dict(registry if registry is not None else dict.fromkeys(FILES)))
    import requests

    gzd5 = pooch.create(path=out, base_url=f"doi:{GZD5_DOI}/", registry={})
    try:
        # What Pooch.load_registry_from_doi does, keeping the repository to resolve the URLs.
        repository = pooch.downloaders.doi_to_repository(GZD5_DOI, timeout=_TIMEOUT)
        repository.populate_registry(gzd5)
        gzd5.urls = {name: repository.download_url(name) for name in gzd5.registry}
    except (requests.RequestException, ValueError, KeyError) as err:
        raise DownloadError(
            f"could not read the file list and checksums of doi:{GZD5_DOI} from Zenodo ({err}); "
            "check the connection, or download from a mirror (base_url and registry)"
        ) from err
    if registry is not None:
        gzd5.registry.update({name: value for name, value in registry.items() if value is not None})
    return gzd5


def _select(parts: Iterable[str] | str, registry: Mapping | None = None) -> list[str]:
    """File names for ``parts`` (part names or file names) among :data:`FILES`, or among a
    mirror's ``registry`` when one is given."""
    wanted = (parts,) if isinstance(parts, str) else tuple(parts)
    names = list(registry if registry is not None else FILES)
    known = {_part(n) for n in names}
    unknown = [p for p in wanted if p not in known and p not in names]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; choose from {sorted(known)} or a file name ({names})")
    return [n for n in names if n in wanted or _part(n) in wanted]


def _part(name: str) -> str:
    return FILES.get(name, "images" if name.lower().endswith(".zip") else "catalogue")


# --------------------------------------------------------------------------- downloader


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``'bytes 10-99/100'`` -> (10, 100); ``'bytes */100'`` -> (None, 100)."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None
    start, total = m.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


class ResumableHTTPDownloader:
    """A pooch downloader (``downloader=`` argument) that resumes from ``part``.

    Pooch calls it as ``downloader(url, output_file, pooch)`` with ``output_file`` a
    temporary name beside the final file. The bytes go to ``part`` (kept across runs); when
    a ``part`` exists, the request carries ``Range: bytes=<size>-`` and a 206 answer is
    appended. A 200 answer (Range ignored) restarts from byte 0. Only a transfer that
    delivered every announced byte becomes ``output_file``, so pooch can verify its hash; a
    short one raises :class:`TruncatedDownloadError` and leaves ``part`` in place. Other
    HTTP statuses raise :class:`HTTPStatusError` (``part`` kept).
    """

    def __init__(self, part: str | os.PathLike, progressbar: bool = True, chunk_size: int = 64 * 1024,
                 timeout: float = _TIMEOUT):
        self.part = Path(part)
        self.progressbar = progressbar
        self.chunk_size = chunk_size
        self.timeout = timeout

    def __call__(self, url, output_file, pooch_instance=None, check_only=False):
        import requests  # pooch depends on requests
        import urllib3

        headers = {
            "Accept-Encoding": "identity",  # byte offsets must be offsets in the file itself
            "User-Agent": f"galaxy-cnn (pooch {pooch.__version__})",
        }
        if check_only:
            return requests.head(url, headers=headers, timeout=self.timeout, allow_redirects=True).status_code == 200
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
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            length = response.headers.get("Content-Length")
            if offset and status == 416 and total == offset:  # the part already holds the whole file
                return self._finish(output_file)
            if offset and (status == 416 or (status == 206 and start != offset)):
                log.warning("%s: the server refused the resume range; restarting", self.part.name)
                self.part.unlink()
                return self(url, output_file, pooch_instance)
            if offset and status == 206:
                mode = "ab"
                expected = total if total is not None else (offset + int(length) if length is not None else None)
            elif status == 200:
                offset, mode = 0, "wb"
                expected = int(length) if length is not None else None
            else:  # 404, 403, 5xx ... and a 206 we did not ask for. The part (if any) stays.
                raise HTTPStatusError(url, status, response.reason or "")

            received, error = offset, None
            with open(self.part, mode) as fh, _progress(self.progressbar, expected, offset, self.part.name) as bar:
                stream = response.raw.stream(self.chunk_size, decode_content=False)
                try:
                    for chunk in stream:
                        fh.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    error = exc  # connection dropped, IncompleteRead, timeout
            if error is not None or (expected is not None and received < expected):
                raise TruncatedDownloadError(url, received, expected, self.part, error)
            if expected is not None and received > expected:
                self.part.unlink()
                raise DownloadError(f"download of {url} sent {received} bytes, more than the announced "
                                    f"{expected}; the partial file was deleted")
        return self._finish(output_file)

    def _finish(self, output_file):
        """Hand the complete ``part`` to pooch as ``output_file``: a hard link where the file
        system allows, so an interruption while pooch hashes a multi-GB file does not lose the
        download (the caller removes ``part`` once pooch accepted the file)."""
        if hasattr(output_file, "write"):
            output_file.write(self.part.read_bytes())
            return
        link = Path(f"{output_file}.link")
        try:
            os.link(self.part, link)
        except OSError:
            os.replace(self.part, output_file)
        else:
            os.replace(link, output_file)


def _progress(enabled: bool, total: int | None, initial: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc.removesuffix(".part"), unit="B", unit_scale=True,
                unit_divisor=1024, disable=not enabled)


# --------------------------------------------------------------------------- main entry


def _read_marker(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_marker(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(path, json.dumps(data, indent=1, sort_keys=True).encode())


def _done(name: str, out: Path, known_hash: str | None) -> bool:
    """Whether a previous run verified ``name`` (and unpacked it, for an archive) with this hash."""
    state = out / STATE_DIR
    same = lambda info: known_hash is None or info.get("hash", "").lower() == known_hash.lower()  # noqa: E731
    if _part(name) == "images":
        info = _read_marker(state / f"{name}.unpacked")
        return bool(info) and same(info) and all((image_root(out) / r).exists() for r in info.get("roots", []))
    info, target = _read_marker(state / f"{name}.verified"), out / name
    return bool(info) and same(info) and target.is_file() and info.get("size") == target.stat().st_size


def download_gzd5(
    out: str | os.PathLike,
    parts: Iterable[str] | str = DEFAULT_PARTS,
    base_url: str | None = None,
    registry: Mapping[str, str | None] | None = None,
    progress: bool = True,
    *,
    keep_archives: bool = True,
) -> Path:
    """Download (and unpack) the GZD-5 release into ``out``; return ``out`` as a Path.

    ``parts``: which groups to fetch -- ``"catalogue"`` (gz_decals_volunteers_5.csv),
    ``"images"`` (the four png zip archives, unpacked under :func:`image_root`),
    ``"volunteers_1_and_2"``, ``"auto_posteriors"`` (2.6 GB) -- or file names.
    ``base_url`` and ``registry``: a mirror instead of the DOI (see :func:`gzd5_pooch`);
    with the DOI, ``registry`` may pin checksums. ``keep_archives=False`` deletes each zip
    once it is unpacked (its marker keeps reruns from fetching it again).

    Layout, resuming, verification and errors: see the module docstring. Raises
    :class:`DownloadError` (and its kinds) and ``ValueError`` for an unknown part.
    """
    out = Path(out).expanduser().resolve()
    names = _select(parts, registry)
    pinned = dict(registry or {})
    todo = [name for name in names if not _done(name, out, pinned.get(name))]
    if not todo:
        return out
    gzd5 = gzd5_pooch(out, base_url, registry)
    absent = [name for name in todo if name not in gzd5.registry]
    if absent:
        raise DownloadError(f"not files of the record: {', '.join(absent)} (it has {', '.join(sorted(gzd5.registry))})")
    for name in todo:
        known_hash, url = gzd5.registry[name], gzd5.get_url(name)
        target = (archive_dir(out) if _part(name) == "images" else out) / name
        verified = _read_marker(out / STATE_DIR / f"{name}.verified")
        if not (verified and target.is_file() and verified.get("size") == target.stat().st_size
                and (known_hash is None or verified.get("hash", "").lower() == known_hash.lower())):
            _fetch(name, url, known_hash, target, progress)
            digest = known_hash or f"md5:{pooch.file_hash(str(target), alg='md5')}"
            if known_hash is None:
                print(f"{name}: downloaded WITHOUT a known checksum; computed {digest}. "
                      f"Compare it with the md5 on https://zenodo.org/records/{ZENODO_RECORD}")
            verified = {"hash": digest, "size": target.stat().st_size, "url": url}
            _write_marker(out / STATE_DIR / f"{name}.verified", verified)
        if _part(name) == "images":
            _unpack(target, out, verified["hash"], progress)
            if not keep_archives:
                target.unlink()
    return out


def _fetch(name: str, url: str, known_hash: str | None, target: Path, progress: bool) -> None:
    """pooch.retrieve with the resumable downloader; a wrong hash becomes HashMismatchError."""
    part = target.with_name(target.name + ".part")
    try:
        pooch.retrieve(url, known_hash=known_hash, fname=name, path=target.parent,
                       downloader=ResumableHTTPDownloader(part, progressbar=progress))
    except ValueError as exc:
        # pooch's hash check failed and it deleted its temporary file; the data is complete
        # but wrong, so resuming cannot repair it: drop the part as well.
        if not part.is_file() or known_hash is None:
            raise
        alg = known_hash.split(":", 1)[0] if ":" in known_hash else "sha256"
        actual = f"{alg}:{pooch.file_hash(str(part), alg=alg)}"
        part.unlink()
        raise HashMismatchError(name, url, known_hash, actual, target) from exc
    part.unlink(missing_ok=True)  # accepted by pooch (or never needed)


def _unpack(archive: Path, out: Path, digest: str, progress: bool) -> None:
    """Unpack an image archive as it is under :func:`image_root` (pooch's Unzip) and mark it done."""
    try:
        with zipfile.ZipFile(archive) as zf:
            roots = sorted({Path(m).parts[0] for m in zf.namelist() if m.strip("/")})
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive} is not a valid zip archive: {exc}") from exc
    if progress:
        print(f"unpacking {archive.name} into {image_root(out)}")
    pooch.Unzip(extract_dir=str(image_root(out)))(str(archive), "download", None)
    _write_marker(out / STATE_DIR / f"{archive.name}.unpacked", {"hash": digest, "roots": roots})
