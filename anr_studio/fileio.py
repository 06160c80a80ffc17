"""Safe file writes (nothing a user has is ever replaced by a half-written file, nor by accident): atomic writes,
output checks, OS failures as one AnrError sentence, folder and file locks."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.resources
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from anr_studio.errors import AnrError

# A hidden temporary file untouched this long belongs to a writer killed mid-write; the next write removes it.
STALE_AFTER_S = 600.0
# A failure that leaves less free space than this on the target's disk is reported as a full disk
# (libraries that write through pipes or C code do not always keep the errno).
FULL_DISK_BYTES = 1 << 20
# What a writer checked by `ensure_free_space` may need beyond its data (file metadata, its close).
HEADROOM_BYTES = 1 << 17

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "is a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error (a failing disk or a disconnected drive)",
}


def _free_bytes(path: Path) -> int | None:
    """Returns the free bytes on the disk of ``path`` (or of its nearest existing parent), None when unknown."""
    folder = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _disk_full(path: Path) -> bool:
    free = _free_bytes(path)
    return free is not None and free < FULL_DISK_BYTES


def os_error_message(exc: BaseException, path: str | os.PathLike, action: str = "write") -> str:
    """Returns one sentence for an OS-level failure ``exc`` while ``action``-ing ``path``."""
    path = Path(path)
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code is None and ("os error 28" in text or "No space left" in text):
        code = errno.ENOSPC
    if code not in _REASONS and _disk_full(path):
        code = errno.ENOSPC
    reason = _REASONS.get(code) or (getattr(exc, "strerror", None) or text.splitlines()[0] if text else type(exc).__name__)
    where = str(path) if str(path) not in ("", ".") else (getattr(exc, "filename", None) or "")
    hint = {errno.ENOSPC: ", expected free space on that disk", errno.EDQUOT: ", expected free quota",
            errno.EACCES: ", expected a folder and file you may write" if action == "write" else ", expected a file you may read",
            errno.EROFS: ", expected a writable disk", errno.ENOENT: ", expected an existing path"}.get(code, "")
    return f"{where}: cannot {action} ({reason}){hint}" if where else f"cannot {action} ({reason}){hint}"


@contextlib.contextmanager
def os_errors(path: str | os.PathLike) -> Iterator[None]:
    """Within it, an OSError (or a library's I/O error naming the OS error) becomes AnrError naming ``path``."""
    try:
        yield
    except AnrError:
        raise
    except Exception as exc:  # an OSError, or safetensors' and h5py's own types wrapping one
        text = str(exc)
        wrapped = "os error" in text or "No space left" in text or "errno" in text.lower()
        if isinstance(exc, OSError) or wrapped or _disk_full(Path(path)):
            raise AnrError(os_error_message(exc, path)) from None
        raise


def ensure_free_space(path: str | os.PathLike, nbytes: int) -> None:
    """Raises AnrError (a full disk, one sentence) unless the disk of ``path`` has ``nbytes`` plus a margin free
    (for writers that cannot recover from running out of space midway, such as HDF5)."""
    free, need = _free_bytes(Path(path).parent), int(nbytes) + HEADROOM_BYTES
    if free is not None and free < need:
        raise AnrError(f"{path}: cannot write (the disk is full: {free / 2**20:.1f} MiB free, about "
                       f"{need / 2**20:.1f} MiB needed), expected free space on that disk")


_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a folder", stat.S_IFCHR: "a device",
          stat.S_IFBLK: "a device", stat.S_IFIFO: "a pipe", stat.S_IFSOCK: "a socket"}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _lstat(path: str | os.PathLike) -> os.stat_result | None:
    """Returns the lstat of ``path`` (None if nothing is there); other OS errors as AnrError."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AnrError(os_error_message(exc, path)) from None


def replaceable(path: str | os.PathLike) -> os.stat_result | None:
    """Returns the stat of the regular file at ``path`` (None if nothing is there); AnrError for a symlink,
    folder, device, pipe or read-only file (never written through or replaced)."""
    st = _lstat(path)
    if st is None:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise AnrError(f"{path}: is {_kind(st.st_mode)}, expected a regular file to write (or a new name)")
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise AnrError(f"{path}: is read-only, expected a writable file (change its permissions to let anr-studio replace it)")
    return st


def remove_stale_partials(folder: str | os.PathLike, prefix: str = ".", older_than_s: float = STALE_AFTER_S) -> None:
    """Removes hidden temporary files (``{prefix}*.tmp`` / ``*.partial*``) untouched for ``older_than_s``."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            name = entry.name
            if not name.startswith(prefix) or not (name.endswith(".tmp") or ".partial" in name):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than_s:
                    os.unlink(entry.path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yields a new temporary path beside ``path`` (``mkstemp``, ending in ``suffix``), fsynced and renamed onto ``path``
    on success, keeping a replaced file's permissions; on an exception it is removed (OS errors raise AnrError)."""
    path = Path(path)
    old = replaceable(path)
    with os_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.close(fd)
        with os_errors(path):
            yield tmp
            if old is not None:
                mode = stat.S_IMODE(old.st_mode)
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(OSError):  # only root may give the file back to its owner
                        os.chown(tmp, old.st_uid, old.st_gid)
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.chmod(tmp, mode)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            replaceable(path)  # the target may have changed kind while we wrote
            os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        remove_stale_partials(path.parent, prefix=f".{path.name}.")
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists() or tmp.is_symlink():
                tmp.unlink()


@contextlib.contextmanager
def on_stop_signals(handler: Callable[..., Any] = signal.default_int_handler) -> Iterator[None]:
    """Inside the block SIGTERM (`kill`, `timeout`, a job manager) and SIGHUP (a closed terminal) call ``handler``; by
    default they raise KeyboardInterrupt as Ctrl-C does, so every writer removes its temporary file on the way out
    instead of dying with it. A signal ignored when the block starts (nohup) stays ignored; off the main thread
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    for s, old in previous.items():
        if old != signal.SIG_IGN:
            signal.signal(s, handler)
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


AVATAR_FILE = "avatar.anr"
"""The avatar file of a run folder of anr-studio train: what a command given the folder opens."""
RUN_FILE = "run.json"
"""The settings file that marks a folder as a run folder of anr-studio train."""


def avatar_file(path: str | os.PathLike) -> Path:
    """Returns ``path``, or the avatar file inside it when it is a folder (a run folder of anr-studio train)."""
    path = Path(path)
    return path / AVATAR_FILE if path.is_dir() else path


def read_safetensors(path: str | os.PathLike, meta_key: str, expected: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (the JSON object stored under ``meta_key``, {name: tensor}) of a safetensors file we wrote;
    AnrError naming ``path`` and the ``expected`` file ("an ANR Studio avatar file") otherwise."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise AnrError(f"{path}: {'is a folder' if path.is_dir() else 'file not found'}, expected {expected}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(meta_key)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception:  # noqa: BLE001 - safetensors raises several types for a damaged header or data
        raise AnrError(f"{path}: not {expected}: it is damaged or of another format (its safetensors header cannot be read)") from None
    if raw is None:
        raise AnrError(f"{path}: metadata has no {meta_key!r} entry, expected {expected}")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        raise AnrError(f"{path}: {meta_key} metadata is not valid JSON (or nested too deeply), expected {expected}") from None
    if not isinstance(meta, dict):
        raise AnrError(f"{path}: {meta_key} metadata is a JSON {type(meta).__name__}, expected an object in {expected}")
    return meta, tensors


def file_sha256(path: str | os.PathLike) -> str:
    """Returns the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _same(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output(path: str | os.PathLike, kinds: Iterable[str], *, inputs: Iterable[str | os.PathLike | None] = (),
                 overwrite: bool = False, option: str = "--out") -> Path:
    """Returns ``path`` as an output the command may write; AnrError for one of ``inputs``, a suffix not in
    ``kinds`` (``""``: a folder), a non-regular file, and an existing file or non-empty folder unless ``overwrite``."""
    path = Path(path)
    kinds = tuple(kinds)
    for source in inputs:
        if source is not None and _same(path, Path(source)):
            raise AnrError(f"{option} {path}: is also an input of this command, expected a different output path")
    suffix = path.suffix.lower()
    if suffix not in kinds:
        wanted = " or ".join("a folder" if k == "" else f"a {k} file" for k in kinds)
        got = f"a {path.suffix} name" if path.suffix else "a name without a suffix"
        raise AnrError(f"{option} {path}: is {got}, expected {wanted} (what this command writes)")
    st = _lstat(path)
    if st is None:
        return path
    if suffix == "" and stat.S_ISDIR(st.st_mode):
        if any(os.scandir(path)) and not overwrite:
            raise AnrError(f"{option} {path}: the folder is not empty, expected a new or empty folder or --overwrite")
        return path
    if not stat.S_ISREG(st.st_mode):
        raise AnrError(f"{option} {path}: is {_kind(st.st_mode)}, expected a regular file to write (or a new name)")
    if not overwrite:
        raise AnrError(f"{option} {path}: the file exists, expected a new name or --overwrite to replace it")
    replaceable(path)
    return path


LOCK_FILE = ".lock"
# A killed process's data-loader workers (forked: they share its lock) notice within seconds
# that their parent is gone and exit; a new process waits that long before calling the lock busy.
ORPHAN_WAIT_S = 15.0
_held_locks: dict[str, int] = {}


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _flock(lock: Path, owner: Path, busy: Callable[[str], str]) -> int:
    """Returns an open descriptor of the file ``lock`` that holds its exclusive ``flock`` (gone with this process,
    even after SIGKILL) and this process's pid; AnrError ``busy(holder's pid)`` while another process holds it, OS
    errors as AnrError naming ``owner``."""
    import fcntl

    with os_errors(owner):
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            if not _alive(holder) and time.monotonic() < deadline:
                time.sleep(0.2)  # the holder died; its worker processes still hold the lock for a moment
                continue
            os.close(fd)
            raise AnrError(busy(holder)) from None
        except OSError as exc:
            os.close(fd)
            raise AnrError(os_error_message(exc, owner)) from None
    with contextlib.suppress(OSError):  # the pid only helps the busy message; a full disk may refuse it
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def lock_folder(folder: str | os.PathLike) -> Path:
    """Returns ``folder`` (created if needed) once this process holds its re-entrant ``flock`` on ``folder/.lock``
    (until it ends or `unlock_folder`; another process gets AnrError naming the pid); removes killed writers' files."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _held_locks:
        return folder
    _held_locks[key] = _flock(folder / LOCK_FILE, folder, lambda pid: f"{folder}: another anr-studio process (pid {pid}) "
                              "is using this run folder, expected it to finish or be stopped first")
    for sub in (folder, folder / "checkpoints"):
        remove_stale_partials(sub, older_than_s=0)
    return folder


@contextlib.contextmanager
def writing_lock(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Within it no other process writes ``path`` through this lock: an exclusive ``flock`` on the file ``path.lock``
    beside it, removed at the end; AnrError at once, naming ``path``, while another process (or writer) holds it."""
    path = Path(path)
    lock = path.with_name(f"{path.name}.lock")
    while True:
        fd = _flock(lock, path, lambda pid: f"{path}: another program (pid {pid}) is writing this {what}, "
                    "expected it to finish first")
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        os.close(fd)  # the holder removed the file we locked as it let go: lock the one there now
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)  # while still held, so no one locks the removed file unnoticed
        os.close(fd)


def unlock_folder(folder: str | os.PathLike) -> None:
    """Releases this process's lock on ``folder`` (no-op when not held)."""
    fd = _held_locks.pop(str(Path(folder).resolve()), None)
    if fd is not None:
        os.close(fd)


_PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_path(folder: Literal["resources", "models"], *parts: str) -> Path:
    """Returns the path of a file shipped with the package, e.g. ``shipped_path("resources", "body", "anr_body.safetensors")``:
    in a source checkout the folder beside ``anr_studio/``, in a wheel ``anr_studio/<folder>`` (pyproject.toml)."""
    if folder not in ("resources", "models"):
        raise ValueError(f"shipped_path: folder must be 'resources' or 'models', got {folder!r}")
    checkout = _PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / folder).is_dir():
        return checkout.joinpath(folder, *parts)
    return Path(str(importlib.resources.files("anr_studio").joinpath(folder, *parts)))
