"""Reading a component catalog entry: the operators and KFP components it lists.

Every source is read as text: Python files with ``ast`` (pyparse), YAML with ``safe_load`` (kfp),
wheels as zip archives in memory, installed packages from their files on disk (an environment's
site-packages, found without importing anything), provider metadata (``get_provider_info``) by
evaluating its returned literal. Nothing is imported or run.

Each component also gets the id Elyra gives it (see elyra.py), so Elyra pipelines resolve.
"""

from __future__ import annotations

import ast
import base64
import configparser
import glob
import io
import os
import posixpath
import sys
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .elyra import HASH_KEYS, elyra_id
from .kfp import parse_kfp
from .model import AIRFLOW, Component, ComponentError
from .pyparse import inherit, parse_operators

PY_SUFFIXES = (".py",)
YAML_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 2 * 1024 * 1024  # one component file
MAX_WHEEL_BYTES = 256 * 1024 * 1024  # an apache-airflow wheel is ~13 MB, providers far less
URL_TIMEOUT = 30.0
_EXAMPLES_PACKAGES = {
    "elyra-kfp-examples-catalog": "kfp_examples_connector",
    "elyra-airflow-examples-catalog": "airflow_examples_connector",
}


class SourceError(Exception):
    """A catalog that cannot be read at all (its message names the catalog and why)."""


@dataclass
class Listing:
    """What one catalog holds: its components, and what could not be read (file by file)."""

    catalog: str
    components: list[Component] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


Fetch = Callable[[str, dict[str, Any], int], bytes]


def fetch_url(url: str, entry: dict[str, Any], limit: int) -> bytes:
    """GET a URL (http, https or file), with the entry's basic-auth credentials, at most
    ``limit`` bytes and URL_TIMEOUT seconds."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise SourceError(f"'{url}' is not an http, https or file URL")
    request = urllib.request.Request(url, headers={"User-Agent": "mlpipe-lab"})
    user, password = entry.get("auth_id"), entry.get("auth_password")
    if parts.scheme != "file" and user and password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT) as response:
            data = response.read(limit + 1)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "code", None) or type(exc).__name__
        raise SourceError(f"cannot read '{_safe_url(url)}': {reason}") from None
    if len(data) > limit:
        raise SourceError(f"'{_safe_url(url)}' is larger than {limit // (1024 * 1024)} MB")
    return data


def _safe_url(url: str) -> str:
    """The URL without any credentials in it (for messages)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def read_catalog(
    entry: dict[str, Any], *, root: str | os.PathLike[str] | None = None, fetch: Fetch = fetch_url
) -> Listing:
    """The components of one catalog entry (entries as the catalog store returns them, secrets
    included for URL authentication). ``root``: what relative local paths are relative to."""
    kind = entry.get("type")
    name = str(entry.get("name") or "")
    listing = Listing(catalog=name)
    reader = _READERS.get(str(kind))
    if reader is None:
        raise SourceError(f"Component catalog '{name}' has an unknown type {kind!r}.")
    reader(entry, listing, Path(root) if root is not None else Path.cwd(), fetch)
    categories = tuple(c for c in entry.get("categories") or [] if isinstance(c, str))
    listing.components = [
        replace(c, catalog=name, categories=c.categories or categories) for c in listing.components
    ]
    return listing


# -- files: local, folders, URLs ----------------------------------------------------------------


def _from_text(
    text: str,
    label: str,
    *,
    catalog_type: str,
    reference: dict[str, Any],
    module: str,
    listing: Listing,
    catalog: str,
) -> None:
    """Components of one file's text (.py: operators; .yaml/.yml: one KFP component)."""
    lower = label.lower()
    try:
        if lower.endswith(YAML_SUFFIXES):
            comp = parse_kfp(text, label)
            ids = (elyra_id(catalog_type, reference),) if catalog_type in HASH_KEYS else ()
            listing.components.append(
                replace(
                    comp,
                    id=_our_id(catalog, reference, ""),
                    reference=reference,
                    elyra_ids=ids,
                )
            )
        elif lower.endswith(PY_SUFFIXES):
            ops = [o for o in parse_operators(text, module=module, filename=label)]
            many = len(ops) > 1
            for op in ops:
                ids: tuple[str, ...] = ()
                if catalog_type in HASH_KEYS:
                    ids = (elyra_id(catalog_type, reference, op.name if many else ""),)
                    if not many:  # Elyra names single-operator files both ways over versions
                        ids += (elyra_id(catalog_type, reference, op.name),)
                listing.components.append(
                    replace(
                        op,
                        id=_our_id(catalog, reference, op.name),
                        reference=reference,
                        elyra_ids=ids,
                    )
                )
    except ComponentError as exc:
        listing.problems.append(str(exc))
    except (UnicodeDecodeError, RecursionError, MemoryError):
        listing.problems.append(f"{label} cannot be read as text")


def _our_id(catalog: str, reference: dict[str, Any], class_name: str) -> str:
    ref = next((str(v) for k, v in reference.items() if k not in ("base_dir",)), "")
    for key in ("file", "path", "url", "component-id", "module"):
        if reference.get(key):
            ref = str(reference[key])
            break
    out = f"{catalog}:{ref}"
    return f"{out}:{class_name}" if class_name else out


def _module_for(entry: dict[str, Any], relpath: str) -> str:
    package = entry.get("python_package")
    if not package or not relpath.endswith(".py"):
        return ""
    stem = relpath[: -len(".py")].replace("\\", "/").strip("/").split("/")
    if stem and stem[-1] == "__init__":
        stem = stem[:-1]
    if not all(part.isidentifier() for part in stem):
        return ""
    return ".".join([package, *stem])


def _read_local(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ComponentError(f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return path.read_text(encoding="utf-8")


def _absolute(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else root / path


def _local_file(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    base = entry.get("base_path") or ""
    base_dir = _absolute(root, base) if base else root
    for raw in entry.get("paths") or []:
        path = _absolute(base_dir, str(raw))
        try:
            text = _read_local(path)
        except (OSError, ComponentError, UnicodeDecodeError) as exc:
            listing.problems.append(f"{raw}: {_why(exc)}")
            continue
        _from_text(
            text,
            str(raw),
            catalog_type="local-file-catalog",
            reference={"base_dir": str(base_dir), "path": str(raw)},
            module=_module_for(entry, str(raw)),
            listing=listing,
            catalog=listing.catalog,
        )


def _local_directory(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    recursive = entry.get("include_subdirs") is True
    for raw in entry.get("paths") or []:
        folder = _absolute(root, str(raw))
        if not folder.is_dir():
            listing.problems.append(f"{raw}: no such folder")
            continue
        for path in _files_in(folder, recursive):
            rel = path.relative_to(folder).as_posix()
            try:
                text = _read_local(path)
            except (OSError, ComponentError, UnicodeDecodeError) as exc:
                listing.problems.append(f"{rel}: {_why(exc)}")
                continue
            _from_text(
                text,
                rel,
                catalog_type="local-directory-catalog",
                reference={"base_dir": str(folder), "path": rel},
                module=_module_for(entry, rel),
                listing=listing,
                catalog=listing.catalog,
            )


def _files_in(folder: Path, recursive: bool) -> list[Path]:
    out = []
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for dirpath, dirnames, filenames in walker:
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__pycache__")))
        for name in sorted(filenames):
            if name.lower().endswith(PY_SUFFIXES + YAML_SUFFIXES) and not name.startswith("."):
                if name != "__init__.py":
                    out.append(Path(dirpath) / name)
    return out


def _url_catalog(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    for raw in entry.get("paths") or []:
        url = str(raw)
        try:
            text = fetch(url, entry, MAX_FILE_BYTES).decode("utf-8")
        except (SourceError, UnicodeDecodeError) as exc:
            listing.problems.append(f"{_safe_url(url)}: {_why(exc)}")
            continue
        name = posixpath.basename(urllib.parse.urlsplit(url).path) or url
        _from_text(
            text,
            name,
            catalog_type="url-catalog",
            reference={"url": url},
            module=_module_for(entry, name),
            listing=listing,
            catalog=listing.catalog,
        )


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "not readable (permission denied)"
    if isinstance(exc, UnicodeDecodeError):
        return "is not UTF-8 text"
    return str(exc) or type(exc).__name__


# -- wheels -------------------------------------------------------------------------------------


def _wheel(entry: dict[str, Any], key: str, fetch: Fetch) -> tuple[str, zipfile.ZipFile]:
    url = str(entry.get(key) or "")
    data = fetch(url, entry, MAX_WHEEL_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SourceError(f"'{_safe_url(url)}' is not a wheel (zip) file") from None
    return posixpath.basename(urllib.parse.urlsplit(url).path), archive


def _zip_text(archive: zipfile.ZipFile, name: str) -> str:
    info = archive.getinfo(name)
    if info.file_size > MAX_FILE_BYTES:
        raise ComponentError(f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return archive.read(name).decode("utf-8")


def _module_of_path(path: str) -> str:
    parts = path[: -len(".py")].split("/") if path.endswith(".py") else []
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else ""


def _airflow_wheel(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    _, archive = _wheel(entry, "airflow_package_download_url", fetch)
    folders = ["airflow/operators/"]
    if entry.get("search_contrib"):
        folders.append("airflow/contrib/operators/")
    files = sorted(
        n
        for n in archive.namelist()
        if n.endswith(".py")
        and any(n.startswith(f) and "/" not in n[len(f) :] for f in folders)
        and not n.endswith("__init__.py")
    )
    _python_files(
        [(f, lambda f=f: _zip_text(archive, f)) for f in files],
        listing,
        catalog_type="airflow-package-catalog",
        reference_of=lambda f: {"file": f},
    )


def _provider_wheel(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    filename, archive = _wheel(entry, "airflow_provider_package_download_url", fetch)
    provider = filename.split("-", 1)[0]
    infos = [n for n in archive.namelist() if n.endswith("/get_provider_info.py")]
    if len(infos) != 1:
        raise SourceError(
            f"Component catalog '{listing.catalog}': the wheel holds {len(infos)} "
            "get_provider_info.py files, not one"
        )
    info = provider_info(_zip_text(archive, infos[0]))
    names = set(archive.namelist())
    files = [f for f in provider_modules(info) if f in names]
    _python_files(
        [(f, lambda f=f: _zip_text(archive, f)) for f in files],
        listing,
        catalog_type="airflow-provider-package-catalog",
        reference_of=lambda f: {"provider": provider, "file": f},
        category=str(info.get("name") or ""),
    )


def provider_info(source: str) -> dict[str, Any]:
    """The dict ``get_provider_info()`` returns, read from its source without running it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        raise SourceError("get_provider_info.py is not valid Python") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "get_provider_info":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    try:
                        value = ast.literal_eval(stmt.value)
                    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                        break
                    if isinstance(value, dict):
                        return value
    raise SourceError("get_provider_info() does not return a literal dict")


def provider_modules(info: dict[str, Any]) -> list[str]:
    """Files (``airflow/providers/x/operators/y.py``) of a provider's operators and sensors."""
    files: list[str] = []
    for group in ("operators", "sensors"):
        for item in info.get(group) or []:
            for module in (item or {}).get("python-modules") or []:
                if isinstance(module, str):
                    path = module.replace(".", "/") + ".py"
                    if path not in files:
                        files.append(path)
    return files


def _python_files(
    files: list[tuple[str, Callable[[], str]]],
    listing: Listing,
    *,
    catalog_type: str,
    reference_of: Callable[[str], dict[str, Any]],
    category: str = "",
) -> None:
    """Operators of several Python files of one package, with parameters inherited across
    files (a subclass of an operator in another module of the same catalog)."""
    parsed: list[tuple[str, list[Component]]] = []
    known: set[str] = set()
    texts: dict[str, str] = {}
    for path, read in files:
        try:
            texts[path] = read()
        except (OSError, ComponentError, UnicodeDecodeError, KeyError) as exc:
            listing.problems.append(f"{path}: {_why(exc)}")
    for _ in range(2):  # a second pass finds subclasses of operators defined in other files
        parsed = []
        for path, text in texts.items():
            try:
                ops = parse_operators(
                    text, module=_module_of_path(path), filename=path, known_operators=known
                )
            except ComponentError as exc:
                listing.problems.append(str(exc))
                continue
            parsed.append((path, ops))
        found = {op.import_path for _, ops in parsed for op in ops}
        if found <= known:
            break
        known |= found
    index = {op.import_path: op for _, ops in parsed for op in ops}
    by_name: dict[str, list[Component]] = {}
    for op in index.values():
        by_name.setdefault(op.name, []).append(op)
    for path, ops in parsed:
        many = len(ops) > 1
        for op in ops:
            op = _inherit_chain(op, index, by_name)
            reference = reference_of(path)
            ids = (elyra_id(catalog_type, reference, op.name if many else ""),)
            if not many:
                ids += (elyra_id(catalog_type, reference, op.name),)
            listing.components.append(
                replace(
                    op,
                    id=_our_id(listing.catalog, {"module": op.import_path}, ""),
                    reference=reference,
                    elyra_ids=ids,
                    categories=(category,) if category else (),
                )
            )


def _inherit_chain(
    op: Component, index: dict[str, Component], by_name: dict[str, list[Component]], depth: int = 0
) -> Component:
    if depth > 16 or not op.accepts_kwargs:
        return op
    for base in op.bases:
        parent = index.get(base)
        if parent is None:
            candidates = by_name.get(base.rsplit(".", 1)[-1], [])
            parent = candidates[0] if len(candidates) == 1 else None
        if parent is not None and parent is not op:
            return inherit(op, _inherit_chain(parent, index, by_name, depth + 1))
    return op


# -- installed packages -------------------------------------------------------------------------


def site_packages(environment: str) -> list[Path]:
    """The site-packages folders of an environment: a venv (or any prefix with
    lib/python*/site-packages), a site-packages folder itself, or "" for this process's."""
    if not environment:
        return [Path(p) for p in sys.path if p and p.endswith(("site-packages", "dist-packages"))]
    base = Path(os.path.expanduser(environment))
    if base.name in ("site-packages", "dist-packages"):
        return [base] if base.is_dir() else []
    found = sorted(glob.glob(str(base / "lib" / "python*" / "site-packages")))
    found += sorted(glob.glob(str(base / "Lib" / "site-packages")))
    return [Path(p) for p in found]


def find_module(dirs: Iterable[Path], dotted: str) -> Path | None:
    parts = dotted.split(".")
    for folder in dirs:
        path = folder.joinpath(*parts)
        if path.with_suffix(".py").is_file():
            return path.with_suffix(".py")
        if (path / "__init__.py").is_file():
            return path / "__init__.py"
    return None


def _environment(entry: dict[str, Any], listing: Listing) -> list[Path]:
    env = str(entry.get("environment") or "")
    dirs = site_packages(env)
    if not dirs:
        raise SourceError(
            f"Component catalog '{listing.catalog}': no site-packages folder in environment '{env}'"
            if env
            else f"Component catalog '{listing.catalog}': this Python has no site-packages folder"
        )
    return dirs


def installed_providers(dirs: list[Path]) -> list[tuple[str, str, Path]]:
    """(distribution, provider_info module, site-packages folder) of the Airflow providers
    installed in these folders, from their entry points (``apache_airflow_provider``)."""
    out = []
    for folder in dirs:
        for dist in sorted(folder.glob("*.dist-info")):
            eps = dist / "entry_points.txt"
            if not eps.is_file():
                continue
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(eps.read_text(encoding="utf-8"))
            except (configparser.Error, OSError, UnicodeDecodeError):
                continue
            if not parser.has_section("apache_airflow_provider"):
                continue
            for _, target in parser.items("apache_airflow_provider"):
                module = target.split(":", 1)[0].strip()
                out.append((dist.name.split("-", 1)[0], module, folder))
    return out


def _providers(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    dirs = _environment(entry, listing)
    wanted = {_norm_dist(p) for p in entry.get("providers") or [] if isinstance(p, str)}
    files: list[tuple[str, Callable[[], str]]] = []
    provider_of: dict[str, str] = {}
    category_of: dict[str, str] = {}
    for dist, module, folder in installed_providers(dirs):
        if wanted and _norm_dist(dist) not in wanted:
            continue
        info_file = find_module([folder], module)
        if info_file is None:
            listing.problems.append(f"{dist}: {module} not found")
            continue
        try:
            info = provider_info(info_file.read_text(encoding="utf-8"))
        except (SourceError, OSError, UnicodeDecodeError) as exc:
            listing.problems.append(f"{dist}: {_why(exc)}")
            continue
        for rel in provider_modules(info):
            path = folder / rel
            if path.is_file():
                files.append((rel, lambda p=path: _read_local(p)))
                provider_of[rel] = dist
                category_of[rel] = str(info.get("name") or dist)
    if entry.get("include_core", True) and not wanted:
        for folder in dirs:
            core = folder / "airflow" / "operators"
            if (folder / "airflow" / "__init__.py").is_file() and core.is_dir():
                for path in sorted(core.glob("*.py")):
                    if path.name != "__init__.py":
                        rel = path.relative_to(folder).as_posix()
                        files.append((rel, lambda p=path: _read_local(p)))
                        category_of[rel] = "Airflow core"
                break
    # One listing per category, so each operator is filed under its provider's name.
    for category in sorted(set(category_of.values())):
        chunk = [(f, r) for f, r in files if category_of.get(f) == category]
        _python_files(
            chunk,
            listing,
            catalog_type="airflow-provider-package-catalog",
            reference_of=lambda f: {"provider": provider_of.get(f, "apache_airflow"), "file": f},
            category=category,
        )
    _inherit_across(listing)


def _inherit_across(listing: Listing) -> None:
    """Parameters inherited from operators of other providers of the same listing."""
    index = {c.import_path: c for c in listing.components if c.kind == AIRFLOW}
    by_name: dict[str, list[Component]] = {}
    for c in index.values():
        by_name.setdefault(c.name, []).append(c)
    listing.components = [
        _inherit_chain(c, index, by_name) if c.kind == AIRFLOW and c.bases else c
        for c in listing.components
    ]


def _norm_dist(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _python_package(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    dirs = _environment(entry, listing)
    files: list[tuple[str, Callable[[], str]]] = []
    only: dict[str, set[str]] = {}  # file -> class names wanted (empty: all)
    for dotted in entry.get("modules") or []:
        path = find_module(dirs, dotted)
        class_name = ""
        if path is None and "." in dotted:
            module, class_name = dotted.rsplit(".", 1)
            path = find_module(dirs, module)
        if path is None:
            listing.problems.append(f"{dotted}: no such module in the environment")
            continue
        folder = next(d for d in dirs if d in path.parents)
        rel = path.relative_to(folder).as_posix()
        if rel not in only:
            files.append((rel, lambda p=path: _read_local(p)))
            only[rel] = set()
        if class_name:
            only[rel].add(class_name)
    before = len(listing.components)
    _python_files(
        files,
        listing,
        catalog_type="python-package",
        reference_of=lambda f: {"file": f},
    )
    kept = listing.components[:before]
    for comp in listing.components[before:]:
        wanted = only.get(comp.reference.get("file", ""), set())
        if not wanted or comp.name in wanted:
            kept.append(replace(comp, elyra_ids=()))
    listing.components = kept


def _examples(entry: dict[str, Any], listing: Listing, root: Path, fetch: Fetch) -> None:
    """Elyra's example catalogs: the component files inside their installed package."""
    kind = str(entry.get("type"))
    package = _EXAMPLES_PACKAGES[kind]
    dirs = _environment(entry, listing)
    folder = next(
        (d / package / "resources" for d in dirs if (d / package / "resources").is_dir()), None
    )
    if folder is None:
        dist = "elyra-examples-kfp-catalog" if "kfp" in kind else "elyra-examples-airflow-catalog"
        raise SourceError(
            f"Component catalog '{listing.catalog}': the package {dist} is not installed in "
            f"{entry.get('environment') or 'the Jupyter server environment'}"
        )
    for path in _files_in(folder, recursive=True):
        rel = path.relative_to(folder).as_posix()
        try:
            text = _read_local(path)
        except (OSError, ComponentError, UnicodeDecodeError) as exc:
            listing.problems.append(f"{rel}: {_why(exc)}")
            continue
        _from_text(
            text,
            rel,
            catalog_type=kind,
            reference={"component-id": rel},
            module="",
            listing=listing,
            catalog=listing.catalog,
        )


_READERS: dict[str, Callable[[dict[str, Any], Listing, Path, Fetch], None]] = {
    "local-file-catalog": _local_file,
    "local-directory-catalog": _local_directory,
    "url-catalog": _url_catalog,
    "airflow-package-catalog": _airflow_wheel,
    "airflow-provider-package-catalog": _provider_wheel,
    "airflow-providers": _providers,
    "python-package": _python_package,
    "elyra-kfp-examples-catalog": _examples,
    "elyra-airflow-examples-catalog": _examples,
}
