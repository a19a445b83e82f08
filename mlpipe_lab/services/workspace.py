"""The folder a server (or a CLI command) works in: paths given to services are relative to its root
and may not leave it (the Jupyter server's root; the CLI's pipeline folder)."""

from __future__ import annotations

import os
from pathlib import Path

from ..confine import DEFAULT_PIPELINE_LIMIT, check_path_text, read_regular
from ..errors import MLPipeError


class Workspace:
    def __init__(
        self,
        root: str | os.PathLike,
        *,
        confine_outputs: bool = True,
        max_pipeline_bytes: int = DEFAULT_PIPELINE_LIMIT,
    ):
        self.root = Path(root).resolve()
        # The server keeps what it writes inside its root; the CLI writes where its user says.
        self.confine_outputs = confine_outputs
        self.max_pipeline_bytes = max_pipeline_bytes

    def resolve(self, path: str) -> Path:
        """A pipeline path inside the root; refuses anything else with a plain message."""
        if not isinstance(path, str) or not path.strip():
            raise MLPipeError("Give the path of a .pipeline file.", 400, field="path")
        check_path_text(path, "path", "The pipeline path")
        candidate = (self.root / path).resolve()
        try:
            candidate.relative_to(self.root)
        except ValueError:
            raise MLPipeError(
                f"'{path}' is outside the server's root folder.", 403, field="path"
            ) from None
        if not path.endswith(".pipeline"):
            raise MLPipeError(f"'{path}' is not a .pipeline file.", 400, field="path")
        return candidate

    def existing(self, path: str) -> Path:
        file = self.resolve(path)
        if not file.exists():
            raise MLPipeError(f"Pipeline '{path}' does not exist.", 404, field="path")
        if not file.is_file():  # a FIFO or a device would block whoever reads it
            raise MLPipeError(f"Pipeline '{path}' is not a regular file.", 400, field="path")
        return file

    def output(self, output: str, *, field: str = "output", suffix: str = ".py") -> Path:
        """A file to write, relative to the root (confined to it for the server)."""
        if not isinstance(output, str):
            raise MLPipeError("The DAG file must be a path (text).", 400, field=field)
        check_path_text(output, field, "The DAG file's path")
        target = (self.root / output).resolve()
        try:
            target.relative_to(self.root)
        except ValueError:
            if self.confine_outputs:
                raise MLPipeError(
                    f"'{output}' is outside the server's root folder.", 403, field=field
                ) from None
        if target.suffix != suffix:
            raise MLPipeError(f"The DAG file must end in {suffix}.", 400, field=field)
        return target

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def display_path(self, path: Path | str) -> str:
        """Relative to the root when inside it (never an absolute path in API answers)."""
        try:
            return self.relative(Path(path).resolve())
        except ValueError:
            return str(path)

    def display(self, path: str) -> str | None:
        """A path relative to the root, or None when it lies outside (never absolute)."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return None

    def read(self, path: str, content: str | None = None) -> tuple[Path, str]:
        """The pipeline file and its text (``content``: the editor's unsaved text of it)."""
        file = self.resolve(path)
        if content is not None:
            return file, content
        try:
            data = read_regular(
                file,
                limit=self.max_pipeline_bytes,
                inside=(self.root,) if self.confine_outputs else (),
                what=f"Pipeline '{path}'",
            )
            return file, data.decode("utf-8")
        except FileNotFoundError:
            raise MLPipeError(f"Pipeline '{path}' does not exist.", 404, field="path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MLPipeError(
                f"Pipeline '{path}' cannot be read: {exc}.", 400, field="path"
            ) from None
