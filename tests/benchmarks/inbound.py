#!/usr/bin/env python3
"""Throughput of the inbound REST API compared with Odoo's own /jsonrpc.

Not a test: prints requests per second for single create, read of one record
and search of 80 records through ``/api/sync/v1`` and through ``/jsonrpc``
(``execute_kw`` with an API key as password) on the same server, then 1,000
creates as one batch call against 1,000 single calls.

By default the script builds everything itself: a scratch database with
bj_api_sync installed, an internal user with an API key, an inbound config on
res.partner (no rate limit), and an Odoo server on 127.0.0.1 started from the
installed ``odoo`` package (threaded mode); it drops the database at the end.

    python3 tests/benchmarks/inbound.py                  # scratch DB and server
    python3 tests/benchmarks/inbound.py --requests 500   # more samples
    python3 tests/benchmarks/inbound.py --url http://127.0.0.1:8069 --db mydb \\
        --login api_user --key <API key>                 # an existing server

With ``--url`` the database must have an active inbound config on res.partner
(endpoint ``res.partner``, GET/POST, rate limits 0) usable with that API key.

Targets (reported, not asserted): one API request costs at most 1.25x the time
of the same /jsonrpc call; the batch of 1,000 creates is at least 10x faster
than 1,000 single calls.
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import uuid

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_cmd(args, db):
    base = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()",
            "--db_host", args.db_host, "--db_port", str(args.db_port),
            "--db_user", args.db_user, "-d", db]
    import odoo  # noqa: PLC0415 - only needed when the script manages Odoo itself

    addons = os.path.join(os.path.dirname(odoo.__file__), "addons")
    return base + [f"--addons-path={addons},{ROOT}"]


def setup_database(args, db):
    """Install the addon in a new database and create the user, key and config."""
    print(f"installing bj_api_sync in scratch database {db} ...", flush=True)
    subprocess.run(odoo_cmd(args, db) + ["-i", "bj_api_sync", "--stop-after-init",
                                         "--without-demo=all", "--log-level=warn",
                                         "--http-port", str(free_port()),
                                         "--gevent-port", "0", "--max-cron-threads", "0"],
                   check=True)
    script = """
env = env
user = env['res.users'].create({
    'name': 'Bench API', 'login': 'bench_api',
    'groups_id': [(6, 0, [env.ref('base.group_user').id, env.ref('base.group_partner_manager').id])],
})
key = env['res.users.apikeys'].with_user(user)._generate(None, 'bench')
methods = env['bj.http.method'].search([])
env['bj.api.sync.config'].create({
    'name': 'Bench partners', 'request_type': 'in',
    'model_id': env['ir.model']._get('res.partner').id,
    'http_method_ids': [(6, 0, methods.ids)], 'auth_type': 'bearer', 'user_id': user.id,
    'rate_limit_per_minute': 0, 'rate_limit_per_hour': 0,
})
env['res.partner'].create([{'name': 'Seed %s' % i, 'email': 's%s@bench.example' % i,
                             'phone': '+32 %s' % i} for i in range(200)])
env.cr.commit()
print('BENCHKEY', key)
"""
    cmd = odoo_cmd(args, db)
    out = subprocess.run(cmd[:3] + ["shell"] + cmd[3:] + ["--no-http", "--log-level=warn"],
                         input=script, capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("BENCHKEY "):
            return "bench_api", line.split()[1]
    raise SystemExit("setup failed:\n" + out.stdout[-2000:] + out.stderr[-2000:])


def start_server(args, db, port):
    cmd = odoo_cmd(args, db) + ["--http-port", str(port), "--http-interface", "127.0.0.1",
                                "--db-filter", f"^{db}$", "--gevent-port", "0",
                                "--max-cron-threads", "0", "--log-level=warn",
                                "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/web/login", timeout=2)
            return proc
        except requests.ConnectionError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the Odoo server did not start")


def drop_database(args, db):
    import psycopg2  # noqa: PLC0415

    conn = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                            dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{db}"')
    conn.close()


class Bench:
    def __init__(self, url, db, login, key):
        self.url = url.rstrip("/")
        self.db = db
        self.key = key
        self.api = requests.Session()
        self.api.headers.update({"Authorization": f"Bearer {key}",
                                 "Content-Type": "application/json"})
        self.rpc = requests.Session()
        self.uid = self.jsonrpc("common", "authenticate", [db, login, key, {}])

    def jsonrpc(self, service, method, args):
        response = self.rpc.post(f"{self.url}/jsonrpc", json={
            "jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": service, "method": method, "args": args},
        }, timeout=120)
        body = response.json()
        if "error" in body:
            raise RuntimeError(json.dumps(body["error"])[:500])
        return body["result"]

    def execute(self, model, method, args, kwargs=None):
        return self.jsonrpc("object", "execute_kw",
                            [self.db, self.uid, self.key, model, method, args, kwargs or {}])

    def rest(self, method, path, body=None, expect=200):
        response = self.api.request(method, f"{self.url}/api/sync/v1/{path}",
                                    data=json.dumps(body) if body is not None else None,
                                    timeout=300)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()


def timed_pair(count, api_call, rpc_call, rounds=10):
    """Time ``count`` calls of each, interleaved in ``rounds`` so that load changes
    on the machine hit both sides alike; return (api seconds, rpc seconds)."""
    api_call(-1)  # warm-up
    rpc_call(-1)
    api_t = rpc_t = 0.0
    per_round = max(1, count // rounds)
    done = 0
    while done < count:
        batch = range(done, min(count, done + per_round))
        start = time.perf_counter()
        for i in batch:
            api_call(i)
        api_t += time.perf_counter() - start
        start = time.perf_counter()
        for i in batch:
            rpc_call(i)
        rpc_t += time.perf_counter() - start
        done += len(batch)
    return api_t, rpc_t


def run(bench, count):
    tag = uuid.uuid4().hex[:6]
    fields = ["name", "email", "phone"]
    one = bench.rest("POST", "res.partner", {"data": {"name": f"One {tag}"}}, 201)["id"]
    domain = [["email", "like", "@bench.example"]]
    rows = []

    def pair(label, api_call, rpc_call):
        api_t, rpc_t = timed_pair(count, api_call, rpc_call)
        ratio = api_t / rpc_t
        rows.append((label, count / api_t, count / rpc_t, ratio))

    pair("single create",
         lambda i: bench.rest("POST", "res.partner", {"data": {"name": f"A {tag} {i}"}}, 201),
         lambda i: bench.execute("res.partner", "create", [{"name": f"R {tag} {i}"}]))
    pair("read one record",
         lambda i: bench.rest("GET", f"res.partner/{one}?fields=name,email,phone"),
         lambda i: bench.execute("res.partner", "read", [[one]], {"fields": fields}))
    search_path = ("res.partner/search?limit=80&fields=name,email,phone&order=id&domain="
                   + requests.utils.quote(json.dumps(domain)))
    pair("search 80 records",
         lambda i: bench.rest("GET", search_path),
         lambda i: bench.execute("res.partner", "search_read", [domain],
                                 {"fields": fields, "limit": 80, "order": "id"}))

    print(f"\n{'operation':<22}{'/api/sync/v1 req/s':>20}{'/jsonrpc req/s':>18}"
          f"{'time ratio api/rpc':>21}  target <= 1.25")
    for label, api_rps, rpc_rps, ratio in rows:
        verdict = "ok" if ratio <= 1.25 else "MISSED"
        print(f"{label:<22}{api_rps:>20.1f}{rpc_rps:>18.1f}{ratio:>21.2f}  {verdict}")

    operations = [{"method": "create", "data": {"name": f"B {tag} {i}"}} for i in range(1000)]
    start = time.perf_counter()
    result = bench.rest("POST", "res.partner/batch",
                        {"operations": operations, "options": {"transaction": True}})
    batch_t = time.perf_counter() - start
    assert len(result["results"]) == 1000
    start = time.perf_counter()
    for i in range(1000):
        bench.rest("POST", "res.partner", {"data": {"name": f"S {tag} {i}"}}, 201)
    single_t = time.perf_counter() - start
    speedup = single_t / batch_t
    print(f"\n1,000 creates: one batch call {batch_t:.2f} s, 1,000 single calls {single_t:.2f} s"
          f" -> batch {speedup:.1f}x faster (target >= 10x: {'ok' if speedup >= 10 else 'MISSED'})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing server (else one is started)")
    parser.add_argument("--db", help="its database (with --url)")
    parser.add_argument("--login", help="the API key's user login (with --url)")
    parser.add_argument("--key", help="an Odoo API key (with --url)")
    parser.add_argument("--requests", type=int, default=300, help="samples per operation")
    parser.add_argument("--workers", type=int, default=0,
                        help="Odoo --workers of the started server (0: threaded)")
    parser.add_argument("--db-host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", type=int, default=int(os.environ.get("DB_PORT", 5432)))
    parser.add_argument("--db-user", default=os.environ.get("DB_USER", "odoo"))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    if args.url:
        if not (args.db and args.login and args.key):
            parser.error("--url needs --db, --login and --key")
        run(Bench(args.url, args.db, args.login, args.key), args.requests)
        return
    db = f"bj_inb_bench_{os.getpid()}"
    proc = None
    try:
        login, key = setup_database(args, db)
        port = free_port()
        proc = start_server(args, db, port)
        run(Bench(f"http://127.0.0.1:{port}", db, login, key), args.requests)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        if not args.keep_db:
            drop_database(args, db)


if __name__ == "__main__":
    main()
