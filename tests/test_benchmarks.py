"""The benchmark harness runs and reports (a smoke test: no timing is asserted)."""
import numpy as np

from benchmarks import run as bench


def test_harness_produces_a_table(tmp_path):
    result = bench.run(quick=True, epoch=False, min_seconds=0, rounds=1)
    names = [r["case"] for r in result["rows"]]
    assert any(n.startswith("conv2d fwd+bwd C1") for n in names) and any("max_pool2d" in n for n in names)
    assert any("per-call overhead" in n for n in names)
    assert all(r["readable_speedup"] > 0 for r in result["rows"] if r["case"].startswith("conv2d"))
    assert all(r["cnnlab_ms"] > 0 for r in result["rows"]) and result["gemm_gflops"] > 0
    text = bench.markdown(result)
    assert text.count("\n| conv2d") == sum(n.startswith("conv2d") for n in names)
    assert "GEMM ceiling" in text


def test_median_time_repeats():
    calls = []
    t = bench.median_time(lambda: calls.append(1), min_repeats=3, min_seconds=0)
    assert len(calls) == 4 and t >= 0 and np.isfinite(t)  # one warm-up plus three timed calls


def test_interleaved_times_take_turns():
    calls = []
    times = bench.interleaved_times([lambda: calls.append("a"), lambda: calls.append("b")], rounds=2,
                                    block_seconds=0, settle_seconds=0)
    assert times.shape == (2, 2) and np.all(times >= 0)
    # each block: one settling call and three timed ones, blocks alternating a, b, a, b
    assert "".join(calls) == "aaaabbbbaaaabbbb"
