"""Commit one DAG file to the git repository Airflow syncs, through a cached working clone.

Git runs as a subprocess (no GitPython). One working clone per (url, branch) lives under a cache
directory and is fetched and hard-reset before every change, so it never carries state from one
publish to the next. A change is one commit touching ``<subfolder>/<dag_id>.py`` (plus
``<subfolder>/.airflowignore`` when it is missing); a push rejected because someone else pushed first
is retried after ``fetch`` + ``rebase`` a bounded number of times, and a rebase conflict fails cleanly.

Credentials never reach the command line, the remote URL, ``.git/config`` or a log: HTTPS secrets are
handed to git through a ``GIT_ASKPASS`` helper script that reads them from an environment variable, SSH
keys through ``GIT_SSH_COMMAND`` pointing at a private temporary key file. Any git output passed on in
an error is scrubbed of the secrets first.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from .errors import PublishError
from .identity import Owner, parse_publish_message
from .redact import redact_url, scrub

try:  # POSIX advisory locks; elsewhere only threads of this process are serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("mlpipe_lab.publish")

DEFAULT_AUTHOR = "mlpipe-lab <mlpipe-lab@localhost>"
AIRFLOWIGNORE = ".airflowignore"
AIRFLOWIGNORE_TEXT = (
    "# Managed by mlpipe-lab: folders holding worker-side files of a pipeline are listed here,\n"
    "# one per line (e.g. my_pipeline/), so that Airflow does not parse them for DAGs.\n"
)
DEFAULT_TOKEN_USERNAME = "x-access-token"

DAG_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$")
_SCP_LIKE_RE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")

# Environment variables that would point git at another repository, or inject configuration.
_GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_TRACE",
    "GIT_TRACE_CURL",
    "GIT_TRACE_PACKET",
    "GIT_CURL_VERBOSE",
)

# Options given on every git command line (they outrank global and system configuration): no
# credential helper may store the secret, no user hook or signing prompt may run, no line-ending
# conversion may change the DAG text.
_GIT_CONFIG_OVERRIDES = (
    "credential.helper=",
    "core.hooksPath=/dev/null",
    "commit.gpgSign=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.fsmonitor=false",
    "gc.autoDetach=false",
    "advice.detachedHead=false",
    "rebase.autoStash=false",
    "rebase.updateRefs=false",
)
_GIT_OPTIONS = tuple(arg for setting in _GIT_CONFIG_OVERRIDES for arg in ("-c", setting))

_ASKPASS_SCRIPT = """#!/bin/sh
# mlpipe-lab git credential prompt: answers from the environment, holds no secret itself.
case "$1" in
  [Uu]sername*) printf '%s\\n' "$MLPIPE_GIT_USERNAME" ;;
  *) printf '%s\\n' "$MLPIPE_GIT_PASSWORD" ;;
esac
"""

# Push rejections that mean "the branch moved under us": fetch, rebase and try again.
_RETRYABLE_PUSH = (
    "fetch first",
    "non-fast-forward",
    "cannot lock ref",
    "incorrect old value",
    "stale info",
    "failed to lock",
)


# --------------------------------------------------------------------------------------------------
# Authentication


@dataclass(frozen=True)
class GitAuth:
    """How to authenticate to the DAG repository (``dag_repo.auth`` of a runtime configuration).

    ``type`` is ``none``, ``token`` (HTTPS, ``username`` optional), ``basic`` (HTTPS username and
    password/token in ``token``) or ``ssh`` (``ssh_private_key``, an OpenSSH or PEM private key).
    """

    type: str = "none"
    username: str | None = None
    token: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, auth: Mapping[str, Any] | None) -> GitAuth:
        auth = auth or {}
        kind = str(auth.get("type") or "none")
        if kind not in ("none", "token", "basic", "ssh"):
            raise PublishError("config", f"unknown git authentication type {kind!r}")
        result = cls(
            type=kind,
            username=auth.get("username") or None,
            token=auth.get("token") or None,
            ssh_private_key=auth.get("ssh_private_key") or None,
        )
        if kind in ("token", "basic") and not result.token:
            raise PublishError("config", f"git authentication {kind!r} needs a token")
        if kind == "basic" and not result.username:
            raise PublishError("config", "git basic authentication needs a username")
        if kind == "ssh" and not result.ssh_private_key:
            raise PublishError("config", "git SSH authentication needs a private key")
        return result

    @property
    def secrets(self) -> list[str]:
        values = [self.token, self.ssh_private_key]
        return [v for v in values if v]


def url_transport(url: str) -> str:
    """``http``, ``ssh`` or ``local`` for a repository URL (https://, ssh://, git@host:path,
    file://, or an absolute path)."""
    lowered = url.lower()
    if lowered.startswith(("https://", "http://")):
        return "http"
    if lowered.startswith("ssh://") or _SCP_LIKE_RE.match(url):
        return "ssh"
    if lowered.startswith("file://") or os.path.isabs(url):
        return "local"
    raise PublishError(
        "config",
        "the DAG repository URL must be https://, ssh://, user@host:path, file:// or an absolute path",
    )


def ssh_command(
    key_path: os.PathLike[str] | str, known_hosts: os.PathLike[str] | str, connect_timeout: int = 20
) -> str:
    """The ``GIT_SSH_COMMAND`` using only ``key_path``, trusting a new host key on first use and
    remembering it in ``known_hosts``, never prompting."""
    known = str(known_hosts)
    known_opt = f'UserKnownHostsFile="{known}"' if " " in known else f"UserKnownHostsFile={known}"
    parts = [
        "ssh",
        "-i", str(key_path),
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", known_opt,
        "-o", "BatchMode=yes",
        "-o", f"ConnectTimeout={int(connect_timeout)}",
        "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=4",
    ]  # fmt: skip
    return " ".join(shlex.quote(p) for p in parts)


def _write_private(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # in case the umask dropped bits we want, or kept ones we don't
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


@contextlib.contextmanager
def auth_environment(
    auth: GitAuth,
    url: str,
    known_hosts: os.PathLike[str] | str,
    *,
    tmp_dir: str | None = None,
    connect_timeout: int = 20,
) -> Iterator[dict[str, str]]:
    """Environment variables that let git authenticate to ``url`` with ``auth``.

    Token/basic: ``GIT_ASKPASS`` points at a helper script (mode 0700, in a private temporary
    directory) that prints ``MLPIPE_GIT_USERNAME`` / ``MLPIPE_GIT_PASSWORD`` from its environment.
    SSH: the key is written to a 0600 file in a private temporary directory and ``GIT_SSH_COMMAND``
    uses it alone. The temporary directory is removed on exit.
    """
    transport = url_transport(url)
    if auth.type in ("token", "basic") and transport != "http":
        raise PublishError(
            "config", f"git authentication {auth.type!r} needs an https:// repository URL"
        )
    if auth.type == "ssh" and transport != "ssh":
        raise PublishError("config", "git SSH authentication needs an ssh:// or user@host:path URL")
    env: dict[str, str] = {}
    private_dir: str | None = None
    try:
        if auth.type in ("token", "basic"):
            private_dir = tempfile.mkdtemp(prefix="mlpipe-git-", dir=tmp_dir)
            script = Path(private_dir) / "askpass.sh"
            _write_private(script, _ASKPASS_SCRIPT, 0o700)
            env["GIT_ASKPASS"] = str(script)
            env["MLPIPE_GIT_USERNAME"] = auth.username or DEFAULT_TOKEN_USERNAME
            env["MLPIPE_GIT_PASSWORD"] = auth.token or ""
        elif auth.type == "ssh":
            private_dir = tempfile.mkdtemp(prefix="mlpipe-git-", dir=tmp_dir)
            key = Path(private_dir) / "id_key"
            key_text = (auth.ssh_private_key or "").replace("\r\n", "\n").strip() + "\n"
            _write_private(key, key_text, 0o600)
            env["GIT_SSH_COMMAND"] = ssh_command(key, known_hosts, connect_timeout)
            env["GIT_SSH_VARIANT"] = "ssh"
        yield env
    finally:
        if private_dir:
            shutil.rmtree(private_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Running git


@dataclass
class _Run:
    rc: int
    out: str
    err: str


def _base_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _GIT_ENV_DROP and not k.startswith("GIT_CONFIG_")
    }
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GCM_INTERACTIVE": "never",
            "LC_ALL": "C",
            "LANGUAGE": "C",
            # abort transfers that stall below 1 KB/s for 60 s
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
            "GIT_HTTP_LOW_SPEED_TIME": "60",
        }
    )
    env.update(extra)
    return env


def run_git(
    args: Sequence[str],
    *,
    cwd: os.PathLike[str] | str | None,
    env: Mapping[str, str],
    timeout: float,
    secrets: Sequence[str] = (),
    input_text: str | None = None,
    step: str = "git",
) -> _Run:
    """Run ``git <args>`` with the fixed options, in its own process group, killed after ``timeout``
    seconds. Never raises for a non-zero exit; raises :class:`PublishError` on timeout or when git
    cannot be started."""
    argv = ["git", *_GIT_OPTIONS, *args]
    log.debug("git %s (in %s)", scrub(" ".join(args), secrets), cwd)
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise PublishError(step, f"cannot run git: {exc.strerror or exc}") from None
    try:
        out, err = proc.communicate(
            input=input_text.encode("utf-8") if input_text is not None else None, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise PublishError(step, f"git {args[0]} timed out after {timeout:g} s") from None
    result = _Run(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    if result.rc and result.err:
        log.debug(
            "git %s exited %d: %s", args[0], result.rc, scrub(result.err.strip(), secrets)[-2000:]
        )
    return result


def _tail(text: str, secrets: Sequence[str], lines: int = 6) -> str:
    """The last meaningful lines of git output, scrubbed, for an error message."""
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith(("hint:", "To ", "Done"))
    ]
    return scrub(" | ".join(kept[-lines:]), secrets) or "no output"


# --------------------------------------------------------------------------------------------------
# The repository


@dataclass
class GitOutcome:
    """What a change did: the branch tip afterwards (``None`` for a still-empty repository), whether
    a commit was pushed, and how many times the push had to be retried."""

    sha: str | None
    changed: bool
    branch: str
    path: str
    retries: int = 0
    previous: str | None = None


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(path, threading.Lock())


@contextlib.contextmanager
def _exclusive(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (threads and processes), waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    if fcntl is None:  # pragma: no cover - Windows
        lock = _thread_lock(str(lock_path))
        if not lock.acquire(timeout=timeout):
            raise PublishError(
                "git-lock", "another publish to this repository is still running; try again"
            )
        try:
            yield
        finally:
            lock.release()
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PublishError(
                        "git-lock", "another publish to this repository is still running; try again"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def cache_key(url: str, branch: str) -> str:
    return hashlib.sha256(f"{url}\n{branch}".encode()).hexdigest()[:24]


def init_bare_repo(
    path: os.PathLike[str] | str, branch: str = "main", *, timeout: float = 30.0
) -> Path:
    """Create a bare repository at ``path`` (``git init --bare -b <branch>``) unless one is there."""
    path = Path(path)
    env = _base_env({})
    if path.exists():
        probe = run_git(
            ["rev-parse", "--is-bare-repository"], cwd=path, env=env, timeout=timeout, step="config"
        )
        if probe.rc != 0 or probe.out.strip() != "true":
            raise PublishError("config", f"{path} exists but is not a bare git repository")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    made = run_git(
        ["init", "-q", "--bare", "-b", branch, str(path)],
        cwd=None,
        env=env,
        timeout=timeout,
        step="config",
    )
    if made.rc != 0:
        raise PublishError("config", f"cannot create the DAG repository: {_tail(made.err, ())}")
    return path


class GitDagRepo:
    """The DAG repository at ``url``/``branch``, with DAG files under ``subfolder``.

    ``cache_dir`` is the root of the git cache (e.g. ``<data_dir>/git-cache``): the working clone
    lives in ``<cache_dir>/<key>/repo`` with ``key`` derived from (url, branch), next to its lock
    file; SSH host keys are remembered in ``<cache_dir>/known_hosts``.

    ``before_push`` is called (with the clone path) right before every push attempt; it exists to
    make races reproducible in tests.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_dir: os.PathLike[str] | str,
        branch: str = "main",
        subfolder: str = "dags",
        auth: GitAuth | None = None,
        author: str = DEFAULT_AUTHOR,
        timeout: float = 120.0,
        local_timeout: float = 60.0,
        max_attempts: int = 5,
        lock_timeout: float = 300.0,
        extra_secrets: Sequence[str] = (),
        tmp_dir: str | None = None,
        before_push: Callable[[Path], None] | None = None,
    ) -> None:
        self.url = url.strip()
        self.transport = url_transport(self.url)
        if self.transport == "http" and "@" in self.url.split("/", 3)[2]:
            raise PublishError(
                "config",
                "the DAG repository URL must not contain credentials; use the authentication settings",
            )
        self.branch = branch or "main"
        self.subfolder = _clean_subfolder(subfolder)
        self.auth = auth or GitAuth()
        self.author_name, self.author_email = _parse_author(author)
        self.timeout = float(timeout)
        self.local_timeout = float(local_timeout)
        self.max_attempts = max(1, int(max_attempts))
        self.lock_timeout = float(lock_timeout)
        self.secrets = [*self.auth.secrets, *[s for s in extra_secrets if s]]
        self.tmp_dir = tmp_dir
        self.before_push = before_push
        self.cache_root = Path(cache_dir)
        self.entry_dir = self.cache_root / cache_key(self.url, self.branch)
        self.clone_dir = self.entry_dir / "repo"
        self.known_hosts = self.cache_root / "known_hosts"
        _check_branch(self.branch)

    # -- public helpers -------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    def path_for(self, dag_id: str) -> str:
        """Path of the DAG file of ``dag_id`` inside the repository."""
        check_dag_id(dag_id)
        return f"{self.subfolder}/{dag_id}.py" if self.subfolder else f"{dag_id}.py"

    @property
    def ignore_path(self) -> str:
        return f"{self.subfolder}/{AIRFLOWIGNORE}" if self.subfolder else AIRFLOWIGNORE

    @contextlib.contextmanager
    def session(self) -> Iterator[GitSession]:
        """Lock the cached clone, fetch the branch and reset the clone to it; yield a session that
        can make one change. Whatever happens, the clone is left clean (or deleted if unusable)."""
        self.entry_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_exclusive(self.entry_dir / "lock", self.lock_timeout))
            auth_env = stack.enter_context(
                auth_environment(self.auth, self.url, self.known_hosts, tmp_dir=self.tmp_dir)
            )
            env = _base_env({**auth_env, **self._identity_env()})
            # never let git discover a repository above the cache entry (e.g. a half-deleted clone)
            env["GIT_CEILING_DIRECTORIES"] = str(self.entry_dir.resolve())
            session = GitSession(self, env)
            try:
                session._open()
                yield session
            except BaseException:
                session._restore()
                raise

    def write_file(self, dag_id: str, text: str, message: str) -> GitOutcome:
        """Commit ``text`` as the DAG file of ``dag_id`` and push (one session)."""
        with self.session() as session:
            return session.write(dag_id, text, message)

    def delete_file(self, dag_id: str, message: str) -> GitOutcome:
        """Commit the removal of the DAG file of ``dag_id`` and push (one session)."""
        with self.session() as session:
            return session.delete(dag_id, message)

    # -- internals ----------------------------------------------------------------------------------

    def _identity_env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.author_name,
            "GIT_AUTHOR_EMAIL": self.author_email,
            "GIT_COMMITTER_NAME": self.author_name,
            "GIT_COMMITTER_EMAIL": self.author_email,
        }


class GitSession:
    """One locked, freshly fetched use of the cached clone; makes at most one change."""

    def __init__(self, repo: GitDagRepo, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env
        self.remote_head: str | None = None
        self._used = False

    # -- the change ---------------------------------------------------------------------------------

    def write(
        self, dag_id: str, text: str, message: str, files: Mapping[str, bytes] | None = None
    ) -> GitOutcome:
        """Commit the DAG file and ``files`` (paths relative to the DAG's folder, e.g. the runner
        zipapp of local-worker DAGs, shared by the DAGs of the folder); the top folder of each is
        listed in ``.airflowignore`` (a line added; the user's lines are kept)."""
        path = self.repo.path_for(dag_id)
        extra = {_extra_path(rel): data for rel, data in (files or {}).items()}
        folder = self.repo.subfolder

        def mutate(root: Path) -> list[str]:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            touched = [path]
            for rel, data in extra.items():
                repo_path = f"{folder}/{rel}" if folder else rel
                (root / repo_path).parent.mkdir(parents=True, exist_ok=True)
                (root / repo_path).write_bytes(data)
                touched.append(repo_path)
            target.write_bytes(text.encode("utf-8"))
            ignore = root / self.repo.ignore_path
            lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
            new = [] if ignore.exists() else AIRFLOWIGNORE_TEXT.splitlines()
            for top in sorted({rel.split("/")[0] + "/" for rel in extra if "/" in rel}):
                if top not in lines and top not in new:
                    new.append(top)
            if new:
                with open(ignore, "a", encoding="utf-8") as fh:
                    if lines and not ignore.read_text(encoding="utf-8").endswith("\n"):
                        fh.write("\n")
                    fh.write("".join(line + "\n" for line in new))
                touched.append(self.repo.ignore_path)
            return touched

        return self._change(path, mutate, message)

    def delete(self, dag_id: str, message: str) -> GitOutcome:
        path = self.repo.path_for(dag_id)

        def mutate(root: Path) -> list[str]:
            target = root / path
            if target.exists() or target.is_symlink():
                target.unlink()
            return [path]

        return self._change(path, mutate, message)

    def owner(self, dag_id: str) -> Owner | None:
        """Who published the DAG file of ``dag_id`` now on the branch; None when there is none.
        Read from the last commit that published it (``pipelines: publish <dag_id> (...)``); a
        file no publish commit made is reported with ``source`` None."""
        path = self.repo.path_for(dag_id)
        target = self.repo.clone_dir / path
        if not (target.exists() or target.is_symlink()):
            return None
        log = self._must("log", "-n", "200", "--format=%H%x1f%B%x1e", "--", path, step="git-fetch")
        last = ""
        last_subject = ""
        for record in log.split("\x1e"):
            sha, _, message = record.strip("\n").partition("\x1f")
            if not sha:
                continue
            if not last:
                last, last_subject = sha, message.split("\n", 1)[0]
            published, source, pipeline_id = parse_publish_message(message)
            if published == dag_id and source:
                return Owner(
                    source=source, id=pipeline_id, commit=sha, subject=message.split("\n", 1)[0]
                )
        return Owner(source=None, id=None, commit=last, subject=last_subject)

    # -- steps --------------------------------------------------------------------------------------

    def _git(
        self, *args: str, step: str = "git", network: bool = False, input_text: str | None = None
    ) -> _Run:
        timeout = self.repo.timeout if network else self.repo.local_timeout
        return run_git(
            args,
            cwd=self.repo.clone_dir,
            env=self.env,
            timeout=timeout,
            secrets=self.repo.secrets,
            input_text=input_text,
            step=step,
        )

    def _must(
        self, *args: str, step: str = "git", network: bool = False, input_text: str | None = None
    ) -> str:
        run = self._git(*args, step=step, network=network, input_text=input_text)
        if run.rc != 0:
            raise PublishError(
                step, f"git {args[0]} failed: {_tail(run.err or run.out, self.repo.secrets)}"
            )
        return run.out

    def _open(self) -> None:
        self._ensure_clone()
        self._fetch()
        self._reset()

    def _ensure_clone(self) -> None:
        clone = self.repo.clone_dir
        if clone.exists():
            probe = self._git("rev-parse", "--is-inside-work-tree", "--git-dir")
            url = self._git("config", "--get", "remote.origin.url")
            if (
                probe.rc == 0
                and probe.out.split() == ["true", ".git"]
                and url.rc == 0
                and url.out.strip() == self.repo.url
            ):
                return
            log.warning("git cache clone for %s is unusable; recreating it", self.repo.display_url)
            shutil.rmtree(clone, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix="repo-new-", dir=self.repo.entry_dir))
        try:
            init = run_git(
                ["init", "-q", "-b", self.repo.branch, str(staging)],
                cwd=None,
                env=self.env,
                timeout=self.repo.local_timeout,
                step="git-fetch",
            )
            if init.rc != 0:
                raise PublishError(
                    "git-fetch", f"cannot create the cache clone: {_tail(init.err, ())}"
                )
            remote = run_git(
                ["remote", "add", "origin", self.repo.url],
                cwd=staging,
                env=self.env,
                timeout=self.repo.local_timeout,
                step="git-fetch",
            )
            if remote.rc != 0:
                raise PublishError(
                    "git-fetch", f"cannot configure the cache clone: {_tail(remote.err, ())}"
                )
            os.replace(staging, clone)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _fetch(self) -> None:
        branch = self.repo.branch
        run = self._git(
            "fetch",
            "-q",
            "--no-tags",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            step="git-fetch",
            network=True,
        )
        if run.rc == 0:
            self.remote_head = self._rev(f"refs/remotes/origin/{branch}")
            return
        if "couldn't find remote ref" in run.err:
            # reachable, but the branch does not exist yet (e.g. an empty repository)
            self._git("update-ref", "-d", f"refs/remotes/origin/{branch}")
            self.remote_head = None
            return
        # keep the last fetched state so that a reset after this failure goes back to it
        self.remote_head = self._rev(f"refs/remotes/origin/{branch}")
        raise PublishError(
            "git-fetch",
            f"cannot fetch {self.repo.display_url} ({branch}): {_tail(run.err, self.repo.secrets)}",
        )

    def _rev(self, ref: str) -> str | None:
        run = self._git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}")
        return run.out.strip() if run.rc == 0 and run.out.strip() else None

    def _reset(self) -> None:
        """Make the clone exactly the fetched branch (or an empty unborn branch)."""
        branch = self.repo.branch
        git_dir = self.repo.clone_dir / ".git"
        if (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists():
            self._git("rebase", "--abort")
        for stale in ("index.lock", "MERGE_HEAD", "CHERRY_PICK_HEAD"):
            with contextlib.suppress(FileNotFoundError):
                (git_dir / stale).unlink()
        if self.remote_head:
            self._must("checkout", "-q", "-f", "-B", branch, f"refs/remotes/origin/{branch}")
            self._must("reset", "-q", "--hard", f"refs/remotes/origin/{branch}")
        else:
            self._must("symbolic-ref", "HEAD", f"refs/heads/{branch}")
            self._git("update-ref", "-d", f"refs/heads/{branch}")
            self._must("read-tree", "--empty")
        self._must("clean", "-q", "-f", "-f", "-d", "-x")

    def _landed(self, sha: str | None) -> bool:
        """Whether the remote branch is at ``sha`` after all (a push that failed on our side)."""
        if not sha:
            return False
        try:
            self._fetch()
        except PublishError:
            return False
        return self.remote_head == sha

    def _is_clean(self) -> bool:
        git_dir = self.repo.clone_dir / ".git"
        if (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists():
            return False
        status = self._git("status", "--porcelain", "--ignored", "--untracked-files=all")
        if status.rc != 0 or status.out.strip():
            return False
        head = self._rev("HEAD")
        return head == self.remote_head

    def _restore(self) -> None:
        """After a failure: back to the last fetched state, or delete the clone if that fails."""
        if not self.repo.clone_dir.exists():
            return
        try:
            self._reset()
            if self._is_clean():
                return
        except PublishError:
            pass
        except OSError:
            pass
        log.warning("git cache clone for %s could not be reset; deleting it", self.repo.display_url)
        shutil.rmtree(self.repo.clone_dir, ignore_errors=True)

    def _change(self, path: str, mutate: Callable[[Path], list[str]], message: str) -> GitOutcome:
        if self._used:
            raise PublishError("git-commit", "a git session makes one change only")
        self._used = True
        repo = self.repo
        previous = self.remote_head
        unchanged = GitOutcome(
            sha=previous, changed=False, branch=repo.branch, path=path, previous=previous
        )
        try:
            touched = mutate(repo.clone_dir)
        except OSError as exc:
            raise PublishError(
                "git-commit", f"cannot write {path} in the cache clone: {exc.strerror or exc}"
            ) from None
        for rel in touched:
            if (repo.clone_dir / rel).exists():
                self._must("add", "-f", "--", rel, step="git-commit")
            else:
                self._must("rm", "-q", "--cached", "--ignore-unmatch", "--", rel, step="git-commit")
        staged = self._git("diff", "--cached", "--quiet", step="git-commit")
        if staged.rc == 0:
            log.info("no change to %s in %s (%s)", path, repo.display_url, repo.branch)
            self._reset()
            return unchanged
        if staged.rc != 1:
            raise PublishError("git-commit", f"git diff failed: {_tail(staged.err, repo.secrets)}")
        self._must("commit", "-q", "--no-verify", "-F", "-", step="git-commit", input_text=message)
        return self._push(path, previous)

    def _push(self, path: str, previous: str | None) -> GitOutcome:
        repo = self.repo
        branch = repo.branch
        retries = 0
        for attempt in range(1, repo.max_attempts + 1):
            if repo.before_push is not None:
                repo.before_push(repo.clone_dir)
            ours = self._rev("HEAD")
            try:
                run = self._git(
                    "push",
                    "--porcelain",
                    "origin",
                    f"HEAD:refs/heads/{branch}",
                    step="git-push",
                    network=True,
                )
            except PublishError:  # timed out: the push may still have landed
                if not self._landed(ours):
                    raise
                run = _Run(0, "", "")
            rejected = any(m in f"{run.out}\n{run.err}" for m in _RETRYABLE_PUSH)
            if run.rc != 0 and not rejected and self._landed(ours):
                run = _Run(0, "", "")  # an error reported after the server accepted the update
            if run.rc == 0:
                sha = self._rev("HEAD")
                # keep the remote-tracking ref in step even if the push did not update it
                self._git("update-ref", f"refs/remotes/origin/{branch}", sha or "HEAD")
                self.remote_head = sha
                log.info(
                    "pushed %s to %s (%s) at %s after %d retries",
                    path,
                    repo.display_url,
                    branch,
                    (sha or "")[:12],
                    retries,
                )
                return GitOutcome(
                    sha=sha,
                    changed=True,
                    branch=branch,
                    path=path,
                    retries=retries,
                    previous=previous,
                )
            output = f"{run.out}\n{run.err}"
            if not any(marker in output for marker in _RETRYABLE_PUSH):
                raise PublishError(
                    "git-push",
                    f"push to {repo.display_url} ({branch}) was refused: {_tail(output, repo.secrets)}",
                )
            if attempt == repo.max_attempts:
                break
            retries += 1
            # full jitter, so that racing publishers spread out instead of colliding again
            delay = random.uniform(0.05, min(2.0, 0.25 * 2 ** (attempt - 1)))
            log.info(
                "push of %s rejected (the branch moved); rebasing and retrying in %.2f s",
                path,
                delay,
            )
            time.sleep(delay)
            self._fetch()
            if self.remote_head is None:
                continue  # the branch vanished: push ours as it is
            rebase = self._git("rebase", "-q", f"refs/remotes/origin/{branch}", step="git-rebase")
            if rebase.rc != 0:
                self._git("rebase", "--abort", step="git-rebase")
                raise PublishError(
                    "git-rebase",
                    f"{path} was changed concurrently in {repo.display_url} ({branch}) and the changes "
                    "conflict; nothing was pushed. Publish again to replace it.",
                )
            head = self._rev("HEAD")
            if head == self.remote_head:
                # someone else pushed exactly this change: our commit became empty and was dropped
                return GitOutcome(
                    sha=head,
                    changed=False,
                    branch=branch,
                    path=path,
                    retries=retries,
                    previous=previous,
                )
        raise PublishError(
            "git-push",
            f"gave up pushing to {repo.display_url} ({branch}) after {repo.max_attempts} attempts: "
            "the branch kept moving",
        )


# --------------------------------------------------------------------------------------------------
# Validation helpers


def _extra_path(rel: str) -> str:
    """A path relative to the DAG folder, inside it (the compiler's own names, checked anyway)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise PublishError("validate", f"not a path inside the DAG folder: {rel!r}")
    return rel


def check_dag_id(dag_id: str) -> None:
    if not isinstance(dag_id, str) or not DAG_ID_RE.match(dag_id):
        raise PublishError(
            "validate",
            "the dag_id must be 1-250 letters, digits, '_', '-' or '.', not starting with '.' or '-'",
        )


def _check_branch(branch: str) -> None:
    bad = (
        not branch
        or branch.startswith(("-", "/"))
        or branch.endswith(("/", ".", ".lock"))
        or ".." in branch
        or "//" in branch
        or "@{" in branch
        or any(ch in branch for ch in " ~^:?*[\\\t\n")
    )
    if bad:
        raise PublishError("config", f"{branch!r} is not a valid git branch name")


def _clean_subfolder(subfolder: str | None) -> str:
    sub = (subfolder or "").strip().strip("/")
    if not sub:
        return ""
    parts = sub.split("/")
    if any(p in ("", ".", "..") or p.startswith((".", "-")) or p == ".git" for p in parts):
        raise PublishError(
            "config", f"{subfolder!r} is not a relative folder inside the repository"
        )
    return "/".join(parts)


def _parse_author(author: str) -> tuple[str, str]:
    name, email = parseaddr(author or DEFAULT_AUTHOR)
    if not name or not email or "\n" in author:
        raise PublishError(
            "config", f"the commit author must look like 'Name <email>', not {author!r}"
        )
    return name, email
