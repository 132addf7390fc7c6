"""Export trained networks as a validated likelihood bundle (``bundle.json`` + ``model.onnx``).

The ONNX graph is written from the trained weights by
:func:`dnnlik.graph.build_mlp_model`: input scaling, output scaling and the
quadratic baseline are inside the graph (and recorded as numbers in
``model.transform``), and the exact gradient is an explicit backward pass, so
no TensorFlow-to-ONNX conversion is involved. Parity checks run at export and
are recorded in ``training.parity``:

- ``onnx_vs_tensorflow_max_abs``: the ONNX ``logpdf`` against the Keras
  networks' own predictions (made at the end of training) on up to
  ``config.parity_points`` held-out points (target < 1e-4 in log L units);
- ``onnx_vs_reference_*``: ONNX against the float64 numpy evaluation of the
  same weights (:func:`dnnlik.graph.mlp_reference`), value and gradient;
- ``grad_vs_finite_differences_*``: the ONNX gradient against central
  differences of the ONNX ``logpdf``.

The document and the model bytes come from :func:`dnnlik.graph.mlp_bundle_document`:
the test vectors are the nominal point and the baseline centre, then points of
the test split; their expected outputs are the model's own, checked against the
float64 reference before anything is written. The ``training`` and
``sampling`` sections, the ensemble members' seeds and subsets, and the
architecture details are added here. The folder is assembled in a temporary sibling, validated with
:func:`dnnlik.validate`, and only then renamed into place: a crash, a Ctrl-C
or a failed validation never leaves a half-written bundle.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import DnnlikError, InvalidBundleError, InvalidInputError
from ..fsutil import refuse_existing
from ..graph import OUTPUT_GRAD, OUTPUT_LOGPDF, OUTPUT_SPREAD, NetworkSpec, build_mlp_model, mlp_reference
from ..parameters import Parameter
from ..schema import matches_string_rule
from .config import TrainConfig
from .data import TrainingData
from .ensemble import TrainingResult

__all__ = ["ExportResult", "build_model", "export_bundle", "bundle_name", "PARITY_TARGET"]

PARITY_TARGET = 1e-4
"""Largest ONNX-vs-TensorFlow difference of ``logpdf`` accepted as parity (log-likelihood units)."""
_FD_POINTS = 64
_TEST_POINTS = 5
_OUTPUT_TEXT = {
    "logpdf": "log-likelihood (the members' mean for an ensemble)",
    "grad_logpdf": "exact gradient of logpdf (explicit backward pass)",
    "logpdf_spread": "standard deviation of the members' log-likelihoods (ddof=0)",
}
_FD_REL_STEP = {"float64": 3e-4, "float32": 3e-3}
"""Finite-difference step, relative to each input's scale: small, since SELU's derivative jumps at 0
(a step across a kink measures the jump), but not so small that float32 inputs and outputs round it away."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_bundle` wrote: the folder, its final document, the parity figures, the timings.

    Attributes:
        path: the bundle folder.
        document: its ``bundle.json``, as written.
        parity: ``training.parity``: ONNX against TensorFlow, the float64 reference
            and finite differences (log-likelihood units).
        export_time_s: seconds spent exporting.
    """

    path: Path
    document: dict[str, Any]
    parity: dict[str, Any]
    export_time_s: float


def bundle_name(data: TrainingData, given: str | None = None) -> str:
    """A valid bundle identifier: ``given`` (checked) or derived from the source likelihood's name.

    Args:
        data: the training data; its ``source`` names the likelihood.
        given: the name asked for, if any.

    Returns:
        ``given``, or the source's name lower-cased, other characters replaced by
        ``-``, cut to 110 characters, plus ``-dnn`` (``likelihood-dnn`` without one).

    Raises:
        InvalidInputError: ``given`` is not a valid bundle identifier (lower-case
            letters, digits, '.', '_', '-', starting with a letter or digit).
    """
    if given is not None:
        if not matches_string_rule("defs.schema.json#/$defs/identifier", given):
            raise InvalidInputError(
                f"{given!r} is not a bundle name: lower-case letters, digits, '.', '_' and '-', "
                "starting with a letter or digit",
                where="name",
            )
        return given
    base = str(data.source.get("name") or "likelihood").lower()
    base = re.sub(r"[^a-z0-9._-]+", "-", base).strip("-._") or "likelihood"
    return base[:110] + "-dnn"


def _network(result: TrainingResult) -> NetworkSpec:
    """The exported network: the trained member(s), activation, scalings, baseline, export dtype, gradient.

    The ONNX graph, the float64 reference and the bundle are all written from it.
    """
    weights = [m.weights for m in result.members]
    return NetworkSpec(
        weights[0] if len(weights) == 1 else weights,
        activation=result.config.activation,
        dtype=result.config.export_dtype,
        with_gradient=True,
        **result.preprocessing.graph_kwargs(),
    )


def build_model(result: TrainingResult) -> Any:
    """The ONNX ModelProto of the trained network(s) with scaling and baseline inside.

    Args:
        result: the trained members (an ensemble gives mean and spread outputs).

    Returns:
        The model, in ``config.export_dtype``, with the exact gradient output.
    """
    return build_mlp_model(_network(result))


def _reference(result: TrainingResult, x: np.ndarray) -> dict[str, np.ndarray]:
    return mlp_reference(x, _network(result))


def _run(session: Any, x: np.ndarray, dtype: str, names: Sequence[str]) -> list[np.ndarray]:
    out: list[list[np.ndarray]] = [[] for _ in names]
    for start in range(0, len(x), 4096):
        chunk = np.ascontiguousarray(x[start : start + 4096], dtype=np.dtype(dtype))
        for k, arr in enumerate(session.run(list(names), {"x": chunk})):
            out[k].append(np.asarray(arr, dtype=np.float64))
    return [np.concatenate(parts) if parts else np.zeros(0) for parts in out]


def _parity(result: TrainingResult, data: TrainingData, session: Any) -> dict[str, Any]:
    dtype = result.config.export_dtype
    x_held, y_held = data.heldout(result.config.parity_points)
    n = len(x_held)
    parity: dict[str, Any] = {
        "n_points": int(n),
        "points": "test split" if data.n_test else "validation split",
        "target_max_abs": PARITY_TARGET,
    }
    if n == 0:
        parity["note"] = "no held-out points"
        return parity
    onnx_logpdf, onnx_grad = _run(session, x_held, dtype, [OUTPUT_LOGPDF, OUTPUT_GRAD])
    prep = result.preprocessing
    tf_members = [prep.logpdf_from_net(x_held, m.heldout_net) for m in result.members]
    tf_logpdf = np.mean(tf_members, axis=0)
    ref = _reference(result, x_held)
    diff_tf = float(np.max(np.abs(onnx_logpdf - tf_logpdf)))
    parity["onnx_vs_tensorflow_max_abs"] = diff_tf
    parity["onnx_vs_tensorflow_passed"] = bool(diff_tf < PARITY_TARGET)
    parity["onnx_vs_reference_max_abs"] = float(np.max(np.abs(onnx_logpdf - ref[OUTPUT_LOGPDF])))
    gscale = max(float(np.max(np.abs(ref[OUTPUT_GRAD]))), 1e-300)
    parity["onnx_grad_vs_reference_max_rel"] = float(np.max(np.abs(onnx_grad - ref[OUTPUT_GRAD])) / gscale)
    # central differences of the ONNX logpdf, step a fraction of each input's scale
    m = min(_FD_POINTS, n)
    xs = x_held[:m]
    steps = _FD_REL_STEP[dtype] * np.asarray(prep.input_scale, dtype=np.float64)
    p = xs.shape[1]
    plus = np.repeat(xs[:, None, :], p, axis=1) + np.eye(p)[None] * steps
    minus = np.repeat(xs[:, None, :], p, axis=1) - np.eye(p)[None] * steps
    f_plus = _run(session, plus.reshape(-1, p), dtype, [OUTPUT_LOGPDF])[0].reshape(m, p)
    f_minus = _run(session, minus.reshape(-1, p), dtype, [OUTPUT_LOGPDF])[0].reshape(m, p)
    fd = (f_plus - f_minus) / (2 * steps)
    g = onnx_grad[:m]
    err = np.abs(g - fd)
    parity["grad_vs_finite_differences_points"] = int(m)
    parity["grad_vs_finite_differences_relative_step"] = _FD_REL_STEP[dtype]
    parity["grad_vs_finite_differences_max_abs"] = float(err.max())
    parity["grad_vs_finite_differences_max_rel"] = float(err.max() / max(float(np.abs(g).max()), 1e-300))
    parity["grad_vs_finite_differences_median_abs"] = float(np.median(err))
    # the surrogate's own accuracy on the held-out points, for the record
    resid = onnx_logpdf - y_held
    parity["heldout_mse_logpdf"] = float(np.mean(resid**2))
    parity["heldout_max_abs_error_logpdf"] = float(np.max(np.abs(resid)))
    if len(result.members) > 1:
        spread = _run(session, x_held, dtype, [OUTPUT_SPREAD])[0]
        parity["heldout_mean_spread"] = float(np.mean(spread))
    return parity


def _training_ranges(data: TrainingData) -> list[Parameter]:
    out = []
    x = data.x_train
    for j, p in enumerate(data.parameters):
        lo = max(float(x[:, j].min()), p.lower)
        hi = min(float(x[:, j].max()), p.upper)
        nominal_ok = p.lower <= p.nominal <= p.upper
        out.append(
            Parameter(
                name=p.name,
                role=p.role,
                bounds=p.bounds,
                nominal=p.nominal if nominal_ok else float(np.clip(0.0, p.lower, p.upper)),
                training_range=(lo, hi),
                constraint=p.constraint,
                unit=p.unit,
                description=p.description,
            )
        )
    return out


def _hardware() -> str:
    cpu = platform.processor() or platform.machine()
    text = f"{os.cpu_count()} CPU core(s) ({cpu}), {platform.system()} {platform.release()}"
    try:
        from ._tf import import_tensorflow

        tf, _ = import_tensorflow()
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            text += f", {len(gpus)} GPU(s)"
    except DnnlikError:
        pass
    return text


def _versions() -> dict[str, str]:
    try:
        from ._tf import framework_versions

        return framework_versions()
    except DnnlikError:
        return {}


def _optimizer(cfg: TrainConfig, n_train: int) -> dict[str, Any]:
    """How the weights were optimised: Adam, its learning-rate schedule, early stopping."""
    out: dict[str, Any] = {"name": "adam", "learning_rate": cfg.learning_rate}
    if cfg.lr_schedule == "cosine":
        out["cosine_decay"] = {"epochs": int(cfg.epochs), "min_lr": cfg.min_lr, "per": "epoch"}
    else:
        out["reduce_lr_on_plateau"] = {"factor": cfg.lr_factor, "patience": cfg.lr_patience, "min_lr": cfg.min_lr}
    out["early_stopping"] = {
        "patience": cfg.early_stopping_patience,
        "min_delta": cfg.min_delta_for(n_train),
        "restore_best_weights": True,
    }
    return out


def _architecture(result: TrainingResult) -> dict[str, Any]:
    w = result.members[0].weights
    return {
        "type": "mlp",
        "layers": list(result.config.layers),
        "sizes": list(w.sizes),
        "activation": result.config.activation,
        "kernel_initializer": result.config.kernel_initializer,
        "output": "linear",
        "n_parameters": int(w.n_parameters),
        "n_members": len(result.members),
        "network_dtype": "float32",
        "io_dtype": result.config.export_dtype,
    }


def _training_section(
    result: TrainingResult, data: TrainingData, parity: dict[str, Any], samples_sha256: str | None
) -> dict[str, Any]:
    cfg = result.config
    versions = _versions()
    first = result.members[0]
    section: dict[str, Any] = {
        "framework": "tensorflow",
        "framework_version": versions.get("tensorflow", "unknown"),
        "keras_version": versions.get("keras", "unknown"),
        "exporter": "dnnlik.graph.build_mlp_model",
        "exporter_version": __version__,
        "target": "residual-over-quadratic" if cfg.target == "residual" else "logpdf",
        "baseline": result.preprocessing.baseline_info,
        "architecture": _architecture(result),
        "optimizer": _optimizer(cfg, first.n_train),
        "loss": "mse (standardized target)",
        "batch_size": int(first.batch_size),
        "epochs": int(max(m.epochs for m in result.members)),
        "seed": int(cfg.seed),
        "wall_time_s": round(float(result.wall_time_s), 3),
        "hardware": _hardware(),
        "n_train": int(data.n_train),
        "n_validation": int(data.n_validation),
        "n_test": int(data.n_test),
        "config": cfg.to_json(),
        "history": result.summary(),
        "parity": parity,
    }
    if result.notes:
        section["notes"] = list(result.notes)
    cut = result.schedule_cut_short
    if cut is not None:
        section["schedule_cut_short"] = cut
    if samples_sha256 is not None:
        section["samples_file"] = {"name": Path(data.path or "").name, "sha256": samples_sha256}
    if data.n_dropped:
        section["dropped_non_finite_points"] = int(data.n_dropped)
    return section


def _sampling_section(data: TrainingData) -> dict[str, Any]:
    sampling = dict(data.sampling)
    sampling.setdefault("split", {"train": data.n_train, "validation": data.n_validation, "test": data.n_test})
    return sampling


def _best_fit(result: TrainingResult, data: TrainingData) -> dict[str, Any] | None:
    info = result.preprocessing.baseline_info
    base = result.preprocessing.baseline
    if base is not None and info.get("source") == "likelihood":
        return {"point": [float(v) for v in base.center], "logpdf": float(base.value_at_center), "source": "reference"}
    from .data import _recorded_maximum

    best = _recorded_maximum(data.sampling, data.n_parameters)
    if best is not None:
        return {"point": [float(v) for v in best[0]], "logpdf": float(best[1]), "source": "reference"}
    return None


def _file_sha256(path: str | None) -> str | None:
    if not path or not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fixed_parameters(data: TrainingData, given: Mapping[str, float] | None) -> list[dict[str, Any]]:
    """``fixed_parameters``: ``given``, else what the samples' source records (``describe()``), as JSON."""
    fixed = given if given is not None else data.source.get("fixed_parameters")
    if not isinstance(fixed, Mapping):
        return []
    names = {p.name for p in data.parameters}
    out = []
    for name, value in fixed.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise InvalidInputError(
                f"fixed parameter {name!r} has the value {value!r}, not a finite number", where="fixed_parameters"
            )
        if name in names:
            raise InvalidInputError(f"{name!r} is both a parameter and fixed", where="fixed_parameters")
        out.append({"name": str(name), "value": float(value), "description": "held fixed by the reference likelihood"})
    return out


def _document(
    result: TrainingResult,
    data: TrainingData,
    *,
    name: str,
    title: str | None,
    description: str | None,
    authors: Sequence[Mapping[str, Any]] | None,
    license: str,
    command: str | None,
    parity: dict[str, Any],
    provenance: Mapping[str, Any] | None = None,
    fixed_parameters: Mapping[str, float] | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``bundle.json`` (before digests) and the files, from :func:`dnnlik.graph.mlp_bundle_document`."""
    from ..graph import mlp_bundle_document

    cfg = result.config
    k = len(result.members)
    source_name = str(data.source.get("name") or "")
    target_text = (
        "the residual of log L over the quadratic Laplace baseline" if cfg.target == "residual" else "log L directly"
    )
    output: dict[str, Any] = {
        "quantity": "log-likelihood",
        "includes_constraints": bool(data.source.get("includes_constraints", True)),
        "offset": 0.0,
    }
    best = _best_fit(result, data)
    if best is not None:
        output["best_fit"] = best
    recorded: dict[str, Any] = {"command": command or "dnnlik.train.export_bundle"}
    if source_name:
        recorded["source_likelihood"] = {"name": source_name}
    recorded.update(provenance or {})
    fixed = _fixed_parameters(data, fixed_parameters)
    x_pool = data.x_test if data.n_test else data.x_val
    document, files = mlp_bundle_document(
        _network(result),
        _training_ranges(data),
        name=name,
        title=title or f"DNNLikelihood of {source_name or 'a likelihood'}",
        description=description
        or (
            f"A {'x'.join(str(w) for w in cfg.layers)} {cfg.activation.upper()} network"
            + (f" ensemble of {k} members" if k > 1 else "")
            + f" trained with dnnlik on {data.n_train} sampled points to learn {target_text}."
        ),
        authors=authors or [{"name": "dnnlik train"}],
        license=license,
        output=output,
        n_test_points=_TEST_POINTS,
        extra_test_points=x_pool[:_TEST_POINTS] if len(x_pool) else None,
        seed=int(cfg.seed),
        sections={
            "references": [
                {"type": "arxiv", "id": "1911.03305", "relation": "method", "description": "The DNNLikelihood"}
            ],
            "keywords": ["dnnlikelihood", "surrogate"],
            "sampling": _sampling_section(data),
            "training": _training_section(result, data, parity, _file_sha256(data.path)),
            "provenance": recorded,
            **({"fixed_parameters": fixed} if fixed else {}),
        },
    )
    model = document["model"]
    model["architecture"].update(_architecture(result))
    if k > 1:
        model["ensemble"]["members"] = [{"seed": m.seed, "subset_fraction": m.subset_fraction} for m in result.members]
    for out in model["outputs"]:
        out.setdefault("description", _OUTPUT_TEXT.get(out["role"], ""))
    return document, files


def export_bundle(
    result: TrainingResult,
    data: TrainingData,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    authors: Sequence[Mapping[str, Any]] | None = None,
    license: str = "CC-BY-4.0",
    command: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    fixed_parameters: Mapping[str, float] | None = None,
) -> ExportResult:
    """Write the bundle folder ``out`` from ``result``; validate it before it appears (see the module docstring).

    Args:
        result: the trained members (:func:`~dnnlik.train.train_ensemble`).
        data: the data they were trained on (parameters, provenance, held-out
            points for the parity checks and test vectors).
        out: the bundle folder to write (not a .zip: zip it afterwards with
            :func:`dnnlik.bundle.zip_bundle`).
        overwrite: replace an existing ``out``.
        name: the bundle's name; default from :func:`bundle_name`.
        title: the bundle's title; default "DNNLikelihood of <source likelihood>".
        description: the bundle's description; default one sentence on the network and its training.
        authors: the ``authors`` of ``bundle.json``; default ``[{"name": "dnnlik train"}]``.
        license: an SPDX licence identifier for the bundle.
        command: the command line that made it, recorded as ``provenance.command``.
        provenance: further members of ``provenance`` (they replace the ones written here).
        fixed_parameters: ``{name: value}`` of the parameters the reference likelihood holds
            fixed, written as ``fixed_parameters``; default what the samples' source records.

    Returns:
        The folder, its final ``bundle.json``, the parity figures and the export time.

    Raises:
        InvalidInputError: ``out`` ends in .zip, ``result`` has no member, ``name`` is invalid, or a
            fixed parameter's value is not a finite number or its name is also a parameter's.
        OutputExistsError: ``out`` exists and ``overwrite`` is false.
        InvalidBundleError: the bundle would not validate (the report is attached);
            ``out`` is then left as it was.
    """
    import onnxruntime as ort

    from ..bundle.write import dump_document, finalize_document
    from ..evaluate import validate_local
    from ..fsutil import atomic_directory

    t0 = time.monotonic()
    out = Path(out)
    if out.suffix == ".zip":
        raise InvalidInputError(
            "export writes a bundle folder; zip it afterwards with dnnlik.bundle.zip_bundle", where=str(out)
        )
    refuse_existing(out, overwrite)
    if not result.members:
        raise InvalidInputError("has no trained member", where="result")
    bundle_id = bundle_name(data, name)
    document, files = _document(
        result,
        data,
        name=bundle_id,
        title=title,
        description=description,
        authors=authors,
        license=license,
        command=command,
        parity={},
        provenance=provenance,
        fixed_parameters=fixed_parameters,
    )
    # parity of the very model that is written
    session = ort.InferenceSession(files[document["model"]["file"]], providers=["CPUExecutionProvider"])
    parity = _parity(result, data, session)
    document["training"]["parity"] = parity
    final = finalize_document(document, files)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for fname, data_bytes in files.items():
            (tmp / fname).write_bytes(data_bytes)
        (tmp / "bundle.json").write_bytes(dump_document(final))
        report = validate_local(tmp)
        if not report.ok:
            raise InvalidBundleError(
                "the exported bundle does not validate: " + "; ".join(str(p) for p in report.errors[:5]),
                report=report,
                where=str(out),
            )
    return ExportResult(path=out, document=final, parity=parity, export_time_s=time.monotonic() - t0)
