"""The course's declared experiments (`python -m cnnlab experiment NAME`).

Each is run by `cnnlab.nn.runner` and stored in experiments/results/NAME.json;
notebooks 06 and 07 plot the stored results and re-run the first steps of
one run to prove they come from this code. Every run trains on a validation
split of the 60,000 training images (55,000 + 5,000 unless said otherwise)
and is scored once on the 10,000 test images.
"""
from .runner import Experiment, Run

# Nielsen, Neural Networks and Deep Learning, ch. 6: test accuracy (%) of each rung.
NIELSEN = {"mlp": 97.80, "conv_pool": 98.78, "two_conv": 99.06, "relu_l2": 99.23, "shifts": 99.37,
           "extra_fc": 99.43, "dropout": 99.60, "ensemble": 99.67}


def _rung(key, name, **kw):
    return Run(name=name, reference=(("nielsen_test_accuracy", NIELSEN[key]),), **kw)


def _conv(n_conv, activation, hidden=(100,), dropout=0.0):
    return (("activation", activation), ("dropout", dropout), ("hidden", hidden), ("n_conv", n_conv))


_RELU = dict(model="conv_net", lr=0.05, weight_decay=5e-4)
_SHIFTS = dict(_RELU, augment="shifts", epochs=4, milestones=(2, 3))  # 4 epochs of 5x data = 20 of the original
_DROPOUT = dict(_SHIFTS, model_args=_conv(2, "relu", (1000, 1000), 0.5))

LADDER = Experiment(
    "ladder",
    "Nielsen's generalisation ladder on MNIST, one idea per rung, with SGD + momentum 0.9, batch 64 and step "
    "decays of the learning rate (x0.1 at the milestones) instead of Nielsen's 30-60 epochs of plain SGD.",
    (
        _rung("mlp", "1 hidden layer (100 sigmoid)", model="mlp", init="nielsen", lr=0.1, epochs=30,
              milestones=(20, 25)),
        _rung("conv_pool", "+ conv-pool layer (sigmoid)", model="conv_net", model_args=_conv(1, "sigmoid"),
              init="nielsen", lr=0.1, epochs=15, milestones=(10, 13)),
        _rung("two_conv", "two conv-pool layers (sigmoid)", model="conv_net", model_args=_conv(2, "sigmoid"),
              init="nielsen", lr=0.1, epochs=15, milestones=(10, 13)),
        _rung("relu_l2", "ReLU + L2", model_args=_conv(2, "relu"), epochs=15, milestones=(8, 12), **_RELU),
        _rung("shifts", "+ 1-pixel shifts (5x data)", model_args=_conv(2, "relu"), **_SHIFTS),
        _rung("extra_fc", "+ extra fully connected layer", model_args=_conv(2, "relu", (100, 100)), **_SHIFTS),
        _rung("dropout", "+ dropout 0.5 on 1000-unit FC layers", **_DROPOUT),
        _rung("ensemble", "ensemble of 5", members=5, **_DROPOUT),
    ),
    list_key="rungs")

LENET5 = Experiment(
    "lenet5",
    "Notebook 06: the modern LeNet-5 (ReLU, max pooling, softmax) on MNIST, 8 epochs, learning rate 0.05 "
    "divided by 10 after epochs 5 and 7.",
    (Run(name="lenet5", model="lenet5", lr=0.05, weight_decay=5e-4, epochs=8, milestones=(5, 7)),))

LENET5_1998 = Experiment(
    "lenet5_1998",
    "Notebook 06: LeNet-5 as in LeCun et al. (1998) - scaled tanh, trainable subsampling, the sparse C3 table, "
    "RBF outputs and the paper's loss - for the paper's 20 passes; SGD with momentum (batch 32) and a step "
    "schedule stand in for the paper's stochastic diagonal Levenberg-Marquardt.",
    (Run(name="lenet5_1998", model="lenet5_1998", lr=0.001, epochs=20, batch_size=32, milestones=(10, 15),
         reference=(("paper_test_error", 0.95),)),))

# Notebook 07, section 1: is the sigmoid LeNet's failure the vanishing gradient, or the step size?
LR_SWEEP = Experiment(
    "lr_sweep",
    "Notebook 07: LeNet-5 with sigmoid or ReLU activations, 20,000 training images, 5 epochs, SGD with "
    "momentum 0.9 at four learning rates; and the sigmoid net from Glorot & Bengio's (Xavier) initialisation.",
    tuple(Run(name=f"{act}, lr {lr}", model="lenet5", model_args=(("activation", act),), train_images=20_000,
              lr=lr, epochs=5) for act in ("sigmoid", "relu") for lr in (0.01, 0.03, 0.1, 0.3))
    + tuple(Run(name=f"sigmoid, Xavier init, lr {lr}", model="lenet5", model_args=(("activation", "sigmoid"),),
                init="xavier", train_images=20_000, lr=lr, epochs=5) for lr in (0.1, 0.3)))

# Notebook 07, section 5: initial weights.
INIT = Experiment(
    "init",
    "Notebook 07: LeNet-5 (ReLU), 10,000 training images, 3 epochs, lr 0.05 with momentum 0.9, from four "
    "initialisations.",
    tuple(Run(name=name, model="lenet5", init=spec, train_images=10_000, epochs=3)
          for name, spec in (("constant 0.1", "constant:0.1"), ("U(0, 1)", "uniform:0:1"),
                             ("U(-1, 1)", "uniform:-1:1"), ("U(-1, 1)/sqrt(fan-in)", "scaled:-1:1"))))

UFLDL = Experiment(
    "ufldl",
    "Notebook 07: the UFLDL tutorial's CNN exercise (20 9x9 filters, sigmoid, 2x2 mean pooling, softmax), "
    "3 epochs of SGD with momentum 0.95, learning rate 0.1 halved every epoch, batch 256, as in the tutorial.",
    (Run(name="ufldl_cnn", model="ufldl_cnn", lr=0.1, momentum=0.95, epochs=3, batch_size=256,
         milestones=(1, 2), gamma=0.5, reference=(("ufldl_test_accuracy", 95.76),)),))

EXPERIMENTS = {e.name: e for e in (LADDER, LENET5, LENET5_1998, LR_SWEEP, INIT, UFLDL)}
