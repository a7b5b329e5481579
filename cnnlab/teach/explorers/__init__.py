"""The interactive explorers of the notebooks, each in the module named after
what it explores, on the plumbing of `_base`: every explorer computes what it
shows in `state()` (tested headless) and draws a static figure for the HTML
edition and nbval."""
from .arithmetic import ConvArithmeticExplorer
from .backprop import BackpropExplorer
from .channels import ChannelsExplorer
from .checkerboard import CheckerboardExplorer
from .lenet import LeNetInspector
from .playground import FilterPlayground
from .transposed import TransposedConvExplorer
