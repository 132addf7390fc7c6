"""``dnnlik train SAMPLES --out BUNDLE``: train a DNNLikelihood (or an ensemble) and export a bundle.

SAMPLES is an HDF5 samples file written by ``dnnlik sample``. The bundle is
validated before it appears at ``--out``. On a terminal a progress line shows
the epoch, the training and validation losses and the learning rate; off a
terminal only the summary is printed. A Ctrl-C during training stops it and
exports the best weights so far; a second one (or one during the export)
leaves ``--out`` untouched.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
import warnings
from typing import Any

import click

from ..errors import DnnlikError
from ..train.config import ACTIVATIONS, BASELINES, LR_SCHEDULES, TARGETS, TrainConfig
from ..train.cut_short import relay_cut_short
from ._common import F, cli_message, config_default, format_option

__all__ = ["train", "ProgressLine"]


class ProgressLine:
    """One self-overwriting status line on stderr (a new line when a member finishes)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last_member = -1
        self._width = 0

    def __call__(self, report: Any) -> None:
        if not self.enabled:
            return
        if report.member != self._last_member and self._last_member >= 0:
            click.echo("", err=True)
            self._width = 0
        self._last_member = report.member
        member = f"member {report.member + 1}/{report.n_members}  " if report.n_members > 1 else ""
        text = (
            f"{member}epoch {report.epoch}/{report.max_epochs}  loss {report.loss:.4g}  "
            f"val {report.val_loss:.4g}  best {report.best_val_loss:.4g}  lr {report.learning_rate:.2g}  "
            f"{report.elapsed_s:.0f}s"
        )
        pad = max(0, self._width - len(text))
        self._width = len(text)
        click.echo("\r" + text + " " * pad, nl=False, err=True)

    def close(self) -> None:
        if self.enabled and self._last_member >= 0:
            click.echo("", err=True)
            self._last_member = -1


def _layers_callback(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    from ..train.config import parse_layers

    try:
        return parse_layers(value)
    except DnnlikError as exc:
        raise click.BadParameter(exc.bare_message, ctx=ctx, param=param) from None


def _command_line(samples: str, out: str, **options: Any) -> str:
    """The command as it ran, every option spelled out (recorded in the bundle's provenance)."""
    parts = ["dnnlik", "train", samples, "--out", out]
    for key, value in options.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def _summary_text(result: Any, exported: Any) -> str:
    scale = result.preprocessing.output_scale
    lines = [f"bundle: {exported.path} (valid)"]
    for m in result.members:
        lines.append(
            f"  seed {m.seed}: {m.epochs} epochs (best {m.best_epoch}, stopped: {m.stopped}), "
            f"best val MSE {m.best_val_loss * scale**2:.4g} (log L units), {m.wall_time_s:.1f}s, "
            f"{m.n_train} training points, batch {m.batch_size}"
        )
    p = exported.parity
    if "onnx_vs_tensorflow_max_abs" in p:
        lines.append(
            f"  parity on {p['n_points']} held-out points: ONNX vs TensorFlow max |diff| "
            f"{p['onnx_vs_tensorflow_max_abs']:.2g} (target < {p['target_max_abs']:g}); gradient vs finite "
            f"differences max rel diff {p['grad_vs_finite_differences_max_rel']:.2g}"
        )
        lines.append(
            f"  held-out MSE {p['heldout_mse_logpdf']:.4g}, max |error| "
            f"{p['heldout_max_abs_error_logpdf']:.4g} (log L units)"
        )
    info = result.preprocessing.baseline_info
    lines.append(
        f"  target: {result.config.target}"
        + (f" (baseline: {info.get('method', info.get('source'))})" if result.config.target == "residual" else "")
    )
    lines.append(f"  training {result.wall_time_s:.1f}s, export {exported.export_time_s:.1f}s")
    for note in result.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def _default(field: str) -> Any:
    return config_default(TrainConfig, field)


# The options that set a TrainConfig field: (flag, field, click type, help). Each default is the
# field's own (config_default), so a default lives in one place and --help states it.
_CONFIG_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--layers", "layers", str, "Hidden layer widths: 512,512,512 or 3x512."),
    (
        "--activation",
        "activation",
        click.Choice(ACTIVATIONS),
        "Hidden-layer activation (exported as plain ONNX ops with an explicit gradient).",
    ),
    (
        "--ensemble",
        "ensemble",
        click.IntRange(min=1),
        "Number of members (different seeds and random subsets); >= 2 adds a spread output.",
    ),
    ("--epochs", "epochs", click.IntRange(min=1), "Cap on epochs."),
    (
        "--max-minutes",
        "max_minutes",
        click.FloatRange(min=0, min_open=True),
        "Cap on the wall time of the whole training (all members).",
    ),
    ("--seed", "seed", int, "Seed (member k uses seed + k)."),
    (
        "--target",
        "target",
        click.Choice(TARGETS),
        "Learn the residual over the quadratic Laplace baseline, or log L directly.",
    ),
    (
        "--baseline",
        "baseline",
        click.Choice(BASELINES),
        "Where the residual's baseline comes from (reference likelihood or a fit to the samples).",
    ),
    ("--batch-size", "batch_size", click.IntRange(min=1), "Batch size (default: about N_train/200, a power of two)."),
    ("--learning-rate", "learning_rate", click.FloatRange(min=0, min_open=True), "Initial learning rate of Adam."),
    (
        "--lr-schedule",
        "lr_schedule",
        click.Choice(LR_SCHEDULES),
        "plateau: cut the learning rate by 5 when the validation loss stalls (the paper's); "
        "cosine: decay it to 1e-6 over --epochs.",
    ),
    ("--jit/--no-jit", "jit_compile", bool, "XLA compilation (useful on GPUs)."),
]


def _config_options(func: F) -> F:
    """Apply the options of :data:`_CONFIG_OPTIONS`, in order, with TrainConfig's defaults."""
    for flag, field, kind, text in reversed(_CONFIG_OPTIONS):
        default = _default(field)
        extra: dict[str, Any] = {} if kind is bool else {"type": kind}
        if field == "layers":
            default, extra["callback"] = ",".join(map(str, default)), _layers_callback
        func = click.option(flag, default=default, show_default=default is not None, help=text, **extra)(func)
    return func


@click.command("train")
@click.argument("samples", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "out", required=True, type=click.Path(), help="Bundle folder to write.")
@_config_options
@click.option("--name", default=None, help="Bundle name (default: <source>-dnn).")
@click.option("--author", "authors", multiple=True, help="Author name for bundle.json (repeatable).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Per-epoch progress line (default: on when stderr is a terminal).",
)
@format_option(help="Summary as readable text or JSON.")
def train(
    samples: str,
    out: str,
    layers: tuple[int, ...],
    activation: str,
    ensemble: int,
    epochs: int,
    max_minutes: float | None,
    seed: int,
    target: str,
    baseline: str,
    batch_size: int | None,
    learning_rate: float,
    lr_schedule: str,
    jit: bool,
    name: str | None,
    authors: tuple[str, ...],
    overwrite: bool,
    show_progress: bool | None,
    fmt: str,
) -> None:
    """Train a DNNLikelihood on SAMPLES (from 'dnnlik sample') and write a validated bundle to --out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ..train import train_bundle
    from ..train.pipeline import check_output

    if show_progress is None:
        show_progress = sys.stderr.isatty()
    progress = ProgressLine(bool(show_progress))
    # the options that set TrainConfig fields (but jit), by field name; the recorded command spells them as flags
    settings: dict[str, Any] = {
        "layers": layers, "activation": activation, "ensemble": ensemble, "epochs": epochs,
        "max_minutes": max_minutes, "seed": seed, "target": target, "baseline": baseline, "batch_size": batch_size,
        "learning_rate": learning_rate, "lr_schedule": lr_schedule,
    }  # fmt: skip
    command = _command_line(samples, out, **{**settings, "layers": ",".join(map(str, layers))}, jit=jit, name=name)
    start = time.monotonic()
    cut_short: list[str] = []  # the warning that training stopped before its schedule's end
    try:
        config = TrainConfig(**settings, jit_compile=jit)
        check_output(out, overwrite)
        data = _read_samples(samples)
        if show_progress:
            click.echo(
                f"training on {data.n_train} points ({data.n_validation} for validation), "
                f"{data.n_parameters} parameters",
                err=True,
            )
        with relay_cut_short(lambda w: cut_short.append(str(w))):
            result, exported = train_bundle(
                data,
                out,
                config,
                overwrite=overwrite,
                progress=progress,
                name=name,
                authors=[{"name": a} for a in authors] or None,
                command=command,
            )
    except DnnlikError as exc:
        progress.close()
        raise click.ClickException(cli_message(exc)) from None
    except KeyboardInterrupt:
        progress.close()
        click.echo(f"Interrupted after {time.monotonic() - start:.0f}s: nothing written to {out}", err=True)
        sys.exit(130)
    progress.close()
    for message in cut_short:  # after the progress line, not in its middle
        click.echo(f"Warning: {message}", err=True)
    if result.interrupted:
        click.echo("Interrupted: the best weights so far were exported.", err=True)
    _echo_summary(result, exported, fmt)


def _read_samples(samples: str) -> Any:
    """The samples file read for training; its warning about non-finite targets goes to stderr."""
    from ..train import NonFiniteTargetsWarning, load_samples

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NonFiniteTargetsWarning)
        data = load_samples(samples)
    for w in caught:
        if issubclass(w.category, NonFiniteTargetsWarning):
            click.echo(f"Warning: {w.message}", err=True)
    return data


def _echo_summary(result: Any, exported: Any, fmt: str) -> None:
    """What was trained and exported, as readable text or JSON (non-finite numbers as null)."""
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "bundle": str(exported.path),
                    "training": result.summary(),
                    "schedule_cut_short": result.schedule_cut_short,
                    "parity": exported.parity,
                    "export_time_s": exported.export_time_s,
                    "training_time_s": result.wall_time_s,
                },
                indent=1,
                default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v,
            )
        )
    else:
        click.echo(_summary_text(result, exported))
