"""The model card of a zoo entry: :func:`dnnlik.builder.card.write_card` (kept here for its callers)."""

from __future__ import annotations

from ..builder.card import PAPER_FIGURES, write_card

__all__ = ["write_card", "PAPER_FIGURES"]
