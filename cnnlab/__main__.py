"""Command line: train and evaluate networks on MNIST.

    python -m cnnlab train --model lenet5 --epochs 10 --out runs/lenet5.npz
    python -m cnnlab evaluate runs/lenet5.npz
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from . import data
from .nn import models, optim, train


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
    t.add_argument("--subset", type=positive(int), help="train on this many images (class-balanced)")
    t.add_argument("--out", default="runs/model.npz", help="checkpoint path (.npz)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint at --out")
    t.add_argument("--no-progress", action="store_true")
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--subset", type=positive(int), help="evaluate on the first N test images")
    return p


def run_train(args):
    images, labels = data.load_mnist("train")
    if args.subset:
        if args.subset > len(labels) or args.subset % 10:
            raise SystemExit(f"--subset must be a multiple of 10 up to {len(labels)}, got {args.subset}")
        idx = data.balanced_subset(labels, args.subset // 10, np.random.default_rng(args.seed))
        images, labels = images[idx], labels[idx]
    test_images, test_labels = data.load_mnist("test")
    model = models.build(args.model, np.random.default_rng(args.seed))
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    sched = optim.MultiStepLR(opt, [max(1, args.epochs // 2), max(1, 4 * args.epochs // 5)], 0.1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    train.fit(model, opt, (model.prepare(images), labels), args.epochs, args.batch_size,
              seed=args.seed, scheduler=sched, checkpoint=args.out, resume=args.resume,
              progress=not args.no_progress)
    loss, acc = train.evaluate(model, model.prepare(test_images), test_labels)
    print(f"test accuracy {acc:.4f} (error {100 * (1 - acc):.2f}%), loss {loss:.4f}; checkpoint {args.out}")


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


def main(argv=None):
    args = parser().parse_args(argv)
    (run_train if args.command == "train" else run_evaluate)(args)


if __name__ == "__main__":
    sys.exit(main())
