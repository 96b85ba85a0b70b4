"""environment.yml (for conda users) must name the same packages and ranges as pyproject.

conda cannot be solved on the project's machines, so this is the check that keeps the two
from drifting apart.
"""

import re
import tomllib

import yaml
from conftest import ROOT

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$")


def parse(requirement: str) -> tuple[str, str]:
    name, spec = _REQ.match(requirement).groups()
    name = re.sub(r"[-_.]+", "-", name).lower()
    return name, ",".join(sorted(s.strip() for s in spec.split(",") if s.strip()))


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(parse(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]])


def environment_requirements() -> tuple[dict[str, str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = dep["pip"]
        else:
            conda[dep] = None
    found = {}
    for dep in [*conda, *pip]:
        if dep.startswith("-e") or dep in ("pip",) or dep.startswith("python="):
            continue
        name, spec = parse(dep)
        found[name] = spec
    return found, pip


def test_environment_yml_matches_pyproject():
    wanted = pyproject_requirements()
    found, _ = environment_requirements()
    assert set(found) == set(wanted), (
        f"only in pyproject: {sorted(set(wanted) - set(found))}; "
        f"only in environment.yml: {sorted(set(found) - set(wanted))}"
    )
    for name, spec in wanted.items():
        assert found[name] == spec, f"{name}: pyproject says {spec!r}, environment.yml {found[name]!r}"


def test_environment_yml_installs_the_project_and_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    _, pip = environment_requirements()
    assert "-e ." in pip


def test_pyproject_python_range_admits_311():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")
