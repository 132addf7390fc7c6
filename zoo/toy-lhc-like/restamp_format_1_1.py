"""Re-stamp the zoo entry's bundle in format 1.1.0, without retraining (issue 12).

Run from the repository root with the project's Python::

    .venv/bin/python zoo/toy-lhc-like/restamp_format_1_1.py

What it changes in ``bundle/bundle.json`` (``model.onnx`` and the data file stay
byte-identical; the script refuses to run if the model does not reproduce the
stored test vectors exactly):

- ``format_version`` 1.0.0 -> 1.1.0, bundle ``version`` 1.0.0 -> 1.0.1;
- ``test_vectors.tolerances``: one tolerance per output, measured as the
  writer (:func:`dnnlik.graph.mlp_bundle.measured_tolerances`) measures it
  for every new bundle: the model's float32 error against a float64 evaluation
  of the same weights (read back from the ONNX initializers) on the test
  points, times :data:`~dnnlik.graph.mlp_bundle.TOLERANCE_SAFETY`; the
  default ``test_vectors.tolerance`` becomes the loosest of them;
- the description of ``mu``, which now states the closed interval of its bounds
  (it said "-inf unless -1 < mu < 5", an open interval);
- ``provenance.format_update`` records the change;

then recomputes the digests (``dnnlik.bundle.write``) and the index entry
(``zoo/index.json``: document digest, size, version). Running it again changes nothing.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ENTRY = Path(__file__).resolve().parent
BUNDLE = ENTRY / "bundle"

NEW_VERSION = "1.0.1"
UPDATE = {
    "from_format": "1.0.0",
    "to_format": "1.1.0",
    "command": "python zoo/toy-lhc-like/restamp_format_1_1.py",
    "note": (
        "Re-stamped without retraining: per-output test-vector tolerances measured from the model's "
        "float32 error (times 4), the description of mu states its closed bounds; model.onnx unchanged."
    ),
}


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import onnx
    from onnx import numpy_helper

    from dnnlik.bundle.write import read_bundle_files, write_bundle
    from dnnlik.evaluate.session import make_session
    from dnnlik.graph import MLPWeights, NetworkSpec, QuadraticBaseline, mlp_reference
    from dnnlik.graph.mlp_bundle import measured_tolerances
    from dnnlik.likelihoods.toy_lhc_like import toy_parameters
    from dnnlik.zoo.index import load_index, make_entry, write_index

    doc, files = read_bundle_files(BUNDLE)
    model_bytes = files[doc["model"]["file"]]
    model = doc["model"]
    assert "ensemble" not in model, "one network expected"
    arch, transform = model["architecture"], model["transform"]

    # the network's weights as the graph holds them (float32), and the recorded transform
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load_model_from_string(model_bytes).graph.initializer}
    n_layers = len(arch["layers"]) + 1
    weights = MLPWeights(
        tuple(
            (inits[f"layer{i}_W"].astype(np.float64), inits[f"layer{i}_b"].astype(np.float64)) for i in range(n_layers)
        )
    )
    base = transform["baseline"]
    network = NetworkSpec(
        weights,
        activation=arch["activation"],
        input_shift=transform["input_shift"],
        input_scale=transform["input_scale"],
        output_shift=transform["output_shift"],
        output_scale=transform["output_scale"],
        baseline=QuadraticBaseline(
            center=np.asarray(base["center"]),
            hessian=np.asarray(base["hessian"]),
            value_at_center=base["value_at_center"],
        ),
    )

    # the stored expected outputs are this model's outputs, exactly
    (tensor,) = model["inputs"]
    cases = doc["test_vectors"]["cases"]
    session = make_session(model_bytes)
    names = [o["name"] for o in model["outputs"]]
    points = np.vstack([np.asarray(c["inputs"][tensor["name"]], dtype=np.float64) for c in cases])
    got = {n: np.concatenate([np.asarray(c["outputs"][n], dtype=np.float64) for c in cases]) for n in names}
    ran = dict(zip(names, session.run(names, {tensor["name"]: points.astype(tensor["dtype"])}), strict=True))
    for n in names:
        if not np.array_equal(ran[n], got[n]):
            raise SystemExit(f"the model no longer reproduces its stored {n!r} exactly: refusing to re-stamp")

    reference = mlp_reference(points, network)
    float32_part = mlp_reference(points, dataclasses.replace(network, baseline=None, output_shift=0.0))
    default, per_output = measured_tolerances(got, reference, float32_part)
    for n in names:
        error = float(np.max(np.abs(got[n] - reference[n])))
        print(f"{n}: float32 error {error:.3g} over {len(points)} points -> tolerance {per_output[n]}")

    tv = doc["test_vectors"]
    doc["test_vectors"] = {
        "tolerance": default,
        "tolerances": per_output,
        **{k: v for k, v in tv.items() if k not in ("tolerance", "tolerances")},
    }
    doc["format_version"] = "1.1.0"
    doc["version"] = NEW_VERSION
    mu = next(p for p in doc["parameters"] if p["name"] == "mu")
    mu["description"] = next(p for p in toy_parameters() if p.name == "mu").description
    doc["provenance"] = {**doc["provenance"], "format_update": UPDATE}
    final = write_bundle(BUNDLE, doc, files, overwrite=True)

    zoo = ENTRY.parent
    entries = load_index(zoo)
    old = next(e for e in entries if e.path == BUNDLE.relative_to(zoo).as_posix())
    fresh = make_entry(BUNDLE, zoo, tags=old.tags, doi=old.doi)
    write_index([fresh if e is old else e for e in entries], zoo)
    print(
        f"{final['name']} {final['version']}: format {final['format_version']}, "
        f"document_sha256 {final['document_sha256']}, size {fresh.size}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
