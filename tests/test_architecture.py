"""The package's shape stays as designed: layers that follow the data, no cycles, no hidden
imports, and no TensorFlow below the learning layer."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT

PACKAGE = ROOT / "galaxy_utils"
DELAY_MARK = "delays TensorFlow"


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_import_linter_contracts_are_kept():
    """``lint-imports`` (import-linter, configured in pyproject.toml) passes."""
    pytest.importorskip("importlinter")
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_part_of_the_package_is_in_a_layer():
    """A new subpackage or top-level module must be placed in the layers contract, or the
    contract would not check it."""
    layers = next(c for c in _contracts() if c["type"] == "layers" and "containers" not in c)["layers"]
    named = {name.strip().removeprefix("galaxy_utils.") for layer in layers for name in layer.split("|")}
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert parts == named


def test_every_subpackage_module_is_in_its_container_contract():
    for contract in _contracts():
        for container in contract.get("containers", []):
            folder = ROOT / container.replace(".", "/")
            named = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
            modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
            assert modules == named, container


def _function_level_imports(path) -> list[tuple[int, str]]:
    """(line, module) of every intra-package import made inside a function."""
    source = path.read_text()
    lines = source.splitlines()
    found = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.ImportFrom) and (child.level or (child.module or "").startswith(
                    "galaxy_utils")):
                found.append((child.lineno, lines[child.end_lineno - 1]))
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def test_intra_package_imports_are_at_module_top_unless_they_delay_tensorflow():
    """No import hides inside a function to dodge a cycle; the only exceptions import a
    module that imports TensorFlow, and say so (``# delays TensorFlow``)."""
    hidden = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in _function_level_imports(path):
            if DELAY_MARK not in text:
                hidden.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()}")
    assert not hidden, "\n".join(hidden)


def _loads_tensorflow(code: str) -> bool:
    check = f"{code}\nimport sys\nprint('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


def test_the_data_layer_imports_without_tensorflow():
    modules = sorted(p.stem for p in (PACKAGE / "data").glob("*.py") if p.stem != "__init__")
    assert "catalogue" in modules and "labels" in modules
    assert not _loads_tensorflow("\n".join(f"import galaxy_utils.data.{m}" for m in modules))


def test_images_mock_and_settings_import_without_tensorflow():
    assert not _loads_tensorflow("import galaxy_utils.images.decode, galaxy_utils.images.augmentation, "
                                 "galaxy_utils.mock, galaxy_utils.config")


def test_cli_help_runs_without_tensorflow():
    code = ("import contextlib, io\nfrom galaxy_utils import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    cli.main(['--help'])\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    cli.main(['train', '--help'])")
    assert not _loads_tensorflow(code)


def _module_path(module: str):
    path = ROOT / module.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _top_level_imports(module: str) -> set[str]:
    """What ``module`` imports when it is imported (module-level statements only)."""
    found = set()
    for node in ast.parse(_module_path(module).read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module.startswith("galaxy_utils"):  # `from galaxy_utils.data import labels`: a module
                found |= {f"{node.module}.{a.name}" for a in node.names
                          if _module_path(f"{node.module}.{a.name}").exists()}
    return found


def _imports_tensorflow(module: str, seen: set[str] | None = None) -> bool:
    """Whether importing ``module`` imports TensorFlow or Keras: its parent packages' and its
    own module-level imports, followed through the package."""
    seen = set() if seen is None else seen
    if module in seen:
        return False
    seen.add(module)
    parts = module.split(".")
    if any(_imports_tensorflow(".".join(parts[:i]), seen) for i in range(1, len(parts))):
        return True
    for imported in _top_level_imports(module):
        if imported.split(".")[0] in ("tensorflow", "keras"):
            return True
        if imported.startswith("galaxy_utils") and _imports_tensorflow(imported, seen):
            return True
    return False


def test_the_delayed_imports_do_import_tensorflow():
    """Each import marked as delaying TensorFlow names a module that really loads it."""
    delayed = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for _, text in _function_level_imports(path):
            delayed.setdefault(text.split("from ", 1)[1].split(" import", 1)[0].strip(), path.name)
    assert delayed
    for module, where in delayed.items():
        assert _imports_tensorflow(module), f"{where}: {module} does not import TensorFlow"
    # ...and the static check agrees with what a fresh interpreter loads.
    assert not _imports_tensorflow("galaxy_utils.cli") and not _imports_tensorflow("galaxy_utils.data.read")
    assert _loads_tensorflow("import galaxy_utils.learn.votes")
