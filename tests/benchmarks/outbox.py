"""Outbox benchmark: drain rates, latency and memory of the delivery worker; asserts nothing.

Run with a Python that imports Odoo 17, PostgreSQL reachable (see README):

    python3 tests/benchmarks/outbox.py                   # scratch database, dropped after
    python3 tests/benchmarks/outbox.py --items 20000 --latency-events 200   # quicker

It prints, in one run, against a sink on 127.0.0.1 in its own process (sink.py):
  1. the drain rate of ``--items`` queued deliveries (one partner each, five
     fields, the real path: bindings written, one log row per attempt) by one
     worker process running ``_cron_deliver``, with its peak memory growth;
  2. the same by two worker processes at once on the same database, and the
     distinct / duplicate Idempotency-Key values the sink counted;
  3. a bare ``requests.Session`` loop posting the same payloads (the floor),
     and the same loop over ``--sweep-items`` payloads in 1, 2 and 4 threads
     (does concurrency pay under the GIL on this machine?);
  4. the drain rate by group size (``--group-sizes``, ``--sweep-items`` each);
  5. commit-to-delivery latency on an idle prefork server (``--workers=2
     --max-cron-threads=1``): ``--latency-events`` XML-RPC writes one by one,
     each queued by the configuration's "on update" trigger, each timed from
     the start of the write call (the commit is inside it) to its arrival at
     the sink; p50 and p99.
"""

import argparse
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bj_api_sync", "tests"))

from outbound import ProcessSink, make_config, setup_odoo  # noqa: E402
from scratch_db import create_database, drop_database  # noqa: E402

HERE = os.path.abspath(__file__)
# What the worker processes of the two-process drain wait for (a file), so that
# their start-up (loading the registry) is not counted.
GO_TIMEOUT = 120


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queue_items(env, config, count, tag):
    """Insert ``count`` partners and one pending delivery of each (SQL: the ORM
    would dominate the set-up), payloads as the config's five fields give them."""
    cr = env.cr
    cr.execute(
        """INSERT INTO res_partner (name, email, phone, active, is_company, type, country_id,
                                    create_date, write_date, create_uid, write_uid)
           SELECT %s || ' ' || n, 'p' || n || '@example.com', '+32 2 555 ' || n, true, true,
                  'contact', (SELECT id FROM res_country WHERE code = 'BE'),
                  now() at time zone 'UTC', now() at time zone 'UTC', 1, 1
             FROM generate_series(1, %s) n RETURNING id""",
        (tag, count),
    )
    ids = [r[0] for r in cr.fetchall()]
    cr.execute(
        """INSERT INTO bj_api_outbox (config_id, event, state, res_model, res_ids, payload,
                                      idempotency_key, attempt_count, max_attempts,
                                      next_attempt_at, create_date, write_date, create_uid,
                                      write_uid)
           SELECT %s, 'bench', 'pending', 'res.partner', p.id::text,
                  json_build_object('name', p.name, 'email', p.email, 'phone', p.phone,
                                    'id', p.id, 'country', 'BE')::text,
                  md5(random()::text || p.id), 0, 4, now() at time zone 'UTC' - interval '1s',
                  now() at time zone 'UTC', now() at time zone 'UTC', 1, 1
             FROM res_partner p WHERE p.id = ANY(%s) ORDER BY p.id""",
        (config.id, ids),
    )
    cr.commit()
    cr.execute("ANALYZE bj_api_outbox")
    cr.execute("ANALYZE res_partner")
    cr.commit()
    return ids


def waiting(cr, config_id):
    cr.execute("SELECT count(*) FROM bj_api_outbox WHERE config_id = %s AND state IN "
               "('pending', 'retrying')", (config_id,))
    return cr.fetchone()[0]


def states(cr, config_id):
    cr.execute("SELECT state, count(*) FROM bj_api_outbox WHERE config_id = %s GROUP BY state",
               (config_id,))
    return dict(cr.fetchall())


# ------------------------------------------------------------------ phases
def phase_prepare(args):
    """Make the configuration and queue the items of one drain; print the config id."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        config = make_config(env, f"{args.sink_url}/{args.tag}", name=f"Outbox {args.tag}")
        queue_items(env, config, args.items, args.tag)
        print(json.dumps({"config_id": config.id}))


def phase_worker(args):
    """Drain the queue as one worker process; print what it did (JSON)."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api
    from odoo.addons.bj_api_sync.models import bj_api_outbox

    if args.group_size:
        bj_api_outbox.GROUP_SIZE = args.group_size
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Outbox = env["bj.api.outbox"]
        # Load what the first group would (the models, the HTTP pool) before timing.
        cr.execute("SELECT 1")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if args.go:
            with open(args.go + ".ready." + str(os.getpid()), "w"):
                pass
            deadline = time.monotonic() + GO_TIMEOUT
            while not os.path.exists(args.go) and time.monotonic() < deadline:
                time.sleep(0.005)
        start = time.time()
        done = 0
        while True:
            done += Outbox._cron_deliver(budget_seconds=3600, stay_seconds=0)
            cr.commit()
            if not waiting(cr, args.config_id):
                break
            time.sleep(0.01)  # the other worker holds the last items
        end = time.time()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"done": done, "start": start, "end": end,
                          "rss_growth_mb": (after - before) / 1024}))


def _python(args, *extra):
    return [sys.executable, HERE, "--db", args.db, "--db-host", args.db_host,
            "--db-port", str(args.db_port), "--db-user", args.db_user, *extra]


def _prepare(args, sink, tag, count):
    out = subprocess.run(_python(args, "--phase", "prepare", "--sink-url", sink.url,
                                 "--tag", tag, "--items", str(count)),
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["config_id"]


def drain(args, sink, tag, count, workers, group_size=0):
    """Queue ``count`` items, drain them with ``workers`` processes; return figures."""
    config_id = _prepare(args, sink, tag, count)
    sink.clear()
    with tempfile.TemporaryDirectory() as tmp:
        go = os.path.join(tmp, "go")
        procs = [subprocess.Popen(
            _python(args, "--phase", "worker", "--config-id", str(config_id), "--go", go,
                    "--group-size", str(group_size)),
            stdout=subprocess.PIPE, text=True) for _i in range(workers)]
        deadline = time.monotonic() + GO_TIMEOUT
        while (len([f for f in os.listdir(tmp) if f.startswith("go.ready.")]) < workers
               and time.monotonic() < deadline):
            time.sleep(0.05)
        with open(go, "w"):
            pass
        results = []
        for proc in procs:
            out, _err = proc.communicate(timeout=3600)
            if proc.returncode:
                raise RuntimeError(f"a worker failed (rc={proc.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    stats = sink.stats()
    return {"seconds": seconds, "rate": count / seconds, "stats": stats,
            "per_worker": [r["done"] for r in results],
            "rss_growth_mb": max(r["rss_growth_mb"] for r in results),
            "config_id": config_id}


def bare_loops(args, sink, count, threads_list):
    """The floor: a bare requests.Session loop posting the payloads of ``count``
    items (read from the database), in 1 or more threads; return {threads: rate}."""
    import psycopg2
    import requests

    conn = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                            dbname=args.db)
    with conn.cursor() as cr:
        cr.execute("SELECT payload, idempotency_key FROM bj_api_outbox ORDER BY id LIMIT %s",
                   (count,))
        rows = cr.fetchall()
    conn.close()
    payloads = [json.loads(p) for p, _k in rows]
    url = sink.url + "/bare"

    def loop(part):
        with requests.Session() as session:
            for index, payload in part:
                session.post(url, data=json.dumps(payload), timeout=(5, 15),
                             headers={"Content-Type": "application/json",
                                      "Idempotency-Key": f"bare-{index}"})

    figures = {}
    for threads in threads_list:
        sink.clear()
        parts = [list(enumerate(payloads))[i::threads] for i in range(threads)]
        start = time.perf_counter()
        if threads == 1:
            loop(parts[0])
        else:
            pool = [threading.Thread(target=loop, args=(part,)) for part in parts]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        seconds = time.perf_counter() - start
        figures[threads] = (len(payloads) / seconds, seconds, sink.stats()["requests"])
    return figures


# ------------------------------------------------------------------ latency
class PreforkServer:
    """An Odoo server on the benchmark's database, as in production: prefork,
    two HTTP workers, one cron worker."""

    def __init__(self, args, workdir):
        import odoo

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        addons = os.path.join(os.path.dirname(odoo.__file__), "addons")
        self.launcher = os.path.join(workdir, "odoo-bin")
        with open(self.launcher, "w") as launcher:
            launcher.write("import odoo.cli\nodoo.cli.main()\n")
        self.log = open(os.path.join(workdir, "server.log"), "w")  # noqa: SIM115
        self.cmd = [sys.executable, self.launcher, f"--db_host={args.db_host}",
                    f"--db_port={args.db_port}", f"--db_user={args.db_user}",
                    f"--addons-path={addons},{ROOT}", "-d", args.db, f"--db-filter=^{args.db}$",
                    "--http-interface=127.0.0.1", f"--http-port={self.port}",
                    f"--gevent-port={_free_port()}", "--workers=2", "--max-cron-threads=1",
                    "--log-level=warn", "--limit-time-real=600"]
        self.proc = None

    def __enter__(self):
        import requests

        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/web/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        raise RuntimeError("the Odoo server did not start")

    def __exit__(self, *exc):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


def phase_setup_latency(args):
    """Make the triggered configuration and its partner; print their ids."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        config = make_config(env, args.sink_url + "/timed", name="Latency")
        config.write({"trigger_on_write": True, "trigger_field_ids": [
            (6, 0, env["ir.model.fields"]._get("res.partner", "name").ids)]})
        partner = env["res.partner"].create({"name": "latency 0"})
        env.ref("base.user_admin").password = "admin"
        cr.commit()
        print(json.dumps({"partner_id": partner.id}))


def latency(args, sink):
    """Time ``args.latency_events`` writes, one by one, from call to sink; return
    (latencies from the call's start, from its return, lost)."""
    import requests

    out = subprocess.run(_python(args, "--phase", "setup-latency", "--sink-url", sink.url),
                         check=True, capture_output=True, text=True).stdout
    partner_id = json.loads(out.strip().splitlines()[-1])["partner_id"]
    sink.clear()
    with tempfile.TemporaryDirectory() as tmp, PreforkServer(args, tmp) as server:
        common = xmlrpc.client.ServerProxy(server.url + "/xmlrpc/2/common")
        uid = common.authenticate(args.db, "admin", "admin", {})
        models = xmlrpc.client.ServerProxy(server.url + "/xmlrpc/2/object")

        def write(name):
            models.execute_kw(args.db, uid, "admin", "res.partner", "write",
                              [[partner_id], {"name": name}])

        def arrivals():
            return {name: t for t, name in
                    requests.get(sink.url + "/__times", timeout=5).json()}

        # The cron worker loads the registry on its first job: not counted.
        write("latency warm-up")
        deadline = time.monotonic() + 60
        while "latency warm-up" not in arrivals() and time.monotonic() < deadline:
            time.sleep(0.05)
        starts, returns = {}, {}
        lost = 0
        for n in range(args.latency_events):
            name = f"latency {n + 1}"
            starts[name] = time.time()
            write(name)
            returns[name] = time.time()
            deadline = time.monotonic() + 10
            while True:
                got = arrivals()
                if name in got:
                    break
                if time.monotonic() > deadline:
                    lost += 1
                    break
                time.sleep(0.005)
        got = arrivals()
    from_start = sorted(got[n] - starts[n] for n in starts if n in got)
    from_return = sorted(got[n] - returns[n] for n in starts if n in got)
    return from_start, from_return, lost


def pct(values, p):
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# ------------------------------------------------------------------ main
def run_all(args):
    met = {True: "met", False: "**missed**"}
    with ProcessSink() as sink:
        print(f"Outbox benchmark, sink {sink.url}, {os.cpu_count()} cores")
        one = drain(args, sink, "one", args.items, 1)
        print(f"  one worker process:   {args.items:,} items in {one['seconds']:.1f} s = "
              f"{one['rate']:,.0f} deliveries/s; sink: {one['stats']['distinct_keys']:,} distinct "
              f"keys, {one['stats']['duplicates']} duplicates; peak RSS growth "
              f"{one['rss_growth_mb']:.1f} MB")
        two = drain(args, sink, "two", args.items, 2)
        print(f"  two worker processes: {args.items:,} items in {two['seconds']:.1f} s = "
              f"{two['rate']:,.0f} deliveries/s (per worker {two['per_worker']}); sink: "
              f"{two['stats']['distinct_keys']:,} distinct keys, "
              f"{two['stats']['duplicates']} duplicates")
        bare = bare_loops(args, sink, args.items, [1])
        rate, seconds, requests_ = bare[1]
        print(f"  bare requests.Session loop: {rate:,.0f} requests/s ({seconds:.1f} s, "
              f"{requests_:,} requests)")
        threaded = bare_loops(args, sink, args.sweep_items, [1, 2, 4])
        print(f"  bare loop split over threads, {args.sweep_items:,} requests: " + ", ".join(
            f"{threads} thread(s) {rate:,.0f}/s" for threads, (rate, _s, _r) in threaded.items()))
        sweep = {}
        for size in args.group_sizes:
            sweep[size] = drain(args, sink, f"g{size}", args.sweep_items, 1, group_size=size)
        if sweep:
            print(f"  group size sweep, one process, {args.sweep_items:,} items each: "
                  + ", ".join(f"{size}: {d['rate']:,.0f}/s" for size, d in sweep.items()))
        from_start = from_return = []
        lost = 0
        if args.latency_events:
            from_start, from_return, lost = latency(args, sink)
            print(f"  commit-to-delivery latency, {len(from_start)} events ({lost} not "
                  f"delivered within 10 s): from the write call's start p50 "
                  f"{pct(from_start, 50) * 1000:.0f} ms, p99 {pct(from_start, 99) * 1000:.0f} ms, "
                  f"max {max(from_start, default=0) * 1000:.0f} ms; from its return p50 "
                  f"{pct(from_return, 50) * 1000:.0f} ms, p99 {pct(from_return, 99) * 1000:.0f} ms")
    floor = bare[1][0]
    print("Targets:")
    print(f"  one process >= 1,500 deliveries/s: {one['rate']:,.0f} ({met[one['rate'] >= 1500]})")
    ratio = one["rate"] / floor
    print(f"  one process >= 0.6x the bare loop: {ratio:.2f}x ({met[ratio >= 0.6]})")
    scale = two["rate"] / one["rate"]
    print(f"  two processes >= 1.5x one: {scale:.2f}x ({met[scale >= 1.5]})")
    exact = two["stats"]["distinct_keys"] == args.items and not two["stats"]["duplicates"]
    print(f"  two processes, every item once: {met[exact]}")
    if from_start:
        p50, p99 = pct(from_start, 50), pct(from_start, 99)
        print(f"  latency p50 < 0.5 s: {p50:.3f} s ({met[p50 < 0.5]}); "
              f"p99 < 2 s: {p99:.3f} s ({met[p99 < 2]})")
    print(f"  worker memory growth < 100 MB: {one['rss_growth_mb']:.1f} MB "
          f"({met[one['rss_growth_mb'] < 100]})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=f"bj_api_sync_outbox_bench_{os.getpid()}")
    parser.add_argument("--existing-db", action="store_true",
                        help="use --db as it is (bj_api_sync installed) instead of creating it")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--sweep-items", type=int, default=10_000)
    parser.add_argument("--group-sizes", default="20,50,100,200",
                        help="comma-separated; empty: no sweep")
    parser.add_argument("--latency-events", type=int, default=1_000)
    parser.add_argument("--db-host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", default=os.environ.get("DB_PORT", "5432"))
    parser.add_argument("--db-user", default=os.environ.get("DB_USER", "odoo"))
    parser.add_argument("--phase", default="all",
                        choices=["all", "prepare", "worker", "setup-latency"])
    parser.add_argument("--sink-url")
    parser.add_argument("--tag")
    parser.add_argument("--config-id", type=int)
    parser.add_argument("--go")
    parser.add_argument("--group-size", type=int, default=0)
    args = parser.parse_args()
    args.group_sizes = [int(s) for s in args.group_sizes.split(",") if s.strip()]
    phases = {"prepare": phase_prepare, "worker": phase_worker,
              "setup-latency": phase_setup_latency}
    if args.phase != "all":
        phases[args.phase](args)
        return
    if not args.existing_db:
        print(f"Creating database {args.db} with bj_api_sync installed...")
        create_database(args)
    try:
        run_all(args)
    finally:
        if not (args.keep_db or args.existing_db):
            drop_database(args)


if __name__ == "__main__":
    main()
