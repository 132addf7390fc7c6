"""One independent emcee ensemble of a run (a segment), its coordinates, and how a checkpoint stores it.

A segment samples ``free`` (indices of the source's parameters); the others
stay at their value in ``base`` (parameters held because their constraint is
too narrow to sample, and the POI of a profile chain with a fixed POI). Its
sampler coordinates are the free parameters mapped through an optional
:class:`~.transform.BoundTransform` (log/logit of bounded parameters), and
its target is the source's log-density there plus the transform's log-Jacobian.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ..density import LogDensity
from .transform import BoundTransform

__all__ = ["Segment", "segments_to_h5", "segments_from_h5"]


@dataclass
class Segment:
    """One independent ensemble of a run.

    The sampler works in coordinates ``z``: the parameters ``free`` (indices of
    the source's parameters), mapped through ``transform`` when there is one;
    the others stay at their value in ``base``. With ``window=(k, lo, hi)``,
    sampler coordinate ``k`` (the POI, never transformed) is confined to [lo, hi].

    Attributes:
        index: its place in the run (0: the reference segment).
        kind: ``"unbiased"`` (posterior) or ``"profile"`` (a chain along the profile ridge).
        n_target: distinct samples it is to contribute.
        free: indices of the sampled parameters, (d,).
        base: a full (P,) point giving the other parameters' values.
        window: ``(k, lo, hi)`` confining sampler coordinate ``k``; None: unconfined.
        laplace_mean: the Laplace approximation's mean in sampler coordinates, (d,), if any.
        laplace_precision: its precision, (d, d).
        poi_value: the POI value a profile segment is centred on.
        reference: whether this is the segment whose tuning chain fixes burn-in and thinning.
        info: more of its plan, for the metadata.
        transform: the map from the free parameters to sampler coordinates; None: they are the same.
    """

    index: int
    kind: str
    n_target: int
    free: np.ndarray
    base: np.ndarray
    window: tuple[int, float, float] | None = None
    laplace_mean: np.ndarray | None = None
    laplace_precision: np.ndarray | None = None
    poi_value: float | None = None
    reference: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    transform: BoundTransform | None = None

    @property
    def ndim(self) -> int:
        """The number of sampler coordinates."""
        return int(self.free.size)

    def to_parameters(self, z: np.ndarray) -> np.ndarray:
        """Sampler coordinates -> the free parameters' values (same shape).

        Args:
            z: points in sampler coordinates, (..., d).

        Returns:
            The free parameters, (..., d).
        """
        z = np.asarray(z, dtype=np.float64)
        return z if self.transform is None else self.transform.to_bounded(z)

    def to_sampler(self, x: np.ndarray) -> np.ndarray:
        """The free parameters' values -> sampler coordinates (a bound maps to an infinity).

        Args:
            x: the free parameters, (..., d).

        Returns:
            Sampler coordinates, (..., d).
        """
        x = np.asarray(x, dtype=np.float64)
        return x if self.transform is None else self.transform.to_unbounded(x)

    def log_jacobian(self, z: np.ndarray) -> np.ndarray:
        """``log |dx/dz|`` per point (zeros without a transform).

        Args:
            z: points in sampler coordinates, (n, d).

        Returns:
            (n,).
        """
        z = np.asarray(z, dtype=np.float64)
        return np.zeros(z.shape[0]) if self.transform is None else self.transform.log_jacobian(z)

    def full_points(self, z: np.ndarray) -> np.ndarray:
        """Sampler coordinates (n, d) -> the source's parameter points (n, P).

        Args:
            z: points in sampler coordinates, (n, d).

        Returns:
            The full points, (n, P): ``base`` with the free columns set from ``z``.
        """
        x_free = self.to_parameters(z)
        if self.free.size == self.base.size:  # all parameters sampled, in order
            return np.asarray(x_free, dtype=np.float64)
        x = np.repeat(self.base[None, :], x_free.shape[0], axis=0)
        x[:, self.free] = x_free
        return x

    def target(self, source: LogDensity) -> Callable[[np.ndarray], np.ndarray]:
        """The vectorised log-density emcee samples for this segment.

        Args:
            source: the log-density.

        Returns:
            ``log_prob(z)``: (n, d) sampler points -> (n,) log-densities (the
            transform's log-Jacobian added), ``-inf`` outside the POI window.
        """
        window = self.window

        def value(z: np.ndarray) -> np.ndarray:
            out = np.asarray(source.logpdf(self.full_points(z)), dtype=np.float64)
            return out if self.transform is None else out + self.transform.log_jacobian(z)

        def log_prob(z: np.ndarray) -> np.ndarray:
            z = np.asarray(z, dtype=np.float64)
            if window is None:
                return value(z)
            k, lo, hi = window
            inside = (z[:, k] >= lo) & (z[:, k] <= hi)
            out = np.full(z.shape[0], -np.inf)
            if inside.any():
                out[inside] = value(z[inside])
            return out

        return log_prob

    def describe(self) -> dict[str, Any]:
        """The segment's plan for the metadata (``strategy_options.segments``).

        Returns:
            ``index``, ``kind``, ``n_target``, ``n_dimensions``, ``reference``, then
            ``poi_value`` and ``poi_window`` when set, and ``info``.
        """
        out: dict[str, Any] = {
            "index": self.index,
            "kind": self.kind,
            "n_target": self.n_target,
            "n_dimensions": self.ndim,
            "reference": self.reference,
        }
        if self.poi_value is not None:
            out["poi_value"] = self.poi_value
        if self.window is not None:
            out["poi_window"] = [self.window[1], self.window[2]]
        out.update(self.info)
        return out


def segments_to_h5(group: h5py.Group, segments: Sequence[Segment]) -> None:
    """Store the segments in ``group``, one subgroup ``<index>`` each.

    Args:
        group: an HDF5 group open for writing.
        segments: the segments (subgroups named by index, three digits).
    """
    for s in segments:
        g = group.create_group(f"{s.index:03d}")
        g.attrs["kind"] = s.kind
        g.attrs["n_target"] = s.n_target
        g.attrs["reference"] = s.reference
        g.attrs["info"] = json.dumps(s.info)
        if s.poi_value is not None:
            g.attrs["poi_value"] = s.poi_value
        if s.window is not None:
            g.attrs["window"] = np.array([s.window[0], s.window[1], s.window[2]], dtype=np.float64)
        g.create_dataset("free", data=s.free)
        g.create_dataset("base", data=s.base)
        if s.laplace_mean is not None:
            g.create_dataset("laplace_mean", data=s.laplace_mean)
            g.create_dataset("laplace_precision", data=s.laplace_precision)
        if s.transform is not None:
            codes, lower, upper = s.transform.to_arrays()
            t = g.create_group("transform")
            t.create_dataset("kinds", data=codes)
            t.create_dataset("lower", data=lower)
            t.create_dataset("upper", data=upper)


def segments_from_h5(group: h5py.Group) -> list[Segment]:
    """The segments stored by :func:`segments_to_h5`, in order.

    Args:
        group: the group :func:`segments_to_h5` wrote.

    Returns:
        The segments.
    """
    out = []
    for key in sorted(group):
        g = group[key]
        w = g.attrs.get("window")
        t = g.get("transform")
        out.append(
            Segment(
                index=int(key),
                kind=str(g.attrs["kind"]),
                n_target=int(g.attrs["n_target"]),
                free=g["free"][()],
                base=g["base"][()],
                window=None if w is None else (int(w[0]), float(w[1]), float(w[2])),
                laplace_mean=g["laplace_mean"][()] if "laplace_mean" in g else None,
                laplace_precision=g["laplace_precision"][()] if "laplace_precision" in g else None,
                poi_value=float(g.attrs["poi_value"]) if "poi_value" in g.attrs else None,
                reference=bool(g.attrs["reference"]),
                info=json.loads(g.attrs["info"]),
                transform=None
                if t is None
                else BoundTransform.from_arrays(t["kinds"][()], t["lower"][()], t["upper"][()]),
            )
        )
    return out
