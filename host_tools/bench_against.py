"""`make bench AGAINST=REF`: the simulator's speed of this tree against a git ref, in one run.

Owns checking REF out in a temporary worktree under build/ (removed afterwards),
measuring `sim_realtime_factor` of both trees interleaved - this tree, the ref, this
tree, the ref, ... N times each, best of N each - and the keys it adds to
build/bench.json:
    sim_realtime_factor_head   this tree, best of the interleaved runs
    sim_realtime_factor_ref    the ref, best of the interleaved runs
    sim_realtime_factor_ratio  head / ref; target >= 0.90 (issue #19: a change may cost
                               at most 10% of the simulator's speed)
    sim_cpu_factor_ratio       the same by each process's CPU time (reported: less
                               sensitive to other jobs taking the cores)
    sim_realtime_factor_against  {"ref", "commit", "n", "session_ms", "runs"}, runs as
                               [tree, wall-clock factor, CPU-time factor].
Why interleaved and best-of: this machine is shared (2 cores, other jobs); two figures
taken minutes apart see different loads, A B A B ... sees the same, and the best run of
each is the one least disturbed.

Each run is a fresh process with the same interpreter, in the tree it measures: that
tree's own host_tools.bench.sim_factor() (its session script, its firmware, its
simulator) with SESSION_MS set to the session length, so a ref measures as it was.
"""

import json
import os
import shutil
import subprocess
import sys

from host_tools import paths

RATIO_TARGET = 0.90
_MARK = "SIMFACTOR "
_CHILD = (
    "import json, sys, time\n"
    "sys.path.insert(0, %r)\n"
    "from host_tools import bench\n"
    "bench.SESSION_MS = %d\n"
    "c0 = time.process_time()\n"
    "f, d = bench.sim_factor(False)\n"
    "cpu_s = time.process_time() - c0\n"
    "print(%r + json.dumps([f, bench.SESSION_MS / 1000.0 / cpu_s]))\n"
)


class AgainstError(Exception):
    pass


def _git(*args):
    p = subprocess.run(["git", "-C", paths.ROOT] + list(args), capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise AgainstError("git %s: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout.strip()


def checkout(ref):
    """(commit, path): ref checked out, detached, in a new worktree under build/."""
    commit = _git("rev-parse", "--verify", "--end-of-options", ref + "^{commit}")
    path = os.path.join(paths.BUILD, "against-%s" % commit[:12])
    remove(path)
    os.makedirs(paths.BUILD, exist_ok=True)
    _git("worktree", "add", "--detach", path, commit)
    return commit, path


def remove(path):
    if os.path.isdir(path):
        subprocess.run(["git", "-C", paths.ROOT, "worktree", "remove", "--force", path],
                       capture_output=True, timeout=300)
        shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "-C", paths.ROOT, "worktree", "prune"], capture_output=True,
                   timeout=300)


def run_once(tree, session_ms, timeout_s=1800):
    """(sim_realtime_factor, the same by CPU time) of the tree at `tree`, in a fresh
    process. The CPU-time figure (simulated s per s of the process's own CPU time) leaves
    out the waits for a core that other jobs cause; it still includes their cache and
    memory contention."""
    code = _CHILD % (tree, session_ms, _MARK)
    p = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True,
                       text=True, timeout=timeout_s)
    for line in p.stdout.splitlines():
        if line.startswith(_MARK):
            wall, cpu = json.loads(line[len(_MARK):])
            return float(wall), float(cpu)
    raise AgainstError("no figure from %s (exit %d): %s" % (tree, p.returncode,
                                                          p.stderr.strip()[-400:]))


def compare(ref, n, session_ms, say=lambda msg: None):
    """The keys above, measured: A B A B ... n times each."""
    commit, tree = checkout(ref)
    runs = []
    try:
        for i in range(n):
            for who, root in (("head", paths.ROOT), ("ref", tree)):
                say("sim speed %s run %d/%d" % (who, i + 1, n))
                wall, cpu = run_once(root, session_ms)
                runs.append((who, round(wall, 1), round(cpu, 1)))
    finally:
        remove(tree)
    head = max(r[1] for r in runs if r[0] == "head")
    base = max(r[1] for r in runs if r[0] == "ref")
    head_cpu = max(r[2] for r in runs if r[0] == "head")
    base_cpu = max(r[2] for r in runs if r[0] == "ref")
    return {
        "sim_realtime_factor_head": head,
        "sim_realtime_factor_ref": base,
        "sim_realtime_factor_ratio": round(head / base, 3),
        "sim_cpu_factor_ratio": round(head_cpu / base_cpu, 3),
        "sim_realtime_factor_against": {"ref": ref, "commit": commit, "n": n,
                                        "session_ms": session_ms,
                                        "runs": [list(r) for r in runs]},
    }


def add_to(res, figures):
    """Merge compare()'s figures into a bench result, with the ratio's verdict."""
    res.update(figures)
    ok = figures["sim_realtime_factor_ratio"] >= RATIO_TARGET
    res.setdefault("targets", {})["sim_realtime_factor_ratio"] = {
        "target": ">= %.2f" % RATIO_TARGET, "unit": "x", "pass": ok}
    missed = res.setdefault("missed", [])
    if not ok and "sim_realtime_factor_ratio" not in missed:
        missed.append("sim_realtime_factor_ratio")
    return res


def summary(res):
    a = res["sim_realtime_factor_against"]
    return ("sim_realtime_factor against %s (%s): head %.1f x, ref %.1f x, ratio %.3f"
            " (target >= %.2f: %s; by CPU time %.3f; best of %d interleaved runs each,"
            " %d ms sessions)"
            % (a["ref"], a["commit"][:10], res["sim_realtime_factor_head"],
               res["sim_realtime_factor_ref"], res["sim_realtime_factor_ratio"],
               RATIO_TARGET, "PASS" if res["targets"]["sim_realtime_factor_ratio"]["pass"]
               else "MISSED", res["sim_cpu_factor_ratio"], a["n"], a["session_ms"]))
