"""GraphCache: eager warm-up calls per key, then one graph per key; static buffers per key; LRU bound; clear."""

import pytest
import torch

from anr_studio.model.graphed import GraphCache


def _doubler(cache, key, made, device="cpu"):
    """Returns a step for ``key`` that doubles the key's static buffer, and that buffer (made once per key)."""
    def make():
        made.append(key)
        return torch.zeros(3, device=device)

    buffer = cache.buffers(key, make)
    return (lambda: buffer * 2), buffer


def test_each_key_warms_up_then_counts_as_captured_and_off_cuda_runs_its_step_every_call():
    cache, made = GraphCache(warmup=2), []
    for call, value in enumerate([1.0, 2.0, 3.0, 4.0]):
        step, buffer = _doubler(cache, "a", made)
        buffer.fill_(value)
        assert torch.equal(cache.run("a", step, torch.device("cpu")), torch.full((3,), 2 * value))
        assert cache.captured == (1 if call >= 2 else 0)
    assert made == ["a"] and len(cache) == 1
    step, buffer = _doubler(cache, "b", made)
    cache.run("b", step, torch.device("cpu"))
    assert cache.captured == 1 and len(cache) == 2  # "b" is still warming up


def test_at_most_max_graphs_keys_are_kept_least_recently_used_first_out():
    cache, made = GraphCache(warmup=0, max_graphs=2), []
    for key in ("a", "b", "a", "c"):  # "a" used again before "c" arrives: "b" is the oldest
        step, _ = _doubler(cache, key, made)
        cache.run(key, step, torch.device("cpu"))
    assert len(cache) == 2 and cache.captured == 2
    _doubler(cache, "a", made)
    assert made == ["a", "b", "c"]  # "a" kept its buffers
    _doubler(cache, "b", made)
    assert made == ["a", "b", "c", "b"]  # "b" was dropped with its buffers


def test_clear_drops_every_key_and_they_warm_up_again():
    cache, made = GraphCache(warmup=1), []
    for _ in range(2):
        step, _ = _doubler(cache, "a", made)
        cache.run("a", step, torch.device("cpu"))
    assert cache.captured == 1
    cache.clear()
    assert len(cache) == 0 and cache.captured == 0
    step, _ = _doubler(cache, "a", made)
    cache.run("a", step, torch.device("cpu"))
    assert cache.captured == 0 and made == ["a", "a"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_replays_read_new_buffer_values_and_return_the_captured_outputs_on_cuda():
    cache, made = GraphCache(warmup=1, shared_pool=True), []
    device = torch.device("cuda")
    outputs = []
    for value in (1.0, 2.0, 3.0):  # eager, capture + replay, replay
        step, buffer = _doubler(cache, "a", made, device)
        buffer.fill_(value)
        out = cache.run("a", step, device)
        assert torch.equal(out.cpu(), torch.full((3,), 2 * value))
        outputs.append(out)
    assert cache.captured == 1 and made == ["a"]
    assert outputs[2] is outputs[1]  # a replay overwrites the captured outputs: callers copy what they keep
    step, buffer = _doubler(cache, "b", made, device)  # a second graph in the shared pool
    for value in (5.0, 6.0):
        buffer.fill_(value)
        assert torch.equal(cache.run("b", step, device).cpu(), torch.full((3,), 2 * value))
    cache.clear()
    assert len(cache) == 0
