"""The recipe of a build: sample sizes, network, schedule, the POI grid of the fidelity check.

:class:`BuildConfig` holds the knobs of the pipeline (:mod:`dnnlik.builder.stages`); its defaults
are what the zoo's ``toy-lhc-like`` entry used. :func:`sizes_for` chooses the sample sizes and
the network from a model's number of parameters, for builds of likelihoods that are not the toy
(``dnnlik build pyhf``).

>>> sizes_for(3).n_train, sizes_for(100).n_train
(40000, 300000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Self

__all__ = ["BuildConfig", "sizes_for"]


@dataclass(frozen=True)
class BuildConfig:
    """The recipe's knobs; the defaults are what the zoo's ``toy-lhc-like`` entry used.

    Attributes:
        seed: the seed of every stage (each adds its own offset).
        n_train: MCMC training samples.
        n_ridge: extra points between the profile ridge and the typical set (0: none).
        ridge_range: the range of the POI the ridge points cover.
        ridge_scale_power: how the ridge points spread with distance from the ridge
            (see :func:`dnnlik.sample.ridge.ridge_samples`).
        n_fidelity: points in each of the two fidelity posterior samples (and the
            surrogate's own).
        layers: the hidden layers' widths.
        activation: the hidden layers' activation.
        lr_schedule: the learning-rate schedule (:data:`dnnlik.train.config.LR_SCHEDULES`).
        ensemble: members of the ensemble.
        epochs: the most epochs per member.
        train_minutes: the wall-time cap of training; None: none.
        batch_size: None: automatic.
        grid: values of the POI at which t_mu is compared.
    """

    seed: int = 20191108
    n_train: int = 400_000
    n_ridge: int = 250_000
    ridge_range: tuple[float, float] = (-0.95, 1.6)
    ridge_scale_power: float = 1.5
    n_fidelity: int = 100_000
    layers: tuple[int, ...] = (256, 256, 256)
    activation: str = "swish"
    lr_schedule: str = "cosine"
    ensemble: int = 1
    epochs: int = 72
    train_minutes: float | None = 14.0
    batch_size: int | None = None
    grid: tuple[float, ...] = tuple(round(0.1 * i, 10) for i in range(11))

    @classmethod
    def quick(cls) -> Self:
        """A few-minute smoke version (small samples, small network): not for publication."""
        return cls(n_train=20_000, n_ridge=10_000, n_fidelity=20_000, layers=(128, 128), epochs=1000, train_minutes=1.0)

    def to_json(self) -> dict[str, Any]:
        """The knobs as a JSON object (tuples as lists), for a work folder's record."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Self:
        """The recipe of :meth:`to_json`'s object (lists as tuples; members that are no field ignored).

        Raises:
            TypeError: a member's value is not of its field's type.
        """
        known = {f.name for f in fields(cls)}
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items() if k in known}
        return cls(**given)


def sizes_for(n_parameters: int, *, quick: bool = False, base: BuildConfig | None = None) -> BuildConfig:
    """The toy's recipe with its sample sizes and network scaled to a model of ``n_parameters``.

    The zoo's entries set the scale: 95 parameters trained well on 400k MCMC points plus
    250k ridge points and 3 x 256 units, 35 on 300k + 150k and 3 x 192. Here: 3000 MCMC
    points per parameter (at least 40k, at most 400k), half as many ridge points, 1000
    fidelity points per parameter (20k to 100k); 3 x 256 units from 50 parameters on, else
    3 x 192. The ``quick`` recipe is a smoke test of minutes: a few thousand points and a
    small network, not for publication.

    Args:
        n_parameters: the model's free parameters.
        quick: the smoke recipe.
        base: the recipe whose other knobs are kept; default :class:`BuildConfig` ().

    Returns:
        The recipe.
    """
    base = base or BuildConfig()
    if quick:
        return replace(base, n_train=4000, n_ridge=2000, n_fidelity=3000, layers=(64, 64), epochs=40, train_minutes=1.0)
    n_train = min(400_000, max(40_000, 3000 * n_parameters))
    return replace(
        base,
        n_train=n_train,
        n_ridge=n_train // 2,
        n_fidelity=min(100_000, max(20_000, 1000 * n_parameters)),
        layers=(256, 256, 256) if n_parameters >= 50 else (192, 192, 192),
    )
