"""Import rules that packaging depends on: what task pods run (the node runner) and what model
images run (the serving runtime) import nothing from the rest of mlpipe-lab, nor the Jupyter
server, so their images do not pull the extension.

Two checks per package: every import statement in its files (function-level ones included),
resolved; and the modules actually loaded when all its modules are imported in a fresh process.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import mlpipe_lab

PACKAGE_ROOT = Path(mlpipe_lab.__file__).resolve().parent
# What a pod or model image must never load (the extension's server side and its stack). The
# runner may drive a notebook kernel through the *image's own* jupyter_client: not listed here.
FORBIDDEN = ("jupyter_server", "jupyterlab", "notebook", "tornado", "traitlets")
# Importing a subpackage runs its parents' __init__ modules: they must stay empty of imports.
PARENTS = {"mlpipe_lab", "mlpipe_lab._version", "mlpipe_lab.serving"}
BOUNDED = ("mlpipe_lab.runner", "mlpipe_lab.serving.runtime")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file (of ``module``, by default the
    one at that place in the package), relative ones resolved."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # "from . import x" / "from pkg import sub": the names may be modules too
            out.append((node.lineno, name))
            out += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return out


def _outside(name: str, package: str) -> bool:
    if name.split(".")[0] in FORBIDDEN:
        return True
    if name == "mlpipe_lab" or not name.startswith("mlpipe_lab."):
        return False
    return not (name == package or name.startswith(package + "."))


def _is_module(name: str) -> bool:
    """True when an imported name is a module or package of mlpipe_lab (not a function in one)."""
    rel = Path(*name.split(".")[1:])
    return (PACKAGE_ROOT / rel).with_suffix(".py").is_file() or (PACKAGE_ROOT / rel).is_dir()


@pytest.mark.parametrize("package", BOUNDED)
def test_no_import_statement_leaves_the_package(package):
    folder = PACKAGE_ROOT.joinpath(*package.split(".")[1:])
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for line, name in _imports(path):
            if not _outside(name, package):
                continue
            if name.startswith("mlpipe_lab.") and not _is_module(name):
                name = name.rpartition(".")[0]  # from .x import function: the module is x
                if not _outside(name, package):
                    continue
            bad.append(f"{path.relative_to(PACKAGE_ROOT.parent)}:{line}: {name}")
    assert bad == []


LOAD_ALL = r"""
import importlib, json, pkgutil, sys
package = sys.argv[1]
root = importlib.import_module(package)
for info in pkgutil.walk_packages(root.__path__, package + "."):
    if not info.name.endswith(".__main__"):
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("package", BOUNDED)
def test_importing_every_module_loads_nothing_of_the_extension(package):
    done = subprocess.run(
        [sys.executable, "-c", LOAD_ALL, package], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    ours = [
        m
        for m in loaded
        if m.startswith("mlpipe_lab") and m not in PARENTS and _outside(m, package)
    ]
    forbidden = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in FORBIDDEN})
    assert (ours, forbidden) == ([], [])


def test_the_checks_see_a_violation(tmp_path):
    """The static check resolves relative and function-level imports (it can fail)."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..compiler import emit\n    import tornado.web\n")
    names = [n for _, n in _imports(probe, "mlpipe_lab.runner.probe")]
    assert "mlpipe_lab.compiler" in names and "tornado.web" in names
    assert _outside("mlpipe_lab.compiler", "mlpipe_lab.runner")
    assert _outside("tornado.web", "mlpipe_lab.runner")
    assert not _outside("mlpipe_lab.runner.contract", "mlpipe_lab.runner")
