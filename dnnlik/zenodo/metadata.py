"""Zenodo deposit metadata from a bundle's ``bundle.json``.

The mapping (documented in ``archive/README.md``):

================================  ==============================================
bundle.json                       Zenodo metadata
================================  ==============================================
``title``                         ``title``
``authors[*]`` name, affiliation, ``creators[*]`` name, affiliation, orcid
orcid
``description``                   ``description`` (HTML-escaped paragraphs, plus
                                  a paragraph naming the bundle, its kind and
                                  how to load it)
``license`` (SPDX)                ``license`` (Zenodo's lower-case SPDX id); a
                                  compound expression goes to ``notes``
``keywords``                      ``keywords`` (plus the template's, plus
                                  ``dnnlik`` and the kind)
``version``                       ``version``
``references[*]``                 ``related_identifiers[*]`` (see RELATIONS)
``provenance.source_likelihood``  a ``related_identifiers`` entry
.reference (DOI, arXiv or URL)    ``isDerivedFrom``
``archive.doi`` (reserved)        ``prereserve_doi`` (kept reserved)
template                          ``upload_type``, ``access_right``,
                                  ``communities``, extra ``keywords``, ``notes``
================================  ==============================================
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..bundle.document import loads_bounded
from ..errors import InvalidInputError
from .client import ZenodoError

__all__ = ["DEFAULT_TEMPLATE", "RELATIONS", "load_template", "zenodo_metadata", "related_identifier"]

DEFAULT_TEMPLATE: dict[str, Any] = {
    "upload_type": "dataset",
    "access_right": "open",
    "keywords": ["dnnlik", "likelihood", "ONNX", "DNNLikelihood"],
    "communities": [],
    "notes": "A dnnlik bundle: an ONNX model of a likelihood function with a bundle.json that describes it "
    "(format: https://github.com/dnnlik/dnnlik/blob/main/spec/README.md).",
}
"""Defaults for what a bundle does not say; ``archive/zenodo-metadata.template.json`` holds the same."""

RELATIONS: dict[str, str] = {
    "describes": "isSupplementTo",  # the paper that describes the analysis
    "source-likelihood": "isDerivedFrom",
    "method": "references",
    "data": "isDerivedFrom",
    "other": "references",
}
"""bundle ``references[*].relation`` -> Zenodo ``related_identifiers[*].relation``."""

_TEMPLATE_KEYS = {
    "upload_type",
    "access_right",
    "keywords",
    "communities",
    "notes",
    "publication_type",
    "image_type",
    "grants",
    "subjects",
    "contributors",
    "language",
}
_SIMPLE_LICENSE = re.compile(r"^[A-Za-z0-9.+-]+\Z")
_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.[0-9]{4,9}/\S+)\Z", re.IGNORECASE)
_ARXIV = re.compile(
    r"^(?:arXiv:)?([0-9]{4}\.[0-9]{4,5}(?:v[0-9]+)?|[a-z-]+(?:\.[A-Z]{2})?/[0-9]{7}(?:v[0-9]+)?)\Z", re.IGNORECASE
)


def load_template(path: str | Path | None = None) -> dict[str, Any]:
    """The metadata template: :data:`DEFAULT_TEMPLATE` updated by the JSON object at ``path``.

    Args:
        path: a JSON file setting some of ``upload_type``, ``access_right``,
            ``keywords``, ``communities``, ``notes``, ``publication_type``,
            ``image_type``, ``grants``, ``subjects``, ``contributors``, ``language``
            (and an ignored ``$comment``); None: the defaults alone.

    Returns:
        A fresh copy of the defaults, with the file's members replacing them.

    Raises:
        InvalidInputError: the file cannot be read, is not a JSON object, or has
            another member (the rest of the metadata comes from ``bundle.json``).
    """
    template = json.loads(json.dumps(DEFAULT_TEMPLATE))
    if path is None:
        return template
    try:
        loaded = loads_bounded(Path(path).read_bytes(), where=str(path))
    except OSError as exc:
        raise InvalidInputError(f"cannot read the metadata template ({exc.strerror})", where=str(path)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"the metadata template is not valid JSON ({exc})", where=str(path)) from None
    if not isinstance(loaded, dict):
        raise InvalidInputError("the metadata template must be a JSON object", where=str(path))
    unknown = sorted(set(loaded) - _TEMPLATE_KEYS - {"$comment"})
    if unknown:
        raise InvalidInputError(
            f"unknown member(s) {', '.join(unknown)}; a template may set {', '.join(sorted(_TEMPLATE_KEYS))} "
            "(the rest comes from bundle.json)",
            where=str(path),
        )
    loaded.pop("$comment", None)
    template.update(loaded)
    return template


def related_identifier(kind: str, ident: str, relation: str) -> dict[str, str] | None:
    """A Zenodo related identifier for a bundle reference; None when it cannot be expressed.

    >>> related_identifier("arxiv", "1911.03305", "references")
    {'identifier': 'arXiv:1911.03305', 'relation': 'references', 'scheme': 'arxiv'}
    >>> related_identifier("doi", "https://doi.org/10.1000/xyz", "isDerivedFrom")["identifier"]
    '10.1000/xyz'

    Args:
        kind: the bundle reference's ``type``: ``arxiv``, ``doi``, ``inspire``,
            ``hepdata`` or ``url``.
        ident: its ``id`` (a bare INSPIRE or HEPData id becomes that site's URL).
        relation: the Zenodo relation (see :data:`RELATIONS`).

    Returns:
        ``{"identifier", "relation", "scheme"}``, or None for another kind or a
        ``url`` that is not http(s).
    """
    ident = ident.strip()
    if kind == "arxiv":
        m = _ARXIV.match(ident)
        return {"identifier": f"arXiv:{m.group(1)}" if m else ident, "relation": relation, "scheme": "arxiv"}
    if kind == "doi":
        m = _DOI.match(ident)
        return {"identifier": m.group(1) if m else ident, "relation": relation, "scheme": "doi"}
    if kind == "inspire":
        url = ident if ident.startswith("http") else f"https://inspirehep.net/literature/{ident}"
        return {"identifier": url, "relation": relation, "scheme": "url"}
    if kind == "hepdata":
        url = ident if ident.startswith("http") else f"https://www.hepdata.net/record/{ident}"
        return {"identifier": url, "relation": relation, "scheme": "url"}
    if kind == "url" and ident.startswith(("http://", "https://")):
        return {"identifier": ident, "relation": relation, "scheme": "url"}
    return None


def _guess_identifier(text: str, relation: str) -> dict[str, str] | None:
    if _DOI.match(text):
        return related_identifier("doi", text, relation)
    if _ARXIV.match(text):
        return related_identifier("arxiv", text, relation)
    if text.startswith(("http://", "https://")):
        return related_identifier("url", text, relation)
    return None


def _creator(author: Mapping[str, Any]) -> dict[str, str]:
    creator = {"name": str(author["name"])}
    for key in ("affiliation", "orcid"):
        if author.get(key):
            creator[key] = str(author[key])
    return creator


def _description(document: Mapping[str, Any], record_id: int | None) -> str:
    paragraphs = [p.strip() for p in str(document.get("description", "")).split("\n\n") if p.strip()]
    out = [f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs]
    name, version, kind = document.get("name"), document.get("version"), document.get("kind")
    how = f'dnnlik.load("zenodo:{record_id}")' if record_id else 'dnnlik.load("zenodo:RECORD")'
    out.append(
        f"<p>dnnlik bundle <code>{html.escape(str(name))}</code> version {html.escape(str(version))} "
        f"(kind {html.escape(str(kind))}, format {html.escape(str(document.get('format_version')))}). "
        f"Evaluate it with any ONNX runtime, or in Python with <code>pip install dnnlik</code> and "
        f"<code>{html.escape(how)}</code>.</p>"
    )
    return "\n".join(out)


def zenodo_metadata(
    document: Mapping[str, Any],
    *,
    template: Mapping[str, Any] | None = None,
    doi: str | None = None,
    record_id: int | None = None,
) -> dict[str, Any]:
    """Zenodo deposit metadata for the bundle described by ``document`` (its ``bundle.json``).

    The mapping is the module docstring's table.

    Args:
        document: the bundle's ``bundle.json``.
        template: the template (:func:`load_template`); default :data:`DEFAULT_TEMPLATE`.
        doi: the DOI reserved for the deposit, if any: then ``prereserve_doi`` is
            set so that Zenodo keeps it (the DOI itself is not written).
        record_id: the record number, for the ``dnnlik.load("zenodo:N")`` line of
            the description; default the placeholder ``RECORD``.

    Returns:
        The ``metadata`` object of a Zenodo deposition.

    Raises:
        ZenodoError: ``document`` lacks (or has empty) ``title``, ``description``,
            ``authors``, ``version`` or ``license``.
    """
    template = dict(DEFAULT_TEMPLATE if template is None else template)
    for key in ("title", "description", "authors", "version", "license"):
        if not document.get(key):
            raise ZenodoError(f"bundle.json has no {key!r}, which Zenodo needs", where="bundle.json")
    meta: dict[str, Any] = {
        "upload_type": template.get("upload_type", "dataset"),
        "access_right": template.get("access_right", "open"),
        "title": str(document["title"]),
        "creators": [_creator(a) for a in document["authors"]],
        "description": _description(document, record_id),
        "version": str(document["version"]),
    }
    for key in sorted(_TEMPLATE_KEYS - {"upload_type", "access_right", "keywords", "notes", "communities"}):
        if template.get(key):
            meta[key] = template[key]
    notes = [str(template["notes"])] if template.get("notes") else []
    license_ = str(document["license"])
    if _SIMPLE_LICENSE.match(license_):
        meta["license"] = license_.lower()
    else:
        notes.append(f"License (SPDX expression): {license_}.")
    keywords: list[str] = []
    for word in [*document.get("keywords", []), *template.get("keywords", []), str(document.get("kind", ""))]:
        if word and word not in keywords:
            keywords.append(str(word))
    meta["keywords"] = keywords
    related: list[dict[str, str]] = []
    for ref in document.get("references", []):
        entry = related_identifier(
            ref.get("type", ""), str(ref.get("id", "")), RELATIONS.get(ref.get("relation", "other"), "references")
        )
        if entry and entry not in related:
            related.append(entry)
    source = (document.get("provenance") or {}).get("source_likelihood") or {}
    if isinstance(source, dict) and source.get("reference"):
        entry = _guess_identifier(str(source["reference"]).strip(), "isDerivedFrom")
        if entry and entry not in related:
            related.append(entry)
    if related:
        meta["related_identifiers"] = related
    communities = template.get("communities") or []
    if communities:
        meta["communities"] = [c if isinstance(c, dict) else {"identifier": str(c)} for c in communities]
    if notes:
        meta["notes"] = " ".join(notes)
    if doi:
        # keep the DOI reserved at creation (it is not set as 'doi', which names an external DOI)
        meta["prereserve_doi"] = True
    return meta
