"""The ``dnnlik`` command line: thin commands over library calls.

Each command lives in its own module and is imported only when it runs, so
``dnnlik --version`` and ``import dnnlik.cli`` stay fast and light.
"""

from .main import cli, main

__all__ = ["cli", "main"]
