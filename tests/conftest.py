import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

pytest_plugins = ["browser_support"]  # the browser tests' fixtures (JupyterLab, Chromium)

settings.register_profile("cnnlab", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("cnnlab")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_report_header(config):
    """Which threads and BLAS kernel this run uses: results may differ in the last bits between them."""
    import threadpoolctl

    import cnnlab
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return f"cnnlab threads: {cnnlab.get_num_threads()}; BLAS: {', '.join(blas) or 'unknown'}"
