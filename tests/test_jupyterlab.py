"""JupyterLab serves the project's notebooks: start it, open each notebook over REST, stop it.

The server runs from this virtual environment on 127.0.0.1 (a free port, a random token,
no browser, ``--allow-root`` for CI), rooted at ``notebooks/``. Until that folder holds
notebooks, a temporary root with one tiny nbformat notebook stands in. Every notebook on
disk must be listed by ``/api/contents`` and open as a notebook with cells; ``/lab`` must
return the JupyterLab page. The server is always stopped (shutdown API, then SIGTERM, then
SIGKILL) and the test checks that it exited.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
START_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 10


def _notebooks_on_disk(root: Path) -> list[str]:
    """Notebook paths relative to ``root`` as the contents API names them (hidden folders skipped)."""
    found = []
    for path in root.rglob("*.ipynb"):
        rel = path.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts):
            found.append(rel.as_posix())
    return sorted(found)


def _served_root(tmp_path: Path) -> Path:
    if _notebooks_on_disk(NOTEBOOKS):
        return NOTEBOOKS
    import nbformat

    root = tmp_path / "notebooks"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Stand-in"), nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(nb, root / "00-stand-in.ipynb")
    return root


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, root: Path, workdir: Path) -> None:
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "jupyter.log"
        for name in ("config", "data", "workspaces", "runtime"):
            (workdir / name).mkdir(exist_ok=True)
        env = dict(
            os.environ,
            # Private config, data and runtime dirs: no user settings, no leftover server files.
            JUPYTER_CONFIG_DIR=str(workdir / "config"),
            JUPYTER_DATA_DIR=str(workdir / "data"),
            JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
            JUPYTERLAB_WORKSPACES_DIR=str(workdir / "workspaces"),
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
        ]
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True)

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def request(self, path: str, method: str = "GET") -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()

    def json(self, path: str) -> dict | list:
        status, _, body = self.request(path)
        assert status == 200, path
        return json.loads(body)

    def wait_ready(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode} before answering:\n{self.output()}")
            try:
                return self.json("/api/status")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        pytest.fail(f"jupyter lab did not answer /api/status within {START_TIMEOUT_S} s:\n{self.output()}")

    def stop(self) -> None:
        """Ask the server to shut down; escalate to SIGTERM then SIGKILL of its own process group."""
        try:
            if self.proc.poll() is None:
                try:
                    self.request("/api/shutdown", method="POST")
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.terminate()
                    try:
                        self.proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                        self.proc.wait(timeout=5)
        finally:
            self._log_file.close()


def _walk(server: Server, path: str = "") -> list[str]:
    """Every notebook the contents API lists, recursing into directories."""
    listing = server.json("/api/contents/" + urllib.parse.quote(path))
    assert listing["type"] == "directory"
    found = []
    for item in listing["content"]:
        if item["type"] == "directory":
            found += _walk(server, item["path"])
        elif item["type"] == "notebook":
            found.append(item["path"])
    return sorted(found)


def test_jupyterlab_opens_every_notebook(tmp_path: Path) -> None:
    root = _served_root(tmp_path)
    expected = _notebooks_on_disk(root)
    assert expected
    server = Server(root, tmp_path)
    try:
        status = server.wait_ready()
        assert "started" in status

        assert _walk(server) == expected
        for name in expected:
            model = server.json(f"/api/contents/{urllib.parse.quote(name)}?content=1")
            assert model["type"] == "notebook", name
            assert model["format"] == "json", name
            cells = model["content"]["cells"]
            assert cells, f"{name} has no cells"
            assert {cell["cell_type"] for cell in cells} <= {"markdown", "code", "raw"}, name

        code, content_type, body = server.request("/lab")
        assert code == 200 and content_type.startswith("text/html")
        assert b"<html" in body.lower() and b"jupyter-config-data" in body
    finally:
        server.stop()
    assert server.proc.returncode is not None, "jupyter lab is still running"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", server.port)) != 0, "the port is still served after shutdown"
