"""The far side of tests/net_allow.rs and bench/net: a DNS responder, HTTP and HTTPS
servers answering to several names, a UDP echo server, a git smart-HTTP endpoint
(git http-backend as CGI) and a static tree (a pip "simple" index), all in the
network namespace the caller made.

    python3 fixtures.py CONFIG.json

CONFIG: {"dir": scratch directory (certificates are made there with openssl),
         "zone": {name: [[type, value, ttl], ...]}   type A, AAAA or CNAME,
         "http": [[addr, port], ...], "https": [[addr, port], ...],
         "udp_echo": [[addr, port], ...], "www": directory served as is,
         "git_root": GIT_PROJECT_ROOT for /git/..., "names": names the certificate covers}
Prints "ready" once everything listens; the DNS questions it gets are appended to
DIR/queries.log, one "NAME TYPE" a line.
"""

import http.server
import json
import os
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading

cfg = json.load(open(sys.argv[1]))
DIR = cfg["dir"]
TYPES = {"A": 1, "CNAME": 5, "AAAA": 28}
log_lock = threading.Lock()


def make_certs():
    ca_key, ca = os.path.join(DIR, "ca.key"), os.path.join(DIR, "ca.pem")
    key, csr, crt = (os.path.join(DIR, n) for n in ("server.key", "server.csr", "server.pem"))
    if os.path.exists(crt):
        return crt, key
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
        "-out", ca, "-days", "2", "-subj", "/CN=hutch test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=" + cfg["names"][0])
    ext = os.path.join(DIR, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in cfg["names"]) + "\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    os.chmod(ca, 0o644)
    return crt, key


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def answer(q):
    if len(q) < 17:
        return None
    labels, p = [], 12
    while p < len(q) and q[p]:
        labels.append(q[p + 1 : p + 1 + q[p]].decode(errors="replace"))
        p += 1 + q[p]
    p += 1
    qtype = struct.unpack("!H", q[p : p + 2])[0]
    name = ".".join(labels).lower()
    with log_lock, open(os.path.join(DIR, "queries.log"), "a") as f:
        f.write(f"{name} {qtype}\n")
    records, cur, seen = [], name, 0
    while seen < 10:
        seen += 1
        rrs = cfg["zone"].get(cur, [])
        cname = [r for r in rrs if r[0] == "CNAME"]
        if cname and qtype != 5:
            records.append((cur, 5, cname[0][2], encode_name(cname[0][1])))
            cur = cname[0][1]
            continue
        for t, v, ttl in rrs:
            if TYPES[t] == qtype:
                data = socket.inet_pton(socket.AF_INET if t == "A" else socket.AF_INET6, v)
                records.append((cur, qtype, ttl, data))
        break
    rcode = 0 if name in cfg["zone"] else 3
    r = q[:2] + struct.pack("!BBHHHH", 0x84 | (q[2] & 1), 0x80 | rcode, 1, len(records), 0, 0)
    r += q[12 : p + 4]
    for owner, t, ttl, data in records:
        r += encode_name(owner) + struct.pack("!HHIH", t, 1, ttl, len(data)) + data
    return r


def dns_udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.53", 53))
    while True:
        q, a = s.recvfrom(4096)
        r = answer(q)
        if r:
            s.sendto(r, a)


class DnsTcp(socketserver.StreamRequestHandler):
    def handle(self):
        n = struct.unpack("!H", self.rfile.read(2))[0]
        r = answer(self.rfile.read(n))
        self.wfile.write(struct.pack("!H", len(r)) + r)


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=cfg.get("www") or DIR, **k)

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.startswith("/whoami"):
            local = self.connection.getsockname()[0]
            body = f"host={self.headers.get('Host', '')} local={local}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/git/"):
            self.cgi()
        else:
            super().do_GET()

    def do_POST(self):
        self.cgi()

    def cgi(self):
        path, _, query = self.path[len("/git") :].partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = dict(os.environ, GIT_PROJECT_ROOT=cfg["git_root"], GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(length), REMOTE_ADDR="127.0.0.1")
        out = subprocess.run(["/usr/lib/git-core/git-http-backend"], input=body, env=env,
                             capture_output=True).stdout
        head, _, data = out.partition(b"\r\n\r\n")
        if not data and b"\n\n" in out:
            head, _, data = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode().splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self):
        # Not HTTPServer's: its getfqdn() would ask the host's resolver, unreachable here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "fixture", self.server_address[1]


def serve(addr, port, tls):
    Server.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = Server((addr, port), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*make_certs())
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def udp_echo(addr, port):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))

    def loop():
        while True:
            d, a = s.recvfrom(65536)
            s.sendto(b"echo " + d, a)

    threading.Thread(target=loop, daemon=True).start()


threading.Thread(target=dns_udp, daemon=True).start()
socketserver.ThreadingTCPServer.allow_reuse_address = True
tcp = socketserver.ThreadingTCPServer(("127.0.0.53", 53), DnsTcp)
threading.Thread(target=tcp.serve_forever, daemon=True).start()
for a, p in cfg.get("http", []):
    serve(a, p, False)
for a, p in cfg.get("https", []):
    serve(a, p, True)
for a, p in cfg.get("udp_echo", []):
    udp_echo(a, p)
print("ready", flush=True)
sys.stdin.read()
