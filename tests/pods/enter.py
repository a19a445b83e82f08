"""Inside ``unshare --mount --pid --fork`` (see emulator.py): build one container's root and exec
its command there, as a container runtime would. Everything mounted here lives in the private
mount namespace and goes away with it.

    enter.py PLAN.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

START_ERROR = "\x00mlpipe-emulator StartError "
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        plan = json.load(fh)
    root = plan["root"]
    mount("--make-rprivate", "/")
    mount(
        "-t",
        "overlay",
        "overlay",
        "-o",
        f"lowerdir={plan['lower']},upperdir={plan['upper']},workdir={plan['work']}",
        root,
    )
    os.makedirs(inside(root, "proc"), exist_ok=True)
    mount("-t", "proc", "proc", inside(root, "proc"))
    dev = inside(root, "dev")
    os.makedirs(dev, exist_ok=True)
    mount("-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", dev)
    for name in DEVICES:
        target = os.path.join(dev, name)
        open(target, "w").close()
        mount("--bind", f"/dev/{name}", target)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, os.path.join(dev, name))
    os.symlink("/proc/self/fd/1", os.path.join(dev, "stdout"))
    os.symlink("/proc/self/fd/2", os.path.join(dev, "stderr"))
    os.makedirs(os.path.join(dev, "shm"))
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", os.path.join(dev, "shm"))
    # what the kubelet provides in every container
    etc = inside(root, "etc")
    with open(os.path.join(etc, "hosts"), "w") as fh:
        fh.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\tpod\n")
    with open(os.path.join(etc, "hostname"), "w") as fh:
        fh.write("pod\n")
    for m in plan["mounts"]:
        target = inside(root, m["path"])
        if os.path.isdir(m["source"]):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        mount("--bind", m["source"], target)
        if m["ro"]:
            mount("-o", "remount,bind,ro", target)
    os.chroot(root)
    cwd = plan["cwd"]
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    if plan.get("gid") is not None:
        os.setgroups([])
        os.setgid(int(plan["gid"]))
    if plan.get("uid") is not None:
        os.setuid(int(plan["uid"]))
    command = plan["command"]
    env = plan["env"]
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        sys.stdout.flush()
        reason = (
            "executable file not found in $PATH"
            if isinstance(exc, FileNotFoundError) and "/" not in command[0]
            else "no such file or directory"
            if isinstance(exc, FileNotFoundError)
            else exc.strerror or str(exc)
        )
        os.write(1, f'{START_ERROR}exec: "{command[0]}": {reason}'.encode())
        return 128
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
