"""A Zenodo-compatible HTTP server on 127.0.0.1 for the tests, and a guard against any other host.

It implements the parts of Zenodo's REST API that dnnlik uses:

- deposit API: create (a DOI is reserved at once), get, update metadata, list files
  (legacy shape ``filename``/``filesize``/``checksum``), publish (validates the
  metadata, needs a file, locks the bucket), new version (copies the files; the
  answer is the original, the draft is under ``links.latest_draft``);
- files API: bucket listing (``key``/``size``/``checksum: md5:...``), PUT uploads
  (``201`` with the MD5), DELETE; a published bucket answers 403;
- records API: ``/api/records/<id>`` with file entries in either shape
  (``server.file_shape``), a concept id redirecting to the latest version, and file
  downloads at ``/api/records/<id>/files/<key>/content`` and ``/records/<id>/files/<key>``;
- Zenodo-style error bodies ``{"status", "message", "errors"?}``; 401 for an
  unknown token, 403 for an expired one;
- faults on demand (:meth:`ZenodoServer.fault`): an error status, a dropped
  connection mid-body, corrupted content served, or a corrupted stored upload;
- hostile answers on demand: :attr:`ZenodoServer.record_hook` rewrites a record
  listing (or replaces it with raw bytes), and may answer differently at each
  request; :meth:`ZenodoServer.stream` serves a file as more bytes than it has,
  streamed chunk by chunk (with or without an honest ``Content-Length``);
  :attr:`ZenodoServer.redirects` (``record_redirects``) answers a download (a listing) with a redirect.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

__all__ = ["ZenodoServer", "Fault", "Stream", "GOOD_TOKEN", "EXPIRED_TOKEN", "block_network", "zenodo_server"]

GOOD_TOKEN = "test-token-0123456789abcdef"
EXPIRED_TOKEN = "expired-token-fedcba9876543210"


@dataclass
class Fault:
    """Make matching requests fail: ``action`` is an HTTP status (int), 'drop', 'corrupt' or 'corrupt-store'."""

    method: str
    path: str  # a regular expression searched in the path
    action: int | str
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@dataclass
class Stream:
    """Serve a download as ``total`` bytes in ``chunk``-byte pieces, whatever the file holds.

    ``content_length``: send an honest ``Content-Length`` (else chunked transfer encoding).
    ``on_chunk(sent)`` is called after each piece; ``sent`` and ``finished`` say how far the latest request got.
    """

    total: int
    chunk: int = 64 * 1024
    content_length: bool = False
    on_chunk: Callable[[int], None] | None = None
    sent: int = 0
    finished: bool = False


@dataclass
class Deposition:
    id: int
    conceptrecid: int
    bucket: str
    metadata: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    file_ids: dict[str, str] = field(default_factory=dict)
    submitted: bool = False
    created: str = "2026-11-25T00:00:00+00:00"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class ZenodoServer:
    """State and control of the fake Zenodo; ``url`` is its base URL."""

    def __init__(self, *, doi_prefix: str = "10.5281") -> None:
        self.doi_prefix = doi_prefix
        self.lock = threading.RLock()
        self.ids = itertools.count(100001)
        self.depositions: dict[int, Deposition] = {}
        self.buckets: dict[str, int] = {}
        self.concepts: dict[int, list[int]] = {}
        self.records: dict[int, dict[str, Any]] = {}  # published: id -> {"deposition", "files"}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []
        self.file_shape = "key"  # or "filename"
        self.tokens = {GOOD_TOKEN: "ok", EXPIRED_TOKEN: "expired"}
        self.serve_override: dict[tuple[int, str], bytes] = {}
        # record_hook(rec, listing, n) -> listing (dict) or raw body (bytes); n counts this record's listing requests
        self.record_hook: Callable[[int, dict[str, Any], int], Any] | None = None
        self.record_requests: dict[int, int] = {}
        self.streams: dict[tuple[int, str], Stream] = {}
        self.redirects: dict[tuple[int, str], str] = {}  # (record, file) -> Location of a 302 (API URL only)
        self.record_redirects: dict[int, str] = {}  # record -> Location of a 302 answering its listing
        self.errors: list[str] = []  # errors while answering (a client hanging up is not one)
        self.httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self.httpd.owner = self
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="zenodo-server", daemon=True
        )

    # --- control ---

    def start(self) -> ZenodoServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fault(self, method: str, path: str, action: int | str, *, times: int = 1, skip: int = 0) -> Fault:
        f = Fault(method, path, action, times, skip)
        with self.lock:
            self.faults.append(f)
        return f

    def stream(self, rec: int, name: str, total: int, **kwargs: Any) -> Stream:
        """Serve file ``name`` of record ``rec`` as ``total`` bytes streamed piece by piece (see :class:`Stream`)."""
        spec = Stream(total, **kwargs)
        with self.lock:
            self.streams[(rec, name)] = spec
        return spec

    def requests(self, method: str | None = None, pattern: str = "") -> list[tuple[str, str]]:
        with self.lock:
            return [(m, p) for m, p in self.log if (method is None or m == method) and re.search(pattern, p)]

    def publish_raw(self, files: dict[str, bytes], metadata: dict[str, Any] | None = None) -> int:
        """Publish a record directly (for records that dnnlik did not upload)."""
        with self.lock:
            dep = self._new_deposition()
            dep.files = dict(files)
            dep.file_ids = {n: str(uuid.uuid4()) for n in files}
            dep.metadata.update(
                metadata
                or {"title": "raw", "upload_type": "dataset", "description": "raw", "creators": [{"name": "Doe, Jane"}]}
            )
            self._publish(dep)
            return dep.id

    # --- model ---

    def _new_deposition(self, concept: int | None = None) -> Deposition:
        rec = next(self.ids)
        concept = concept or next(self.ids)
        bucket = uuid.uuid4().hex
        dep = Deposition(rec, concept, bucket)
        dep.metadata["prereserve_doi"] = {"doi": f"{self.doi_prefix}/zenodo.{rec}", "recid": rec}
        self.depositions[rec] = dep
        self.buckets[bucket] = rec
        self.concepts.setdefault(concept, [])
        return dep

    def _publish(self, dep: Deposition) -> None:
        dep.submitted = True
        self.records[dep.id] = {"deposition": dep, "files": dict(dep.files)}
        self.concepts[dep.conceptrecid].append(dep.id)

    def doi(self, rec: int) -> str:
        return f"{self.doi_prefix}/zenodo.{rec}"

    def deposition_json(self, dep: Deposition) -> dict[str, Any]:
        base = self.url
        out = {
            "id": dep.id,
            "record_id": dep.id,
            "conceptrecid": str(dep.conceptrecid),
            "created": dep.created,
            "submitted": dep.submitted,
            "state": "done" if dep.submitted else "unsubmitted",
            "metadata": json.loads(json.dumps(dep.metadata)),
            "title": dep.metadata.get("title", ""),
            "files": [self.legacy_entry(dep, n) for n in sorted(dep.files)],
            "links": {
                "self": f"{base}/api/deposit/depositions/{dep.id}",
                "bucket": f"{base}/api/files/{dep.bucket}",
                "publish": f"{base}/api/deposit/depositions/{dep.id}/actions/publish",
                "newversion": f"{base}/api/deposit/depositions/{dep.id}/actions/newversion",
                "files": f"{base}/api/deposit/depositions/{dep.id}/files",
                "html": f"{base}/deposit/{dep.id}",
            },
        }
        if dep.submitted:
            out["doi"] = self.doi(dep.id)
            out["conceptdoi"] = self.doi(dep.conceptrecid)
            out["links"]["record"] = f"{base}/api/records/{dep.id}"
        return out

    def legacy_entry(self, dep: Deposition, name: str) -> dict[str, Any]:
        data = dep.files[name]
        return {
            "id": dep.file_ids[name],
            "filename": name,
            "filesize": len(data),
            "checksum": _md5(data),
            "links": {
                "download": f"{self.url}/api/files/{dep.bucket}/{name}",
                "self": f"{self.url}/api/deposit/depositions/{dep.id}/files/{dep.file_ids[name]}",
            },
        }

    def bucket_entry(self, dep: Deposition, name: str) -> dict[str, Any]:
        data = dep.files[name]
        return {
            "key": name,
            "size": len(data),
            "checksum": f"md5:{_md5(data)}",
            "mimetype": "application/octet-stream",
            "links": {"self": f"{self.url}/api/files/{dep.bucket}/{name}"},
        }

    def record_json(self, rec: int) -> dict[str, Any]:
        record = self.records[rec]
        dep: Deposition = record["deposition"]
        files = record["files"]
        if self.file_shape == "key":
            entries = [
                {
                    "id": dep.file_ids.get(n, n),
                    "key": n,
                    "size": len(d),
                    "checksum": f"md5:{_md5(d)}",
                    "links": {"self": f"{self.url}/api/records/{rec}/files/{n}/content"},
                }
                for n, d in sorted(files.items())
            ]
        else:  # legacy: no self link, so dnnlik builds <base>/api/records/<id>/files/<name>/content
            entries = [
                {"id": dep.file_ids.get(n, n), "filename": n, "filesize": len(d), "checksum": _md5(d)}
                for n, d in sorted(files.items())
            ]
        return {
            "id": rec,
            "recid": str(rec),
            "doi": self.doi(rec),
            "conceptdoi": self.doi(dep.conceptrecid),
            "conceptrecid": str(dep.conceptrecid),
            "metadata": {
                **{k: v for k, v in dep.metadata.items() if k != "prereserve_doi"},
                "doi": self.doi(rec),
                "publication_date": "2026-11-25",
            },
            "files": entries,
            "links": {"self": f"{self.url}/api/records/{rec}", "html": f"{self.url}/records/{rec}"},
        }


class _QuietServer(ThreadingHTTPServer):
    """Keeps errors in ``owner.errors`` instead of printing them (a test's captured output stays the CLI's);
    a client that hangs up mid-answer is what a stopped download looks like, not an error."""

    owner: ZenodoServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys
        import traceback

        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        with self.owner.lock:
            self.owner.errors.append(traceback.format_exc())


def _make_handler(server: ZenodoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        # --- plumbing ---

        def _send(self, status: int, body: Any = None, *, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            self.send_response(status)
            if body is not None and not isinstance(body, bytes):
                self.send_header("Content-Type", "application/json")
            elif body is not None:
                self.send_header("Content-Type", "application/octet-stream")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
            body: dict[str, Any] = {"status": status, "message": message}
            if errors:
                body["errors"] = errors
            self._send(status, body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _token_state(self, query: dict[str, list[str]]) -> str | None:
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else (query.get("access_token") or [None])[0]
            return server.tokens.get(token) if token else None

        def _fault(self, path: str) -> Fault | None:
            with server.lock:
                for f in server.faults:
                    if f.matches(self.command, path) and f.hits < f.skip + f.times:
                        f.hits += 1
                        if f.hits > f.skip:
                            return f
                        return None
            return None

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def do_HEAD(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            with server.lock:
                server.log.append((self.command, path))
            body = self._body()
            fault = self._fault(path)
            if fault is not None and isinstance(fault.action, int):
                self._error(fault.action, "Internal server error." if fault.action >= 500 else "Too many requests.")
                return
            try:
                self._route(path, query, body, fault)
            except Exception as exc:  # a bug in the fake: make it visible
                self._error(500, f"test server error: {exc!r}")

        # --- routes ---

        def _route(self, path: str, query: dict[str, list[str]], body: bytes, fault: Fault | None) -> None:
            m = re.fullmatch(r"/api/records/(\d+)", path)
            if m and self.command in ("GET", "HEAD"):
                return self._get_record(int(m.group(1)))
            m = re.fullmatch(r"/api/records/(\d+)/files/([^/]+)/content", path) or re.fullmatch(
                r"/records/(\d+)/files/([^/]+)", path
            )
            if m and self.command in ("GET", "HEAD"):
                return self._download(int(m.group(1)), m.group(2), fault, api=path.startswith("/api/"))
            if path.startswith(("/api/deposit/", "/api/files/")):
                state = self._token_state(query)
                if state is None:
                    return self._error(
                        401,
                        "The server could not verify that you are authorized to access the URL "
                        "requested. You either supplied the wrong credentials (e.g. a bad "
                        "password), or your browser doesn't understand how to supply the "
                        "credentials required.",
                    )
                if state == "expired":
                    return self._error(
                        403,
                        "You don't have the permission to access the requested resource. It is "
                        "either read-protected or not readable by the server.",
                    )
                with server.lock:
                    return self._deposit_api(path, body, fault)
            return self._error(404, "The requested URL was not found on the server.")

        def _get_record(self, rec: int) -> None:
            with server.lock:
                if rec in server.record_redirects:
                    return self._send(302, {"status": 302}, headers={"Location": server.record_redirects[rec]})
                if rec in server.concepts and server.concepts[rec]:
                    latest = server.concepts[rec][-1]
                    return self._send(302, {"status": 302}, headers={"Location": f"{server.url}/api/records/{latest}"})
                if rec not in server.records:
                    return self._error(404, "PID does not exist.")
                body: Any = server.record_json(rec)
                n = server.record_requests[rec] = server.record_requests.get(rec, 0) + 1
                hook = server.record_hook
            if hook is not None:
                body = hook(rec, body, n)
            return self._send(200, body)

        def _download(self, rec: int, name: str, fault: Fault | None, api: bool = True) -> None:
            with server.lock:
                record = server.records.get(rec)
                if record is None or name not in record["files"]:
                    return self._error(404, "The requested file was not found.")
                data = server.serve_override.get((rec, name), record["files"][name])
                stream = server.streams.get((rec, name))
                location = server.redirects.get((rec, name)) if api else None
            if location is not None:
                return self._send(302, {"status": 302}, headers={"Location": location})
            if stream is not None:
                return self._stream(stream)
            if fault is not None and fault.action == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            if fault is not None and fault.action == "drop":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: max(1, len(data) // 2)])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self._send(200, data, headers={"Content-Disposition": f'attachment; filename="{name}"'})

        def _stream(self, spec: Stream) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if spec.content_length:
                self.send_header("Content-Length", str(spec.total))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.close_connection = True
            piece = b"\x5a" * spec.chunk
            spec.sent, spec.finished = 0, False  # of this request
            try:
                while spec.sent < spec.total:
                    data = piece[: min(spec.chunk, spec.total - spec.sent)]
                    self.wfile.write(data if spec.content_length else b"%x\r\n%s\r\n" % (len(data), data))
                    spec.sent += len(data)
                    if spec.on_chunk is not None:
                        spec.on_chunk(spec.sent)
                if not spec.content_length:
                    self.wfile.write(b"0\r\n\r\n")
                spec.finished = True
            except OSError:  # the client hung up: that is what a stopped download looks like
                pass

        def _deposit_api(self, path: str, body: bytes, fault: Fault | None) -> None:
            cmd = self.command
            if path == "/api/deposit/depositions" and cmd == "POST":
                payload = json.loads(body or b"{}")
                dep = server._new_deposition()
                meta = (payload or {}).get("metadata") or {}
                dep.metadata.update({k: v for k, v in meta.items() if k != "prereserve_doi"})
                return self._send(201, server.deposition_json(dep))
            m = re.fullmatch(r"/api/deposit/depositions/(\d+)(/.*)?", path)
            if m:
                dep = server.depositions.get(int(m.group(1)))
                if dep is None:
                    return self._error(404, "PID does not exist.")
                rest = m.group(2) or ""
                if rest == "" and cmd == "GET":
                    return self._send(200, server.deposition_json(dep))
                if rest == "" and cmd == "PUT":
                    if dep.submitted:
                        return self._error(400, "Please edit the deposition before updating it.")
                    meta = json.loads(body or b"{}").get("metadata") or {}
                    reserved = dep.metadata.get("prereserve_doi")
                    dep.metadata = {k: v for k, v in meta.items() if k != "prereserve_doi"}
                    dep.metadata["prereserve_doi"] = reserved
                    return self._send(200, server.deposition_json(dep))
                if rest == "/files" and cmd == "GET":
                    return self._send(200, [server.legacy_entry(dep, n) for n in sorted(dep.files)])
                if rest == "/actions/publish" and cmd == "POST":
                    return self._publish(dep)
                if rest == "/actions/newversion" and cmd == "POST":
                    return self._new_version(dep)
                return self._error(405, "The method is not allowed for the requested URL.")
            m = re.fullmatch(r"/api/files/([0-9a-f]+)(?:/(.+))?", path)
            if m:
                rec = server.buckets.get(m.group(1))
                if rec is None:
                    return self._error(404, "Bucket does not exist.")
                dep = server.depositions[rec]
                key = m.group(2)
                if key is None and cmd == "GET":
                    return self._send(
                        200,
                        {
                            "id": dep.bucket,
                            "locked": dep.submitted,
                            "contents": [server.bucket_entry(dep, n) for n in sorted(dep.files)],
                            "links": {"self": f"{server.url}/api/files/{dep.bucket}"},
                        },
                    )
                if key is not None and cmd in ("PUT", "DELETE") and dep.submitted:
                    return self._error(403, "Bucket is locked: the files of a published record cannot change.")
                if key is not None and cmd == "PUT":
                    data = body
                    if fault is not None and fault.action == "corrupt-store":
                        data = data[:-1] + bytes([data[-1] ^ 0x01])
                    dep.files[key] = data
                    dep.file_ids.setdefault(key, str(uuid.uuid4()))
                    return self._send(201, server.bucket_entry(dep, key))
                if key is not None and cmd == "DELETE":
                    if key not in dep.files:
                        return self._error(404, "Object does not exist.")
                    del dep.files[key]
                    dep.file_ids.pop(key, None)
                    return self._send(204)
                if key is not None and cmd == "GET" and key in dep.files:
                    return self._send(200, dep.files[key])
            return self._error(404, "The requested URL was not found on the server.")

        def _publish(self, dep: Deposition) -> None:
            if dep.submitted:
                return self._error(400, "Deposition is already published.")
            errors = [
                {"field": f"metadata.{k}", "message": "Missing data for required field."}
                for k in ("title", "upload_type", "description", "creators")
                if not dep.metadata.get(k)
            ]
            if errors:
                return self._error(400, "Validation error.", errors)
            if not dep.files:
                return self._error(
                    400, "Validation error.", [{"field": "files", "message": "Minimum one file must be provided."}]
                )
            server._publish(dep)
            return self._send(202, server.deposition_json(dep))

        def _new_version(self, dep: Deposition) -> None:
            if not dep.submitted:
                return self._error(400, "Only published depositions can have a new version.")
            latest = server.concepts[dep.conceptrecid][-1]
            if latest != dep.id:
                return self._error(400, "Only the latest version can have a new version.")
            draft = next(
                (d for d in server.depositions.values() if d.conceptrecid == dep.conceptrecid and not d.submitted), None
            )
            if draft is None:
                draft = server._new_deposition(concept=dep.conceptrecid)
                draft.files = dict(dep.files)
                draft.file_ids = {n: str(uuid.uuid4()) for n in dep.files}
                reserved = draft.metadata["prereserve_doi"]
                draft.metadata = {
                    **{k: v for k, v in dep.metadata.items() if k != "prereserve_doi"},
                    "prereserve_doi": reserved,
                }
            out = server.deposition_json(dep)
            out["links"]["latest_draft"] = f"{server.url}/api/deposit/depositions/{draft.id}"
            return self._send(201, out)

    return Handler


# --- fixtures and helpers ---

_ALLOWED_HOSTS = {"127.0.0.1"}


@pytest.fixture
def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every connection or name lookup for a host other than 127.0.0.1 fail."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def host_of(address: Any) -> str | None:
        return address[0] if isinstance(address, tuple) else None  # AF_UNIX paths pass

    def check(address: Any) -> None:
        host = host_of(address)
        if host is not None and host not in _ALLOWED_HOSTS:
            raise ConnectionRefusedError(f"test network guard: connection to {host!r} blocked")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in _ALLOWED_HOSTS:
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: lookup of {name!r} blocked")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def zenodo_server(block_network: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[ZenodoServer]:
    """A running fake Zenodo that dnnlik talks to (BASE_URLS); a fresh cache and token; no other host reachable."""
    pytest.importorskip("requests")
    import importlib

    zclient = importlib.import_module("dnnlik.zenodo.client")
    zfetch = importlib.import_module("dnnlik.zenodo.fetch")  # the module, not the function of that name

    server = ZenodoServer().start()
    monkeypatch.setitem(zclient.BASE_URLS, False, server.url)
    monkeypatch.setitem(zclient.BASE_URLS, True, server.url)
    monkeypatch.setattr(zfetch, "RETRY_PAUSE", 0.0)
    monkeypatch.setattr(zclient, "DEFAULT_BACKOFF", 0.0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("ZENODO_TOKEN", GOOD_TOKEN)
    monkeypatch.delenv("ZENODO_SANDBOX_TOKEN", raising=False)
    monkeypatch.delenv("ZENODO_TOKEN_FILE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield server
    finally:
        server.stop()
