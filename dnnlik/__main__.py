"""``python -m dnnlik``: the command line."""

from .cli.main import main

main()
