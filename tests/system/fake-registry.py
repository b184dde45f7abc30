#!/usr/bin/env python3
"""A deliberately broken OCI registry, for den's error-path tests.

    fake-registry.py PORTFILE MODE OCIDIR

Serves the single image of OCIDIR (an OCI image layout, as `den save
--format oci-dir` writes it) as repository "bad/img", tag "1", on a free
loopback port that it writes into PORTFILE. MODE breaks it:

    ok            a well-behaved registry
    wrong-digest  layer blobs come back with one byte changed
    truncated     layer blobs stop halfway (the connection is closed)
    flaky         every blob answers 500 once, then the real thing
    no-challenge  /v2/ answers 401 without WWW-Authenticate
    redirect      blobs answer 307 to another path of this server
    slow          layer blobs trickle (64 KiB every 0.1 s), for kills mid-pull
    cut           the first GET of each layer blob stops halfway (connection
                  closed); later GETs are served, honouring Range
    huge-manifest the manifest is followed by 64 MiB of JSON whitespace

/v1/search?q=TERM answers like Docker Hub's search API (bad/img matches).
Except in wrong-digest and truncated modes, "Range: bytes=N-" is honoured
(206). The Range header of every blob GET ("-" when none) is appended to
PORTFILE.log, one "DIGEST RANGE" line each.
"""
import time
import http.server
import json
import os
import socketserver
import sys

portfile, mode, ocidir = sys.argv[1], sys.argv[2], sys.argv[3]
index = json.load(open(os.path.join(ocidir, "index.json")))
manifest_digest = index["manifests"][0]["digest"]


def blob(digest):
    with open(os.path.join(ocidir, "blobs", *digest.split(":")), "rb") as f:
        return f.read()


manifest = blob(manifest_digest)
layers = {l["digest"] for l in json.loads(manifest)["layers"]}
failed_once = set()
cut_once = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=None, length=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path
        if path == "/v2/":
            if mode == "no-challenge":
                return self.send(401, b"{}")
            return self.send(200, b"{}", {"Content-Type": "application/json"})
        if path in ("/v2/bad/img/manifests/1", "/v2/bad/img/manifests/" + manifest_digest):
            if mode == "huge-manifest":
                # 64 MiB of JSON whitespace after the manifest, sent as it goes
                pad = 64 << 20
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Content-Length", str(len(manifest) + pad))
                self.end_headers()
                try:
                    self.wfile.write(manifest)
                    for _ in range(pad >> 20):
                        self.wfile.write(b" " * (1 << 20))
                except OSError:
                    pass
                return
            return self.send(200, manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                                             "Docker-Content-Digest": manifest_digest})
        if path.startswith("/v1/search?"):
            # Docker Hub's search API, for `den search`.
            from urllib.parse import parse_qs, urlsplit
            q = parse_qs(urlsplit(path).query).get("q", [""])[0]
            hits = [{"name": "bad/img", "description": "A deliberately broken image, served by fake-registry.py "
                     "for den's tests", "star_count": 7, "is_official": True, "is_automated": False}]
            body = json.dumps({"query": q, "results": [h for h in hits if q in h["name"]]}).encode()
            return self.send(200, body, {"Content-Type": "application/json"})
        real = path.startswith("/real/")
        if path.startswith("/v2/bad/img/blobs/") or real:
            digest = path.rsplit("/", 1)[1]
            try:
                data = blob(digest)
            except OSError:
                return self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            if self.command == "GET":
                with open(portfile + ".log", "a") as f:
                    f.write("%s %s\n" % (digest, self.headers.get("Range", "-")))
            if mode == "redirect" and not real:
                return self.send(307, b"", {"Location": "/real/" + digest})
            if mode == "flaky" and digest not in failed_once:
                failed_once.add(digest)
                return self.send(500, b"try again")
            if digest in layers and mode == "wrong-digest":
                data = data[:-1] + bytes([data[-1] ^ 1])
            start = 0
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and rng.endswith("-") and mode not in ("wrong-digest", "truncated"):
                start = int(rng[6:-1])
                if start >= len(data):
                    return self.send(416, b"")
            if digest in layers and mode == "cut" and digest not in cut_once:
                cut_once.add(digest)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if digest in layers and mode == "slow":
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                self.end_headers()
                for i in range(start, len(data), 65536):
                    self.wfile.write(data[i:i + 65536])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            if start:
                return self.send(206, data[start:], {"Content-Type": "application/octet-stream",
                                                     "Content-Range": "bytes %d-%d/%d" % (start, len(data) - 1, len(data))})
            if digest in layers and mode == "truncated":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            return self.send(200, data, {"Content-Type": "application/octet-stream"})
        return self.send(404, b"{}")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
