"""Emulated pods: a pod spec (as the provider's ``build_pod_request_obj`` made it) run the way a
kubelet would, with root file systems standing in for images.

For each init container, then the main container, in order:

- its image must be one of the emulator's images (``{reference: rootfs folder}``); another reference
  cannot be pulled: the pod stays Pending with the container waiting in ``ErrImagePull`` and a
  "Failed to pull image" event, as on a cluster (KubernetesPodOperator then gives up after its
  ``startup_timeout_seconds``);
- it runs in a new mount and PID namespace (``unshare --mount --pid --fork``) whose root is an
  overlay of the image's folder (lower, read-only) and a fresh upper folder, so every container
  starts from a clean image; ``/proc``, ``/dev/shm`` (tmpfs) are mounted; the pod's volumes are
  bound at their mount paths (``emptyDir``: a folder per pod, mode 0777 like the kubelet's; PVC:
  a folder per claim shared by all pods; ``secret``: the test's secret values as files), honouring
  ``subPath`` and ``readOnly``;
- its environment is the spec's ``env`` (``valueFrom.secretKeyRef`` resolved from the test's
  secrets; a missing secret is ``CreateContainerConfigError``) plus the PATH and HOME a container
  runtime gives, its command and args exactly as in the spec (Kubernetes semantics: ``command``
  replaces the entrypoint, ``args`` follow; our root file systems have no entrypoint), its working
  directory ``workingDir`` or ``/``, its user ``runAsUser``/``runAsGroup`` if set;
- an executable that cannot be found is a ``StartError`` with exit code 128, as containerd reports;
- stdout and stderr together are the container's log; a failing init container fails the pod
  (``Init:Error``) and the later containers never run.

The XCom sidecar (KubernetesPodOperator with ``do_xcom_push``: the provider adds an ``xcom``
emptyDir mounted at /airflow/xcom in the main container and in an ``airflow-xcom-sidecar`` container
that only sleeps) is emulated by what it is for: the volume is shared as any emptyDir, and once the
main container has ended, the provider's exec into the sidecar (``extract_xcom_json``: ``cat`` of
return.json if it is not empty, else a marker) runs as a container of the sidecar's image (a root
file system the test maps it to) over the sidecar's own mounts; its output is parsed as
``KubernetesPodOperator.extract_xcom`` does (marker: None, else ``json.loads``). The sleeping loop
itself and the kill that ends it are not run: the sidecar is reported Completed (exit 0, what its
``trap "exit 0" INT`` gives). Any other second container is refused.

The network is the host's (pods reach moto's S3 server on 127.0.0.1); nothing here schedules,
pulls or restarts anything: there is no kubelet, API server or scheduler.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENTER = HERE / "enter.py"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The provider's names (airflow.providers.cncf.kubernetes.utils.xcom_sidecar.PodDefaults,
# utils.pod_manager.EMPTY_XCOM_RESULT): the emulator runs outside Airflow's venv.
XCOM_SIDECAR = "airflow-xcom-sidecar"
XCOM_MOUNT_PATH = "/airflow/xcom"
EMPTY_XCOM_RESULT = "__airflow_xcom_result_empty__"
XCOM_READ = (
    f"if [ -s {XCOM_MOUNT_PATH}/return.json ]; then cat {XCOM_MOUNT_PATH}/return.json; "
    f"else echo {EMPTY_XCOM_RESULT}; fi"
)


class EmulatorError(RuntimeError):
    """The pod uses something the emulator does not do (the test is wrong, not the pod)."""


@dataclass
class ContainerResult:
    name: str
    image: str
    init: bool
    exit_code: int | None = None  # None: never ran
    reason: str = ""  # Completed, Error, StartError, ErrImagePull, CreateContainerConfigError
    message: str = ""
    log: str = ""
    started: float = 0.0  # monotonic seconds
    seconds: float = 0.0


@dataclass
class PodResult:
    name: str
    phase: str  # Succeeded, Failed, Pending
    containers: list[ContainerResult] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    # with an XCom sidecar: what the exec into it printed, and that parsed as the operator does
    xcom_text: str | None = None
    xcom: Any = None
    xcom_error: str = ""  # the provider's json.loads failed (the task would fail)

    @property
    def main(self) -> ContainerResult:
        return next(c for c in self.containers if not c.init)

    def container(self, name: str) -> ContainerResult:
        return next(c for c in self.containers if c.name == name)

    def describe(self) -> str:
        lines = [f"pod {self.name}: {self.phase}"] + [f"event: {e}" for e in self.events]
        for c in self.containers:
            lines.append(
                f"--- {'init ' if c.init else ''}container {c.name} ({c.image}): "
                f"{c.reason} exit={c.exit_code} {c.message}"
            )
            lines.append(c.log.rstrip())
        return "\n".join(lines)


class PodEmulator:
    def __init__(
        self,
        images: dict[str, str | Path],
        workdir: Path,
        secrets: dict[str, dict[str, str]] | None = None,
        claims: dict[str, Path] | None = None,
        timeout: float = 300.0,
    ):
        # image reference -> overlay lower dirs ("top:...:bottom"), e.g. a layer over a root fs
        self.images = {k: str(v) for k, v in images.items()}
        self.workdir = Path(workdir)
        self.secrets = secrets or {}
        self.claims = claims or {}
        self.timeout = timeout

    # -- volumes ----------------------------------------------------------------------------------

    def _volumes(self, spec: dict[str, Any], pod_dir: Path) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for volume in spec.get("volumes") or []:
            name = volume["name"]
            if "emptyDir" in volume:
                path = pod_dir / "volumes" / name
                path.mkdir(parents=True)
                os.chmod(path, 0o777)
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                if claim not in self.claims:
                    raise EmulatorError(f"no folder for persistent volume claim {claim!r}")
                path = self.claims[claim]
            elif "secret" in volume:
                secret = self.secrets.get(volume["secret"]["secretName"], {})
                path = pod_dir / "volumes" / name
                path.mkdir(parents=True)
                items = volume["secret"].get("items") or [{"key": k, "path": k} for k in secret]
                for item in items:
                    (path / item["path"]).write_text(secret.get(item["key"], ""))
            else:
                raise EmulatorError(f"volume {name}: type {sorted(volume)} is not emulated")
            out[name] = path
        return out

    def _env(self, container: dict[str, Any]) -> tuple[dict[str, str], str | None]:
        env: dict[str, str] = {}
        for entry in container.get("env") or []:
            if "valueFrom" in entry:
                ref = (entry["valueFrom"] or {}).get("secretKeyRef")
                if not ref:
                    raise EmulatorError(f"env {entry['name']}: only secretKeyRef is emulated")
                secret = self.secrets.get(ref["name"])
                if secret is None or ref["key"] not in secret:
                    if ref.get("optional"):
                        continue
                    what = "secret" if secret is None else f"key {ref['key']} in secret"
                    return env, f'{what} "{ref["name"]}" not found'
                env[entry["name"]] = secret[ref["key"]]
            else:
                env[entry["name"]] = entry.get("value") or ""
        if container.get("envFrom"):
            raise EmulatorError("envFrom is not emulated")
        return env, None

    # -- running ----------------------------------------------------------------------------------

    def run(self, pod: dict[str, Any]) -> PodResult:
        spec = pod["spec"]
        name = pod["metadata"].get("name") or "pod"
        result = PodResult(name=name, phase="Pending")
        pod_dir = Path(tempfile.mkdtemp(prefix="pod-", dir=self.workdir))
        try:
            volumes = self._volumes(spec, pod_dir)
            containers = [(c, True) for c in spec.get("initContainers") or []]
            containers += [(c, False) for c in spec.get("containers") or []]
            sidecar = None
            if [c for c, init in containers if not init][1:]:
                sidecar = containers.pop()[0]
                if sidecar["name"] != XCOM_SIDECAR or [c for c, i in containers if not i][1:]:
                    raise EmulatorError(
                        "pods with sidecars other than the XCom one are not emulated"
                    )
                # all of a pod's containers start together: a sidecar that cannot be pulled
                # keeps the pod Pending before the main container has done anything
                containers.append((sidecar, False))
            for index, (container, init) in enumerate(containers):
                if container is sidecar:
                    self._xcom(sidecar, spec, volumes, pod_dir, index, result)
                    break
                res = ContainerResult(container["name"], container.get("image", ""), init)
                result.containers.append(res)
                rootfs = self.images.get(res.image)
                if rootfs is None:
                    res.reason = "ErrImagePull"
                    res.message = (
                        f'failed to pull and unpack image "{res.image}": not found in the '
                        "emulator's registry"
                    )
                    result.events.append(f'Failed to pull image "{res.image}": {res.message}')
                    return result  # Pending: the kubelet keeps backing off
                env, problem = self._env(container)
                if problem:
                    res.reason, res.message = "CreateContainerConfigError", problem
                    result.events.append(f"Error: {problem}")
                    return result
                if sidecar is not None and not init and sidecar.get("image") not in self.images:
                    image = sidecar.get("image")
                    message = f'failed to pull and unpack image "{image}": not in the emulator'
                    result.events.append(f'Failed to pull image "{image}": {message}')
                    return result
                self._run_container(container, spec, rootfs, env, volumes, pod_dir, index, res)
                if res.exit_code != 0:
                    result.phase = "Failed"
                    if init or sidecar is None:
                        return result
            # the operator reads the XCom even when the main container failed (the task fails
            # afterwards, in its clean-up)
            if result.phase != "Failed":
                result.phase = "Succeeded"
            return result
        finally:
            shutil.rmtree(pod_dir, ignore_errors=True)

    def _xcom(
        self,
        sidecar: dict[str, Any],
        spec: dict[str, Any],
        volumes: dict[str, Path],
        pod_dir: Path,
        index: int,
        result: PodResult,
    ) -> None:
        """The provider's exec into the sidecar, then ``extract_xcom``'s parsing."""
        mounts = {m["mountPath"]: m["name"] for m in sidecar.get("volumeMounts") or []}
        if mounts.get(XCOM_MOUNT_PATH) != "xcom":
            raise EmulatorError(f"the XCom sidecar does not mount the xcom volume: {mounts}")
        res = ContainerResult(sidecar["name"], sidecar.get("image", ""), False)
        exec_ = dict(sidecar, command=["/bin/sh", "-c", XCOM_READ], args=[])
        self._run_container(exec_, spec, self.images[res.image], {}, volumes, pod_dir, index, res)
        if res.exit_code != 0:
            raise EmulatorError(f"the exec into the XCom sidecar failed: {res.message} {res.log}")
        result.xcom_text = res.log
        # the sidecar itself only slept; killed with SIGINT it exits 0
        res.log, res.exit_code, res.reason = "", 0, "Completed"
        res.message = "emulated: the XCom read by exec, then the sidecar stopped"
        result.containers.append(res)
        if result.xcom_text.rstrip() == EMPTY_XCOM_RESULT:
            result.xcom = None
            return
        try:
            result.xcom = json.loads(result.xcom_text)
        except ValueError as exc:
            result.xcom_error = f"{type(exc).__name__}: {exc}"

    def _run_container(
        self,
        container: dict[str, Any],
        spec: dict[str, Any],
        rootfs: str,
        env: dict[str, str],
        volumes: dict[str, Path],
        pod_dir: Path,
        index: int,
        res: ContainerResult,
    ) -> None:
        layer = pod_dir / f"c{index}"
        (layer / "upper").mkdir(parents=True)
        (layer / "work").mkdir()
        (layer / "root").mkdir()
        mounts = []
        for mount in container.get("volumeMounts") or []:
            source = volumes.get(mount["name"])
            if source is None:
                raise EmulatorError(f"volume mount {mount['name']} names no volume")
            if mount.get("subPath"):
                source = source / mount["subPath"]
                source.mkdir(parents=True, exist_ok=True)
            mounts.append(
                {
                    "source": str(source),
                    "path": mount["mountPath"],
                    "ro": bool(mount.get("readOnly")),
                }
            )
        security = {
            **(spec.get("securityContext") or {}),
            **(container.get("securityContext") or {}),
        }
        command = list(container.get("command") or []) + list(container.get("args") or [])
        if not container.get("command"):
            raise EmulatorError(
                f"container {res.name}: no command (image entrypoints are not emulated)"
            )
        full_env = {"PATH": DEFAULT_PATH, "HOSTNAME": "pod", "HOME": "/root", **env}
        plan = {
            "lower": rootfs,
            "upper": str(layer / "upper"),
            "work": str(layer / "work"),
            "root": str(layer / "root"),
            "mounts": mounts,
            "cwd": container.get("workingDir") or "/",
            "uid": security.get("runAsUser"),
            "gid": security.get("runAsGroup"),
            "env": full_env,
            "command": command,
        }
        plan_file = layer / "plan.json"
        plan_file.write_text(json.dumps(plan))
        res.started = time.monotonic()
        proc = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                sys.executable,
                str(ENTER),
                str(plan_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            res.log = out.decode("utf-8", "replace")
            res.exit_code, res.reason = 137, "DeadlineExceeded"
            res.message = f"the emulator stopped the container after {self.timeout:g} s"
            res.seconds = time.monotonic() - res.started
            return
        res.seconds = time.monotonic() - res.started
        text = out.decode("utf-8", "replace")
        marker = "\x00mlpipe-emulator StartError "
        if marker in text:
            text, _, message = text.partition(marker)
            res.exit_code, res.reason, res.message = 128, "StartError", message.strip()
        else:
            res.exit_code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
            res.reason = "Completed" if res.exit_code == 0 else "Error"
        res.log = text


def build_layer(lower: str, layer: Path, command: list[str], binds: dict[str, Path]) -> str:
    """Run ``command`` once over ``lower`` and keep what it changed in ``layer`` (like a
    Dockerfile's RUN step); returns the lower dirs of the resulting image."""
    work = Path(tempfile.mkdtemp(prefix="layer-", dir=layer.parent))
    try:
        (work / "work").mkdir()
        (work / "root").mkdir()
        layer.mkdir(parents=True)
        plan = {
            "lower": lower,
            "upper": str(layer),
            "work": str(work / "work"),
            "root": str(work / "root"),
            "mounts": [{"source": str(v), "path": k, "ro": True} for k, v in binds.items()],
            "cwd": "/",
            "uid": None,
            "gid": None,
            "env": {"PATH": DEFAULT_PATH, "HOME": "/root", "LANG": "C.UTF-8"},
            "command": command,
        }
        (work / "plan.json").write_text(json.dumps(plan))
        proc = subprocess.run(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", sys.executable, str(ENTER)]
            + [str(work / "plan.json")],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise EmulatorError(f"{command} failed: {proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        # the mount points of the binds are not part of the image
        for path in binds:
            target = layer / path.lstrip("/")
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
        return f"{layer}:{lower}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
