import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("cnnlab", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("cnnlab")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
