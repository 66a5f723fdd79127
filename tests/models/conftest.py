import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny reference models gain nothing from intra-op threads; on a busy 2-core machine the threads' spin-waits
    make a parity file several times slower."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
