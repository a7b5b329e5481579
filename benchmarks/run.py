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

        yield (f"{name} 2x2 fwd+bwd 6x28x28", n, lambda fwd=fwd, bwd=bwd: (fwd(xp, 2), bwd(gp, xp, 2)),
               torch and tf_p, None, None, None)


def lenet_epoch(batch_size=64, limit=None):
    """Seconds for one SGD-momentum epoch of LeNet-5 on MNIST: cnnlab vs the
    same network in PyTorch; plus cnnlab's peak traced memory (MiB) while
    training (the images themselves excluded)."""
    from cnnlab import data
    from cnnlab.nn import models, optim, train
    images, labels = data.load_mnist("train")
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = data.pad_to_32(data.to_float(images))

    def epoch(n):
        model = models.lenet5(rng=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        train.fit(model, opt, (x[:n], labels[:n]), epochs=1, batch_size=batch_size, seed=0, progress=False)

    t = time.perf_counter()
    epoch(len(x))
    ours = time.perf_counter() - t
    # memory in a separate, shorter run: tracing every allocation slows the loop down
    tracemalloc.start()
    epoch(100 * batch_size)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    theirs = None
    if torch is not None:
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
            torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
            torch.nn.Linear(84, 10))
        topt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        tx, ty = torch.tensor(x), torch.tensor(labels)
        t = time.perf_counter()
        for i in torch.randperm(len(tx)).split(batch_size):
            topt.zero_grad()
            F.cross_entropy(net(tx[i]), ty[i]).backward()
            topt.step()
        theirs = time.perf_counter() - t
    return ours, theirs, peak


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
    result = dict(machine=_machine(), gemm_gflops=peak, rows=rows)
    if epoch:
        ours, theirs, mem = lenet_epoch(limit=6000 if quick else None)
        result["lenet5_epoch"] = dict(images=6000 if quick else 60000, cnnlab_s=ours, torch_s=theirs,
                                      ratio=theirs and ours / theirs, cnnlab_peak_mib=mem)
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
    return dict(platform=platform.platform(), processor=platform.machine(), cpus=os.cpu_count(),
                numpy=np.__version__, torch=torch.__version__ if torch else None)


def markdown(result):
    m = result["machine"]
    lines = [f"Measured on {m['platform']} ({m['processor']}, {m['cpus']} CPUs), NumPy {m['numpy']}, "
             f"PyTorch {m['torch'] or 'not installed'}; float32 GEMM ceiling {result['gemm_gflops']:.0f} GFLOP/s.",
             "", HEADER] + [_row(r) for r in result["rows"]]
    e = result.get("lenet5_epoch")
    if e:
        lines += ["", f"LeNet-5, one epoch of {e['images']:,} MNIST images (batch 64, SGD momentum): "
                      f"cnnlab {e['cnnlab_s']:.1f} s, PyTorch {_fmt(e['torch_s'], '.1f')} s, "
                      f"ratio {_fmt(e['ratio'], '.2f')}; cnnlab peak traced memory {e['cnnlab_peak_mib']:.0f} MiB."]
    return "\n".join(lines) + "\n"


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
