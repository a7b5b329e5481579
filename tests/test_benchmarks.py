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
    assert text.count("\n| conv2d fwd") == sum(n.startswith("conv2d") for n in names)
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


def test_lenet_epoch_and_memory_report(monkeypatch):
    """The epoch is timed in interleaved parts; memory is reported per epoch, and does not grow."""
    monkeypatch.setattr(bench, "_mnist", lambda limit: (np.random.default_rng(0).random((256, 1, 32, 32),
                                                                                        dtype=np.float32),
                                                         np.arange(256) % 10))
    e = bench.lenet_epoch(segments=2)
    assert e["images"] == 256 and e["cnnlab_s"] > 0
    assert len(e["segment_ratios"]) == (2 if bench.torch is not None else 0)
    m = bench.lenet_memory(epochs=3, batches=2)
    assert len(m["peak_mib"]) == 3 and all(v > 0 for v in m["peak_mib"])
    assert m["scratch_mib"][1] == m["scratch_mib"][2] and m["conv_cache_mib"][1] == m["conv_cache_mib"][2]
    text = bench.markdown({"machine": bench._machine(), "gemm_gflops": 1.0, "rows": [],
                           "lenet5_epoch": e, "lenet5_memory": m})
    assert "interleaved parts" in text and "scratch_nbytes()" in text
    assert "| LeNet-5 memory held after each epoch does not grow | yes | - |" in text


def test_targets_name_the_rows_that_miss_them():
    rows = [dict(case="conv2d fwd C3 x", N=64, ratio=2.0, readable_speedup=2.0),
            dict(case="conv2d fwd C1 x", N=64, ratio=1.0, readable_speedup=1.2),
            dict(case="max_pool2d 2x2 fwd+bwd 6x28x28", N=64, ratio=1.0, readable_speedup=None)]
    lines = bench.targets({"rows": rows, "lenet5_epoch": {"ratio": 1.1}})
    assert "| conv2d forward <= 1.5x PyTorch | no | conv2d fwd C3 x N=64: 2.00 |" in lines
    assert "| max-pool forward+backward <= 1.3x PyTorch | yes | - |" in lines
    assert "| the engine >= 1.5x the readable tier | no | conv2d fwd C1 x N=64: 1.20 |" in lines
    assert "| conv_transpose2d forward+backward <= 1.5x PyTorch | no | - |" in lines  # no row: not met
    assert "| LeNet-5 epoch <= 1.2x PyTorch | yes | - |" in lines


def test_step_profile_runs(capsys):
    """`python -m benchmarks.profile_step` prints the per-layer table, cProfile's and (with torch) PyTorch's."""
    from benchmarks import profile_step
    profile_step.main(["--steps", "3"])
    out = capsys.readouterr().out
    assert "one step:" in out and "C3 backward" in out and "optimiser step" in out and "own time under cProfile" in out
    assert ("PyTorch, the same step" in out) == (bench.torch is not None)
