"""The grammar ships inside the built wheel: build it, install it (not
editable) into a fresh virtual environment, and run that environment's adcli
from another directory."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, (cmd, p.stdout[-3000:], p.stderr[-3000:])
    return p


def test_wheel_install_runs_from_elsewhere(tmp_path):
    # 1. build the wheel from the repository (found from this file, not a fixed path)
    wheels = tmp_path / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.insert(4, "--no-build-isolation")  # offline when the backend is at hand
    _run(cmd, tmp_path)
    (wheel,) = wheels.glob("adcli-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "adcli/grammar/adcli.lark" in names
        assert z.read("adcli/grammar/adcli.lark") == (ROOT / "grammar" / "adcli.lark").read_bytes()
        assert any(n.endswith("entry_points.txt") for n in names)

    # 2. a fresh venv with the wheel installed; its dependencies are borrowed
    # (offline) from the environment running this test through a .pth file:
    # `--system-site-packages` would borrow the *base* interpreter's packages,
    # which a fresh venv's test run does not have.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    site_dir = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path).stdout.strip())
    (site_dir / "_borrowed_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    _run([py, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q", wheel], tmp_path)

    # 3. from another directory: the installed copy is the one used, grammar included
    work = tmp_path / "elsewhere"
    work.mkdir()
    p = _run([py, "-c", "import adcli, adcli.parse as p; print(adcli.__file__); print(p.grammar_path())"], work)
    pkg_file, grammar = (Path(s) for s in p.stdout.split())
    home = venv.resolve()
    assert home in pkg_file.resolve().parents, pkg_file  # not the editable source tree
    assert home in grammar.resolve().parents, grammar
    assert grammar.parent.name == "grammar" and grammar.parent.parent.name == "adcli"
    assert ROOT.resolve() not in grammar.resolve().parents

    # 4. the console script of that venv
    adcli = bindir / "adcli"
    p = _run([adcli, "grad", "(x1-x2)^2 + cos(x1+x2)", "--at", "x1=1,x2=2", "--json"], work)
    doc = json.loads(p.stdout)
    assert doc["gradient"] == {"x1": -2.1411200080598674, "x2": 1.8588799919401329}
    p = _run([adcli, "grad", "log((x1+x2)^2+sin(x1*x2))", "--at", "x1=1,x2=2"], work)
    assert p.stdout.splitlines() == ["f       2.29347", "∂f/∂x1  0.521501", "∂f/∂x2  0.563496"]
    p = subprocess.run(
        [str(adcli), "grad", "log((x1+x2", "--at", "x1=1,x2=2"], cwd=work, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 2 and "expected an operator or ')'" in p.stderr and "Traceback" not in p.stderr


BLOCK = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Missing())
sys.argv = ["adcli", *{argv!r}]
import adcli
adcli.main()
"""


@pytest.mark.parametrize(
    "module,argv",
    [
        ("lark", ["grad", "x^2", "--at", "x=1"]),  # the fast path
        ("typer", ["grad", "x^2", "--at=x=1"]),  # the Typer app
        ("numpy", ["eval", "1+1"]),
    ],
)
def test_a_missing_dependency_is_one_line_not_a_traceback(module, argv):
    """Run by a Python that lacks one of adcli's dependencies: say which, exit 70."""
    r = subprocess.run(
        [sys.executable, "-c", BLOCK.format(module=module, argv=argv)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert r.returncode == 70, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert f"a dependency is missing ({module})" in r.stderr and r.stderr.count("\n") == 1
