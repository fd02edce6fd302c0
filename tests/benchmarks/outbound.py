"""Outbound benchmark: prints throughput and memory figures, asserts nothing.

Run with a Python that imports Odoo 17, PostgreSQL reachable (see README):

    python3 tests/benchmarks/outbound.py                 # scratch database, dropped after
    python3 tests/benchmarks/outbound.py --records 2000  # quicker

It measures, in one run against a local sink on 127.0.0.1:
  1. records/s for N partners sent per record and batched (page size 100)
     through ``_make_outbound_http_request`` (a batched run takes about a tenth
     of a second: ours and the floor's run in turn 7 times, each keeping its
     median);
  2. the same N deliveries through Odoo 17's own "Send Webhook Notification"
     server action;
  3. a bare ``requests.Session`` loop posting the same payloads (the floor);
  4. peak memory growth while sending M partners batched (fresh process);
  5. nothing lost: E events queued in the outbox while the sink is down for part
     of the run; after it comes back every event arrives exactly once (distinct
     Idempotency-Key values counted by the sink);
  6. two-way sync: per record and batched with bindings and ``only_changed`` on
     (first send, every record new), against the same runs with bindings
     switched off in this process (the send path as it was before bindings:
     ``SyncPlan.track`` forced off, a benchmark-only patch), each pair in turn
     3 times keeping the medians; then a re-run over the N unchanged records.
"""

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bj_api_sync", "tests"))

import fault_server  # noqa: E402  (a test helper that imports no Odoo)
import scratch_db  # noqa: E402  (beside this script)
from scratch_db import create_database, drop_database  # noqa: E402

FIELDS = ["name", "email", "phone", "id", "country_id"]
# Turns of the two batched measurements (each keeps its median): one takes ~0.1 s.
BATCH_REPEAT = 7


def odoo_args(args):
    return scratch_db.odoo_args(args) + ["--http-port=0"]


def setup_odoo(args):
    import odoo

    odoo.tools.config.parse_config(odoo_args(args) + [f"--database={args.db}"])
    logging.getLogger("odoo").setLevel(logging.WARNING)
    return odoo.registry(args.db)


def insert_partners(env, count, tag):
    """Insert ``count`` partners with SQL (creating them through the ORM would
    dominate the run) and return their ids."""
    env.cr.execute(
        """INSERT INTO res_partner (name, email, phone, active, is_company, type, country_id,
                                    create_date, write_date, create_uid, write_uid)
           SELECT %s || ' ' || n, 'p' || n || '@example.com', '+32 2 555 ' || n, true, true,
                  'contact', (SELECT id FROM res_country WHERE code = 'BE'),
                  now() at time zone 'UTC', now() at time zone 'UTC', 1, 1
             FROM generate_series(1, %s) n RETURNING id""",
        (tag, count),
    )
    ids = [r[0] for r in env.cr.fetchall()]
    env.cr.commit()
    env.cr.execute("ANALYZE res_partner")  # as autovacuum would after a bulk load
    return ids


def make_config(env, url, **vals):
    config = env["bj.api.sync.config"].create({
        "name": vals.pop("name", "Benchmark"),
        "request_type": "out",
        "model_id": env["ir.model"]._get("res.partner").id,
        "url": url,
        "http_method_ids": [(6, 0, env.ref("bj_api_sync.http_method_post").ids)],
        **vals,
    })
    lines = []
    for name in FIELDS:
        field = env["ir.model.fields"]._get("res.partner", name)
        line = {"config_id": config.id, "external_key": name, "field_id": field.id}
        if name == "country_id":
            line.update(value_type="relational", related_path="code", external_key="country")
        lines.append(line)
    env["bj.api.sync.config.line"].create(lines)
    env.cr.commit()
    return config


class ProcessSink:
    """The benchmark sink (sink.py) in its own process, as an external API is: in
    this process it would compete with the client for the interpreter lock."""

    def __init__(self, port=None):
        self.port = port or int(fault_server.refused_url().rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sink.py"),
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        import requests

        for _i in range(100):
            try:
                requests.get(self.url + "/__stats", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the sink did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)

    def stats(self):
        import requests

        return requests.get(self.url + "/__stats", timeout=5).json()

    def clear(self):
        import requests

        requests.get(self.url + "/__clear", timeout=5)


def rate(count, seconds):
    return f"{count / seconds:,.0f} records/s ({seconds:.2f} s)"


def throughput(args):
    registry = setup_odoo(args)
    import requests

    from odoo import SUPERUSER_ID, api

    figures = {}
    with ProcessSink() as sink, registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        ids = insert_partners(env, args.records, "Bench")
        partners = env["res.partner"].browse(ids)
        per_record = make_config(env, sink.url + "/per-record", name="Per record")
        batched = make_config(env, sink.url + "/batched", name="Batched", is_paginated=True,
                              page_size=100)
        n = len(ids)

        def once(fn):
            env.invalidate_all()
            sink.clear()
            start = time.perf_counter()
            fn()
            seconds = time.perf_counter() - start
            cr.commit()
            return seconds, sink.stats()

        def report(label, times, stats):
            seconds = figures[label] = statistics.median(times)
            spread = (f" median of {len(times)}: "
                      + ", ".join(f"{t:.3f}" for t in times) + " s") if len(times) > 1 else ""
            print(f"  {label:<44} {rate(n, seconds)}  [{stats['requests']} requests, "
                  f"{stats['items']} records received{spread}]")

        def run(label, fn):
            seconds, stats = once(fn)
            report(label, [seconds], stats)

        def run_in_turn(pairs, repeat):
            # A batched run takes a tenth of a second, and the machine's speed
            # drifts over a benchmark: both sides run in turn, ``repeat`` times,
            # so that drift hits them alike, and each keeps its median.
            times, stats = {label: [] for label, _fn in pairs}, {}
            for _rep in range(repeat):
                for label, fn in pairs:
                    seconds, stats[label] = once(fn)
                    times[label].append(seconds)
            for label, _fn in pairs:
                report(label, times[label], stats[label])

        print(f"Throughput, {n:,} partners, sink {sink.url}")
        run("bj_api_sync per record", lambda: env["bj.api.sync.config"]
            ._make_outbound_http_request(partners, per_record.id))

        webhook = env["ir.actions.server"].create({
            "name": "Native webhook", "model_id": env["ir.model"]._get("res.partner").id,
            "state": "webhook", "webhook_url": sink.url + "/native",
            "webhook_field_ids": [(6, 0, [env["ir.model.fields"]._get("res.partner", f).id
                                          for f in FIELDS])],
        })

        def native():
            for pid in ids:
                webhook.with_context(active_model="res.partner", active_id=pid,
                                     active_ids=[pid]).run()

        run("Odoo 17 'Send Webhook Notification' action", native)

        payloads = env["bj.api.sync.config"].browse(per_record.id)._build_payloads(partners)
        headers = {"Content-Type": "application/json"}

        def bare_per_record():
            with requests.Session() as session:
                for payload in payloads:
                    session.post(sink.url + "/bare", data=json.dumps(payload),
                                 headers=headers, timeout=(5, 15))

        def bare_batched():
            with requests.Session() as session:
                for start in range(0, len(payloads), 100):
                    session.post(sink.url + "/bare", data=json.dumps(payloads[start:start + 100]),
                                 headers=headers, timeout=(5, 15))

        run("bare requests.Session loop, per record", bare_per_record)
        run_in_turn([
            ("bj_api_sync batched (page size 100)", lambda: env["bj.api.sync.config"]
             ._make_outbound_http_request(partners, batched.id)),
            ("bare requests.Session loop, batched (100)", bare_batched),
        ], BATCH_REPEAT)

        two_way_sync(env, cr, sink, partners, once, report, figures, n)

    native_ratio = figures["Odoo 17 'Send Webhook Notification' action"] / figures[
        "bj_api_sync per record"]
    batch_ratio = figures["bj_api_sync batched (page size 100)"] / figures[
        "bare requests.Session loop, batched (100)"]
    print(f"  per record vs native webhook: {native_ratio:.1f}x the throughput (target >= 3x)")
    print(f"  batched vs bare Session loop: {batch_ratio:.2f}x the time (target <= 1.5x)")
    cost = figures[SYNC_PER_RECORD] / figures[PLAIN_PER_RECORD] - 1
    print(f"  bindings + only_changed, per record: {cost * 100:+.1f} % time vs no bindings "
          f"(target <= 15 %)")
    sync_batch = figures[SYNC_BATCHED] / figures["bare requests.Session loop, batched (100)"]
    print(f"  bindings + only_changed, batched vs bare Session loop: {sync_batch:.2f}x the time "
          f"(target <= 1.6x)")
    rerun = figures[SYNC_RERUN] / figures[SYNC_PER_RECORD]
    print(f"  re-run over unchanged records: {rerun:.3f}x the time of sending them "
          f"(target < 0.1x)")


PLAIN_PER_RECORD = "per record, no bindings (before two-way sync)"
SYNC_PER_RECORD = "per record, bindings + only_changed"
PLAIN_BATCHED = "batched (100), no bindings (before two-way sync)"
SYNC_BATCHED = "batched (100), bindings + only_changed"
SYNC_RERUN = "re-run per record, all unchanged (only_changed)"
SYNC_REPEAT = 3


def two_way_sync(env, cr, sink, partners, once, report, figures, n):
    """Measure what bindings and only_changed cost, and what a re-run saves."""
    from odoo.addons.bj_api_sync.services import outbound_sync

    Config = env["bj.api.sync.config"]
    per_record = make_config(env, sink.url + "/sync", name="Sync per record", only_changed=True)
    batched = make_config(env, sink.url + "/sync-batched", name="Sync batched",
                          only_changed=True, is_paginated=True, page_size=100)
    original = outbound_sync.SyncPlan.__init__

    def untracked(self, config, factory, *, track=True):
        original(self, config, factory, track=False)

    def forget(config):
        # Every record is new to the other side at each turn: nothing skipped.
        cr.execute("DELETE FROM bj_api_sync_binding WHERE config_id = %s", (config.id,))
        cr.commit()

    def send(config, tracked):
        def go():
            outbound_sync.SyncPlan.__init__ = original if tracked else untracked
            try:
                Config._make_outbound_http_request(partners, config.id)
            finally:
                outbound_sync.SyncPlan.__init__ = original
        return go

    print(f"Two-way sync, {n:,} partners (each pair in turn, {SYNC_REPEAT} times)")
    for pairs in (((PLAIN_PER_RECORD, per_record, False), (SYNC_PER_RECORD, per_record, True)),
                  ((PLAIN_BATCHED, batched, False), (SYNC_BATCHED, batched, True))):
        times, stats = {label: [] for label, *_rest in pairs}, {}
        for _rep in range(SYNC_REPEAT):
            for label, config, tracked in pairs:
                forget(config)
                seconds, stats[label] = once(send(config, tracked))
                times[label].append(seconds)
        for label, *_rest in pairs:
            report(label, times[label], stats[label])
    # The bindings of the last tracked per-record run are in place: nothing changed since.
    forget(per_record)
    once(send(per_record, True))
    seconds, stats = once(send(per_record, True))
    skipped = env["bj.api.log"].search([("config_id", "=", per_record.id),
                                        ("state", "=", "skipped")], limit=1, order="id desc")
    report(SYNC_RERUN, [seconds], stats)
    print(f"    (the re-run sent {stats['requests']} requests; its log: "
          f"{skipped.summary or 'none'})")


def memory(args):
    """Peak RSS growth while sending ``args.memory_records`` partners batched."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api

    with ProcessSink() as sink, registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        ids = insert_partners(env, args.memory_records, "Memory")
        config = make_config(env, sink.url + "/memory", name="Memory", is_paginated=True,
                             page_size=100)
        env.invalidate_all()
        partners = env["res.partner"].browse(ids)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        result = env["bj.api.sync.config"]._make_outbound_http_request(partners, config.id)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cr.rollback()
        print(f"Memory, {len(ids):,} partners batched (page size 100): "
              f"peak RSS growth {(after - before) / 1024:.1f} MB (target < 100 MB); "
              f"{rate(len(ids), seconds)}, {result.requests} requests, "
              f"{sink.stats()['items']:,} records received")


def nothing_lost(args):
    """Queue events while the sink is down; count what arrives after it comes back."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api

    port = fault_server.refused_url().rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}/events"
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        ids = insert_partners(env, args.events, "Event")
        config = make_config(env, url, name="Events", max_retries=10, retry_backoff=0.05)
        env["bj.api.outbox"]._enqueue(config, env["res.partner"].browse(ids), "bench")
        cr.commit()
        Outbox = env["bj.api.outbox"]
        start = time.perf_counter()
        Outbox._cron_deliver(budget_seconds=3)  # the sink is down: attempts fail
        cr.commit()
        env.invalidate_all()
        down = Outbox.search_count([("config_id", "=", config.id), ("state", "=", "retrying")])
        with ProcessSink(int(port)) as sink:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                Outbox._cron_deliver(budget_seconds=5)
                cr.commit()
                env.invalidate_all()
                waiting = Outbox.search_count([("config_id", "=", config.id),
                                               ("state", "in", ("pending", "retrying"))])
                if not waiting:
                    break
                time.sleep(0.1)
            stats = sink.stats()
        done = Outbox.search_count([("config_id", "=", config.id), ("state", "=", "done")])
        failed = Outbox.search_count([("config_id", "=", config.id), ("state", "=", "failed")])
        print(f"Nothing lost: {args.events} events, {down} attempted and waiting to retry while "
              f"the sink was down; "
              f"after it came back: {stats['distinct_keys']} distinct events received, "
              f"{stats['duplicates']} duplicates, {done} done, {failed} failed "
              f"({time.perf_counter() - start:.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=f"bj_api_sync_bench_{os.getpid()}")
    parser.add_argument("--existing-db", action="store_true",
                        help="use --db as it is (bj_api_sync installed) instead of creating it")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--memory-records", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--db-host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", default=os.environ.get("DB_PORT", "5432"))
    parser.add_argument("--db-user", default=os.environ.get("DB_USER", "odoo"))
    parser.add_argument("--phase", choices=["all", "throughput", "memory", "lost"], default="all")
    args = parser.parse_args()

    if args.phase != "all":
        {"throughput": throughput, "memory": memory, "lost": nothing_lost}[args.phase](args)
        return
    if not args.existing_db:
        print(f"Creating database {args.db} with bj_api_sync installed...")
        create_database(args)
    try:
        # Each phase in a fresh process, so that one's memory does not hide another's.
        base = [sys.executable, os.path.abspath(__file__), "--db", args.db,
                "--records", str(args.records), "--memory-records", str(args.memory_records),
                "--events", str(args.events), "--db-host", args.db_host,
                "--db-port", str(args.db_port), "--db-user", args.db_user]
        for phase in ("throughput", "memory", "lost"):
            subprocess.run([*base, "--phase", phase], check=True)
    finally:
        if not (args.keep_db or args.existing_db):
            drop_database(args)


if __name__ == "__main__":
    main()
