"""The experiment runner: a declared config in, a committed result file out.

An `Experiment` is a list of `Run`s. A run declares everything that shapes
its result - model, data (training and validation sizes, augmentation),
optimiser, schedule, epochs, seeds, initialisation - so that
`python -m cnnlab experiment NAME` reproduces it. The runner

* trains every run with `train.fit` from a validation split of the 60,000
  training images (the test set is scored once, at the end, and never
  steers training), with progress bars and a checkpoint after every epoch:
  an interrupted run resumes where it stopped;
* writes `experiments/results/NAME.json` after every finished run: the
  configs, the cnnlab version, a hash of the code that ran and of the
  configs, per-epoch training loss/accuracy and validation accuracy, the
  final test accuracy, seconds, and the machine (CPU count, BLAS);
* keeps a run's finished result when rerun, and refuses to overwrite
  results produced by other code unless told to (`force`);
* stores the mean training loss of each run's first steps (`prefix_loss`),
  so that a notebook can re-run those steps and prove that the stored
  curves come from this code.

A subclass of `Run` may bring its own procedure by overriding its methods
`execute(checkpoints, progress)` -> a result entry (the keys of `execute`'s;
test_accuracy may be None) and `prefix_loss(steps)`
(`cnnlab.nn.autoencoders.PretrainRun` and `AutoencoderRun` do).
"""
import dataclasses
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .. import __version__, data
from ..engine import get_num_threads
from . import models, optim, train

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"
CHECKPOINTS = ROOT / "runs" / "experiments"
VAL_SEED = 2026  # the validation split is the same for every run
PREFIX_STEPS = 100


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run. model_args and reference are (key, value) pairs
    (hashable); reference holds published numbers to compare with."""
    name: str
    model: str
    model_args: tuple = ()
    train_images: int = 55_000
    val_images: int = 5_000
    augment: str = ""              # "" or "shifts" (Nielsen's 1-pixel shifts: 5x the data)
    init: str = ""                 # "" (PyTorch's default) or see `initialise`
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0      # the gradient term lambda * w of a lambda/2 * ||w||^2 penalty
    milestones: tuple = ()         # epochs after which the learning rate is multiplied by gamma
    gamma: float = 0.1
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0
    members: int = 1               # > 1: an ensemble of this many seeds voting with averaged probabilities
    reference: tuple = ()

    def training_key(self):
        """Hash of what determines the trained weights (not the name, not the
        ensemble size): runs that train the same network share a checkpoint."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("name", "members", "reference")}
        return _digest(fields)

    def member(self, i):
        return dataclasses.replace(self, seed=self.seed + i, members=1)

    # What the runner calls; a subclass with another procedure overrides both
    # (cnnlab.nn.autoencoders: greedy pretraining, autoencoders).
    def execute(self, checkpoints=None, progress=True):
        """Train the run and score it: a results entry (see `execute`)."""
        return execute(self, CHECKPOINTS if checkpoints is None else checkpoints, progress)

    def prefix_loss(self, steps=None):
        """Mean training loss of the run's first steps (see `prefix_loss`)."""
        return prefix_loss(self.member(0), PREFIX_STEPS if steps is None else steps)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    runs: tuple
    list_key: str = "runs"  # the results' list of runs (the ladder calls it "rungs")

    def config_hash(self):
        return _digest([dataclasses.asdict(r) for r in self.runs])


def _digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_hash():
    """Hash of every Python file of the cnnlab package: the code that ran."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def machine():
    from threadpoolctl import threadpool_info
    blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas, "cnnlab_threads": get_num_threads()}


# --- data and models ------------------------------------------------------------------

def split(train_images, val_images):
    """Indices into the 60,000 training images: (train, validation). The
    validation images are the same 5,000 for every run; they are never trained on."""
    order = np.random.default_rng(VAL_SEED).permutation(60_000)
    if val_images > 5_000 or train_images > 60_000 - 5_000:
        raise ValueError(f"at most 55,000 training and 5,000 validation images, got {train_images}, {val_images}")
    return order[5_000:5_000 + train_images], order[:val_images]


def _nielsen(model, rng):
    """The initialisation of Nielsen's network3.py: weights N(0, 1/n_out) with
    n_out = C_out*k*k/4 for a convolution (each is followed by 2x2 pooling)
    and the output count for a fully connected layer, biases N(0, 1), and the
    softmax layer all zeros."""
    params = model.parameters()
    last = params[-1][0].split(".")[0]
    for name, p, _ in params:
        if name.startswith(last + "."):
            p[...] = 0
        elif name.endswith(".bias"):
            p[...] = rng.standard_normal(p.shape)
        else:
            n_out = p.shape[0] * (p[0, 0].size / 4 if p.ndim == 4 else 1)
            p[...] = rng.normal(0, np.sqrt(1 / n_out), p.shape)


def _fans(p):
    """(fan-in, fan-out) of a weight: (C_in*k*k, C_out*k*k) for a convolution."""
    receptive = p[0, 0].size if p.ndim == 4 else 1
    return p.shape[1] * receptive, p.shape[0] * receptive


def _xavier(model, rng, conv_std=None):
    """Glorot & Bengio (2010): weights U(+-sqrt(6 / (fan_in + fan_out))), biases 0,
    the initialisation d2l uses for its sigmoid LeNet; with conv_std, convolution
    weights N(0, conv_std^2) instead (the UFLDL exercise's 0.1 * randn)."""
    for name, p, _ in model.parameters():
        if name.endswith(".bias"):
            p[...] = 0
        elif conv_std is not None and p.ndim == 4:
            p[...] = rng.normal(0, conv_std, p.shape)
        else:
            fan_in, fan_out = _fans(p)
            bound = np.sqrt(6 / (fan_in + fan_out))
            p[...] = rng.uniform(-bound, bound, p.shape)


def initialise(model, spec, rng):
    """Overwrite the parameters: 'constant:c' (every weight c: all units start
    alike), 'uniform:a:b' (U(a, b)), 'scaled:a:b' (U(a, b) / sqrt(fan-in)),
    'nielsen' (see `_nielsen`), 'xavier' and 'ufldl' (see `_xavier`)."""
    if spec == "nielsen":
        return _nielsen(model, rng)
    if spec in ("xavier", "ufldl"):
        return _xavier(model, rng, 0.1 if spec == "ufldl" else None)
    kind, *values = spec.split(":")
    for _, p, _ in model.parameters():
        fan_in = p[0].size if p.ndim > 1 else 1
        if kind == "constant":
            p[...] = float(values[0])
        elif kind in ("uniform", "scaled"):
            p[...] = rng.uniform(float(values[0]), float(values[1]), p.shape) / (np.sqrt(fan_in) if kind == "scaled"
                                                                                 else 1)
        else:
            raise ValueError(f"init must be 'constant:c', 'uniform:a:b' or 'scaled:a:b', got {spec!r}")


def build(run):
    """The run's model, initialised as declared."""
    if run.model not in models.MODELS:
        raise ValueError(f"unknown model {run.model!r}; choose one of {sorted(models.MODELS)}")
    model = models.MODELS[run.model](rng=np.random.default_rng(run.seed), **dict(run.model_args))
    if run.init:
        initialise(model, run.init, np.random.default_rng([run.seed, 1]))
    return model


def datasets(run, model):
    """(train, validation, test) as (x, y) pairs in the model's input format."""
    images, labels = data.load_mnist("train")
    train_idx, val_idx = split(run.train_images, run.val_images)
    x, y = images[train_idx], labels[train_idx]
    if run.augment == "shifts":
        x, y = data.augment_shifts(x, y)
    elif run.augment:
        raise ValueError(f"augment must be '' or 'shifts', got {run.augment!r}")
    test_images, test_labels = data.load_mnist("test")
    return ((model.prepare(x), y), (model.prepare(images[val_idx]), labels[val_idx]),
            (model.prepare(test_images), test_labels))


def _optimizer(run, model):
    opt = optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum, weight_decay=run.weight_decay)
    return opt, (optim.MultiStepLR(opt, run.milestones, run.gamma) if run.milestones else None)


def prefix_loss(run, steps=PREFIX_STEPS, train_data=None):
    """Mean training loss of the first `steps` minibatches of the run (the
    same model, data order and optimiser as `train.fit`'s first epoch)."""
    model = build(run)
    train_data = datasets(run, model)[0] if train_data is None else train_data
    opt, _ = _optimizer(run, model)
    x, y = train_data
    model.reseed(run.seed, 0)
    batches = data.minibatches(len(x), run.batch_size, np.random.default_rng([run.seed, 0]))[:steps]
    losses = []
    model.train()
    for idx in batches:
        losses.append(model.loss.forward(model.forward(x[idx]), y[idx]))
        model.zero_grad()
        model.backward(model.loss.backward(), input_grad=False)
        opt.step()
    return float(np.mean(losses))


def train_member(run, checkpoints=CHECKPOINTS, progress=True, checkpoint=None, resume=True):
    """Train one network, resuming from its checkpoint (checkpoints/<training
    key>.npz unless `checkpoint` names a file). Returns (model, history,
    training data, test data)."""
    model = build(run)
    train_data, val_data, test_data = datasets(run, model)
    opt, sched = _optimizer(run, model)
    checkpoint = Path(checkpoint) if checkpoint else Path(checkpoints) / f"{run.training_key()}.npz"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    history = train.fit(model, opt, train_data, run.epochs, run.batch_size, val_data=val_data, seed=run.seed,
                        scheduler=sched, checkpoint=checkpoint, resume=resume, progress=progress)
    return model, history, train_data, test_data


def probabilities(model, x, batch_size=1000):
    """Class probabilities (N, 10) of `model` on x, in eval mode: what an ensemble averages."""
    model.eval()
    return np.concatenate([model.loss.probabilities(model.forward(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def execute(run, checkpoints=CHECKPOINTS, progress=True):
    """Train a run (every member of an ensemble) and score it once on the test set."""
    t0 = time.perf_counter()
    members, votes = [], 0
    for i in range(run.members):
        model, history, train_data, (x_test, y_test) = train_member(run.member(i) if run.members > 1 else run,
                                                                    checkpoints, progress)
        _, acc = train.evaluate(model, x_test, y_test)
        votes = votes + probabilities(model, x_test)
        members.append({"seed": run.seed + i, "test_accuracy": 100 * acc, "history": history,
                        "seconds": float(sum(history["seconds"]))})
    test_acc = 100 * float(np.mean(votes.argmax(axis=1) == y_test))
    return {"name": run.name, "config": dataclasses.asdict(run), "training_key": run.training_key(),
            **dict(run.reference), "test_accuracy": round(test_acc, 2),
            "train_images": len(train_data[1]), "val_images": run.val_images, "epochs": run.epochs,
            "history": members[0]["history"], "members": members if run.members > 1 else None,
            "seconds": round(sum(m["seconds"] for m in members), 1), "wall_seconds": round(time.perf_counter() - t0),
            "prefix": {"steps": PREFIX_STEPS, "mean_loss": prefix_loss(run.member(0), train_data=train_data)}}


# --- results ----------------------------------------------------------------------------

def results_path(name, results=RESULTS):
    return Path(results) / f"{name}.json"


def load(name, results=RESULTS):
    """The stored results of an experiment (a dict), or raise FileNotFoundError."""
    path = results_path(name, results)
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}: run `python -m cnnlab experiment {name}`")
    return json.loads(path.read_text())


def _write(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)


def run_experiment(experiment, results=RESULTS, checkpoints=CHECKPOINTS, force=False, keep=False, progress=True,
                   log=print):
    """Run every run of `experiment` not already in its results file, writing
    the file after each one. Returns the results dict.

    Stored runs made by other code are refused unless `force` (run them all
    again) or `keep` (keep them, for a change that cannot affect them, such
    as a docstring: hours of training are not redone for it). Every run
    records the code_hash of the code that ran it and the machine (threads,
    BLAS)."""
    path, code = results_path(experiment.name, results), code_hash()
    done = {}
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("code_hash") != code and not (force or keep):
            raise RuntimeError(f"{path} was produced by code {old.get('code_hash')}, the code is now {code}: "
                               f"pass force=True (--force) to replace those results, or keep=True (--keep) to "
                               f"keep its finished runs")
        if old.get("code_hash") == code or keep:  # finished runs are kept
            done = {(r["training_key"], r["config"]["members"]): {"code_hash": old.get("code_hash"), **r}
                    for r in old.get(experiment.list_key, [])}
    payload = {"name": experiment.name, "description": experiment.description, "cnnlab_version": __version__,
               "code_hash": code, "config_hash": experiment.config_hash(), "machine": machine(),
               "complete": False, experiment.list_key: []}
    for run in experiment.runs:
        key = (run.training_key(), run.members)
        if key in done:
            entry = {**done[key], "name": run.name, "config": dataclasses.asdict(run), **dict(run.reference)}
        else:
            log(f"{experiment.name}: {run.name}")
            # the code and the thread settings of this run: another process may have trained its checkpoints
            entry = {**run.execute(checkpoints, progress), "code_hash": code, "machine": machine()}
            score = "" if entry["test_accuracy"] is None else f"test accuracy {entry['test_accuracy']:.2f} % "
            log(f"{experiment.name}: {run.name}: {score}({entry['seconds']:.0f} s)")
        payload[experiment.list_key].append(entry)
        _write(path, payload)
    payload["complete"] = True
    payload["total_seconds"] = round(sum(r["seconds"] for r in payload[experiment.list_key]), 1)
    _write(path, payload)
    return payload


def verify(experiment, stored, run_name, tolerance=0.02):
    """Check stored results against this code: the configs are the ones
    declared now, and re-running the first steps of `run_name` gives the
    stored mean loss within `tolerance` (relative). Returns (stored, fresh)."""
    if stored["config_hash"] != experiment.config_hash():
        raise AssertionError(f"the stored {experiment.name} results were made with other configs "
                             f"({stored['config_hash']}, now {experiment.config_hash()}): rerun the experiment")
    entry = next(r for r in stored[experiment.list_key] if r["name"] == run_name)
    run = next(r for r in experiment.runs if r.name == run_name)
    steps = entry["prefix"]["steps"]
    fresh = run.prefix_loss(steps)
    want = entry["prefix"]["mean_loss"]
    if not abs(fresh - want) <= tolerance * abs(want):
        raise AssertionError(f"{run_name}: the first {entry['prefix']['steps']} steps give mean loss {fresh:.4f}, "
                             f"the stored run {want:.4f}: the results do not come from this code")
    return want, fresh
