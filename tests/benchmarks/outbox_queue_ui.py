"""Queue screens benchmark: the outbound queue's list, filters and counts over 1,000,000 items.

Run with a Python that imports Odoo 17, PostgreSQL reachable (see README):

    python3 tests/benchmarks/outbox_queue_ui.py                  # scratch database, dropped after
    python3 tests/benchmarks/outbox_queue_ui.py --rows 200000    # quicker

It inserts N queue items with SQL for 20 outbound configurations over the last 40
days: all delivered but 0.5 % failed, 0.4 % pending and 0.1 % retrying (a healthy
queue that nobody purged), runs VACUUM ANALYZE, then times what the screens ask, as
the web client asks it (``web_search_read`` with the list's fields, 80 rows, a count
up to 10,000; ``web_read_group`` for the grouped lists; the dashboard's backlog),
the worker's claim, and the retention cron's purge of the delivered items older
than 30 days. Each figure is the median of 5 runs; the target is under a second.
Nothing is asserted.
"""
import logging
import statistics
import time

import scratch_db

CONFIGS = 20
REPEAT = 5
LIST_FIELDS = ("create_date", "config_id", "event", "res_model", "res_ids", "state",
               "attempt_count", "next_attempt_at", "last_status_text")


def odoo_args(args):
    return scratch_db.odoo_args(args) + ["--http-port=0"]


def load(env, rows):
    """Create the configurations and insert ``rows`` queue items."""
    model = env["ir.model"]._get("res.partner")
    post = env.ref("bj_api_sync.http_method_post")
    configs = env["bj.api.sync.config"].create([{
        "name": f"Queue bench {n}", "request_type": "out", "model_id": model.id,
        "url": f"http://127.0.0.1:9/q{n}", "http_method_ids": [(6, 0, post.ids)],
    } for n in range(CONFIGS)])
    env.cr.execute("""
        INSERT INTO bj_api_outbox (config_id, event, state, res_model, res_ids, payload,
                                   idempotency_key, attempt_count, max_attempts,
                                   next_attempt_at, last_attempt_at, last_status_code,
                                   create_date, write_date, create_uid, write_uid)
        SELECT (%(ids)s::int[])[1 + n %% %(configs)s], 'update',
               CASE WHEN n %% 1000 < 5 THEN 'failed' WHEN n %% 1000 < 9 THEN 'pending'
                    WHEN n %% 1000 = 9 THEN 'retrying' ELSE 'done' END,
               'res.partner', (n %% 50000)::text, '{"name": "Partner"}', md5(n::text),
               1, 4, at, at, 200, at, at, 1, 1
          FROM generate_series(1, %(rows)s) n,
               LATERAL (SELECT (now() AT TIME ZONE 'UTC')
                               - (n * (interval '40 days' / %(rows)s)) AS at) t
    """, {"ids": configs.ids, "configs": CONFIGS, "rows": rows})
    env.cr.commit()
    return configs


def timed(label, call):
    times = []
    for _i in range(REPEAT):
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    verdict = "met" if median < 1000 else "MISSED"
    print(f"  {label}: median {median:.0f} ms (runs: {', '.join(f'{t:.0f}' for t in times)})"
          f" [< 1,000 ms: {verdict}]")
    return result


def screens(env, configs):
    """Time what the queue's screens and worker ask of the database."""
    Outbox = env["bj.api.outbox"]
    spec = {name: {} for name in LIST_FIELDS}
    spec["config_id"] = {"fields": {"display_name": {}}}

    def page(domain):
        def call():
            env.invalidate_all()
            return Outbox.web_search_read(domain, spec, limit=80, count_limit=10001)
        return call

    result = timed("list, no filter (newest 80, count to 10,000)", page([]))
    print(f"    -> {len(result['records'])} rows, count {result['length']:,}")
    for name, domain in (("Waiting", [("state", "in", ("pending", "retrying"))]),
                         ("Failed", [("state", "=", "failed")]),
                         ("Done", [("state", "=", "done")]),
                         ("one configuration", [("config_id", "=", configs[3].id)]),
                         ("an Idempotency-Key", [("idempotency_key", "=", "c4ca4238a0b923820dcc509a6f75849b")])):
        result = timed(f"list, filter {name}", page(domain))
        print(f"    -> count {result['length']:,}")
    for group in ("state", "config_id"):
        def call(group=group):
            env.invalidate_all()
            return Outbox.web_read_group([], [f"{group}"], [group], limit=80)
        result = timed(f"grouped by {group} (every group's count)", call)
        print(f"    -> {result['length']} groups")
    for name, domain in (("Failed", [("state", "=", "failed")]),
                         ("Waiting", [("state", "in", ("pending", "retrying"))])):
        count = timed(f"exact count, {name}", lambda domain=domain: Outbox.search_count(domain))
        print(f"    -> {count:,}")
    timed("dashboard (backlog per configuration)",
          lambda: env["bj.api.dashboard"].search_read([], ["pending_count", "retrying_count"]))

    def claim():
        env.cr.execute("SAVEPOINT claim")
        items = Outbox._claim()
        env.cr.execute("ROLLBACK TO SAVEPOINT claim")
        return items
    items = timed("worker: claim the next group of due items", claim)
    print(f"    -> {len(items)} items")


def run(args):
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(odoo_args(args) + [f"--database={args.db}"])
    logging.getLogger("odoo").setLevel(logging.WARNING)
    registry = odoo.registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        configs = load(env, args.rows)
        print(f"Loaded {args.rows:,} queue items over 40 days for {CONFIGS} configurations in "
              f"{time.perf_counter() - start:.1f} s")
    import psycopg2

    vacuum = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                              dbname=args.db)
    vacuum.autocommit = True
    vacuum.cursor().execute("VACUUM ANALYZE bj_api_outbox")
    vacuum.close()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        configs = env["bj.api.sync.config"].browse(configs.ids)
        print(f"The queue's screens over {args.rows:,} items:")
        screens(env, configs)
        env["ir.config_parameter"].set_param("bj_api_sync.log_retention_days", 30)
        start = time.perf_counter()
        env["bj.api.log"]._cron_purge_old_logs()
        purged = args.rows - env["bj.api.outbox"].search_count([])
        cr.commit()
        print(f"  retention cron (30 days): {purged:,} delivered items purged in "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")


def main():
    scratch_db.main(__doc__.split("\n")[0], "bj_api_sync_queue", run, rows=1_000_000)


if __name__ == "__main__":
    main()
