"""galaxy_utils.data.download against a local HTTP server (127.0.0.1, ephemeral port; no internet).

The server is a ThreadingHTTPServer with its own Range support (206 / 416), and switches
to misbehave per file: truncate a body (send fewer bytes than Content-Length, then close),
ignore Range (answer 200), or 404.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from galaxy_utils.data import download as dl
from galaxy_utils.data.download import (
    DownloadError,
    HashMismatchError,
    HTTPStatusError,
    TruncatedDownloadError,
    download_gzd5,
    gzd5_pooch,
    image_root,
)

CSV = "gz_decals_volunteers_5.csv"
ZIP = "gz_decals_dr5_png_part1.zip"
GALAXIES = ("J081412.47+220853.0", "J094641.24+095208.3", "J081500.11+221002.7")


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 80, 160)).save(buf, format="PNG")
    return buf.getvalue()


def _member(iauname: str) -> str:
    return f"gz_decals_dr5_png_part1/{iauname[:4]}/{iauname}.png"


@pytest.fixture(scope="module")
def payload() -> dict[str, bytes]:
    rows = ["iauname,ra,dec,png_loc,smooth-or-featured_total-votes"]
    # Enough rows that the CSV spans many chunks (so truncation happens mid-stream).
    for i in range(4000):
        name = GALAXIES[i % len(GALAXIES)]
        rows.append(f"{name},{123.5 + i * 1e-4:.4f},{22.1:.4f},dr5/{name[:4]}/{name}.png,{i % 41}")
    csv = ("\n".join(rows) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, name in enumerate(GALAXIES):
            zf.writestr(_member(name), _png(i))
    return {CSV: csv, ZIP: buf.getvalue()}


class FakeServer:
    """Serves ``files`` by name (any leading path, query ignored) and logs every request."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.mode: dict[str, str] = {}  # name -> "truncate" | "ignore_range" | "404"
        self.truncate_at = 50_000
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.api_json: dict | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # keep pytest output quiet
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _serve(self, body: bool):
                path = self.path.split("?", 1)[0]
                server.requests.append((path, dict(self.headers)))
                if path.startswith("/api/records/") and server.api_json is not None:
                    data = json.dumps(server.api_json).encode()
                    return self._reply(200, data, {"Content-Type": "application/json"}, body)
                name = path.rsplit("/", 1)[-1]
                mode = server.mode.get(name, "ok")
                if name not in server.files or mode == "404":
                    return self._reply(404, b"not found", {}, body)
                data = server.files[name]
                rng = self.headers.get("Range")
                if rng and mode != "ignore_range":
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        return self._reply(
                            416, b"", {"Content-Range": f"bytes */{len(data)}"}, body
                        )
                    headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                    return self._reply(206, data[start:], headers, body, mode)
                return self._reply(200, data, {}, body, mode)

            def _reply(self, status, data, headers, body, mode="ok"):
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if not body:
                    return
                if mode == "truncate":
                    self.wfile.write(data[: server.truncate_at])
                    self.wfile.flush()
                    self.close_connection = True  # server closes early: short body
                    return
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def file_requests(self) -> list[tuple[str, dict[str, str]]]:
        return [r for r in self.requests if not r[0].startswith("/api/")]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # requests honours proxy variables; the test server is local.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server(payload):
    srv = FakeServer(payload)
    yield srv
    srv.close()


@pytest.fixture
def registry(payload) -> dict[str, str]:
    return {CSV: f"md5:{_md5(payload[CSV])}", ZIP: f"md5:{_md5(payload[ZIP])}"}


def _leftovers(out: Path) -> list[str]:
    """Files that are neither expected outputs nor state markers (temp files, .part)."""
    names = []
    for p in out.rglob("*"):
        if p.is_file() and dl.STATE_DIR not in p.parts and "images" not in p.parts:
            if p.name not in (CSV, ZIP):
                names.append(str(p.relative_to(out)))
    return names


def test_download_unpacks_into_expected_layout(tmp_path, server, registry, payload):
    out = download_gzd5(tmp_path / "gzd5", base_url=server.url, registry=registry, progress=False)
    assert out == (tmp_path / "gzd5").resolve()
    assert (out / CSV).read_bytes() == payload[CSV]
    assert (out / "archives" / ZIP).read_bytes() == payload[ZIP]
    assert image_root(out) == out / "images"
    for i, name in enumerate(GALAXIES):
        png = image_root(out) / _member(name)
        assert png.read_bytes() == _png(i), png
    assert (image_root(out) / "gz_decals_dr5_png_part1/J081/J081412.47+220853.0.png").is_file()
    assert _leftovers(out) == []
    # One plain request per file, no Range header on a fresh download.
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in server.requests) == sorted([CSV, ZIP])
    assert all("Range" not in h for _, h in server.requests)


def test_rerun_does_nothing(tmp_path, server, registry):
    out = tmp_path / "gzd5"
    download_gzd5(out, base_url=server.url, registry=registry, progress=False)
    png = image_root(out) / _member(GALAXIES[0])
    mtime = png.stat().st_mtime_ns
    server.requests.clear()
    again = download_gzd5(out, base_url=server.url, registry=registry, progress=False)
    assert again == out.resolve()
    assert server.requests == []
    assert png.stat().st_mtime_ns == mtime  # not unpacked again


def test_keep_archives_false_deletes_zip_and_rerun_is_still_quiet(tmp_path, server, registry):
    out = tmp_path / "gzd5"
    download_gzd5(out, base_url=server.url, registry=registry, progress=False, keep_archives=False)
    assert not (out / "archives" / ZIP).exists()
    assert (image_root(out) / _member(GALAXIES[1])).is_file()
    server.requests.clear()
    download_gzd5(out, base_url=server.url, registry=registry, progress=False, keep_archives=False)
    assert server.requests == []


def test_deleted_images_are_unpacked_again(tmp_path, server, registry):
    out = tmp_path / "gzd5"
    download_gzd5(out, base_url=server.url, registry=registry, progress=False)
    import shutil

    shutil.rmtree(image_root(out) / "gz_decals_dr5_png_part1")
    server.requests.clear()
    download_gzd5(out, base_url=server.url, registry=registry, progress=False)
    assert server.requests == []  # the verified archive is reused, not fetched
    assert (image_root(out) / _member(GALAXIES[2])).is_file()


def test_wrong_hash_is_a_clear_error_and_leaves_nothing(tmp_path, server, registry, payload):
    wrong = "md5:" + "0" * 32
    out = tmp_path / "gzd5"
    with pytest.raises(HashMismatchError) as info:
        download_gzd5(out, parts="catalogue", base_url=server.url,
                      registry={**registry, CSV: wrong}, progress=False)
    msg = str(info.value)
    assert CSV in msg and wrong in msg and _md5(payload[CSV]) in msg
    assert info.value.expected == wrong and info.value.actual == f"md5:{_md5(payload[CSV])}"
    assert not (out / CSV).exists()
    assert not (out / (CSV + ".part")).exists()
    assert _leftovers(out) == []


def test_truncated_transfer_keeps_part_and_rerun_resumes(tmp_path, server, registry, payload):
    out = tmp_path / "gzd5"
    server.mode[CSV] = "truncate"
    server.truncate_at = 50_000
    assert len(payload[CSV]) > 2 * server.truncate_at
    with pytest.raises(TruncatedDownloadError) as info:
        download_gzd5(out, parts="catalogue", base_url=server.url, registry=registry,
                      progress=False)
    assert "truncated" in str(info.value)
    part = out / (CSV + ".part")
    assert part.is_file()
    kept = part.stat().st_size
    assert 0 < kept <= server.truncate_at
    assert info.value.received == kept and info.value.expected == len(payload[CSV])
    assert part.read_bytes() == payload[CSV][:kept]
    assert not (out / CSV).exists()

    del server.mode[CSV]  # the server behaves again
    server.requests.clear()
    download_gzd5(out, parts="catalogue", base_url=server.url, registry=registry, progress=False)
    assert [h.get("Range") for _, h in server.requests] == [f"bytes={kept}-"]
    assert (out / CSV).read_bytes() == payload[CSV]
    assert _md5((out / CSV).read_bytes()) == registry[CSV].removeprefix("md5:")
    assert not part.exists()


def test_server_ignoring_range_restarts_from_scratch(tmp_path, server, registry, payload):
    out = tmp_path / "gzd5"
    out.mkdir()
    (out / (CSV + ".part")).write_bytes(b"stale bytes that must not survive")
    server.mode[CSV] = "ignore_range"
    download_gzd5(out, parts="catalogue", base_url=server.url, registry=registry, progress=False)
    assert [h.get("Range") for _, h in server.requests] == ["bytes=33-"]
    assert (out / CSV).read_bytes() == payload[CSV]
    assert not (out / (CSV + ".part")).exists()


def test_complete_part_answered_416_is_finished_without_body(tmp_path, server, registry, payload):
    out = tmp_path / "gzd5"
    out.mkdir()
    (out / (CSV + ".part")).write_bytes(payload[CSV])
    download_gzd5(out, parts="catalogue", base_url=server.url, registry=registry, progress=False)
    assert (out / CSV).read_bytes() == payload[CSV]


def test_http_404_names_the_url(tmp_path, server, registry):
    out = tmp_path / "gzd5"
    server.mode[CSV] = "404"
    with pytest.raises(HTTPStatusError) as info:
        download_gzd5(out, parts="catalogue", base_url=server.url, registry=registry,
                      progress=False)
    url = f"{server.url}/{CSV}"
    assert url in str(info.value) and "404" in str(info.value)
    assert info.value.status == 404 and info.value.url == url
    assert not (out / CSV).exists()


def test_unknown_part_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown part"):
        download_gzd5(tmp_path, parts=("pictures",), progress=False)


def test_unknown_hash_prints_computed_md5(tmp_path, server, payload, capsys):
    out = tmp_path / "gzd5"
    download_gzd5(out, parts="catalogue", base_url=server.url, registry={CSV: None},
                  progress=False)
    printed = capsys.readouterr().out
    assert CSV in printed and f"md5:{_md5(payload[CSV])}" in printed
    assert (out / CSV).read_bytes() == payload[CSV]


def test_progress_bar_runs(tmp_path, server, registry):
    # progress=True draws tqdm bars (on stderr); it must not break the download.
    out = download_gzd5(tmp_path / "gzd5", base_url=server.url, registry=registry, progress=True)
    assert (image_root(out) / _member(GALAXIES[0])).is_file()


def test_the_record_files_and_parts():
    assert set(dl.FILES) == {
        "gz_decals_volunteers_5.csv", "gz_decals_volunteers_1_and_2.csv",
        "gz_decals_auto_posteriors.csv",
        *(f"gz_decals_dr5_png_part{i}.zip" for i in range(1, 5)),
    }
    assert dl._select(dl.DEFAULT_PARTS) == [
        "gz_decals_volunteers_5.csv", *(f"gz_decals_dr5_png_part{i}.zip" for i in range(1, 5))
    ]
    assert dl._select("gz_decals_auto_posteriors.csv") == ["gz_decals_auto_posteriors.csv"]
    assert dl._select("images", {CSV: None, ZIP: None}) == [ZIP]  # a mirror's registry: only its files


# -- the DOI path: pooch's own Zenodo support, with doi.org and the Zenodo API served locally


@pytest.fixture
def zenodo(server, monkeypatch):
    """doi.org resolves the DOI to the record (no request); pooch's ZenodoRepository asks the
    local server for the record's JSON. Returns a function that sets that JSON."""
    import pooch

    monkeypatch.setattr(pooch.downloaders, "doi_to_url", lambda doi, **kwargs: "https://zenodo.org/records/4573248")
    monkeypatch.setattr(pooch.downloaders.ZenodoRepository, "base_api_url", server.url + "/api/records")

    def record(checksums: dict[str, str], style: str = "legacy") -> None:
        if style == "legacy":  # pre-2023 API: 'key', 'checksum' with its algorithm, a download link
            files = [{"key": name, "checksum": f"md5:{md5}",
                      "links": {"self": f"{server.url}/records/4573248/files/{name}"}}
                     for name, md5 in checksums.items()]
        else:  # InvenioRDM API: 'filename', a bare md5; files served by zenodo.org itself
            files = [{"filename": name, "checksum": md5} for name, md5 in checksums.items()]
        server.api_json = {"id": 4573248, "files": files}

    return record


def test_doi_gives_the_registry_and_urls_through_pooch(tmp_path, zenodo, server):
    zenodo({CSV: "a" * 32, ZIP: "b" * 32}, style="new")
    gzd5 = gzd5_pooch(tmp_path)
    assert gzd5.registry == {CSV: "md5:" + "a" * 32, ZIP: "md5:" + "b" * 32}
    assert gzd5.get_url(CSV) == f"https://zenodo.org/records/4573248/files/{CSV}?download=1"
    assert [p for p, _ in server.requests] == ["/api/records/4573248"]


def test_doi_download_is_verified_against_the_record(tmp_path, zenodo, server, payload):
    zenodo({CSV: "0" * 32})
    with pytest.raises(HashMismatchError) as info:
        download_gzd5(tmp_path / "bad", parts="catalogue", progress=False)
    assert info.value.actual == f"md5:{_md5(payload[CSV])}" and not (tmp_path / "bad" / CSV).exists()
    zenodo({CSV: _md5(payload[CSV]), ZIP: _md5(payload[ZIP])})
    out = download_gzd5(tmp_path / "good", parts=[CSV, ZIP], progress=False)
    assert (out / CSV).read_bytes() == payload[CSV]
    assert (image_root(out) / _member(GALAXIES[0])).read_bytes() == _png(0)
    assert ("/records/4573248/files/" + CSV) in [p for p, _ in server.file_requests()]
    server.requests.clear()
    download_gzd5(out, parts=[CSV, ZIP], progress=False)
    assert server.requests == []  # done: not even the record is asked again


def test_a_file_the_record_lacks_is_named(tmp_path, zenodo):
    zenodo({ZIP: "0" * 32})
    with pytest.raises(DownloadError, match=f"not files of the record: {CSV}"):
        download_gzd5(tmp_path, parts=["catalogue", ZIP], progress=False)
    assert not (tmp_path / "archives").exists()  # nothing fetched before the check


def test_an_unresolvable_doi_is_a_download_error(tmp_path, monkeypatch):
    import pooch
    import requests

    def offline(doi, **kwargs):
        raise requests.ConnectionError("no network")

    monkeypatch.setattr(pooch.downloaders, "doi_to_url", offline)
    with pytest.raises(DownloadError, match="could not read the file list and checksums of doi:10.5281/zenodo.4573248"):
        download_gzd5(tmp_path, parts="catalogue", progress=False)


def test_unreachable_server_is_a_download_error(tmp_path, server, registry):
    url = server.url
    server.close()
    with pytest.raises(DownloadError, match="127.0.0.1"):
        download_gzd5(tmp_path, parts="catalogue", base_url=url, registry=registry,
                      progress=False)
