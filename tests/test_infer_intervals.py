"""Profile-likelihood intervals against the analytic answer of a Gaussian."""

from __future__ import annotations

import numpy as np
import pytest

from dnnlik import infer
from dnnlik.errors import InvalidInputError
from dnnlik.examples import gaussian_reference, gaussian_spec
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Parameter

MEAN, COV, PARAMS = gaussian_spec(4)


def gaussian(params=PARAMS):
    return CallableLikelihood(
        lambda x: gaussian_reference(x, MEAN, COV)[0], params, grad=lambda x: gaussian_reference(x, MEAN, COV)[1]
    )


@pytest.mark.parametrize("level", [1.0, 3.84])
def test_interval_of_a_gaussian_is_mean_plus_minus_sqrt_level_sigma(level):
    # profiling a Gaussian over the others leaves t_mu = (mu - m)^2 / Var(mu)
    half = np.sqrt(level * COV[0, 0])
    iv = infer.tmu_interval(gaussian(), level)
    assert iv.closed == (True, True)
    assert iv.low == pytest.approx(MEAN[0] - half, abs=1e-4)
    assert iv.high == pytest.approx(MEAN[0] + half, abs=1e-4)
    assert iv.poi_hat == pytest.approx(MEAN[0], abs=1e-5)


def test_interval_open_at_a_bound():
    params = [Parameter(name="mu", role="poi", bounds=(MEAN[0] - 0.1, 10.0)), *PARAMS[1:]]
    iv = infer.tmu_interval(gaussian(params), 1.0)
    assert iv.closed == (False, True)
    assert iv.low == MEAN[0] - 0.1


def test_bad_level():
    with pytest.raises(InvalidInputError, match="positive"):
        infer.tmu_interval(gaussian(), -1.0)
