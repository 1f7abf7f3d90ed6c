"""Field tests run on one torch thread: their tensors are small, and on a shared, busy machine
two OpenMP threads wait on each other far longer than one thread computes (measured: a 30-step
fit took ~10 s on two threads and ~1 s on one)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
