"""The ``dnnlik`` command group, with commands loaded lazily from their modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .._version import __version__

__all__ = ["cli", "main", "COMMANDS"]

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("dnnlik.cli.bundle_commands", "validate"),
    "info": ("dnnlik.cli.bundle_commands", "info"),
    "eval": ("dnnlik.cli.bundle_commands", "eval_"),
    "example": ("dnnlik.cli.example", "example"),
    "tmu": ("dnnlik.cli.tmu", "tmu"),
    "combine": ("dnnlik.cli.combine", "combine"),
    "limit": ("dnnlik.cli.limit", "limit"),
    "train": ("dnnlik.cli.train", "train"),
    "archive": ("dnnlik.cli.archive", "archive"),
    "fetch": ("dnnlik.cli.fetch", "fetch"),
    "sample": ("dnnlik.cli.sample", "sample"),
    "zoo": ("dnnlik.cli.zoo", "zoo"),
    "plot": ("dnnlik.cli.plot", "plot"),
    "fidelity": ("dnnlik.cli.fidelity", "fidelity"),
    "build": ("dnnlik.cli.build", "build"),
}
"""Command name -> (module, attribute): the registry of subcommands."""

_SHORT_HELP = {
    "fidelity": "Assess a bundle against its reference likelihood; --write stores the validation section.",
    "validate": "Check bundles and combination files: schema, digests, files, ONNX contract, test vectors.",
    "info": "Print a readable summary of a bundle or a combination file.",
    "eval": "Evaluate a bundle's log-likelihood at one point.",
    "example": "Write the analytic example bundle (no training needed).",
    "tmu": "Profile-likelihood t_mu scan of a likelihood or bundle.",
    "combine": "Profile-likelihood t_mu scan of a combination file (members pinned by digest).",
    "limit": "Upper limit on the POI: asymptotic CLs (q~_mu) and profile likelihood.",
    "sample": "Sample a reference likelihood with emcee into HDF5.",
    "train": "Train a DNNLikelihood (or ensemble) on a samples file; export a validated bundle.",
    "archive": "Archive bundles on Zenodo (upload with a DOI, verify, publish).",
    "fetch": "Fetch an archived bundle from Zenodo into the cache, verified.",
    "zoo": "The zoo of published bundles: list, info, build.",
    "plot": "Draw a bundle's figures: t_mu, HPDI, training curves, marginals.",
    "build": "Build a validated bundle from a HistFactory (pyhf) workspace: sample, train, validate.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # listing help must not import every command module
        rows = [(name, _SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="dnnlik", message="%(prog)s %(version)s")
def cli() -> None:
    """dnnlik: publish, validate and evaluate likelihoods as neural-network bundles."""


def main(argv: list[str] | None = None) -> Any:
    """Console entry point."""
    return cli.main(args=argv, prog_name="dnnlik")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
