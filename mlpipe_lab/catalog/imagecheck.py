"""Does an image have what a node needs? Ask the image itself, when there is a way to run it here.

The user says how images run on their machine with a command template (``MLPIPE_IMAGE_RUN``, or
``--run`` on the command line), for example ``docker run --rm --entrypoint= {image}`` or
``podman run --rm --entrypoint= {image}``: ``{image}`` becomes the image reference (appended when
absent) and the probe follows, ``/bin/sh -c SCRIPT``. The probe reports what the runner needs
(see ``images/runner/README.md``, "What a node's image needs"): ``/bin/sh`` (it ran), ``python3``
3.9 or later on PATH, ``ipykernel`` with a ``python3`` kernel for notebooks, ``Rscript`` for R
scripts. It writes nothing into the image (no bytecode) and needs no network.

Nothing here blocks forever: the command has a timeout (pulling an image may take a while, so
the default is generous), and whatever it prints is read as plain text.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Any

from ..errors import MLPipeError

RUN_ENV = "MLPIPE_IMAGE_RUN"
TIMEOUT_ENV = "MLPIPE_IMAGE_RUN_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
MIN_PYTHON = (3, 9)
KERNEL = "python3"
# an image reference: [registry[:port]/]name[:tag][@digest]; never an option
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")

# One line per fact ("key value"); every python3 call is guarded, so a broken python says so.
PROBE = r"""export PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1
echo "mlpipe-probe 1"
py=$(command -v python3 2>/dev/null)
if [ -n "$py" ]; then
  echo "python3 $py"
  "$py" -c 'import sys; print("python-version %d.%d.%d" % sys.version_info[:3])' 2>&1 | head -n 1
  "$py" - <<'EOF' 2>&1 | tail -n 3
try:
    import ipykernel
    import jupyter_client
    from jupyter_client.kernelspec import KernelSpecManager
except Exception as exc:
    print("ipykernel-missing %s: %s" % (type(exc).__name__, exc))
else:
    print("ipykernel %s" % ipykernel.__version__)
    print("kernels %s" % " ".join(sorted(KernelSpecManager().find_kernel_specs())))
EOF
fi
r=$(command -v Rscript 2>/dev/null) && echo "rscript $r"
echo "mlpipe-probe-end"
"""


class ImageCheckError(MLPipeError):
    """The image could not be checked (no way to run images, the command failed, ...)."""


@dataclass
class Need:
    need: str  # what, e.g. "python3 3.9 or later"
    for_: str  # which nodes need it
    ok: bool
    found: str  # what the image has, in words

    def to_json(self) -> dict[str, Any]:
        return {"need": self.need, "for": self.for_, "ok": self.ok, "found": self.found}


@dataclass
class ImageReport:
    image: str
    python: bool  # Python script nodes run
    notebook: bool  # notebook nodes (Python kernel) run
    r: bool  # R script nodes run
    needs: list[Need] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        runs = [w for w, ok in (("Python", self.python), ("notebook", self.notebook)) if ok]
        runs += ["R"] if self.r else []
        missing = [n for n in self.needs if not n.ok]
        if not runs:
            head = f"image {self.image} runs no nodes"
        else:
            head = f"image {self.image} runs {', '.join(runs)} nodes"
        if missing:
            head += "; missing: " + "; ".join(f"{n.need} ({n.found})" for n in missing)
        return head

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "runs": {"python": self.python, "notebook": self.notebook, "r": self.r},
            "needs": [n.to_json() for n in self.needs],
            "summary": self.summary,
            "seconds": round(self.seconds, 2),
        }


def run_template(template: str | None = None) -> list[str]:
    """The command template as words (``template``, else ``$MLPIPE_IMAGE_RUN``)."""
    text = template if template is not None else os.environ.get(RUN_ENV, "")
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ImageCheckError(
            f"The image run command {text!r} cannot be read: {exc}.", 400, field="run"
        ) from None
    if not words:
        raise ImageCheckError(
            "No way to run an image is configured here: set "
            f"{RUN_ENV} to a command that runs one, e.g. 'docker run --rm --entrypoint= {{image}}' "
            "or 'podman run --rm --entrypoint= {image}' ({image} is replaced by the reference).",
            409,
            field="run",
            code="no-image-runner",
        )
    return words


def command_for(image: str, template: str | None = None) -> list[str]:
    if not isinstance(image, str) or not _REF.match(image) or len(image) > 512:
        raise ImageCheckError(
            f"{image!r} is not an image reference (e.g. registry.example.com/ml/python:3.11).",
            400,
            field="image",
        )
    words = run_template(template)
    if any("{image}" in w for w in words):
        words = [w.replace("{image}", image) for w in words]
    else:
        words = words + [image]
    return words + ["/bin/sh", "-c", PROBE]


def check_image(
    image: str, template: str | None = None, timeout: float | None = None
) -> ImageReport:
    """Run the probe in ``image`` and say what it has. Raises ImageCheckError when the image could
    not be run at all (no command configured, the command is missing, fails or times out)."""
    import time

    argv = command_for(image, template)
    if timeout is None:
        try:
            timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ImageCheckError(
            f"Cannot run images here: {argv[0]!r} is not installed (image run command: {RUN_ENV}).",
            409,
            field="run",
        ) from None
    except subprocess.TimeoutExpired:
        raise ImageCheckError(
            f"Checking image {image} took longer than {timeout:.0f} s (pulling it?); try again, "
            f"or raise {TIMEOUT_ENV}.",
            504,
        ) from None
    except OSError as exc:
        raise ImageCheckError(
            f"Cannot run {argv[0]!r}: {exc.strerror or exc}.", 409, field="run"
        ) from None
    out = proc.stdout.decode("utf-8", "replace")
    report = read_probe(image, out, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    report.seconds = time.monotonic() - t0
    return report


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def read_probe(image: str, out: str, status: int = 0, err: str = "") -> ImageReport:
    facts: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and key not in facts:
            facts[key] = value.strip()
    if "mlpipe-probe" not in facts:
        # the probe never started: the image could not be run, or it has no /bin/sh
        reason = _last_line(err) or _last_line(out) or f"exit status {status}"
        if status in (126, 127) or re.search(r"/bin/sh.*(not found|no such file)", err, re.I):
            return ImageReport(
                image,
                python=False,
                notebook=False,
                r=False,
                needs=[Need("/bin/sh", "every node", False, f"no /bin/sh ({reason})")],
            )
        raise ImageCheckError(f"Could not run image {image}: {reason}", 502)
    needs = [Need("/bin/sh", "every node", True, "yes")]
    py = facts.get("python3")
    version = facts.get("python-version", "")
    parsed = tuple(int(p) for p in re.findall(r"\d+", version)[:3]) if version else ()
    if not py:
        needs.append(Need("python3 3.9 or later on PATH", "every node", False, "no python3"))
        python = False
    elif len(parsed) < 2:
        found = f"{py} does not start ({version or 'no output'})"
        needs.append(Need("python3 3.9 or later on PATH", "every node", False, found))
        python = False
    else:
        python = parsed[:2] >= MIN_PYTHON
        found = f"Python {'.'.join(map(str, parsed))} at {py}"
        needs.append(Need("python3 3.9 or later on PATH", "every node", python, found))
    if not python:
        notebook = False
        needs.append(Need("ipykernel", "notebook nodes", False, "needs python3 first"))
    elif "ipykernel" in facts:
        kernels = facts.get("kernels", "").split()
        # ipykernel makes python3 the running interpreter's kernel even without a kernelspec
        notebook = KERNEL in kernels or "kernels" in facts
        found = f"ipykernel {facts['ipykernel']}, kernels: {', '.join(kernels) or KERNEL}"
        needs.append(Need(f"ipykernel (kernel '{KERNEL}')", "notebook nodes", notebook, found))
    else:
        notebook = False
        why = facts.get("ipykernel-missing", "not installed")
        needs.append(Need(f"ipykernel (kernel '{KERNEL}')", "notebook nodes", False, why))
    r = python and "rscript" in facts
    needs.append(
        Need(
            "Rscript on PATH",
            "R script nodes",
            r,
            facts["rscript"] if "rscript" in facts else "no Rscript",
        )
    )
    return ImageReport(image, python=python, notebook=notebook, r=r, needs=needs)


def image_of(target: str, catalogs: Any) -> str:
    """``target`` is an image reference, or the name of a runtime-images catalog entry (its image
    is checked). ``catalogs``: the catalogs service (``get(kind, name)``)."""
    from .errors import NotFound
    from .names import is_valid_name

    if (
        isinstance(target, str)
        and is_valid_name(target)
        and "/" not in target
        and ":" not in target
    ):
        try:
            entry = catalogs.get("runtime-images", target)
        except NotFound:
            return target
        image = entry.get("image_name") or entry.get("image")
        if isinstance(image, str) and image:
            return image
    return target
