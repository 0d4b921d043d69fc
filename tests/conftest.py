"""pytest setup: firmware/ and the core test helpers importable exactly as on the board."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from host_tools.paths import use_firmware  # noqa: E402

use_firmware()
sys.path.insert(0, os.path.join(HERE, "core"))


@pytest.fixture(scope="session")
def code_dir(tmp_path_factory):
    """Where every vdev of this pytest process compiles the firmware (Vdev's mpy_dir in
    tests/host/test_vdev.py): the first vdev compiles it, the others find it up to date
    (about 2-3 CPU s saved per vdev started). Per process, so pytest-xdist workers never
    write the same files."""
    return str(tmp_path_factory.mktemp("vdev_code") / "mpy")


# ------------------------------------------------ the order of the tests under xdist

# Each test's cost in CPU seconds (its own and its subprocesses'), as measured on this
# 2-core machine (issue #17); tests under 0.1 s are left out and count DEFAULT_COST_S.
# Refreshed by `make durations` (TEST_CPU_OUT: pytest_runtest_protocol below).
DURATIONS = os.path.join(HERE, "durations.json")
DEFAULT_COST_S = 0.02
CPU_OUT = os.environ.get("TEST_CPU_OUT")


def _cpu_s():
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if CPU_OUT:

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        """Under TEST_CPU_OUT: each test's CPU (setup, call, teardown; the subprocesses it
        waited for included), one line per test into TEST_CPU_OUT.<pid>."""
        t0 = _cpu_s()
        yield
        with open("%s.%d" % (CPU_OUT, os.getpid()), "a") as f:
            f.write("%.3f\t%s\n" % (_cpu_s() - t0, item.nodeid))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (make pytest): the tests ordered so that each worker's first
    share holds an equal part of the CPU, its costliest tests first. Worksteal hands
    worker i the i-th contiguous slice of this order and lets idle workers take the tail
    of the others' queues; in file order the costliest tests met on one worker late in
    the run and left the other idle at the end."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2 or len(items) < 2 * workers:
        return
    try:
        with open(DURATIONS) as f:
            costs = json.load(f)
    except (OSError, ValueError):
        return
    items[:] = balanced_order(items, workers, costs)


def _group_key(item):
    """Tests sharing a module- or class-scoped fixture stay together, in file order: apart,
    each would build it again (the quick bench, a running vdev, a recorded session)."""
    info = getattr(item, "_fixtureinfo", None)
    shared = ()
    if info is not None:
        shared = tuple(sorted(name for name, defs in info.name2fixturedefs.items()
                              if defs and defs[-1].scope in ("module", "class")))
    return (item.nodeid.split("::")[0], shared) if shared else (item.nodeid, ())


def balanced_order(items, workers, costs):
    """items reordered for `workers` workers: the groups (_group_key) dealt, costliest
    first, to the worker with the least CPU so far that still has room (worksteal gives
    the k-th of w workers left len(pending) // (w - k) tests), then the workers' lists
    one after the other."""
    groups = {}
    for it in items:
        groups.setdefault(_group_key(it), []).append(it)
    ranked = sorted(groups.values(), reverse=True,
                    key=lambda g: sum(costs.get(it.nodeid, DEFAULT_COST_S) for it in g))
    room = []
    left = len(items)
    for k in range(workers):
        room.append(left // (workers - k))
        left -= room[-1]
    load = [0.0] * workers
    lists = [[] for _ in range(workers)]
    for g in ranked:
        fits = [k for k in range(workers) if room[k] >= len(g)] or [room.index(max(room))]
        k = min(fits, key=lambda k: load[k])
        lists[k].extend(g)
        room[k] -= len(g)
        load[k] += sum(costs.get(it.nodeid, DEFAULT_COST_S) for it in g)
    return [it for lst in lists for it in lst]
