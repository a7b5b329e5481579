"""Training loop, evaluation and checkpoints.

`fit` is deterministic: the shuffling and the dropout masks of epoch e come
from generators seeded with (seed, e), so the same seed gives bit-identical
weights, and a run resumed from the checkpoint of epoch e continues exactly
as the uninterrupted run would have. Checkpoints are plain `.npz` files
(no pickle) written atomically; loading checks every name and shape.
"""
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data import minibatches

HISTORY_KEYS = ("loss", "acc", "val_loss", "val_acc", "seconds")


def evaluate(model, x, y, batch_size=1000):
    """(mean loss, accuracy) of `model` on x (N, ...) and int labels y (N,), in eval mode."""
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = model.forward(x[i:i + batch_size])
        total += model.loss.forward(out, y[i:i + batch_size]) * len(out)
        correct += int((model.predict(out) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return total / len(x), correct / len(x)


def predict(model, x, batch_size=1000):
    """Predicted classes (N,) for x (N, ...), in eval mode (the mode is restored after)."""
    was_training = model.training
    model.eval()
    preds = np.concatenate([model.predict(model.forward(x[i:i + batch_size])) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return preds


def gradient_norms(model, x, y):
    """{layer name: ||dLoss/dW||} for every layer with a weight, after one
    forward and backward pass of `model` on (x, y) with its loss (notebook 07,
    section 1: where do the gradients vanish?). The model's gradients are
    zeroed first; its parameters are not changed."""
    model.loss.forward(model.forward(x), y)
    model.zero_grad()
    model.backward(model.loss.backward())
    return {name: float(np.linalg.norm(layer.grads["weight"])) for name, layer in model.layers
            if "weight" in layer.params}


def confusion_matrix(y_true, y_pred, classes=10):
    """counts[i, j] = how many examples of class i were predicted as j."""
    return np.bincount(np.asarray(y_true) * classes + np.asarray(y_pred), minlength=classes * classes
                       ).reshape(classes, classes)


def train_epoch(model, optimizer, x, y, batch_size, rng, progress=None):
    """One pass over shuffled minibatches; returns (mean loss, accuracy) seen in training."""
    model.train()
    total, correct = 0.0, 0
    for step, idx in enumerate(minibatches(len(x), batch_size, rng)):
        out = model.forward(x[idx])
        loss = model.loss.forward(out, y[idx])
        model.zero_grad()
        model.backward(model.loss.backward(), input_grad=False)
        optimizer.step()
        total += loss * len(idx)
        correct += int((model.predict(out) == y[idx]).sum())
        if progress is not None:
            progress.update(len(idx))
            if step % 20 == 0:
                progress.set_postfix(loss=f"{loss:.4f}", lr=f"{optimizer.lr:.3g}", refresh=False)
    return total / len(x), correct / len(x)


def fit(model, optimizer, train_data, epochs, batch_size=64, val_data=None, seed=0, scheduler=None,
        checkpoint=None, resume=False, progress=True):
    """Train for `epochs` epochs (counting those already in a resumed checkpoint).

    train_data, val_data: (x, y) pairs. checkpoint: a path written after every
    epoch; with resume=True an existing checkpoint there is loaded first.
    Returns the history: lists of loss, acc, val_loss, val_acc, seconds per epoch.
    """
    x, y = train_data
    history = {k: [] for k in HISTORY_KEYS}
    start = 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        meta = load_checkpoint(checkpoint, model, optimizer)
        start, history = meta["epoch"], meta["history"]
    if scheduler is not None:
        scheduler.epoch = start
        optimizer.lr = scheduler.lr_at(start)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        model.reseed(seed, epoch)
        # redraw at most once a second: in a notebook every redraw is a widget message, and a
        # flood of them can outrun the kernel's output channel (nbval then times out)
        bar = tqdm(total=len(x), desc=f"epoch {epoch + 1}/{epochs}", unit="img", leave=True,
                   disable=not progress, mininterval=1.0)
        loss, acc = train_epoch(model, optimizer, x, y, batch_size, np.random.default_rng([seed, epoch]), bar)
        if scheduler is not None:
            scheduler.step()
        val_loss, val_acc = evaluate(model, *val_data) if val_data is not None else (np.nan, np.nan)
        for key, value in zip(HISTORY_KEYS, (loss, acc, val_loss, val_acc, time.perf_counter() - t0)):
            history[key].append(float(value))
        bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.4f}", val_acc=f"{val_acc:.4f}")
        bar.close()
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, epoch + 1, history)
    return history


def save_checkpoint(path, model, optimizer=None, epoch=0, history=None):
    """Write parameters, optimizer state, epoch and history to `path` (.npz)
    atomically: a crash mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    arrays = {f"param/{n}": p for n, p in model.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": v for k, v in optimizer.state.items()})
        arrays["meta/lr"] = np.array(optimizer.lr)
    arrays.update({f"history/{k}": np.array(v, dtype=np.float64) for k, v in (history or {}).items()})
    arrays["meta/epoch"] = np.array(epoch)
    arrays["meta/model"] = np.array(model.name)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path, model, optimizer=None):
    """Restore `model` (and `optimizer`) from `path`; every name and shape must
    match. Returns {'epoch', 'history', 'model', 'lr'}."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError) as err:
        raise ValueError(f"checkpoint {path} is not a readable .npz file: {err}") from None
    if "meta/epoch" not in arrays:
        raise ValueError(f"checkpoint {path} has no meta/epoch entry: not a cnnlab checkpoint")
    name = str(arrays.get("meta/model", ""))
    if name and name != model.name:
        raise ValueError(f"checkpoint {path} holds a {name!r} model, not {model.name!r}")
    model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("param/")})
    if optimizer is not None:
        state = {k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}
        if set(state) != set(optimizer.state):
            raise ValueError(f"checkpoint {path} optimizer state {sorted(state)[:3]}... does not match "
                             f"the optimizer's {sorted(optimizer.state)[:3]}...")
        for k, v in state.items():
            if v.shape != optimizer.state[k].shape:
                raise ValueError(f"optimizer state {k} has shape {optimizer.state[k].shape}, checkpoint {v.shape}")
            optimizer.state[k][...] = v
        if "meta/lr" in arrays:
            optimizer.lr = float(arrays["meta/lr"])
    history = {k: [] for k in HISTORY_KEYS}
    history.update({k[8:]: arrays[k].tolist() for k in arrays if k.startswith("history/")})
    return {"epoch": int(arrays["meta/epoch"]), "history": history, "model": name,
            "lr": float(arrays["meta/lr"]) if "meta/lr" in arrays else None}
