"""The zoo: published, validated bundles, listed in ``zoo/index.json``, and the recipes that build them."""

from .index import INDEX_NAME, INDEX_VERSION, ZooEntry, entry_path, find_entry, load_index, make_entry, write_index, zoo_root

__all__ = ["ZooEntry", "zoo_root", "load_index", "find_entry", "entry_path", "make_entry", "write_index",
           "INDEX_NAME", "INDEX_VERSION"]
