"""Networks from the kernels: `layers` (the Layer protocol and every layer),
`models` (Sequential, LeNet-5 and the other course networks), `optim`
(SGD, Adam, schedules) and `train` (deterministic fit, evaluate, checkpoints)."""
from . import layers, models, optim, train
from .layers import Layer
from .models import Sequential
