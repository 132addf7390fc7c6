"""A small client for Zenodo's REST API: depositions, bucket uploads, records.

The access token comes from ``ZENODO_TOKEN`` (``ZENODO_SANDBOX_TOKEN`` for the
sandbox), from a file named by ``ZENODO_TOKEN_FILE``, or from
``$XDG_CONFIG_HOME/dnnlik/zenodo-token`` (``zenodo-sandbox-token``). It is
sent in an ``Authorization`` header only: never in a URL, never printed,
never logged, and :class:`Token` hides it from ``repr``.

Requests that fail with 429 or a 5xx status, or that lose their connection,
are retried with exponential backoff (``Retry-After`` honoured). Requests
that are not idempotent (``POST``: create, publish, new version) are retried
only when the server says it did not process them (429, 502, 503, 504), so
that a retry never creates a second deposition.

Answers are bounded: the record listing is read as at most
:data:`MAX_LISTING_BYTES` bytes of JSON nested at most :data:`MAX_JSON_DEPTH`
deep, and redirects are followed only on the instance's own host (scheme, host
and port: :func:`same_origin`), for the listing and for file downloads alike.

``requests`` is imported on first use; without it the client raises
:class:`~dnnlik.errors.MissingExtraError` naming ``pip install 'dnnlik[zenodo]'``.
"""

from __future__ import annotations

import contextlib
import email.utils
import json as jsonlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

# MAX_JSON_DEPTH, re-exported: the deepest nesting of arrays and objects accepted in a listing (the top
# level is depth 1), the one depth limit of every JSON dnnlik reads, as for bundle.json
from ..bundle.document import find_too_deep
from ..digest import MAX_JSON_DEPTH
from ..errors import DnnlikError, MissingExtraError
from ..report import one_line

__all__ = [
    "BASE_URLS",
    "DEFAULT_BACKOFF",
    "DOI_PREFIXES",
    "TOKEN_ENV",
    "SANDBOX_TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "Token",
    "ZenodoError",
    "ZenodoAuthError",
    "ZenodoHTTPError",
    "MissingTokenError",
    "ZenodoClient",
    "default_token_file",
    "display_url",
    "load_token",
    "require_requests",
    "same_origin",
    "parse_json_bounded",
    "MAX_LISTING_BYTES",
    "MAX_JSON_DEPTH",
]

log = logging.getLogger("dnnlik.zenodo")

BASE_URLS: dict[bool, str] = {False: "https://zenodo.org", True: "https://sandbox.zenodo.org"}
"""Zenodo's base URL, by ``sandbox`` flag (tests point these at a local server)."""

DOI_PREFIXES: dict[bool, str] = {False: "10.5281", True: "10.5072"}
"""The DOI prefix of Zenodo records, by ``sandbox`` flag."""

DEFAULT_BACKOFF = 1.0
"""First retry delay in seconds when a client is made without ``backoff`` (doubled at each retry)."""

TOKEN_ENV = "ZENODO_TOKEN"
SANDBOX_TOKEN_ENV = "ZENODO_SANDBOX_TOKEN"
TOKEN_FILE_ENV = "ZENODO_TOKEN_FILE"

_TOKEN_PAGE = "{base}/account/settings/applications/tokens/new/"

MAX_LISTING_BYTES = 4 * 1024**2
"""Largest record listing (JSON body of ``/api/records/<id>``) dnnlik reads."""

MAX_REDIRECTS = 5


class ZenodoError(DnnlikError):
    """Talking to Zenodo failed, or Zenodo holds something dnnlik refuses."""


class ZenodoHTTPError(ZenodoError):
    """Zenodo answered a request with an error status; ``status`` holds it.

    Args:
        message: what went wrong.
        status: the HTTP status, when there was an answer.
        where: the request (``METHOD URL``).
    """

    def __init__(self, message: str, *, status: int | None = None, where: str | None = None) -> None:
        self.status = status
        super().__init__(message, where=where)


class ZenodoAuthError(ZenodoHTTPError):
    """Zenodo refused the access token (401 or 403)."""


class MissingTokenError(ZenodoError):
    """No Zenodo access token could be found."""


class Token:
    """A Zenodo access token; ``repr`` and ``str`` never show it.

    >>> Token("s3cret", "$ZENODO_TOKEN")
    Token(<hidden>, from $ZENODO_TOKEN)

    Args:
        value: the secret.
        source: where it came from, for messages (``$ZENODO_TOKEN``, ``file ...``).
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """The secret itself, for the ``Authorization`` header only."""
        return self._value

    def __repr__(self) -> str:
        return f"Token(<hidden>, from {self.source})"

    __str__ = __repr__


def default_token_file(sandbox: bool = False) -> Path:
    """``$XDG_CONFIG_HOME/dnnlik/zenodo-token`` (``zenodo-sandbox-token`` for the sandbox).

    Args:
        sandbox: the sandbox's token file rather than zenodo.org's.

    Returns:
        The path (``~/.config`` when ``XDG_CONFIG_HOME`` is not set); it may not exist.
    """
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "dnnlik" / ("zenodo-sandbox-token" if sandbox else "zenodo-token")


def _read_token_file(path: Path, source: str) -> Token:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        raise MissingTokenError(f"cannot read the Zenodo token file ({reason})", where=str(path)) from None
    if not text or len(text.split()) != 1:
        raise MissingTokenError("the Zenodo token file must hold the token alone, on one line", where=str(path))
    return Token(text, source)


def load_token(*, sandbox: bool = False, token_file: str | os.PathLike[str] | None = None) -> Token:
    """Find the access token: ``token_file``, the environment, or the default token file.

    In order: ``token_file``; ``$ZENODO_SANDBOX_TOKEN`` (sandbox only), then
    ``$ZENODO_TOKEN``; the file named by ``$ZENODO_TOKEN_FILE``; :func:`default_token_file`.

    Args:
        sandbox: look for the sandbox's token.
        token_file: a file holding the token alone, on one line.

    Returns:
        The token, with where it came from.

    Raises:
        MissingTokenError: none found (the message says where to put one and
            which scopes it needs), or a token file cannot be read or holds more
            than the token.
    """
    if token_file is not None:
        return _read_token_file(Path(token_file), f"file {token_file}")
    names = [SANDBOX_TOKEN_ENV, TOKEN_ENV] if sandbox else [TOKEN_ENV]
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return Token(value, f"${name}")
    named = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if named:
        return _read_token_file(Path(named), f"${TOKEN_FILE_ENV}")
    default = default_token_file(sandbox)
    if default.is_file():
        return _read_token_file(default, f"file {default}")
    env = f"{SANDBOX_TOKEN_ENV} (or {TOKEN_ENV})" if sandbox else TOKEN_ENV
    raise MissingTokenError(
        f"no Zenodo access token: set {env}, or write the token to {default} "
        f"(or to a file named by {TOKEN_FILE_ENV}); create one at "
        f"{_TOKEN_PAGE.format(base=BASE_URLS[sandbox])} with the scopes deposit:write and deposit:actions"
    )


def require_requests(feature: str = "Talking to Zenodo") -> Any:
    """The ``requests`` module, or :class:`MissingExtraError`.

    Args:
        feature: what needs it, for the message.

    Returns:
        The module.

    Raises:
        MissingExtraError: ``requests`` is not installed (``pip install 'dnnlik[zenodo]'``).
    """
    try:
        import requests
    except ImportError:
        raise MissingExtraError("zenodo", feature) from None
    return requests


def display_url(url: str) -> str:
    """``url`` without its query string and user info (a token could hide there).

    >>> display_url("https://user:pw@zenodo.org/api/records/1?access_token=x")
    'https://zenodo.org/api/records/1'

    Args:
        url: any URL.

    Returns:
        Scheme, host, port and path only (the fragment goes too).
    """
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port if port is not None else _DEFAULT_PORTS[scheme]


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL on ``base_url``'s scheme, host and port (and has no user info).

    >>> same_origin("https://Zenodo.org:443/x", "https://zenodo.org")
    True
    >>> same_origin("http://zenodo.org/x", "https://zenodo.org")
    False

    Args:
        url: the URL to check (a download link, a redirect).
        base_url: the Zenodo instance.

    Returns:
        True when both are http(s) with the same scheme, host (case and a final
        dot ignored) and port (default ports filled in).
    """
    mine, theirs = _origin(base_url), _origin(url)
    return mine is not None and mine == theirs


def parse_json_bounded(data: bytes, *, what: str, where: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON ``data`` nested at most ``max_depth`` deep; :class:`ZenodoError` naming ``what`` otherwise.

    Args:
        data: the JSON text.
        what: what it is, for the message ("the record listing").
        where: the request or record, for the message.
        max_depth: the deepest nesting of arrays and objects accepted (top level 1).

    Returns:
        The decoded value.

    Raises:
        ZenodoError: nested too deeply, or not valid JSON (or UTF-8).
    """
    if data.count(b"[") + data.count(b"{") > max_depth and find_too_deep(data, max_depth) is not None:
        raise ZenodoError(f"{what} nests arrays or objects more than {max_depth} deep; refused", where=where)
    try:
        return jsonlib.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ZenodoError(f"{what} is not valid JSON ({one_line(exc, 120)})", where=where) from None


MAX_ERROR_BODY = 64 * 1024
"""Most bytes of an error answer read for its message."""


def read_capped(response: Any, cap: int, *, what: str, where: str) -> bytes:
    """The body of a streamed ``response``, refused (:class:`ZenodoError`) when longer than ``cap`` bytes."""
    requests = require_requests()
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > cap:
        raise ZenodoError(
            f"{what} is {int(length)} bytes, more than the {cap} bytes dnnlik reads; refused", where=where
        )
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > cap:
                raise ZenodoError(f"{what} is more than the {cap} bytes dnnlik reads; refused", where=where)
            chunks.append(chunk)
    except (requests.RequestException, OSError) as exc:
        raise ZenodoError(f"the connection failed while reading {what} ({type(exc).__name__})", where=where) from None
    return b"".join(chunks)


def _error_body(response: Any) -> bytes:
    """At most :data:`MAX_ERROR_BODY` bytes of an error answer (streamed or not)."""
    if getattr(response, "_content_consumed", True) and isinstance(getattr(response, "_content", None), bytes):
        return response.content[:MAX_ERROR_BODY]
    data = b""
    try:
        for chunk in response.iter_content(8192):
            data += chunk
            if len(data) >= MAX_ERROR_BODY:
                break
    except Exception:  # only for a message: whatever was read is enough
        pass
    return data[:MAX_ERROR_BODY]


def _zenodo_message(response: Any) -> str:
    """The message of a Zenodo error body ``{"status", "message", "errors": [{"field", "message"}]}``."""
    data = _error_body(response)
    try:
        body = parse_json_bounded(data, what="the error body", where="")
    except ZenodoError:
        body = None
    if not isinstance(body, dict):
        shown = one_line(data.decode("utf-8", "replace"), 200)
        return shown or (response.reason or "no details")
    message = str(body.get("message") or response.reason or "no details")
    details = []
    for err in body.get("errors") or []:
        if isinstance(err, dict):
            field = err.get("field")
            text = err.get("message") or err.get("messages")
            details.append(f"{field}: {text}" if field else str(text))
    if details:
        message += " (" + "; ".join(one_line(d, 200) for d in details[:10]) + ")"
    return one_line(message, 600)


_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
_NOT_PROCESSED = {429, 502, 503, 504}

Body = bytes | Path | None


class ZenodoClient:
    """REST calls to one Zenodo instance, with retries and backoff.

    ``sleep`` is injectable so that tests need not wait; ``backoff`` is the
    first delay in seconds, doubled at each retry and capped at ``max_backoff``.
    Use it as a context manager, or call :meth:`close`.

    Args:
        sandbox: talk to sandbox.zenodo.org rather than zenodo.org.
        token: the access token (:func:`load_token`); None for public requests only.
        base_url: another instance (tests use a local server); default from ``sandbox``.
        max_retries: retries of a failed request, after the first try.
        backoff: first retry delay, seconds; default :data:`DEFAULT_BACKOFF`.
        max_backoff: the longest delay, seconds (also caps ``Retry-After``).
        timeout: seconds to wait for a connection or an answer (per attempt).
        sleep: the function that waits.

    Raises:
        MissingExtraError: ``requests`` is not installed.
    """

    def __init__(
        self,
        *,
        sandbox: bool = False,
        token: Token | None = None,
        base_url: str | None = None,
        max_retries: int = 5,
        backoff: float | None = None,
        max_backoff: float = 60.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._requests = require_requests()
        self.sandbox = sandbox
        self.base_url = (base_url or BASE_URLS[sandbox]).rstrip("/")
        self.max_retries = max_retries
        self.backoff = DEFAULT_BACKOFF if backoff is None else backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._sleep = sleep
        self._session = self._requests.Session()
        self._session.headers["Accept"] = "application/json"
        self._token = token

    def __repr__(self) -> str:
        return f"ZenodoClient({self.base_url!r}, token={'set' if self._token else 'none'})"

    @property
    def has_token(self) -> bool:
        """Whether the client holds an access token."""
        return self._token is not None

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> ZenodoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path_or_url: str) -> str:
        """``path_or_url`` as an absolute URL: a path is joined to the instance's base URL."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

    def _delay(self, attempt: int, response: Any = None) -> float:
        delay = self.backoff * (2**attempt)
        header = response.headers.get("Retry-After") if response is not None else None
        if header:
            try:
                delay = float(header)
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(header) if header else None
                if parsed is not None:
                    delay = max(0.0, parsed.timestamp() - time.time())
        return max(0.0, min(delay, self.max_backoff))

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        body: Body = None,
        auth: bool = True,
        allow: tuple[int, ...] = (),
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        allow_redirects: bool = True,
    ) -> Any:
        """Send a request; return the ``requests.Response`` (2xx or 3xx, or a status in ``allow``).

        ``body`` is bytes or a file path, re-read at each retry. With ``stream`` the body
        is not read (the caller reads and closes the response).

        Args:
            method: the HTTP method.
            path_or_url: a path on the instance (``/api/...``) or a full URL.
            json: a JSON body.
            body: a raw body (bytes, or a file to stream), sent as ``application/octet-stream``.
            auth: send the access token (in the ``Authorization`` header).
            allow: error statuses to return rather than raise (e.g. 404).
            headers: more headers.
            stream: do not read the answer's body.
            allow_redirects: follow redirects (on any host: see :meth:`get_same_origin`).

        Returns:
            The ``requests.Response``.

        Raises:
            MissingTokenError: ``auth`` without a token.
            ZenodoAuthError: Zenodo refused the token (401 or 403).
            ZenodoHTTPError: another error status, after the retries allowed.
            ZenodoError: Zenodo could not be reached (after retries), or the file
                to upload cannot be read.
        """
        requests = self._requests
        method = method.upper()
        url = self.url(path_or_url)
        where = f"{method} {display_url(url)}"
        headers = dict(headers or {})
        if auth:
            if self._token is None:
                raise MissingTokenError("this request needs a Zenodo access token", where=where)
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        idempotent = method in _IDEMPOTENT
        attempt = 0
        while True:
            response = None
            try:
                # a file to upload is streamed from disk, opened anew on each attempt
                with open(body, "rb") if isinstance(body, Path) else contextlib.nullcontext(body) as data:
                    response = self._session.request(
                        method,
                        url,
                        data=data,
                        json=json,
                        headers=headers,
                        timeout=self.timeout,
                        allow_redirects=allow_redirects,
                        stream=stream,
                    )
            except requests.RequestException as exc:
                retry = idempotent or isinstance(exc, requests.ConnectTimeout)
                if retry and attempt < self.max_retries:
                    delay = self._delay(attempt)
                    log.info("%s: %s; retrying in %.1f s", where, type(exc).__name__, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise ZenodoError(
                    f"cannot reach Zenodo ({type(exc).__name__}: {one_line(_strip(exc), 200)})", where=where
                ) from None
            except OSError as exc:  # a file to upload cannot be read (requests' errors are OSErrors too: above)
                raise ZenodoError(
                    f"cannot read the file to upload ({exc.strerror or one_line(exc)})", where=str(body)
                ) from None
            status = response.status_code
            if status < 400 or status in allow:
                return response
            if (
                (status == 429 or status >= 500)
                and (idempotent or status in _NOT_PROCESSED)
                and attempt < self.max_retries
            ):
                delay = self._delay(attempt, response)
                log.info("%s: HTTP %d; retrying in %.1f s", where, status, delay)
                response.close()
                self._sleep(delay)
                attempt += 1
                continue
            message = _zenodo_message(response)
            if status in (401, 403) and auth:
                source = self._token.source if self._token else "no token"
                raise ZenodoAuthError(
                    f"Zenodo refused the access token from {source} (HTTP {status}: {message}); it may be "
                    "expired, revoked, for the other Zenodo instance (sandbox or not), or lack the scopes "
                    "deposit:write and deposit:actions",
                    status=status,
                    where=where,
                )
            tried = f" after {attempt + 1} attempts" if attempt else ""
            raise ZenodoHTTPError(f"Zenodo answered HTTP {status}{tried}: {message}", status=status, where=where)

    def json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """:meth:`request`, returning the decoded JSON body (None for an empty one).

        Args:
            method: the HTTP method.
            path_or_url: a path on the instance or a full URL.
            kwargs: as :meth:`request`.

        Returns:
            The decoded body.

        Raises:
            ZenodoError: as :meth:`request`, or the body is not JSON or nested too deeply.
        """
        response = self.request(method, path_or_url, **kwargs)
        if not response.content:
            return None
        where = f"{method} {display_url(response.url)}"
        try:
            return parse_json_bounded(response.content, what="Zenodo's answer", where=where)
        except ZenodoError:
            raise ZenodoError(
                "Zenodo answered with a body that is not JSON (or nested too deeply)", where=where
            ) from None

    def get_same_origin(
        self,
        path_or_url: str,
        *,
        auth: bool = False,
        headers: Mapping[str, str] | None = None,
        where: str | None = None,
    ) -> Any:
        """GET, streamed, following redirects only on this instance's host (:func:`same_origin`).

        Args:
            path_or_url: a path on the instance or a full URL.
            auth: send the access token.
            headers: more headers.
            where: what is being fetched, for messages; default the URL.

        Returns:
            The open response (the caller reads and closes it).

        Raises:
            ZenodoError: a URL or a redirect to another host, scheme or port; a
                redirect without ``Location``; more than 5 redirects; or as :meth:`request`.
        """
        url = self.url(path_or_url)
        for _ in range(MAX_REDIRECTS + 1):
            if not same_origin(url, self.base_url):
                raise ZenodoError(
                    f"refusing to download from {display_url(url)}: it is not on the Zenodo host "
                    f"{display_url(self.base_url)}",
                    where=where or display_url(path_or_url),
                )
            response = self.request("GET", url, auth=auth, headers=headers, stream=True, allow_redirects=False)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise ZenodoError(
                    f"Zenodo answered a redirect without a Location ({display_url(url)})",
                    where=where or display_url(url),
                )
            url = urljoin(url, location)
        raise ZenodoError(
            f"more than {MAX_REDIRECTS} redirects from {display_url(path_or_url)}",
            where=where or display_url(path_or_url),
        )

    # --- records API (public, no token needed) ---

    def get_record(self, record_id: int | str, *, where: str | None = None) -> dict[str, Any]:
        """The published record (a concept record id redirects to its latest version).

        The answer must be a JSON object of at most :data:`MAX_LISTING_BYTES` bytes nested at
        most :data:`MAX_JSON_DEPTH` deep, from this instance's own host; :class:`ZenodoError` otherwise.
        The token is sent when the client has one.

        Args:
            record_id: the record (or concept record) number.
            where: the record, for messages; default ``record <id>``.

        Returns:
            The record's JSON.

        Raises:
            ZenodoError: an answer other than 200, too large, not a JSON object,
                nested too deeply, or from another host; or as :meth:`request`.
        """
        where = where or f"record {record_id}"
        response = self.get_same_origin(f"/api/records/{record_id}", auth=self._token is not None, where=where)
        try:
            if response.status_code != 200:
                raise ZenodoError(f"the records API answered HTTP {response.status_code}, not 200", where=where)
            data = read_capped(response, MAX_LISTING_BYTES, what="the record listing", where=where)
        finally:
            response.close()
        record = parse_json_bounded(data, what="the record listing", where=where)
        if not isinstance(record, dict):
            raise ZenodoError("the records API did not answer with a JSON object", where=where)
        return record

    # --- deposit API ---

    def create_deposition(self, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create a draft deposition (needs the token).

        Args:
            metadata: its ``metadata`` (:func:`dnnlik.zenodo.zenodo_metadata`); None: set later.

        Returns:
            The new deposition's JSON (``id``, ``links.bucket``, ...).

        Raises:
            ZenodoError: as :meth:`request`.
        """
        body = {"metadata": dict(metadata)} if metadata else {}
        return self.json("POST", "/api/deposit/depositions", json=body)

    def get_deposition(self, deposition_id: int | str) -> dict[str, Any]:
        """The deposition's JSON (needs the token); :class:`ZenodoError` as :meth:`request`."""
        return self.json("GET", f"/api/deposit/depositions/{deposition_id}")

    def update_metadata(self, deposition_id: int | str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a draft's ``metadata``; return the deposition's JSON. :class:`ZenodoError` as :meth:`request`."""
        return self.json("PUT", f"/api/deposit/depositions/{deposition_id}", json={"metadata": dict(metadata)})

    def list_bucket(self, bucket_url: str) -> list[dict[str, Any]]:
        """The file entries of a deposition's bucket (unchecked: see :func:`dnnlik.zenodo.records.file_entries`).

        Args:
            bucket_url: the deposition's ``links.bucket``.

        Returns:
            The listing's ``contents`` (or the listing itself when it is a list).

        Raises:
            ZenodoError: no ``contents`` list, or as :meth:`json`.
        """
        listing = self.json("GET", bucket_url)
        contents = listing.get("contents") if isinstance(listing, dict) else listing
        if not isinstance(contents, list):
            raise ZenodoError("the bucket listing holds no 'contents' list", where=display_url(bucket_url))
        return contents

    def list_deposition_files(self, deposition_id: int | str) -> list[dict[str, Any]]:
        """The deposition's file entries, legacy shape (unchecked).

        Args:
            deposition_id: the deposition number.

        Returns:
            The entries.

        Raises:
            ZenodoError: the answer is not a list, or as :meth:`json`.
        """
        files = self.json("GET", f"/api/deposit/depositions/{deposition_id}/files")
        if not isinstance(files, list):
            raise ZenodoError("the deposition's file listing is not a list", where=f"deposition {deposition_id}")
        return files

    def put_file(self, bucket_url: str, name: str, body: Body) -> dict[str, Any]:
        """Upload (or replace) the file ``name`` in a deposition's bucket.

        Args:
            bucket_url: the deposition's ``links.bucket``.
            name: the file's name in the record.
            body: its bytes, or the path of a file to stream.

        Returns:
            Zenodo's entry for the uploaded file (``key``, ``size``, ``checksum``, ...).

        Raises:
            ZenodoError: as :meth:`request`.
        """
        from urllib.parse import quote

        return self.json("PUT", f"{bucket_url.rstrip('/')}/{quote(name)}", body=body)

    def delete_file(self, bucket_url: str, name: str) -> None:
        """Delete the file ``name`` from a deposition's bucket (no error when it is not there).

        Raises:
            ZenodoError: as :meth:`request`.
        """
        from urllib.parse import quote

        self.request("DELETE", f"{bucket_url.rstrip('/')}/{quote(name)}", allow=(404,))

    def publish(self, deposition_id: int | str) -> dict[str, Any]:
        """Publish a draft deposition (this cannot be undone); return the deposition's JSON, now published.

        Raises:
            ZenodoError: as :meth:`request` (a POST: retried only when Zenodo did not process it).
        """
        return self.json("POST", f"/api/deposit/depositions/{deposition_id}/actions/publish")

    def new_version(self, record_id: int | str) -> dict[str, Any]:
        """Start a new version of a published record; return the new draft deposition.

        Args:
            record_id: the published record (the latest version).

        Returns:
            The new draft's JSON.

        Raises:
            ZenodoError: Zenodo did not name the draft (``links.latest_draft``), or as :meth:`request`.
        """
        original = self.json("POST", f"/api/deposit/depositions/{record_id}/actions/newversion")
        link = (original or {}).get("links", {}).get("latest_draft")
        if not link:
            raise ZenodoError(
                "Zenodo did not name the new version's draft (no links.latest_draft)", where=f"record {record_id}"
            )
        return self.json("GET", link)


def _strip(exc: BaseException) -> str:
    """An exception's text without URLs' query strings."""
    text = str(exc)
    return " ".join(display_url(w) if w.startswith(("http://", "https://")) else w for w in text.split())
