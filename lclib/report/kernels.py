"""Notebook kernels for ``lclib run``: quiet to shut down, and started ahead of their notebook.

A report's kernel spends its first seconds importing pandas, matplotlib, scipy and
lclib (2-5 s each at 10M lines, against notebooks of 4-45 s). While the runner loads
and cleans the data, one core is mostly idle and the notebook workers have nothing to
do: each worker then starts one kernel and imports into it, silently, the modules the
run's notebooks import (:func:`warm_kernel`). The worker's first notebook runs in that
kernel (:func:`kernel_manager_class` hands it to papermill); every later notebook gets a
new kernel as before.

What the notebook sees is unchanged: the warm-up runs with ``silent=True`` and
``store_history=False`` (no execution count, no ``In``/``Out`` entry, no output) and
leaves no name in the namespace; only ``sys.modules`` is filled earlier, with the
modules the notebook's own ``import`` lines load. A warm-up that fails or times out
leaves no spare kernel (the notebook starts its own, as without it).
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Iterable

#: Arguments of every report kernel: its start-up chatter is not the reader's business, and
#: no IPython history is written (nbclient's default, given here for kernels started ahead).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"]

#: Name prefix of the private temporary folder of a kernel's Unix sockets, followed by the process id of
#: the kernel's client and a dash (removed with the kernel; after a client killed outright, by the next run:
#: :func:`remove_stale_socket_folders`)
IPC_PREFIX = "lclib-kernel-"

#: Seconds a kernel may take to start and import the notebooks' modules ahead of its notebook.
WARM_TIMEOUT = 120

_QUIET_KERNEL_MANAGER = None
_SOCKET_FOLDERS: set[str] = set()  # the socket folders of this process's kernels not cleaned up yet
_SPARE: tuple | None = None  # (manager, client, warm-up message id, cwd) of this process's kernel started ahead


def quiet_kernel_manager():
    """jupyter_client's AsyncKernelManager, quiet to shut down, talking over Unix sockets.

    - jupyter_client (7+) interrupts every kernel (SIGINT) before asking it to shut down;
      when the signal lands while the idle kernel is handling a message, ipykernel logs
      ``[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.`` on the terminal. A
      notebook that has finished needs no interrupt; a busy kernel (a timeout, a stopped
      run) is asked to shut down and killed after ``shutdown_wait_time``.
    - On POSIX systems the kernel's five channels are Unix sockets in a private folder
      (``transport = "ipc"``, :data:`IPC_PREFIX`), not TCP ports: the ports of TCP are
      picked by the client and bound by the kernel a moment later, and two workers
      starting kernels at once could pick the same free port ("Address already in use":
      that kernel never answers and its notebook waits for the start-up timeout, 150 s
      instead of 35 s in one run of ten at 10M lines). A folder only its user may open
      also keeps other local users off the kernel, which TCP on localhost does not.
    """
    global _QUIET_KERNEL_MANAGER
    if _QUIET_KERNEL_MANAGER is None:
        import os
        import shutil
        import tempfile

        from jupyter_client.manager import AsyncKernelManager
        from traitlets import CaselessStrEnum, Float

        class QuietShutdownKernelManager(AsyncKernelManager):
            shutdown_wait_time = Float(3.0, config=True)
            transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc" if os.name == "posix" else "tcp",
                                        config=True)
            _ipc_folder = ""

            def _ip_default(self) -> str:
                if self.transport != "ipc":
                    return super()._ip_default()
                # an absolute path: the kernel runs in the notebooks' folder, its client does not
                self._ipc_folder = tempfile.mkdtemp(prefix=f"{IPC_PREFIX}{os.getpid()}-")
                _SOCKET_FOLDERS.add(self._ipc_folder)
                return os.path.join(self._ipc_folder, "kernel")

            def cleanup_ipc_files(self) -> None:
                super().cleanup_ipc_files()
                if self._ipc_folder:
                    shutil.rmtree(self._ipc_folder, ignore_errors=True)
                    _SOCKET_FOLDERS.discard(self._ipc_folder)

            async def _async_interrupt_kernel(self) -> None:
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

        _QUIET_KERNEL_MANAGER = QuietShutdownKernelManager
    return _QUIET_KERNEL_MANAGER


def notebook_imports(paths: Iterable[Path]) -> list[tuple[str, list[str]]]:
    """The absolute imports of the code cells of ``paths``, as ``(module, from-names)``, first seen first.

    ``import a.b`` gives ``("a.b", [])``, ``from a import b, c`` gives ``("a", ["b", "c"])``;
    relative imports and cells that are not plain Python (magics) are left out.

    Examples
    --------
    A notebook whose code cells are ``import pandas as pd`` and
    ``from lclib.analysis import rfm, stages`` gives
    ``[("pandas", []), ("lclib.analysis", ["rfm", "stages"])]``.
    """
    seen: dict[tuple[str, tuple[str, ...]], None] = {}
    for path in paths:
        try:
            cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            try:
                tree = ast.parse("".join(source) if isinstance(source, list) else source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        seen[(alias.name, ())] = None
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    seen[(node.module, tuple(a.name for a in node.names if a.name != "*"))] = None
    return [(module, list(names)) for module, names in seen]


def warm_code(imports: list[tuple[str, list[str]]]) -> str:
    """Code that imports ``imports`` into a kernel and leaves no name behind (an import that fails is skipped:
    the notebook's own line then raises it where the reader sees it)."""
    return ("def __lclib_warm(modules):\n"
            "    for module, names in modules:\n"
            "        try:\n"
            "            __import__(module, fromlist=names)\n"
            "        except Exception:\n"
            "            pass\n"
            f"__lclib_warm({imports!r})\n"
            "del __lclib_warm\n")


def warm_kernel(cwd: str, imports: list[tuple[str, list[str]]]) -> bool:
    """Start a kernel in ``cwd`` and send it, silently, the import of ``imports``; keep it as this process's spare.

    Returns at once (whether the kernel was started): the kernel imports while this
    process goes on. :func:`take_spare` waits for the imports to finish. A kernel
    that cannot be started leaves no spare: the next notebook starts its own, as it
    would without this.
    """
    from jupyter_core.utils import run_sync

    global _SPARE
    drop_spare()
    km = quiet_kernel_manager()(kernel_name="python3")
    try:
        run_sync(km.start_kernel)(extra_arguments=list(KERNEL_ARGUMENTS), cwd=cwd)
        kc = km.client()
        kc.start_channels()  # a message sent before the kernel listens waits in the socket
        msg_id = kc.execute(warm_code(imports), silent=True, store_history=False)
    except Exception:  # noqa: BLE001 - a kernel started ahead is an optimisation, never a failure
        _shutdown(km)
        return False
    _SPARE = (km, kc, msg_id, str(cwd))
    return True


def take_spare(cwd: str, timeout: float = WARM_TIMEOUT):
    """This process's kernel started ahead in ``cwd``, once its imports are done, handed out once.

    None when there is none, it is in another folder, it died, or its imports did not
    finish within ``timeout`` seconds (that kernel is shut down).
    """
    global _SPARE
    if _SPARE is None:
        return None
    (km, kc, msg_id, spare_cwd), _SPARE = _SPARE, None
    ready = False
    if spare_cwd == str(cwd):
        from jupyter_core.utils import run_sync

        deadline = time.monotonic() + timeout
        try:
            while not ready:  # the reply to the warm-up on the shell channel (the only request sent)
                reply = run_sync(kc.get_shell_msg)(timeout=max(0.01, deadline - time.monotonic()))
                ready = reply.get("parent_header", {}).get("msg_id") == msg_id
            ready = reply["content"].get("status") == "ok" and run_sync(km.is_alive)()
        except Exception:  # noqa: BLE001 - no reply in time, or the kernel died: a new kernel instead
            ready = False
    kc.stop_channels()
    if ready:
        return km
    _shutdown(km)
    return None


def drop_spare() -> None:
    """Shut down this process's kernel started ahead, if it has one (a worker ending)."""
    global _SPARE
    if _SPARE is not None:
        (km, kc, _, _), _SPARE = _SPARE, None
        kc.stop_channels()
        _shutdown(km)


def remove_socket_folders() -> None:
    """Remove the socket folders of this process's kernels (ended without their manager's clean-up: a worker stopped)."""
    import shutil

    for folder in list(_SOCKET_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)
        _SOCKET_FOLDERS.discard(folder)


def remove_stale_socket_folders() -> list[str]:
    """Remove the socket folders (in the temporary folder) of clients that no longer run (a run killed
    outright, ``kill -9``, cleans nothing up); returns them."""
    import os
    import shutil
    import tempfile

    gone = []
    for entry in Path(tempfile.gettempdir()).glob(f"{IPC_PREFIX}*-*"):
        pid = entry.name[len(IPC_PREFIX):].split("-", 1)[0]
        if not (pid.isdigit() and entry.is_dir()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
            gone.append(str(entry))
        except (PermissionError, OverflowError):  # another user's live process, or not a pid
            pass
    return gone


def _shutdown(km) -> None:
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - already gone
        pass
    try:
        run_sync(km.cleanup_resources)()
    except Exception:  # noqa: BLE001
        pass


_SPARE_OR_NEW = None


def kernel_manager_class(cwd: str):
    """A kernel manager class for papermill whose first instance in this process is the spare kernel.

    nbclient creates its kernel manager with ``kernel_manager_class(kernel_name=...)``
    and starts a kernel only when the manager has none: given the spare (already
    running, in ``cwd``), it runs the notebook there and shuts it down afterwards as
    it would its own. Without a spare, it is :func:`quiet_kernel_manager`'s class.
    """
    global _SPARE_OR_NEW
    base = quiet_kernel_manager()
    if _SPARE_OR_NEW is None:
        class SpareOrNewKernelManager(base):
            spare_cwd = ""

            def __new__(cls, *args, **kwargs):
                # an instance of the base class: Python then calls no __init__ of this class on it
                spare = take_spare(cls.spare_cwd)
                return spare if spare is not None else base(*args, **kwargs)

        _SPARE_OR_NEW = SpareOrNewKernelManager
    _SPARE_OR_NEW.spare_cwd = str(cwd)
    return _SPARE_OR_NEW
