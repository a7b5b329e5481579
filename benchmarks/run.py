"""Benchmark cnnlab against PyTorch CPU, the plain-loop reference and the BLAS ceiling.

    python -m benchmarks.run [--quick] [--no-epoch] [--out benchmarks/results]

Every number is a median over repeats. cnnlab and PyTorch take turns in short
blocks, and each ratio is the median of the per-round ratios, so the drifting
speed of a shared machine affects both sides alike.
Writes `latest.md` and `latest.json` to the output folder and prints the table.
"""
import argparse
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

# OpenBLAS's idle worker threads spin for ~2^28 cycles after every matmul. On
# shared virtual CPUs that busy core can halve the speed of the main thread for
# seconds at a time; a short spin (read when NumPy loads, hence set before the
# import; `make` sets it too) keeps the timings of both libraries stable.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

import cnnlab as cl  # noqa: E402
from cnnlab import reference
from cnnlab.nn import layers  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # parity columns are left empty
    torch = None


def median_time(fn, min_repeats=5, min_seconds=0.5):
    """Median wall time of fn() in seconds after one warm-up call."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 200:
            break
    return float(np.median(times))


def interleaved_times(fns, rounds=7, block_seconds=0.1, settle_seconds=0.15):
    """Per-round median wall times (seconds) of each function, shape (rounds, len(fns)).

    The functions take turns in blocks, round after round: the speed of a
    shared machine drifts by up to 2x over seconds, and taking turns exposes
    every function to the same drift (the per-round ratios cancel it). Each
    block first runs its function uncounted for `settle_seconds`: after a
    NumPy matmul, OpenBLAS's idle threads keep spinning for ~0.1 s and slow
    PyTorch down by a quarter, which must not count against PyTorch.
    """
    out = np.empty((rounds, len(fns)))
    for r in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            while time.perf_counter() - start < settle_seconds:
                fn()
            times, start = [], time.perf_counter()
            while len(times) < 3 or time.perf_counter() - start < block_seconds:
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            out[r, i] = np.median(times)
    return out


def gemm_gflops(n=2048, min_seconds=1.0):
    """The practical float32 ceiling: GFLOP/s of one large NumPy matmul."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    return 2 * n ** 3 / median_time(lambda: a @ a, min_repeats=5, min_seconds=min_seconds) / 1e9


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def conv_cases(batch_sizes):
    """(name, N, cnnlab fn, torch fn, loop fn at N=1, GFLOP, readable-tier fn) for conv2d cases; the
    readable tier is `cnnlab.reference.conv2d_im2col` (and its backward) on the same batch."""
    shapes = {"C1 1x32x32->6@5x5": (1, 32, 6, 5, 0), "C3 6x14x14->16@5x5": (6, 14, 16, 5, 0),
              "wide 32x28x28->64@3x3 p1": (32, 28, 64, 3, 1)}
    rng = np.random.default_rng(0)
    for label, (cin, size, cout, k, p) in shapes.items():
        for n in batch_sizes:
            x = rng.standard_normal((n, cin, size, size), dtype=np.float32)
            w = rng.standard_normal((cout, cin, k, k), dtype=np.float32)
            g = np.ones_like(cl.conv2d(x, w, padding=p))
            flops = 2 * g.size * cin * k * k / 1e9
            x1 = x[:1].astype(np.float64)

            def tf(x=x, w=w, g=g, p=p):
                tx, tw = _t(x, True), _t(w, True)
                F.conv2d(tx, tw, padding=p).backward(_t(g))

            yield (f"conv2d fwd {label}", n, lambda x=x, w=w, p=p: cl.conv2d(x, w, padding=p),
                   torch and (lambda x=x, w=w, p=p: F.conv2d(_t(x), _t(w), padding=p)),
                   lambda x1=x1, w=w, p=p: reference.conv2d(x1, w, padding=p), flops,
                   lambda x=x, w=w, p=p: reference.conv2d_im2col(x, w, padding=p))

            def readable_step(x=x, w=w, g=g, p=p):
                return reference.conv2d_im2col(x, w, padding=p), reference.conv2d_im2col_backward(g, x, w, padding=p)

            layer = layers.Conv2d(cin, cout, k, padding=p, bias=False)
            layer.params["weight"][...] = w

            def step(layer=layer, x=x, g=g):
                layer.forward(x)
                layer.backward(g)

            # The layer keeps its im2col columns for backward, as autograd keeps
            # its saved tensors; the stateless pair has to unfold the input again.
            yield f"conv2d fwd+bwd {label}", n, step, torch and tf, None, 3 * flops, readable_step
            yield (f"conv2d fwd+bwd stateless {label}", n,
                   lambda x=x, w=w, g=g, p=p: (cl.conv2d(x, w, padding=p), cl.conv2d_backward(g, x, w, padding=p)),
                   torch and tf, None, 3 * flops, readable_step)


def overhead_case():
    """The cost of one call on a tiny input (1x1x4x4 image, 3x3 kernel): argument checks and dispatch."""
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    yield ("conv2d fwd per-call overhead 1x1x4x4@3x3", 1, lambda: cl.conv2d(x, w),
           torch and (lambda: F.conv2d(_t(x), _t(w))), None, None, lambda: reference.conv2d_im2col(x, w))


def other_cases(n):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 16, 14, 14), dtype=np.float32)
    w = rng.standard_normal((16, 8, 4, 4), dtype=np.float32)
    g = np.ones_like(cl.conv_transpose2d(x, w, stride=2, padding=1))

    def tf_t():
        tx, tw = _t(x, True), _t(w, True)
        F.conv_transpose2d(tx, tw, stride=2, padding=1).backward(_t(g))

    yield ("conv_transpose2d fwd+bwd 16x14x14->8@4x4 s2", n,
           lambda: (cl.conv_transpose2d(x, w, stride=2, padding=1),
                    cl.conv_transpose2d_backward(g, x, w, stride=2, padding=1)),
           torch and tf_t, None, 3 * 2 * x.size * 8 * 16 / 1e9, None)
    xp = rng.standard_normal((n, 6, 28, 28), dtype=np.float32)
    gp = np.ones((n, 6, 14, 14), dtype=np.float32)
    for name, fwd, bwd, tfn in (("max_pool2d", cl.max_pool2d, cl.max_pool2d_backward, "max_pool2d"),
                                ("avg_pool2d", cl.avg_pool2d, cl.avg_pool2d_backward, "avg_pool2d")):
        def tf_p(tfn=tfn):
            tx = _t(xp, True)
            getattr(F, tfn)(tx, 2).backward(_t(gp))

        yield (f"{name} 2x2 fwd+bwd stateless 6x28x28", n, lambda fwd=fwd, bwd=bwd: (fwd(xp, 2), bwd(gp, xp, 2)),
               torch and tf_p, None, None, None)
        if name == "max_pool2d":  # as layers.MaxPool2d runs it: the winning taps kept, as autograd keeps indices
            yield (f"{name} 2x2 fwd+bwd 6x28x28", n,
                   lambda: cl.max_pool2d_backward(gp, xp, 2, winners=cl.max_pool2d_winners(xp, 2)[1]),
                   torch and tf_p, None, None, None)


def _lenet_pair():
    """LeNet-5 in cnnlab and the same network in PyTorch (None without torch), each with SGD momentum."""
    from cnnlab.nn import models, optim
    model = models.lenet5(rng=np.random.default_rng(0))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if torch is None:
        return (model, opt), None
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))
    return (model, opt), (net, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9))


def _mnist(limit):
    from cnnlab import data
    images, labels = data.load_mnist("train")
    if limit:
        images, labels = images[:limit], labels[:limit]
    return data.pad_to_32(data.to_float(images)), labels


def lenet_epoch(batch_size=64, limit=None, segments=6):
    """One SGD-momentum epoch of LeNet-5 on MNIST, cnnlab against the same
    network in PyTorch, as dict(cnnlab_s, torch_s, ratio, segment_ratios).

    The epoch is cut into `segments` parts of the shuffled data; cnnlab trains
    on part i, then PyTorch does: a drifting machine slows both alike, and the
    ratio is the median of the per-part ratios (the totals are sums)."""
    from cnnlab.nn import train
    x, labels = _mnist(limit)
    (model, opt), theirs = _lenet_pair()
    parts = np.array_split(np.random.default_rng(0).permutation(len(x)), segments)
    ours_s, theirs_s = [], []
    for i, idx in enumerate(parts):
        t = time.perf_counter()
        train.fit(model, opt, (x[idx], labels[idx]), epochs=1, batch_size=batch_size, seed=i, progress=False)
        ours_s.append(time.perf_counter() - t)
        if theirs is not None:
            net, topt = theirs
            tx, ty = torch.tensor(x[idx]), torch.tensor(labels[idx])
            t = time.perf_counter()
            for batch in torch.randperm(len(tx)).split(batch_size):
                topt.zero_grad()
                F.cross_entropy(net(tx[batch]), ty[batch]).backward()
                topt.step()
            theirs_s.append(time.perf_counter() - t)
    ratios = [a / b for a, b in zip(ours_s, theirs_s)]
    return dict(images=len(x), cnnlab_s=sum(ours_s), torch_s=sum(theirs_s) if theirs_s else None,
                ratio=float(np.median(ratios)) if ratios else None, segment_ratios=ratios)


def lenet_memory(epochs=3, batches=100, batch_size=64):
    """Memory of LeNet-5 training in cnnlab over `epochs` short epochs (`batches`
    batches each): per epoch, the peak traced while training (the images
    excluded), the engine's scratch held afterwards (`cl.scratch_nbytes()`)
    and the columns the conv layers keep (`ConvCache.nbytes`), all in MiB.
    Equal numbers from epoch to epoch mean no growth."""
    from cnnlab.nn import train
    x, labels = _mnist(batches * batch_size)
    (model, opt), _ = _lenet_pair()
    report = {"peak_mib": [], "scratch_mib": [], "conv_cache_mib": []}
    cl.release_scratch()  # count LeNet's scratch only, not what the benchmark rows before left behind
    tracemalloc.start()
    for epoch in range(epochs):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        train.fit(model, opt, (x, labels), epochs=1, batch_size=batch_size, seed=epoch, progress=False)
        report["peak_mib"].append((tracemalloc.get_traced_memory()[1] - before) / 2 ** 20)
        report["scratch_mib"].append(cl.scratch_nbytes() / 2 ** 20)
        report["conv_cache_mib"].append(sum(layer.cache.nbytes for _, layer in model.layers
                                            if hasattr(layer, "cache")) / 2 ** 20)
    tracemalloc.stop()
    return report


def run(quick=False, epoch=True, min_seconds=0.5, rounds=7):
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
    peak = gemm_gflops(1024 if quick else 2048, 2 * min_seconds)
    rows = []
    cases = list(overhead_case()) + list(conv_cases((64,) if quick else (64, 256))) + list(other_cases(64))
    for name, n, ours, theirs, loop, gflop, readable in cases:
        fns = [ours] + [f for f in (theirs, readable) if f]   # all take turns in the same rounds
        per_round = interleaved_times(fns, rounds, min_seconds / 5, min_seconds / 3)
        col = {"theirs": 1 if theirs else None, "readable": len(fns) - 1 if readable else None}
        def median(c):
            return float(np.median(per_round[:, c])) if c is not None else None

        def ratio(c):  # the median of the per-round ratios to cnnlab: the drift of the machine cancels
            return float(np.median(per_round[:, c] / per_round[:, 0])) if c is not None else None

        t_ours, t_loop = median(0), median_time(loop, min_repeats=1, min_seconds=0) if (loop and not quick) else None
        rows.append(dict(case=name, N=n, cnnlab_ms=1e3 * t_ours,
                         torch_ms=theirs and 1e3 * median(col["theirs"]),
                         ratio=theirs and 1 / ratio(col["theirs"]),
                         readable_ms=readable and 1e3 * median(col["readable"]),
                         readable_speedup=readable and ratio(col["readable"]),
                         gflops=gflop and gflop / t_ours,
                         peak_fraction=gflop and gflop / t_ours / peak,
                         loop_ms_n1=t_loop and 1e3 * t_loop))
        print(_row(rows[-1]), flush=True)
    # the ceiling again at the end, and the higher of the two: a slow spell of the shared machine
    # during one measurement must not make the shares of the peak look better than they are
    peak = max(peak, gemm_gflops(1024 if quick else 2048, 2 * min_seconds))
    for r in rows:
        r["peak_fraction"] = r["gflops"] and r["gflops"] / peak
    result = dict(machine=_machine(), gemm_gflops=peak, rows=rows)
    if epoch:
        result["lenet5_epoch"] = lenet_epoch(limit=6000 if quick else None)
        result["lenet5_memory"] = lenet_memory(batches=20 if quick else 100)
    return result


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


HEADER = ("| case | N | cnnlab ms | torch ms | cnnlab/torch | readable ms | readable/cnnlab | GFLOP/s | "
          "of GEMM peak | loop ms (N=1) |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def _row(r):
    return (f"| {r['case']} | {r['N']} | {_fmt(r['cnnlab_ms'], '.3f' if r['cnnlab_ms'] < 0.1 else '.2f')} | "
            f"{_fmt(r['torch_ms'], '.3f' if (r['torch_ms'] or 1) < 0.1 else '.2f')} | {_fmt(r['ratio'], '.2f')} | "
            f"{_fmt(r.get('readable_ms'), '.2f')} | {_fmt(r.get('readable_speedup'), '.2f')} | "
            f"{_fmt(r['gflops'], '.1f')} | {_fmt(r['peak_fraction'], '.0%')} | {_fmt(r['loop_ms_n1'], '.0f')} |")


def _machine():
    from cnnlab.engine import direct
    return dict(platform=platform.platform(), processor=platform.machine(), cpus=os.cpu_count(),
                numpy=np.__version__, torch=torch.__version__ if torch else None, direct=direct.available())


# The performance targets: (what, the rows' case names start with, the column, the limit it must not exceed).
TARGETS = [("conv2d forward <= 1.5x PyTorch", ("conv2d fwd C1", "conv2d fwd C3", "conv2d fwd wide"), "ratio", 1.5),
           ("conv2d forward+backward <= 1.3x PyTorch",
            ("conv2d fwd+bwd C1", "conv2d fwd+bwd C3", "conv2d fwd+bwd wide"), "ratio", 1.3),
           ("conv_transpose2d forward+backward <= 1.5x PyTorch", ("conv_transpose2d",), "ratio", 1.5),
           ("max-pool forward+backward <= 1.3x PyTorch", ("max_pool2d 2x2 fwd+bwd 6x28x28",), "ratio", 1.3),
           ("the engine >= 1.5x the readable tier", ("conv2d",), "readable_speedup", -1.5)]


def targets(result):
    """Markdown lines: each target, met or not, with the rows that miss it."""
    lines = ["| target | met | rows that miss it |", "| --- | --- | --- |"]
    for what, prefixes, column, limit in TARGETS:
        rows = [r for r in result["rows"] if r["case"].startswith(prefixes) and r.get(column) is not None]
        # a negative limit is a floor (speed-ups must reach it), a positive one a ceiling (ratios)
        missed = [r for r in rows if (r[column] < -limit if limit < 0 else r[column] > limit)]
        lines.append(f"| {what} | {'yes' if rows and not missed else 'no'} | "
                     + ("; ".join(f"{r['case']} N={r['N']}: {r[column]:.2f}" for r in missed) or "-") + " |")
    e = result.get("lenet5_epoch")
    if e and e.get("ratio") is not None:
        met = e["ratio"] <= 1.2
        lines.append(f"| LeNet-5 epoch <= 1.2x PyTorch | {'yes' if met else 'no'} | "
                     f"{'-' if met else format(e['ratio'], '.2f')} |")
    m = result.get("lenet5_memory")
    if m:  # the first epoch allocates; from the second on nothing may grow
        steady = all(len(set(m[k][1:])) == 1 for k in ("scratch_mib", "conv_cache_mib"))
        lines.append(f"| LeNet-5 memory held after each epoch does not grow | {'yes' if steady else 'no'} | "
                     f"{'-' if steady else 'scratch ' + str(m['scratch_mib'])} |")
    return lines


def markdown(result):
    m = result["machine"]
    lines = [f"Measured on {m['platform']} ({m['processor']}, {m['cpus']} CPUs), NumPy {m['numpy']}, "
             f"PyTorch {m['torch'] or 'not installed'}; float32 GEMM ceiling {result['gemm_gflops']:.0f} GFLOP/s; "
             f"direct kernels {'built' if m.get('direct') else 'not built (NumPy engine only)'}.",
             "", HEADER] + [_row(r) for r in result["rows"]]
    e, m = result.get("lenet5_epoch"), result.get("lenet5_memory")
    if e:
        lines += ["", f"LeNet-5, one epoch of {e['images']:,} MNIST images (batch 64, SGD momentum), in "
                      f"{len(e['segment_ratios']) or 'one'} interleaved parts: cnnlab {e['cnnlab_s']:.1f} s, "
                      f"PyTorch {_fmt(e['torch_s'], '.1f')} s, ratio {_fmt(e['ratio'], '.2f')} (median over the "
                      f"parts: {', '.join(f'{r:.2f}' for r in e['segment_ratios'])})."]
    if m:
        def mib(values):
            return " / ".join(f"{v:.1f}" for v in values)
        lines += ["", f"cnnlab memory over {len(m['peak_mib'])} short epochs: peak traced while training "
                      f"{mib(m['peak_mib'])} MiB, engine scratch held afterwards (`scratch_nbytes()`) "
                      f"{mib(m['scratch_mib'])} MiB, columns kept by the conv layers {mib(m['conv_cache_mib'])} MiB."]
    return "\n".join(lines + ["", "Targets in this run:", ""] + targets(result)) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a 6,000-image epoch")
    parser.add_argument("--no-epoch", action="store_true", help="skip the LeNet-5 epoch")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    print(HEADER)
    result = run(quick=args.quick, epoch=not args.no_epoch)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=2))
    (out / "latest.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
