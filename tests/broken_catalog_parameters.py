"""Broken-bundle catalog entries about what format 1.1.0 adds to parameters: ``gamma``
constraints and ``fixed_parameters`` (spec sections 3.2 and 3.2.1).

Imported at the end of tests/broken_catalog.py; each entry registers itself with
:func:`broken_catalog.broken` exactly like the entries there. The base bundle is
the valid 4-parameter Gaussian example of format 1.1.0 (mu, theta_1..theta_3,
bounds [-10, 10]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from broken_catalog import broken, rebuild

__all__: list[str] = []

GAMMA = {"type": "gamma", "tau": 25.0}


@broken("gamma-without-tau", "schema:required")
def _gamma_without_tau(valid: Path, tmp: Path) -> Path:
    """A gamma constraint with no tau (its rate is required)."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][1]["constraint"] = {"type": "gamma", "aux": 4.0}

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("gamma-tau-zero", "schema:exclusiveMinimum")
def _gamma_tau_zero(valid: Path, tmp: Path) -> Path:
    """A gamma constraint with tau = 0 (tau must be > 0)."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][1]["constraint"] = {"type": "gamma", "tau": 0}

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("gamma-with-mean", "schema:not")
def _gamma_with_mean(valid: Path, tmp: Path) -> Path:
    """A gamma constraint that also gives a mean and sigma (members of normal/lognormal only)."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][1]["constraint"] = {**GAMMA, "mean": 1.0, "sigma": 0.2}

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("gamma-no-positive-value", "semantics:gamma-support")
def _gamma_negative_bounds(valid: Path, tmp: Path) -> Path:
    """A gamma-constrained parameter whose bounds [-10, -1] allow no x > 0 (its term is -inf there)."""

    def edit(d: dict[str, Any]) -> None:
        p = d["parameters"][1]
        p.update(bounds=[-10.0, -1.0], nominal=-5.0, constraint=dict(GAMMA))
        p.pop("training_range", None)

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("gamma-in-format-1.0.0", "schema:enum")
def _gamma_in_1_0_0(valid: Path, tmp: Path) -> Path:
    """A 1.0.0 document declaring a gamma constraint (a type 1.1.0 added)."""

    def edit(d: dict[str, Any]) -> None:
        d["format_version"] = "1.0.0"
        d["test_vectors"].pop("tolerances", None)
        d["parameters"][1]["constraint"] = dict(GAMMA)

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("fixed-parameter-is-a-parameter", "semantics:fixed-parameter-clash")
def _fixed_clash(valid: Path, tmp: Path) -> Path:
    """theta_2 listed in fixed_parameters although it is a parameter (an input of the model)."""

    def edit(d: dict[str, Any]) -> None:
        d["fixed_parameters"] = [{"name": "lumi", "value": 1.0}, {"name": "theta_2", "value": 0.0}]

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("fixed-parameter-twice", "semantics:duplicate-name")
def _fixed_twice(valid: Path, tmp: Path) -> Path:
    """The fixed parameter lumi listed twice."""

    def edit(d: dict[str, Any]) -> None:
        d["fixed_parameters"] = [{"name": "lumi", "value": 1.0}, {"name": "lumi", "value": 1.0}]

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("fixed-parameter-value-string", "schema:type")
def _fixed_value_string(valid: Path, tmp: Path) -> Path:
    """A fixed parameter whose value is the string "1.0"."""

    def edit(d: dict[str, Any]) -> None:
        d["fixed_parameters"] = [{"name": "lumi", "value": "1.0"}]

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("fixed-parameters-in-format-1.0.0", "schema:additionalProperties")
def _fixed_in_1_0_0(valid: Path, tmp: Path) -> Path:
    """A 1.0.0 document with fixed_parameters (a section 1.1.0 added), one of them clashing."""

    def edit(d: dict[str, Any]) -> None:
        d["format_version"] = "1.0.0"
        d["test_vectors"].pop("tolerances", None)
        d["fixed_parameters"] = [{"name": "theta_2", "value": 0.0}]

    return rebuild(valid, tmp / "bundle", edit_document=edit)
