#!/usr/bin/env python3
"""What an ``Idempotency-Key`` costs a create, and what a replay costs.

Not a test: prints requests per second and milliseconds per call of single
creates through ``/api/sync/v1`` without the header, with a new key each time
(claim, answer kept in the call's transaction, claim tidied after commit) and
replays of one key (claim lookup, no write), interleaved in rounds so that
load changes on the machine hit the three alike.

Builds its own scratch database and threaded server, as
``tests/benchmarks/inbound.py`` does (whose helpers it uses):

    python3 tests/benchmarks/idempotency.py
    python3 tests/benchmarks/idempotency.py --requests 500 --workers 2
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time
import uuid

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import inbound  # noqa: E402


def run(bench, count, rounds=10):
    """Time ``count`` creates without a key, with new keys, and replays; print the figures."""
    tag = uuid.uuid4().hex[:6]
    replay_key = str(uuid.uuid4())
    replay_body = {"data": {"name": f"Replayed {tag}"}}

    def plain(i):
        bench.rest("POST", "res.partner", {"data": {"name": f"P {tag} {i}"}}, 201)

    def keyed(i):
        response = bench.api.post(f"{bench.url}/api/sync/v1/res.partner",
                                  json={"data": {"name": f"K {tag} {i}"}},
                                  headers={"Idempotency-Key": f"{tag}-{i}"}, timeout=60)
        assert response.status_code == 201, response.text[:300]

    def replay(i):
        response = bench.api.post(f"{bench.url}/api/sync/v1/res.partner", json=replay_body,
                                  headers={"Idempotency-Key": replay_key}, timeout=60)
        assert response.status_code == 201, response.text[:300]
        # The warm-up call (-1) is the key's first call; every other is a replay.
        assert i < 0 or response.headers.get("Idempotent-Replayed") == "true"

    kinds = (("create, no key", plain), ("create, new key", keyed), ("replay of one key", replay))
    for _label, call in kinds:  # warm-up (and the replayed key's first call)
        call(-1)
    totals = dict.fromkeys([label for label, _call in kinds], 0.0)
    per_round = max(1, count // rounds)
    done = 0
    while done < count:
        batch = range(done, min(count, done + per_round))
        for label, call in kinds:
            start = time.perf_counter()
            for i in batch:
                call(i)
            totals[label] += time.perf_counter() - start
        done += len(batch)
    base = totals["create, no key"] / count * 1000
    print(f"\n{'operation':<22}{'req/s':>10}{'ms/call':>10}{'vs no key':>12}")
    for label, seconds in totals.items():
        ms = seconds / count * 1000
        print(f"{label:<22}{count / seconds:>10.1f}{ms:>10.2f}{ms - base:>+11.2f}ms")
    written = bench.execute("res.partner", "search_count", [[("name", "=", f"Replayed {tag}")]])
    print(f"\npartners written by {count + 1} calls with the replayed key: {written}")


def start_server(args, db, port):
    """Start the server; return its process once /web/health answers (a slow machine
    may take long to answer the first request: every failure is waited out)."""
    cmd = inbound.odoo_cmd(args, db) + [
        "--http-port", str(port), "--http-interface", "127.0.0.1", "--db-filter", f"^{db}$",
        "--gevent-port", "0", "--max-cron-threads", "0", "--log-level=warn",
        "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/web/health", timeout=10).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.5)
    proc.terminate()
    proc.wait(timeout=30)
    raise SystemExit("the Odoo server did not start")


def main():
    """Parse the arguments, build the scratch database and server, run, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="samples per kind of call")
    parser.add_argument("--workers", type=int, default=0, help="Odoo workers (0: threaded)")
    parser.add_argument("--db-host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", type=int, default=int(os.environ.get("DB_PORT", 5432)))
    parser.add_argument("--db-user", default=os.environ.get("DB_USER", "odoo"))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    db = f"bj_idem_bench_{os.getpid()}"
    proc = None
    try:
        login, key = inbound.setup_database(args, db)
        port = inbound.free_port()
        proc = start_server(args, db, port)
        run(inbound.Bench(f"http://127.0.0.1:{port}", db, login, key), args.requests)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        if not args.keep_db:
            inbound.drop_database(args, db)


if __name__ == "__main__":
    main()
