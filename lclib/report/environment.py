"""Allocation settings of the processes ``lclib run`` starts: no transparent huge pages for the arrays.

A report kernel builds and drops frames of millions of rows cell after cell, and
hands the freed memory back after every cell (:func:`lclib.io.memory.release_memory`),
so most of its arrays land on pages the system has to clear first. numpy asks for
transparent huge pages for every array above 4 MiB (``madvise(MADV_HUGEPAGE)``) and
Arrow's default pool (mimalloc) gets them too: each first touch then clears 2 MiB at
once, whether the array needs it or not. At 10M order lines that clearing was a third
of the kernels' CPU (34-54 s of system time out of 118-160 s, ``clear_page_erms`` under
``do_huge_pmd_anonymous_page`` in ``perf``); with the settings below it is 20-23 s, and
the run's peak is no higher.

:data:`PROCESS_ENVIRONMENT` holds two documented switches of the libraries themselves:
``NUMPY_MADVISE_HUGEPAGE=0`` (numpy, read when numpy is imported) and
``ARROW_DEFAULT_MEMORY_POOL=system`` (Arrow allocates with the C library's ``malloc``,
whose free memory :func:`~lclib.io.memory.release_memory` returns). They change how
memory is allocated, never a number. A variable already set in the environment is
left as it is: ``NUMPY_MADVISE_HUGEPAGE=1 lclib run`` keeps numpy's huge pages.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Mapping

#: Environment variables of the notebook kernels and worker processes of a run (and of the
#: ``lclib`` command itself), each applied only when the environment does not set it already.
PROCESS_ENVIRONMENT = {"NUMPY_MADVISE_HUGEPAGE": "0", "ARROW_DEFAULT_MEMORY_POOL": "system"}


def missing_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The entries of :data:`PROCESS_ENVIRONMENT` that ``environ`` (default ``os.environ``) does not set.

    Examples
    --------
    >>> missing_settings({"NUMPY_MADVISE_HUGEPAGE": "1"})
    {'ARROW_DEFAULT_MEMORY_POOL': 'system'}
    """
    environ = os.environ if environ is None else environ
    return {k: v for k, v in PROCESS_ENVIRONMENT.items() if k not in environ}


@contextmanager
def process_environment() -> Iterator[dict[str, str]]:
    """Within the block, processes started from this one get :data:`PROCESS_ENVIRONMENT`.

    Sets the missing variables in ``os.environ`` (kernels and spawned workers copy it when
    they start) and removes exactly those again on leaving, so that a Python session that
    calls :func:`lclib.report.runner.run` keeps its own environment. Yields what was set.
    """
    added = missing_settings()
    os.environ.update(added)
    try:
        yield added
    finally:
        for name, value in added.items():
            if os.environ.get(name) == value:
                del os.environ[name]
