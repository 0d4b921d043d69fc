"""`python -m host_tools.bench --against REF` plumbing (host_tools/bench_against.py): the
ref is checked out under build/ and removed again, both trees run, and the keys land in
the JSON. Not the timing: one run each of a 1 s session (about 2 s of wall time)."""

import json
import os

from host_tools import bench, paths


def test_against_head_writes_the_comparison_keys(tmp_path):
    out = tmp_path / "bench.json"
    before = set(os.listdir(paths.BUILD)) if os.path.isdir(paths.BUILD) else set()
    assert bench.main(["--against", "HEAD", "--against-only", "--against-n", "1",
                       "--against-session-ms", "1000", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["errors"] == {}
    assert res["sim_realtime_factor_head"] > 0 and res["sim_realtime_factor_ref"] > 0
    ratio = res["sim_realtime_factor_head"] / res["sim_realtime_factor_ref"]
    assert abs(res["sim_realtime_factor_ratio"] - ratio) < 0.01
    assert res["sim_cpu_factor_ratio"] > 0
    against = res["sim_realtime_factor_against"]
    assert against["ref"] == "HEAD" and len(against["commit"]) == 40
    assert [r[0] for r in against["runs"]] == ["head", "ref"]
    assert res["targets"]["sim_realtime_factor_ratio"]["target"] == ">= 0.90"
    after = set(os.listdir(paths.BUILD))
    assert not [n for n in after - before if n.startswith("against-")]  # removed again
