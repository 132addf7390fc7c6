"""The zoo: published, validated bundles, listed in ``zoo/index.json``, and the recipes that build them."""

from .check import validate_all
from .index import (
    INDEX_NAME,
    INDEX_VERSION,
    ZooEntry,
    bundle_size,
    entry_path,
    find_entry,
    load_index,
    make_entry,
    read_index,
    write_index,
    zoo_root,
)

__all__ = [
    "ZooEntry",
    "zoo_root",
    "read_index",
    "load_index",
    "find_entry",
    "entry_path",
    "make_entry",
    "write_index",
    "bundle_size",
    "validate_all",
    "INDEX_NAME",
    "INDEX_VERSION",
]
