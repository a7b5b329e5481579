"""The exercise checkers under their short name, `from cnnlab import exercises`:
the same functions as `cnnlab.teach.exercises`, where they live with the other
teaching aids."""
from .teach.exercises import *  # noqa: F403
from .teach.exercises import __all__  # noqa: F401
