"""Command line: train and evaluate networks on MNIST, and run the course's experiments.

    python -m cnnlab train --model lenet5 --epochs 10 --out runs/lenet5.npz
    python -m cnnlab evaluate runs/lenet5.npz
    python -m cnnlab experiment ladder        (or: all, --list)
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from . import data
from .nn import models, train


def positive(kind):
    def check(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return check


def parser():
    p = argparse.ArgumentParser(prog="python -m cnnlab", description="Train and evaluate CNNs on MNIST.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on MNIST and save a checkpoint")
    t.add_argument("--model", choices=sorted(models.MODELS), default="lenet5")
    t.add_argument("--epochs", type=positive(int), default=10)
    t.add_argument("--batch-size", type=positive(int), default=64)
    t.add_argument("--lr", type=positive(float), default=0.05)
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--milestones", type=positive(int), nargs="*",
                   help="epochs after which the learning rate is divided by 10 (default: half and 4/5 of --epochs)")
    t.add_argument("--train-images", type=positive(int), default=55_000,
                   help="training images, from the 55,000 outside the 5,000-image validation split")
    t.add_argument("--out", default="runs/model.npz", help="checkpoint path (.npz)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint at --out")
    t.add_argument("--no-progress", action="store_true")
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--subset", type=positive(int), help="evaluate on the first N test images")
    x = sub.add_parser("experiment", help="run a declared experiment and store its results")
    x.add_argument("name", nargs="?", help="an experiment name, or 'all'")
    x.add_argument("--list", action="store_true", help="list the experiments and their runs")
    x.add_argument("--force", action="store_true", help="replace results produced by other code")
    x.add_argument("--keep", action="store_true",
                   help="keep finished runs produced by other code (for changes that cannot affect them)")
    x.add_argument("--results", default=None, help="results folder (default experiments/results)")
    x.add_argument("--no-progress", action="store_true")
    return p


def run_train(args):
    from .nn import runner  # imported here: the CLI's other commands do not need it
    if args.train_images > 55_000:
        raise SystemExit(f"--train-images must be at most 55,000 (5,000 are kept for validation), "
                         f"got {args.train_images}")
    milestones = args.milestones if args.milestones is not None else sorted({max(1, args.epochs // 2),
                                                                             max(1, 4 * args.epochs // 5)})
    run = runner.Run(name="cli", model=args.model, train_images=args.train_images, lr=args.lr,
                     momentum=args.momentum, weight_decay=args.weight_decay, milestones=tuple(milestones),
                     epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    model, history, _, test_data = runner.train_member(run, checkpoint=args.out, resume=args.resume,
                                                       progress=not args.no_progress)
    loss, acc = train.evaluate(model, *test_data)
    print(f"validation accuracy {history['val_acc'][-1]:.4f}; test accuracy {acc:.4f} "
          f"(error {100 * (1 - acc):.2f}%), loss {loss:.4f}; checkpoint {args.out}")


def run_evaluate(args):
    try:
        with np.load(args.checkpoint, allow_pickle=False) as f:
            name = str(f["meta/model"])
    except FileNotFoundError:
        raise SystemExit(f"checkpoint {args.checkpoint} does not exist") from None
    except (KeyError, ValueError, OSError) as err:
        raise SystemExit(f"{args.checkpoint} is not a cnnlab checkpoint: {err}") from None
    model = models.build(name)
    meta = train.load_checkpoint(args.checkpoint, model)
    images, labels = data.load_mnist("test")
    if args.subset:
        images, labels = images[:args.subset], labels[:args.subset]
    loss, acc = train.evaluate(model, model.prepare(images), labels)
    print(f"{name} after {meta['epoch']} epochs: test accuracy {acc:.4f} (error {100 * (1 - acc):.2f}%), "
          f"loss {loss:.4f} on {len(labels)} images")


def run_experiments(args):
    from .nn import runner
    from .nn.experiments import EXPERIMENTS
    if args.list or not args.name:
        for e in EXPERIMENTS.values():
            print(f"{e.name}: {e.description}")
            for r in e.runs:
                extra = f", {r.augment}" if r.augment else ""
                print(f"  - {r.name} ({r.model}, {r.epochs} epochs, {r.train_images:,} images{extra})")
        return
    if args.name != "all" and args.name not in EXPERIMENTS:
        raise SystemExit(f"unknown experiment {args.name!r}; choose one of {sorted(EXPERIMENTS)} or 'all'")
    results = runner.RESULTS if args.results is None else Path(args.results)
    for e in EXPERIMENTS.values() if args.name == "all" else [EXPERIMENTS[args.name]]:
        try:
            out = runner.run_experiment(e, results, force=args.force, keep=args.keep, progress=not args.no_progress)
        except RuntimeError as err:
            raise SystemExit(str(err)) from None
        print(f"{e.name}: {len(out[e.list_key])} runs, {out['total_seconds']:.0f} s of training; "
              f"{runner.results_path(e.name, results)}")


def main(argv=None):
    args = parser().parse_args(argv)
    {"train": run_train, "evaluate": run_evaluate, "experiment": run_experiments}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
