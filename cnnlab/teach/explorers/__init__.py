"""The interactive explorers of the notebooks, each in the module named after
what it explores, on the plumbing of `_base`: every explorer computes what it
shows in `state()` (tested headless) and draws a static figure for the HTML
edition and nbval."""
from .arithmetic import ConvArithmeticExplorer
from .checkerboard import CheckerboardExplorer
from .playground import FilterPlayground
