"""The runtime image and runtime configuration catalogs.

Layout under the data directory (``default_data_dir()`` unless given)::

    catalogs/<kind>/<name>.json    public part of each user entry (shareable, no secrets), plus
                                   "_secrets_rev" when it has secrets
    catalogs/<kind>/.lock          flock held by writers (exclusive) and readers (shared)
    secrets/<kind>/<name>.json     {"rev": ..., "values": {"dotted.path": "value"}}: the values of
                                   the schema's writeOnly fields (dirs 0700, files 0600)
    secrets/<kind>/<name>.json.pending   only between two renames of a write (or after a crash)

Every file is replaced atomically; a write holds the per-kind lock from its read to its last
rename, and commits by replacing the public file (see ``Catalog._write``).

A user entry shadows a built-in entry or an Elyra entry of the same name (precedence user > builtin
> elyra). Returned entries are masked: a secret that is set reads ``MASK``, an unset one is absent.
Nothing here logs: entries may carry secrets on their way in.
"""

from __future__ import annotations

import builtins
import copy
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import Any

from . import _fs
from ._schema import (
    apply_defaults,
    drop_nulls,
    get_path,
    pop_path,
    schema,
    secret_paths,
    set_path,
    validate,
)
from .elyra import ElyraEntry, read_elyra
from .errors import CatalogError, Conflict, NotFound, ReadOnly
from .names import check_name, is_valid_name, slugify, unique_name

MASK = "********"
#: Key in a stored public file naming the revision of its secrets file (internal, never returned).
REV_KEY = "_secrets_rev"
PENDING_SUFFIX = ".pending"
DATA_DIR_ENV = "MLPIPE_LAB_DATA_DIR"
KINDS = ("runtime-images", "runtime-configs", "component-catalogs")
#: Server-computed keys added to returned entries and ignored on input.
META_KEYS = ("source", "read_only", "error")

LOCAL_BUILTIN: dict[str, Any] = {
    "name": "local",
    "display_name": "Local (embedded)",
    "description": (
        "Runs pipelines on this machine and commits their DAGs to a git repository inside the "
        "mlpipe-lab data folder. No Airflow or cluster needed."
    ),
    "type": "local",
    "local": {
        "dag_repo_path": "local/dags.git",
        "branch": "main",
        "subfolder": "dags",
        "artifacts_path": "local/artifacts",
    },
}


@dataclass(frozen=True)
class _KindSpec:
    schema_name: str
    noun: str
    builtins: tuple[dict[str, Any], ...]


_SPECS = {
    "runtime-images": _KindSpec("runtime-image", "runtime image", ()),
    "runtime-configs": _KindSpec("runtime-config", "runtime configuration", (LOCAL_BUILTIN,)),
    "component-catalogs": _KindSpec("component-catalog", "component catalog", ()),
}


def default_data_dir() -> Path:
    """``$MLPIPE_LAB_DATA_DIR`` if set, else ``<jupyter data dir>/mlpipe-lab``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mlpipe-lab"


def default_elyra_data_dir() -> Path:
    """Where Elyra keeps user metadata: the Jupyter data dir (``metadata/`` below it)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir())


@dataclass(frozen=True)
class LocalPaths:
    """Absolute locations of a local runtime configuration."""

    dag_repo_path: Path
    artifacts_path: Path
    branch: str
    subfolder: str


def resolve_local_paths(
    config: dict[str, Any], data_dir: str | os.PathLike[str] | None = None
) -> LocalPaths:
    """Absolute paths of a local runtime configuration; relative ones are relative to
    ``data_dir`` (default: ``default_data_dir()``)."""
    if config.get("type", "local") != "local":
        raise CatalogError(
            f"type: runtime configuration {config.get('name')!r} is not a local one", field="type"
        )
    probe = {"type": "local", "local": dict(config.get("local") or {})}
    local = apply_defaults("runtime-config", probe)["local"]
    base = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    base = base.absolute()

    def absolute(value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    return LocalPaths(
        dag_repo_path=absolute(local["dag_repo_path"]),
        artifacts_path=absolute(local["artifacts_path"]),
        branch=local["branch"],
        subfolder=local["subfolder"],
    )


class Catalog:
    """One catalog (``kind`` is ``"runtime-images"``, ``"runtime-configs"`` or
    ``"component-catalogs"``).

    ``data_dir``: where our catalog lives (default ``default_data_dir()``). ``elyra_data_dir``: the
    Jupyter data dir whose ``metadata/`` Elyra uses (default ``jupyter_data_dir()``);
    ``include_elyra=False`` ignores Elyra entirely. Instances are cheap and hold no state besides
    paths; every call reads the files, so several instances (threads, processes) can share a folder.
    """

    kind: str

    def __init__(
        self,
        kind: str,
        data_dir: str | os.PathLike[str] | None = None,
        elyra_data_dir: str | os.PathLike[str] | None = None,
        include_elyra: bool = True,
    ) -> None:
        if kind not in _SPECS:
            raise ValueError(f"unknown catalog kind {kind!r}; expected one of {', '.join(KINDS)}")
        self.kind = kind
        self._spec = _SPECS[kind]
        self.data_dir = (
            Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        ).absolute()
        self.include_elyra = include_elyra
        self._elyra_data_dir = (
            Path(elyra_data_dir).expanduser() if elyra_data_dir is not None else None
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, data_dir={str(self.data_dir)!r})"

    # ------------------------------------------------------------------ paths and schema

    @property
    def schema_name(self) -> str:
        return self._spec.schema_name

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalogs" / self.kind

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets" / self.kind

    @property
    def lock_path(self) -> Path:
        return self.catalog_dir / ".lock"

    @property
    def elyra_data_dir(self) -> Path | None:
        if not self.include_elyra:
            return None
        if self._elyra_data_dir is None:
            self._elyra_data_dir = default_elyra_data_dir()
        return self._elyra_data_dir

    @property
    def secret_fields(self) -> list[str]:
        """Dotted paths of the secret (``writeOnly``) fields of this kind."""
        return [".".join(p) for p in secret_paths(self.schema_name)]

    def _entry_path(self, name: str) -> Path:
        return self.catalog_dir / f"{check_name(name)}.json"

    def _secrets_path(self, name: str) -> Path:
        return self.secrets_dir / f"{check_name(name)}.json"

    def _pending_path(self, name: str) -> Path:
        return self.secrets_dir / f"{check_name(name)}.json{PENDING_SUFFIX}"

    # ------------------------------------------------------------------ low-level reads

    def _read_lock(self) -> AbstractContextManager[None]:
        if self.catalog_dir.is_dir():
            return _fs.locked(self.lock_path, exclusive=False)
        return nullcontext()

    def _write_lock(self) -> AbstractContextManager[None]:
        _fs.ensure_dir(self.catalog_dir)
        return _fs.locked(self.lock_path, exclusive=True)

    def _user_names(self) -> list[str]:
        try:
            names = [e.name[:-5] for e in os.scandir(self.catalog_dir) if e.name.endswith(".json")]
        except FileNotFoundError:
            return []
        return sorted(n for n in names if is_valid_name(n))

    def _read_public(self, name: str) -> tuple[dict[str, Any], str | None] | None:
        """(stored public part, secrets revision); ``None`` if absent; ``CatalogError`` (500) if
        unreadable."""
        try:
            doc = _fs.read_json(self._entry_path(name))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CatalogError(
                f"{self._spec.noun} {name!r} cannot be read ({type(exc).__name__}); fix or delete "
                f"{self._entry_path(name)}",
                status=500,
            ) from None
        if not isinstance(doc, dict):
            raise CatalogError(
                f"{self._spec.noun} {name!r} is not a JSON object; "
                f"fix or delete {self._entry_path(name)}",
                status=500,
            )
        rev = doc.pop(REV_KEY, None)
        doc["name"] = name
        return doc, rev if isinstance(rev, str) else None

    def _read_secret_file(self, path: Path) -> tuple[str | None, dict[str, str]]:
        try:
            doc = _fs.read_json(path)
        except FileNotFoundError:
            return None, {}
        except (OSError, ValueError):
            raise CatalogError(
                f"the secrets of {self._spec.noun} {_secrets_file_owner(path.name)!r} cannot "
                "be read; re-enter them",
                status=500,
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("values"), dict):
            return None, {}
        values = {
            k: v for k, v in doc["values"].items() if isinstance(k, str) and isinstance(v, str)
        }
        return doc.get("rev") if isinstance(doc.get("rev"), str) else None, values

    def _read_secrets(self, name: str, rev: str | None) -> dict[str, str]:
        """The secrets committed with revision ``rev`` of the public file (none if ``rev`` is None).

        The committed secrets are in ``<name>.json``, or still in ``<name>.json.pending`` when a
        writer died between committing the public file and renaming the pending secrets.
        """
        if rev is None:
            return {}
        for path in (self._secrets_path(name), self._pending_path(name)):
            found_rev, values = self._read_secret_file(path)
            if found_rev == rev:
                return values
        return {}

    def _builtin(self, name: str) -> dict[str, Any] | None:
        for entry in self._spec.builtins:
            if entry["name"] == name:
                return copy.deepcopy(entry)
        return None

    def _elyra_entries(self) -> list[ElyraEntry]:
        root = self.elyra_data_dir
        return read_elyra(self.kind, root) if root is not None else []

    def _elyra(self, name: str) -> ElyraEntry | None:
        for entry in self._elyra_entries():
            if entry.name == name:
                return entry
        return None

    # ------------------------------------------------------------------ assembling output

    def _assemble(
        self, public: dict[str, Any], secrets: dict[str, str], reveal: bool, source: str
    ) -> dict[str, Any]:
        """Public part + secrets -> entry with defaults, masked unless ``reveal``."""
        doc = drop_nulls(copy.deepcopy(public))
        for key in META_KEYS:
            doc.pop(key, None)
        for path in secret_paths(self.schema_name):
            _, embedded = pop_path(doc, path)  # a hand-edited file may hold one: treat as stored
            value = secrets.get(".".join(path), embedded)
            if isinstance(value, str) and value:
                set_path(doc, path, value if reveal else MASK)
        apply_defaults(self.schema_name, doc)
        doc["source"] = source
        doc["read_only"] = source != "user"
        return _ordered(doc, self.schema_name)

    def _split(self, full: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        public = copy.deepcopy(full)
        secrets: dict[str, str] = {}
        for path in secret_paths(self.schema_name):
            found, value = pop_path(public, path)
            if found and value is not None:
                secrets[".".join(path)] = value
        return public, secrets

    # ------------------------------------------------------------------ public reads

    def list(self) -> builtins.list[dict[str, Any]]:
        """All visible entries, masked, sorted by name. A user entry hides a built-in or Elyra
        entry of the same name; a built-in one hides an Elyra one."""
        entries: dict[str, dict[str, Any]] = {}
        with self._read_lock():
            for name in self._user_names():
                try:
                    stored = self._read_public(name)
                    if stored is None:
                        continue
                    public, rev = stored
                    entries[name] = self._assemble(
                        public, self._read_secrets(name, rev), False, "user"
                    )
                except CatalogError as exc:
                    entries[name] = _broken(name, exc.message, "user")
        for builtin in self._spec.builtins:
            if builtin["name"] not in entries:
                entries[builtin["name"]] = self._assemble(builtin, {}, False, "builtin")
        for elyra in self._elyra_entries():
            if elyra.name in entries:
                continue
            if elyra.entry is None:
                entries[elyra.name] = _broken(elyra.name, elyra.error or "unreadable", "elyra")
            else:
                entries[elyra.name] = self._assemble(elyra.entry, {}, False, "elyra")
        return [entries[name] for name in sorted(entries)]

    def _lookup(self, name: str, reveal: bool) -> dict[str, Any]:
        check_name(name)
        with self._read_lock():
            stored = self._read_public(name)
            if stored is not None:
                public, rev = stored
                return self._assemble(public, self._read_secrets(name, rev), reveal, "user")
        builtin = self._builtin(name)
        if builtin is not None:
            return self._assemble(builtin, {}, reveal, "builtin")
        elyra = self._elyra(name)
        if elyra is not None:
            if elyra.entry is None:
                raise CatalogError(elyra.error or f"Elyra entry {name!r} is unreadable", status=500)
            return self._assemble(elyra.entry, {}, reveal, "elyra")
        raise NotFound(f"no {self._spec.noun} named {name!r}", field="name")

    def get(self, name: str) -> dict[str, Any]:
        """One entry, secrets masked; ``NotFound`` if no user, built-in or Elyra entry has it."""
        return self._lookup(name, reveal=False)

    def get_with_secrets(self, name: str) -> dict[str, Any]:
        """One entry with secret values in clear. For the publisher only: never send it to a
        client, never log it."""
        return self._lookup(name, reveal=True)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------------ validation

    def _prepare(
        self, data: Any, name: str, stored: dict[str, str] | None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Merge secrets (MASK/absent keep ``stored``, null clears), fill defaults, validate,
        split into (public part, secrets)."""
        if not isinstance(data, dict):
            raise CatalogError(f"a {self._spec.noun} must be a JSON object")
        stored = stored or {}
        doc = drop_nulls(copy.deepcopy(data))
        for key in META_KEYS:
            doc.pop(key, None)
        doc["name"] = name
        for path in secret_paths(self.schema_name):
            key = ".".join(path)
            present, value = get_path(data, path)
            if not present:
                if key in stored:
                    set_path(doc, path, stored[key])  # only if its object is still there
            elif value == MASK:
                if key not in stored:
                    raise CatalogError(
                        f"{key}: no stored value to keep; enter the secret itself", field=key
                    )
                set_path(doc, path, stored[key])
        apply_defaults(self.schema_name, doc)
        validate(self.schema_name, doc)
        return self._split(doc)

    def validate(self, data: Any) -> dict[str, Any]:
        """Check ``data`` as a new entry without saving; return it normalised (defaults, masked)."""
        if not isinstance(data, dict):
            raise CatalogError(f"a {self._spec.noun} must be a JSON object")
        name = data.get("name") or self._derive_name(data, taken=())
        check_name(name)
        public, secrets = self._prepare(data, name, None)
        return self._assemble(public, secrets, False, "user")

    def _derive_name(self, data: dict[str, Any], taken: Iterable[str]) -> str:
        label = data.get("display_name") or data.get("image") or self._spec.noun
        base = slugify(str(label), fallback=self.kind[:-1])
        return unique_name(base, set(taken))

    # ------------------------------------------------------------------ writes

    def _settle(self, name: str) -> None:
        """Finish or undo what a writer that died left for ``name`` (call with the write lock held):
        a pending secrets file becomes the secrets file if the public file committed its revision,
        else it is dropped; temp files are removed."""
        _fs.sweep_temp_files(self.catalog_dir)
        _fs.sweep_temp_files(self.secrets_dir)
        self._drop_orphan_secrets(keep=name)
        pending = self._pending_path(name)
        if not pending.exists():
            return
        try:
            stored = self._read_public(name)
        except CatalogError:
            stored = None
        pending_rev, _ = self._read_secret_file(pending)
        if stored is not None and stored[1] is not None and stored[1] == pending_rev:
            _fs.replace_file(pending, self._secrets_path(name))
        else:
            _fs.remove_file(pending)

    def _drop_orphan_secrets(self, keep: str) -> None:
        """Remove secrets whose entry is gone (a delete that died halfway). Write lock held."""
        try:
            files = [e.name for e in os.scandir(self.secrets_dir) if e.is_file()]
        except FileNotFoundError:
            return
        for filename in files:
            stem = _secrets_file_owner(filename)
            if stem and stem != keep and not self._entry_path(stem).exists():
                _fs.remove_file(self.secrets_dir / filename)

    def _write(self, name: str, public: dict[str, Any], secrets: dict[str, str]) -> None:
        """Write both halves; call with the write lock held.

        The public file is the commit point: it names the revision of the secrets that belong to
        it. Secrets go to ``<name>.json.pending`` first, then the public file is replaced, then the
        pending file is renamed over ``<name>.json``. A crash at any step leaves either the old or
        the new entry, secrets included (``_read_secrets``/``_settle`` handle the last window).
        """
        self._settle(name)
        public = {k: v for k, v in public.items() if k != REV_KEY}
        if secrets:
            _fs.ensure_private_dir(self.secrets_dir, self.data_dir)
            rev = token_hex(8)
            _fs.atomic_write_json(
                self._pending_path(name), {"rev": rev, "values": secrets}, _fs.PRIVATE_FILE_MODE
            )
            _fs.atomic_write_json(
                self._entry_path(name), {**public, REV_KEY: rev}, _fs.PUBLIC_FILE_MODE
            )
            _fs.replace_file(self._pending_path(name), self._secrets_path(name))
        else:
            _fs.atomic_write_json(self._entry_path(name), public, _fs.PUBLIC_FILE_MODE)
            _fs.remove_file(self._secrets_path(name))

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a user entry, named ``data["name"]`` or after its display name if that is empty.
        ``Conflict`` if a user entry has the name (a built-in or Elyra one is shadowed instead)."""
        if not isinstance(data, dict):
            raise CatalogError(f"a {self._spec.noun} must be a JSON object")
        explicit = data.get("name")
        if explicit is not None:
            check_name(explicit)
        with self._write_lock():
            if explicit is None or explicit == "":
                taken = set(self._user_names()) | {b["name"] for b in self._spec.builtins}
                taken |= {e.name for e in self._elyra_entries()}
                name = self._derive_name(data, taken)
            else:
                name = explicit
                if self._entry_path(name).exists():
                    raise Conflict(
                        f"name: a {self._spec.noun} named {name!r} already exists", field="name"
                    )
            public, secrets = self._prepare(data, name, None)
            self._write(name, public, secrets)
            return self._assemble(public, secrets, False, "user")

    def update(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Replace a user entry. Secrets: MASK or absent keeps the stored value (while its object
        exists), ``null`` clears it, anything else replaces it. Built-in and Elyra entries are
        ``ReadOnly`` (create an entry of the same name to override, or ``import_elyra``)."""
        check_name(name)
        if not isinstance(data, dict):
            raise CatalogError(f"a {self._spec.noun} must be a JSON object")
        if data.get("name") not in (None, "", name):
            raise CatalogError(
                "name: renaming is not supported; create a new entry and delete this one",
                field="name",
            )
        with self._write_lock():
            if not self._entry_path(name).exists():
                self._raise_missing(name, "edited")
            self._settle(name)
            try:
                current = self._read_public(name)
            except CatalogError:
                current = None  # unreadable public file: the update replaces it
            try:
                stored = self._read_secrets(name, current[1] if current else None)
            except CatalogError:
                stored = {}  # unreadable secrets: the update must re-enter them
            if current is not None:  # secrets embedded by hand in the public file count as stored
                for path in secret_paths(self.schema_name):
                    found, value = get_path(current[0], path)
                    if found and isinstance(value, str) and value:
                        stored.setdefault(".".join(path), value)
            public, secrets = self._prepare(data, name, stored)
            self._write(name, public, secrets)
            return self._assemble(public, secrets, False, "user")

    def delete(self, name: str) -> None:
        """Remove a user entry and its secrets (a shadowed built-in or Elyra entry reappears)."""
        check_name(name)
        with self._write_lock():
            if not self._entry_path(name).exists():
                self._raise_missing(name, "deleted")
            _fs.remove_file(self._entry_path(name))  # commit point
            _fs.remove_file(self._secrets_path(name))
            _fs.remove_file(self._pending_path(name))

    def _raise_missing(self, name: str, verb: str) -> None:
        if self._builtin(name) is not None:
            raise ReadOnly(
                f"the built-in {self._spec.noun} {name!r} cannot be {verb}; create an entry named "
                f"{name!r} to override it",
                field="name",
            )
        if self._elyra(name) is not None:
            raise ReadOnly(
                f"the Elyra {self._spec.noun} {name!r} cannot be {verb} here; import it first",
                field="name",
            )
        raise NotFound(f"no {self._spec.noun} named {name!r}", field="name")

    def import_elyra(
        self, names: Iterable[str] | None = None, overwrite: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Copy Elyra entries into our catalog (their secrets into the secrets store).

        ``names=None`` imports every Elyra entry whose name is not taken by a user entry (taken ones
        are skipped unless ``overwrite``). Named entries must exist (``NotFound``) and, unless
        ``overwrite``, must not be taken (``Conflict``). All selected entries are validated before
        anything is written; returns the imported entries, masked.
        """
        available = {e.name: e for e in self._elyra_entries()}
        if names is None:
            selected = list(available.values())
            explicit = False
        else:
            selected = []
            for name in names:
                check_name(name)
                if name not in available:
                    raise NotFound(f"no Elyra {self._spec.noun} named {name!r}", field="name")
                selected.append(available[name])
            explicit = True
        prepared: builtins.list[tuple[str, dict[str, Any], dict[str, str]]] = []
        for entry in selected:
            if entry.entry is None:
                if explicit:
                    raise CatalogError(entry.error or f"Elyra entry {entry.name!r} is unreadable")
                continue
            try:
                public, secrets = self._prepare(entry.entry, entry.name, None)
            except CatalogError as exc:
                raise CatalogError(
                    f"Elyra {self._spec.noun} {entry.name!r}: {exc.message}",
                    field=exc.field,
                    errors=exc.errors,
                ) from None
            prepared.append((entry.name, public, secrets))
        imported: builtins.list[dict[str, Any]] = []
        with self._write_lock():
            existing = set(self._user_names())
            if explicit and not overwrite:
                clash = [name for name, _, _ in prepared if name in existing]
                if clash:
                    raise Conflict(
                        f"name: a {self._spec.noun} named {clash[0]!r} already exists; "
                        "import with overwrite to replace it",
                        field="name",
                    )
            for name, public, secrets in prepared:
                if name in existing and not overwrite:
                    continue
                self._write(name, public, secrets)
                imported.append(self._assemble(public, secrets, False, "user"))
        return imported


class RuntimeImages(Catalog):
    """The runtime image catalog."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        elyra_data_dir: str | os.PathLike[str] | None = None,
        include_elyra: bool = True,
    ) -> None:
        super().__init__("runtime-images", data_dir, elyra_data_dir, include_elyra)


class RuntimeConfigs(Catalog):
    """The runtime configuration catalog: built-in ``local``, user and Elyra Airflow runtimes."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        elyra_data_dir: str | os.PathLike[str] | None = None,
        include_elyra: bool = True,
    ) -> None:
        super().__init__("runtime-configs", data_dir, elyra_data_dir, include_elyra)

    def local_paths(self, name: str = "local") -> LocalPaths:
        """Absolute paths of the local runtime configuration ``name``."""
        return resolve_local_paths(self.get(name), self.data_dir)


class ComponentCatalogs(Catalog):
    """The component catalogs (where operators and KFP components come from); see
    ``mlpipe_lab.components`` for reading them."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        elyra_data_dir: str | os.PathLike[str] | None = None,
        include_elyra: bool = True,
    ) -> None:
        super().__init__("component-catalogs", data_dir, elyra_data_dir, include_elyra)


def open_catalog(kind: str, **kwargs: Any) -> Catalog:
    """``RuntimeImages``, ``RuntimeConfigs`` or ``ComponentCatalogs`` for ``kind``."""
    if kind == "runtime-images":
        return RuntimeImages(**kwargs)
    if kind == "runtime-configs":
        return RuntimeConfigs(**kwargs)
    if kind == "component-catalogs":
        return ComponentCatalogs(**kwargs)
    raise ValueError(f"unknown catalog kind {kind!r}; expected one of {', '.join(KINDS)}")


def _ordered(doc: dict[str, Any], schema_name: str) -> dict[str, Any]:
    """Top-level keys in the schema's property order (name first), unknown ones last."""
    order = {key: i for i, key in enumerate(schema(schema_name).get("properties") or {})}
    return dict(sorted(doc.items(), key=lambda item: order.get(item[0], len(order))))


def _secrets_file_owner(filename: str) -> str | None:
    """Entry name of ``<name>.json`` or ``<name>.json.pending`` (names may contain ".json")."""
    for suffix in (".json" + PENDING_SUFFIX, ".json"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            return stem if is_valid_name(stem) else None
    return None


def _broken(name: str, message: str, source: str) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": name,
        "source": source,
        "read_only": source != "user",
        "error": message,
    }
