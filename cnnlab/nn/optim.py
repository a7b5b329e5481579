"""Optimizers that update parameters in place from their gradients, and
learning-rate schedules. Each takes `model.parameters()`, a list of
(name, param, grad) triples, and keeps its state in named arrays so that a
checkpoint can store and restore it exactly."""
import numpy as np


class SGD:
    """SGD with momentum and L2 weight decay, as torch.optim.SGD:
    v = mu v + (g + wd p);  p -= lr v."""

    def __init__(self, parameters, lr=0.01, momentum=0.0, weight_decay=0.0):
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ValueError(f"need lr > 0, 0 <= momentum < 1, weight_decay >= 0; got lr={lr}, "
                             f"momentum={momentum}, weight_decay={weight_decay}")
        self.parameters = list(parameters)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.state = {f"velocity/{n}": np.zeros_like(p) for n, p, _ in self.parameters} if momentum else {}

    def step(self):
        for name, p, g in self.parameters:
            d = g + self.weight_decay * p if self.weight_decay else g
            if self.momentum:
                v = self.state[f"velocity/{name}"]
                v *= self.momentum
                v += d
                d = v
            p -= (self.lr * d).astype(p.dtype, copy=False)

    def zero_grad(self):
        for _, _, g in self.parameters:
            g.fill(0)


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction and optional L2 weight decay."""

    def __init__(self, parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state = {"t": np.zeros((), dtype=np.int64)}
        for n, p, _ in self.parameters:
            self.state[f"m/{n}"], self.state[f"v/{n}"] = np.zeros_like(p), np.zeros_like(p)

    def step(self):
        self.state["t"] += 1
        t, (b1, b2) = int(self.state["t"]), self.betas
        for name, p, g in self.parameters:
            g = g + self.weight_decay * p if self.weight_decay else g
            m, v = self.state[f"m/{name}"], self.state[f"v/{name}"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            step = self.lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + self.eps)
            p -= step.astype(p.dtype, copy=False)

    zero_grad = SGD.zero_grad


class MultiStepLR:
    """Multiply the optimizer's lr by gamma at each epoch in `milestones`
    (StepLR is milestones every `step` epochs). Call `step()` once per epoch."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.optimizer, self.milestones, self.gamma = optimizer, sorted(milestones), gamma
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self):
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** sum(epoch >= m for m in self.milestones)


def step_lr(optimizer, step_size, gamma=0.1, epochs=1000):
    """StepLR as a MultiStepLR with milestones step_size, 2*step_size, ..."""
    return MultiStepLR(optimizer, range(step_size, epochs + 1, step_size), gamma)
