"""NaN/Inf guard: the device flag and the consecutive-skip counter."""

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.train.nan_guard import BadStepCounter, nonfinite_flag


def _param(grad):
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor(grad)
    return p


def test_flag_is_set_by_any_nan_or_inf_in_gradients_or_loss():
    good = [_param([1.0, 2.0, 3.0]), _param([1e30, -1e30, 0.0])]
    assert nonfinite_flag(good, torch.tensor(5.0)).tolist() == [0.0]
    assert nonfinite_flag(good + [_param([0.0, float("nan"), 0.0])]).tolist() == [1.0]
    assert nonfinite_flag(good + [_param([float("-inf"), 0.0, 0.0])]).tolist() == [1.0]
    assert nonfinite_flag(good, torch.tensor(float("inf"))).tolist() == [1.0]
    assert nonfinite_flag([torch.nn.Parameter(torch.zeros(2))]).tolist() == [0.0]  # no gradients at all


def test_counter_resets_on_a_good_step_and_raises_after_too_many_in_a_row():
    warnings = []
    counter = BadStepCounter(3, warnings.append)
    for step, bad in enumerate([1, 1, 0, 1, 1], start=1):
        counter.add(step, torch.tensor([float(bad)]))
    counter.check()
    assert counter.consecutive == 2 and len(warnings) == 4 and warnings[0].startswith("step 1:")
    counter.add(6, torch.tensor([1.0]))
    with pytest.raises(AnrError, match=r"3 consecutive steps had NaN or Inf .*last at step 6"):
        counter.check()
