"""The self-contained runner: this package as one zipapp that any python3 (3.9+) runs.

    python3 -m mlpipe_lab.runner.zipapp OUT.pyz      # write the zipapp (e.g. for Airflow workers)
    python3 OUT.pyz --contract 1 ...                  # the runner, as python3 -m mlpipe_lab.runner

The archive holds the runner's modules under ``mlpipe_lab/runner/`` with an empty
``mlpipe_lab/__init__.py`` (the extension's package is not needed), and a ``__main__.py`` that first
checks the interpreter's version in syntax every Python 3 reads. With ``bytecode`` (the runner
image's install does it), each module's bytecode for the building interpreter's version lies next
to its source (an unchecked hash-based ``.pyc``, PEP 552): a python3 of that version starts
without compiling the runner, others read the bytecode's magic number and compile the source as
before (zipimport does this itself). Bytecode is left out where it would only be churn (the
zipapp committed beside local-worker DAGs). The runner needs nothing outside
the standard library (its S3 client and notebook executor are its own; a notebook's kernel is the
image's). The same archive carries the serve node's tasks (``--kind serve``, see
``serving/tasks/cli.py``): the serving package, the node-properties schema and PyYAML's
pure-Python modules, the one vendored dependency; the node runner never imports them. Built from
the installed packages' files, so the runner image always hands out the runner of the wheel it has.
"""

from __future__ import annotations

import importlib.util
import io
import marshal
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from .contract import CONTRACT_VERSION, MIN_PYTHON

HERE = Path(__file__).resolve().parent
PACKAGES = ("mlpipe_lab", "yaml")  # the top-level packages in the archive
SERVE_SCHEMA = "node-properties.json"
# Modules the pods never run: building archives and copying them.
LEFT_OUT = {"zipapp.py", "install.py"}

MAIN = """# mlpipe-lab node runner (zipapp). Plain syntax: an old python3 must reach the version check.
import os
import sys

if sys.version_info < {minimum!r}:
    image = os.environ.get("MLPIPE_IMAGE")
    image = "image " + image if image else "this image"
    sys.stderr.write(
        "mlpipe-runner: %s has python3 %d.%d; the runner needs Python %d.%d or later\\n"
        % ((image,) + tuple(sys.version_info[:2]) + {minimum!r})
    )
    sys.exit(127)
"""

# "--kind serve" (its first --kind) starts the serve node's tasks, anything else the node runner.
ENTRY = """
_argv = sys.argv[1:]
if "--kind" in _argv and _argv[_argv.index("--kind") + 1 :][:1] == ["serve"]:
    from mlpipe_lab.serving.tasks.cli import main
else:
    from mlpipe_lab.runner.__main__ import main

sys.exit(main())
"""

# The runner's modules are loaded from the archive by this finder, not by zipimport: zipimport
# (3.9-3.12) compiles a module's source twice (once to find its file name, once to run it), and
# compiling is most of the runner's start. Each module is read once and compiled once; its
# bytecode, when the archive has it for this interpreter (same magic number), is used as is.
LOADER = (
    """
import marshal
from importlib.machinery import ModuleSpec

_ARCHIVE = __loader__
_ROOT = os.path.dirname(__file__)
_PACKAGES = {packages!r}


class _RunnerLoader:
    def __init__(self, origin, member, package):
        self.origin, self.member, self.package = origin, member, package

    def create_module(self, spec):
        return None

    def _data(self, suffix=""):
        return _ARCHIVE.get_data(self.member + suffix)

    def get_data(self, path):  # ResourceLoader: a file of the archive (the serve tasks' data)
        return _ARCHIVE.get_data(path[len(_ROOT) + 1 :] if path.startswith(_ROOT + "/") else path)

    def get_source(self, name):
        return self._data().decode("utf-8")

    def get_code(self, name):
        try:
            data = self._data("c")
        except OSError:
            data = b""
        if data[:4] == _MAGIC and len(data) > 16:
            return marshal.loads(memoryview(data)[16:])
        return compile(self._data(), self.origin, "exec", dont_inherit=True)

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)


class _RunnerFinder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] not in _PACKAGES:
            return None
        rel = name.replace(".", "/")
        for member, package in ((rel + "/__init__.py", True), (rel + ".py", False)):
            if member in _MEMBERS:
                origin = _ROOT + "/" + member
                loader = _RunnerLoader(origin, member, package)
                spec = ModuleSpec(name, loader, origin=origin, is_package=package)
                if package:
                    spec.submodule_search_locations = [_ROOT + "/" + rel]
                spec.has_location = True
                return spec
        return None


try:
    from _frozen_importlib_external import MAGIC_NUMBER as _MAGIC
    _FILES = _ARCHIVE._get_files() if hasattr(_ARCHIVE, "_get_files") else _ARCHIVE._files
    _MEMBERS = frozenset(n for n in _FILES if n.endswith(".py"))
except (ImportError, AttributeError):  # an interpreter whose zipimport differs: zipimport it is
    pass
else:
    sys.meta_path.insert(0, _RunnerFinder)

"""
    + ENTRY
)

PLAIN = ENTRY

PACKAGE_INIT = '"""The mlpipe-lab runner alone (zipapp); the extension is not part of it."""\n'


def sources() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.name not in LEFT_OUT)


def serve_members() -> list[tuple[str, bytes, bool]]:
    """``(archive name, bytes, is a module)`` of what the serve node's tasks need besides the
    runner: the serving package (not its extension CLI), the serving runtime's sources (copied
    into build contexts, never imported in the pod), the node-properties schema (the serve
    settings' defaults) and PyYAML's pure-Python modules (MLmodel files and kubeconfigs are
    YAML). Read from the installed packages, like the runner's own files."""
    package = HERE.parent
    out: list[tuple[str, bytes, bool]] = []
    serving = package / "serving"
    for path in sorted(serving.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        if "__pycache__" in rel or rel == "mlpipe_lab/serving/cli.py":
            continue
        out.append((rel, path.read_bytes(), "/runtime/" not in rel))
    schemas = package / "schemas"
    out.append(("mlpipe_lab/schemas/__init__.py", (schemas / "__init__.py").read_bytes(), True))
    out.append(
        (
            "mlpipe_lab/schemas/" + SERVE_SCHEMA,
            (schemas / SERVE_SCHEMA).read_bytes(),
            False,
        )
    )
    return out + vendored_yaml()


def vendored_yaml() -> list[tuple[str, bytes, bool]]:
    """PyYAML (MIT) without its C extension: yaml/__init__ falls back to pure Python."""
    spec = importlib.util.find_spec("yaml")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PyYAML is not installed: the runner zipapp vendors it")
    folder = Path(next(iter(spec.submodule_search_locations)))
    out = [
        (f"yaml/{p.name}", p.read_bytes(), True)
        for p in sorted(folder.glob("*.py"))
        if p.name != "cyaml.py"  # the libyaml binding: absent, yaml/__init__ says so itself
    ]
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        files = distribution("PyYAML").files or []
        for f in files:
            if f.name.upper().startswith("LICENSE"):
                out.append(("yaml/LICENSE", f.read_text().encode(), False))
                break
    except (ImportError, PackageNotFoundError, OSError):
        pass
    return out


def pyc(source: bytes, name: str) -> bytes:
    """An unchecked hash-based .pyc of ``source`` for this interpreter (PEP 552)."""
    code = compile(source, name, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")  # hash-based, not checked against the source
    return (
        importlib.util.MAGIC_NUMBER
        + flags
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def archive_bytes(bytecode: bool = False, finder: bool = True) -> bytes:
    """The zipapp's bytes: deterministic for the same sources (fixed times, sorted names)."""
    buffer = io.BytesIO()
    buffer.write(b"#!/usr/bin/env python3\n")
    stamp = (2020, 1, 1, 0, 0, 0)

    def add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, data)

    with zipfile.ZipFile(buffer, "w") as zf:
        loader = LOADER.replace("{packages!r}", repr(PACKAGES)) if finder else PLAIN
        # finder=False: zipimport (benchmarks compare)
        add(zf, "__main__.py", (MAIN.format(minimum=MIN_PYTHON) + loader).encode())
        add(zf, "mlpipe_lab/__init__.py", PACKAGE_INIT.encode())
        members = [(f"mlpipe_lab/runner/{p.name}", p.read_bytes(), True) for p in sources()]
        for name, data, module in sorted(members + serve_members()):
            add(zf, name, data)
            if bytecode and module:
                add(zf, name + "c", pyc(data, name))
    return buffer.getvalue()


def write_zipapp(target: Path, bytecode: bool = False, finder: bool = True) -> Path:
    """Write the zipapp to ``target`` atomically (readable by every user: the main container may
    run as another uid than the init container)."""
    data = archive_bytes(bytecode=bytecode, finder=finder)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".mlpipe-runner-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python3 -m mlpipe_lab.runner.zipapp OUT.pyz\n")
        return 2
    target = write_zipapp(Path(args[0]))
    print(f"mlpipe-runner (contract {CONTRACT_VERSION}): {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
