"""Where a submission runs: its own user, an empty directory, no references in sight.

:func:`start` launches :mod:`rnnlib.grading.child` so that

- it runs as a fresh unprivileged user id (when the grader runs as root), in an empty
  temporary directory owned by that user, with a minimal environment that says nothing
  about grading;
- its import path holds a copy of ``rnnlib`` without the grading package (only the
  child's own code and a ``Checker`` that does nothing), and, when the kernel lets the
  grader make a mount namespace, the source tree of ``rnnlib`` (reference solutions,
  solution notebooks, git history) and the home directory are hidden behind empty
  directories, only the Python installation being mounted back;
- memory, CPU time, file size and the number of processes are limited.

:func:`sweep` ends every process the submission started: all processes of its user id
(a process signalling ``kill(-1)`` as that user reaches every one of them, whatever
session or group they moved to), and, with the grader a child subreaper, every orphan
reparented to it.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rnnlib

__all__ = ["Sandbox", "choose_uid", "sweep", "become_subreaper", "isolation"]

PACKAGE = Path(rnnlib.__file__).resolve().parent           # .../rnnlib
SOURCE_TREE = PACKAGE.parent                               # the repository (editable install)
_SHIPPED = ("wire.py", "child.py", "temporal_order.py")   # the grading modules a child may see

_CHECKER_STUB = '''"""The grading package as a graded submission sees it: ``check`` does nothing here."""


class Checker:
    def __init__(self, exercise_id, seed=2024):
        self.exercise_id = exercise_id

    def __call__(self, fn):
        return None
'''

_CLONE_NEWNS, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x00020000, 4096, 16384, 1 << 18
_MS_NOSUID, _MS_NODEV = 2, 4
_PR_SET_CHILD_SUBREAPER = 36


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def is_root():
    return os.geteuid() == 0


def become_subreaper():
    """Orphans of this process's descendants are reparented here (Linux), not to init."""
    try:
        return _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def choose_uid():
    """An unused user id for one submission (None when not root: no user to switch to)."""
    if not is_root():
        return None
    used = {p.pw_uid for p in pwd.getpwall()}
    rng = int.from_bytes(os.urandom(4), "little")
    for k in range(1000):
        uid = 40_000 + (rng + 7919 * k) % 20_000
        if uid not in used and not _pids_of(uid):
            return uid
    raise RuntimeError("no free user id for the submission")


def _pids_of(uid):
    """Live (not zombie) processes whose real user id is ``uid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            out.append(int(entry))
    return out


def _children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                out.append(int(entry))
    return out


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep(uid, orphans=False, timeout=10.0):
    """Kill every process of ``uid`` (and, with ``orphans``, every child of this process).

    Returns True when none is left.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = False
        if uid is not None and _pids_of(uid):
            left = True
            _kill_all_as(uid)
        if orphans:
            for pid in _children_of(os.getpid()):
                left = True
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _reap()
        if not left:
            return True
        time.sleep(0.01)
    return False


def _kill_all_as(uid):
    """``kill(-1, SIGKILL)`` as ``uid``: every process of that user, wherever it moved to."""
    pid = os.fork()
    if pid == 0:   # only system calls here: safe even when the grader has threads
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _can_mount():
    """Whether this process may make a mount namespace (tried in a throwaway child)."""
    if not is_root():
        return False
    pid = os.fork()
    if pid == 0:
        try:
            libc = _libc()
            ok = libc.unshare(_CLONE_NEWNS) == 0 and \
                libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) == 0
        except BaseException:  # noqa: BLE001
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


_MOUNT = None


def isolation():
    """How the submission is kept apart: "user+mount", "user", or "none" (not root)."""
    global _MOUNT
    if not is_root():
        return "none"
    if _MOUNT is None:
        _MOUNT = _can_mount()
    return "user+mount" if _MOUNT else "user"


def _opaque_ancestor(path):
    """The highest ancestor of ``path`` that others may not enter (e.g. ``/root``), or None."""
    parts = Path(path).parts
    for k in range(2, len(parts) + 1):
        p = Path(*parts[:k])
        try:
            if not os.stat(p).st_mode & 0o001:
                return p
        except OSError:
            return None
    return None


def _open_to_others(path):
    """Whether a user without rights of its own may enter ``path`` and read it."""
    return os.path.exists(path) and _opaque_ancestor(path) is None


def _under(path, root):
    try:
        Path(path).relative_to(root)
        return True
    except ValueError:
        return False


class Sandbox:
    """One submission's directories and user. Use as a context manager; :meth:`start` a child."""

    def __init__(self, memory_mb, cpu_seconds, uid=None, file_bytes=64 * 2**20):
        self.memory_mb, self.cpu_seconds, self.file_bytes = memory_mb, cpu_seconds, file_bytes
        self.level = isolation() if uid is not None else "none"
        if self.level == "user" and not all(_open_to_others(p) for p in self._python_dirs()):
            # without a mount namespace another user could not even start Python here
            uid, self.level = None, "none"
        self.uid = uid

    def __enter__(self):
        self.root = Path(tempfile.mkdtemp())   # a plain name: nothing in the environment says "grading"
        os.chmod(self.root, 0o755)
        self.lib = self.root / "lib"
        shutil.copytree(PACKAGE, self.lib / "rnnlib",
                        ignore=shutil.ignore_patterns("grading", "grade.py", "__pycache__"))
        (self.lib / "rnnlib" / "grading").mkdir()
        (self.lib / "rnnlib" / "grading" / "__init__.py").write_text(_CHECKER_STUB)
        for name in _SHIPPED:
            shutil.copy(PACKAGE / "grading" / name, self.lib / "rnnlib" / "grading" / name)
        self.work = self.root / "home"
        self.work.mkdir(mode=0o700)
        if self.uid is not None:
            os.chown(self.work, self.uid, self.uid)
        return self

    def __exit__(self, *exc):
        sweep(self.uid)
        shutil.rmtree(self.root, ignore_errors=True)

    def _site_dirs(self):
        dirs = []
        for p in sys.path:
            if p and os.path.isdir(p) and "site-packages" in p and p not in dirs:
                dirs.append(p)
        return dirs

    def _python_dirs(self):
        return [Path(os.path.realpath(p)) for p in
                (sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                 *self._site_dirs())]

    def _hide_and_keep(self):
        keep = self._python_dirs()
        hide = {SOURCE_TREE}
        for k in keep:
            opaque = _opaque_ancestor(k)
            if opaque is not None:
                hide.add(opaque)
        keep = [k for k in keep if any(_under(k, h) for h in hide)]
        keep = [k for k in keep if not any(o != k and _under(k, o) for o in keep)]
        return sorted(hide, key=lambda p: len(p.parts)), sorted(set(keep), key=lambda p: len(p.parts))

    def start(self, forbidden=(), stderr=subprocess.DEVNULL):
        """Launch the child; returns ``(Popen, write_fd, read_fd)`` for the grader's side."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        boot = (f"import sys\nsys.path[:0] = [{str(self.lib)!r}]\nsys.path += {self._site_dirs()!r}\n"
                f"from rnnlib.grading.child import main\n"
                f"main({to_child_r}, {from_child_w}, {list(forbidden)!r})\n")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.work),
               "TMPDIR": str(self.work), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": str(self.work), "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        hide, keep = self._hide_and_keep() if self.level == "user+mount" else ([], [])
        uid, work = self.uid, str(self.work)
        limits = (self.memory_mb * 2**20, int(self.cpu_seconds) + 1, self.file_bytes)

        def preexec():  # runs in the forked child before exec (the grader is single-threaded here)
            if hide:
                _hide(hide, keep)
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
            os.chdir(work)
            mem, cpu, size = limits
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", boot], env=env, cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                pass_fds=(to_child_r, from_child_w), start_new_session=True, preexec_fn=preexec)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        return proc, to_child_w, from_child_r


def _hide(hide, keep):
    """In a new mount namespace: an empty directory over each of ``hide``, ``keep`` mounted back."""
    libc = _libc()

    def check(ret, what):
        if ret != 0:
            raise OSError(ctypes.get_errno(), f"{what} failed")

    check(libc.unshare(_CLONE_NEWNS), "unshare")
    check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate")
    fds = {k: os.open(k, os.O_PATH | os.O_DIRECTORY) for k in keep}
    for h in hide:
        check(libc.mount(b"tmpfs", str(h).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                         b"size=64k,mode=755"), f"mount over {h}")
    for k, fd in fds.items():
        os.makedirs(k, exist_ok=True)
        check(libc.mount(f"/proc/self/fd/{fd}".encode(), str(k).encode(), None,
                         _MS_BIND | _MS_REC, None), f"bind {k}")
        os.close(fd)
