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

``requests`` is imported on first use; without it the client raises
:class:`~dnnlik.errors.MissingExtraError` naming ``pip install 'dnnlik[zenodo]'``.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

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


class ZenodoError(DnnlikError):
    """Talking to Zenodo failed, or Zenodo holds something dnnlik refuses."""


class ZenodoHTTPError(ZenodoError):
    """Zenodo answered a request with an error status; ``status`` holds it."""

    def __init__(self, message: str, *, status: int | None = None, where: str | None = None) -> None:
        self.status = status
        super().__init__(message, where=where)


class ZenodoAuthError(ZenodoHTTPError):
    """Zenodo refused the access token (401 or 403)."""


class MissingTokenError(ZenodoError):
    """No Zenodo access token could be found."""


class Token:
    """A Zenodo access token; ``repr`` and ``str`` never show it."""

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
    """``$XDG_CONFIG_HOME/dnnlik/zenodo-token`` (``zenodo-sandbox-token`` for the sandbox)."""
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
    """Find the access token: ``token_file``, the environment, or the default token file."""
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
    """The ``requests`` module, or :class:`MissingExtraError`."""
    try:
        import requests
    except ImportError:
        raise MissingExtraError("zenodo", feature) from None
    return requests


def display_url(url: str) -> str:
    """``url`` without its query string and user info (a token could hide there)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _zenodo_message(response: Any) -> str:
    """The message of a Zenodo error body ``{"status", "message", "errors": [{"field", "message"}]}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = one_line(getattr(response, "text", "") or "", 200)
        return text or (response.reason or "no details")
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
        return self._token is not None

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "ZenodoClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path_or_url: str) -> str:
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
    ) -> Any:
        """Send a request; return the ``requests.Response`` (2xx, or a status in ``allow``).

        ``body`` is bytes or a file path, re-read at each retry.
        """
        requests = self._requests
        method = method.upper()
        url = self.url(path_or_url)
        where = f"{method} {display_url(url)}"
        headers: dict[str, str] = {}
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
                if isinstance(body, Path):
                    with open(body, "rb") as stream:
                        response = self._session.request(method, url, data=stream, json=json, headers=headers,
                                                         timeout=self.timeout, allow_redirects=True)
                else:
                    response = self._session.request(method, url, data=body, json=json, headers=headers,
                                                     timeout=self.timeout, allow_redirects=True)
            except requests.RequestException as exc:
                retry = idempotent or isinstance(exc, requests.ConnectTimeout)
                if retry and attempt < self.max_retries:
                    delay = self._delay(attempt)
                    log.info("%s: %s; retrying in %.1f s", where, type(exc).__name__, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise ZenodoError(f"cannot reach Zenodo ({type(exc).__name__}: {one_line(_strip(exc), 200)})",
                                  where=where) from None
            except OSError as exc:  # a file to upload cannot be read (requests' errors are OSErrors too: above)
                raise ZenodoError(f"cannot read the file to upload ({exc.strerror or one_line(exc)})",
                                  where=str(body)) from None
            status = response.status_code
            if status < 400 or status in allow:
                return response
            if (status == 429 or status >= 500) and (idempotent or status in _NOT_PROCESSED) and attempt < self.max_retries:
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
                    status=status, where=where,
                )
            tried = f" after {attempt + 1} attempts" if attempt else ""
            raise ZenodoHTTPError(f"Zenodo answered HTTP {status}{tried}: {message}", status=status, where=where)

    def json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """:meth:`request`, returning the decoded JSON body (None for an empty one)."""
        response = self.request(method, path_or_url, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ZenodoError("Zenodo answered with a body that is not JSON",
                              where=f"{method} {display_url(response.url)}") from None

    # --- records API (public, no token needed) ---

    def get_record(self, record_id: int | str) -> dict[str, Any]:
        """The published record (a concept record id redirects to its latest version)."""
        record = self.json("GET", f"/api/records/{record_id}", auth=self._token is not None)
        if not isinstance(record, dict):
            raise ZenodoError("the records API did not answer with a JSON object", where=f"record {record_id}")
        return record

    # --- deposit API ---

    def create_deposition(self, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = {"metadata": dict(metadata)} if metadata else {}
        return self.json("POST", "/api/deposit/depositions", json=body)

    def get_deposition(self, deposition_id: int | str) -> dict[str, Any]:
        return self.json("GET", f"/api/deposit/depositions/{deposition_id}")

    def update_metadata(self, deposition_id: int | str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        return self.json("PUT", f"/api/deposit/depositions/{deposition_id}", json={"metadata": dict(metadata)})

    def list_bucket(self, bucket_url: str) -> list[dict[str, Any]]:
        listing = self.json("GET", bucket_url)
        contents = listing.get("contents") if isinstance(listing, dict) else listing
        if not isinstance(contents, list):
            raise ZenodoError("the bucket listing holds no 'contents' list", where=display_url(bucket_url))
        return contents

    def list_deposition_files(self, deposition_id: int | str) -> list[dict[str, Any]]:
        files = self.json("GET", f"/api/deposit/depositions/{deposition_id}/files")
        if not isinstance(files, list):
            raise ZenodoError("the deposition's file listing is not a list", where=f"deposition {deposition_id}")
        return files

    def put_file(self, bucket_url: str, name: str, body: Body) -> dict[str, Any]:
        from urllib.parse import quote

        return self.json("PUT", f"{bucket_url.rstrip('/')}/{quote(name)}", body=body)

    def delete_file(self, bucket_url: str, name: str) -> None:
        from urllib.parse import quote

        self.request("DELETE", f"{bucket_url.rstrip('/')}/{quote(name)}", allow=(404,))

    def publish(self, deposition_id: int | str) -> dict[str, Any]:
        return self.json("POST", f"/api/deposit/depositions/{deposition_id}/actions/publish")

    def new_version(self, record_id: int | str) -> dict[str, Any]:
        """Start a new version of a published record; return the new draft deposition."""
        original = self.json("POST", f"/api/deposit/depositions/{record_id}/actions/newversion")
        link = (original or {}).get("links", {}).get("latest_draft")
        if not link:
            raise ZenodoError("Zenodo did not name the new version's draft (no links.latest_draft)",
                              where=f"record {record_id}")
        return self.json("GET", link)


def _strip(exc: BaseException) -> str:
    """An exception's text without URLs' query strings."""
    text = str(exc)
    return " ".join(display_url(w) if w.startswith(("http://", "https://")) else w for w in text.split())
