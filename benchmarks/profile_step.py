"""Where the time of one LeNet-5 training step goes (`python -m benchmarks.profile_step`).

Trains the modern LeNet-5 (batch 64, SGD with momentum) for `steps` steps
three times: timing every layer's forward and backward, the loss and the
optimiser with a clock around each call, at batch 64 and again on one image
(what remains there is each call's fixed cost: Python, checks, dispatch);
and once under cProfile for the functions that own the time. Prints the
tables as shares of the step; then, with PyTorch installed, the same step of
the same network in PyTorch under torch.profiler, by operator, to show
where the two spend their time differently.
"""
import argparse
import cProfile
import pstats
import time
from collections import defaultdict

import numpy as np

from cnnlab import data
from cnnlab.nn import models, optim


def _setup(steps, batch_size):
    images, labels = data.load_mnist("train")
    model = models.lenet5(np.random.default_rng(0))
    x, y = model.prepare(images[:steps * batch_size]), labels[:steps * batch_size]
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(i):
        xb, yb = x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]
        model.loss.forward(model.forward(xb), yb)
        model.zero_grad()
        model.backward(model.loss.backward(), input_grad=False)
        opt.step()
    return model, opt, step


def _timed(fn, label, totals):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        totals[label] += time.perf_counter() - t
        return out
    return wrapper


def per_layer(steps=200, batch_size=64):
    """({label: seconds per step}, seconds per step) with a clock around every layer call."""
    model, opt, step = _setup(steps, batch_size)
    totals = defaultdict(float)
    for name, layer in model.layers:
        layer.forward = _timed(layer.forward, f"{name} forward", totals)
        layer.backward = _timed(layer.backward, f"{name} backward", totals)
    model.loss.forward = _timed(model.loss.forward, "loss forward", totals)
    model.loss.backward = _timed(model.loss.backward, "loss backward", totals)
    opt.step = _timed(opt.step, "optimiser step", totals)
    model.zero_grad = _timed(model.zero_grad, "zero_grad", totals)
    step(0)  # warm the caches and the scratch memory
    totals.clear()
    t = time.perf_counter()
    for i in range(1, steps):
        step(i)
    per_step = (time.perf_counter() - t) / (steps - 1)
    return {k: v / (steps - 1) for k, v in totals.items()}, per_step


def primitives(steps=200, batch_size=64, top=15):
    """The `top` functions by own time under cProfile, as {name: share of the total}."""
    _, _, step = _setup(steps, batch_size)
    step(0)
    prof = cProfile.Profile()
    prof.enable()
    for i in range(1, steps):
        step(i)
    prof.disable()
    stats = pstats.Stats(prof)
    own = defaultdict(float)
    for (path, _, name), (_, _, tottime, _, _) in stats.stats.items():
        own[name if path == "~" else f"{'/'.join(path.split('/')[-2:])}:{name}"] += tottime  # folder/file:function
    return {k: v / stats.total_tt for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:top]}


def torch_ops(steps=100, batch_size=64, top=12):
    """PyTorch's step of the same LeNet-5 (`benchmarks.run`'s pair): (ms per step
    unprofiled, {operator: self CPU ms per step} for the `top` operators), or
    None without PyTorch."""
    from benchmarks.run import _lenet_pair, torch
    if torch is None:
        return None
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(2)
    _, (net, opt) = _lenet_pair()
    images, labels = data.load_mnist("train")
    x = torch.tensor(models.lenet5().prepare(images[:steps * batch_size]))
    y = torch.tensor(labels[:steps * batch_size].astype(np.int64))

    def step(i):
        opt.zero_grad()
        batch = slice(i * batch_size, (i + 1) * batch_size)
        torch.nn.functional.cross_entropy(net(x[batch]), y[batch]).backward()
        opt.step()
    step(0)
    t = time.perf_counter()
    for i in range(1, steps):
        step(i)
    per_step = (time.perf_counter() - t) / (steps - 1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(1, steps):
            step(i)
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    return per_step, {e.key: e.self_cpu_time_total / 1e3 / (steps - 1) for e in ops}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    layers, per_step = per_layer(args.steps)
    # the same step on one image: what is left is the fixed cost of each call (Python, checks, dispatch)
    fixed, fixed_step = per_layer(args.steps, batch_size=1)
    print(f"one step: {1e3 * per_step:.2f} ms (batch 64); {1e3 * fixed_step:.2f} ms on one image\n")
    print("per layer: share of the step, ms at batch 64, ms on one image (the fixed cost of the call):")
    for label, seconds in sorted(layers.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * seconds / per_step:5.1f} %  {1e3 * seconds:7.3f} ms  {1e3 * fixed[label]:6.3f} ms  {label}")
    print("\nown time under cProfile (share):")
    for name, share in primitives(args.steps).items():
        print(f"  {100 * share:5.1f} %  {name}")
    theirs = torch_ops(args.steps)
    if theirs is not None:
        print(f"\nPyTorch, the same step: {1e3 * theirs[0]:.2f} ms; self CPU ms per step by operator (profiled):")
        for name, ms in theirs[1].items():
            print(f"  {ms:7.3f} ms  {name}")


if __name__ == "__main__":
    main()
