"""Building a validated bundle from a reference likelihood: sample, train, validate, publish.

- :mod:`.config`: :class:`BuildConfig`, the recipe's knobs, and :func:`sizes_for` a model's size;
- :mod:`.stages`: :func:`run_stages`, the stages on any reference likelihood, resumable from a work folder;
- :mod:`.card`: the model card (``README.md``) and plots;
- :mod:`.poi_grid`: the POI grid of the fidelity check, from the exact profile;
- :mod:`.pyhf`: :func:`build_pyhf`, ``dnnlik build pyhf``: a HistFactory workspace to a validated bundle,
  with :mod:`.workdir` (the work folder of one command) and :mod:`.budget` (the time budget).

The zoo's recipes (:mod:`dnnlik.zoo.build`) use these stages. (The package is ``builder``, not
``build``: a folder named ``build/`` is ignored by git and left out of the wheel.)
"""

from .config import BuildConfig, sizes_for
from .stages import BuildResult, Target, run_stages, write_output

__all__ = ["BuildConfig", "BuildResult", "Target", "run_stages", "write_output", "sizes_for"]
