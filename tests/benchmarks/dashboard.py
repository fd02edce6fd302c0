"""Dashboard benchmark: how long the delivery dashboard takes over 1,000,000 log rows.

Run with a Python that imports Odoo 17, PostgreSQL reachable (see README):

    python3 tests/benchmarks/dashboard.py                  # scratch database, dropped after
    python3 tests/benchmarks/dashboard.py --rows 200000    # quicker

It inserts N log rows with SQL for 20 outbound configurations, spread evenly over
the last 30 days (the default log retention), one in 7 failed (one in 7), with random
durations, plus 1,000 waiting queue items; runs VACUUM ANALYZE (as autovacuum
would after a bulk load); then reads the dashboard as its kanban view does
(``search_read`` of every row with every field) 9 times and prints the median and
the spread. It also times the same read right after the load, before VACUUM, and
the log list's grouped counts; the cost the rollup triggers add to a log insert
(5,000 one-row inserts with and without them); and the dashboard read while the
rows those inserts added wait for the compaction cron, and that cron's run.
Nothing is asserted.
"""
import logging
import statistics
import time

import scratch_db

CONFIGS = 20
REPEAT = 9


def odoo_args(args):
    return scratch_db.odoo_args(args) + ["--http-port=0"]


def load(env, rows):
    """Create the configurations and insert ``rows`` logs and 1,000 queue items."""
    model = env["ir.model"]._get("res.partner")
    post = env.ref("bj_api_sync.http_method_post")
    configs = env["bj.api.sync.config"].create([{
        "name": f"Dashboard bench {n}", "request_type": "out", "model_id": model.id,
        "url": f"http://127.0.0.1:9/c{n}", "http_method_ids": [(6, 0, post.ids)],
    } for n in range(CONFIGS)])
    ids = configs.ids
    env.cr.execute("""
        INSERT INTO bj_api_log (config_id, direction, http_method, url, status_code, state,
                                duration_ms, attempt, error_message, create_date, write_date,
                                create_uid, write_uid)
        SELECT (%s::int[])[1 + n %% %s], 'out', 'POST', 'http://127.0.0.1:9/c',
               CASE WHEN n %% 7 = 0 THEN 503 ELSE 200 END,
               CASE WHEN n %% 7 = 0 THEN 'failed' ELSE 'success' END,
               random() * 400, 1,
               CASE WHEN n %% 7 = 0 THEN 'HTTP 503: unavailable' END,
               (now() AT TIME ZONE 'UTC') - (n * (interval '30 days' / %s)),
               now() AT TIME ZONE 'UTC', 1, 1
          FROM generate_series(1, %s) n
    """, (ids, CONFIGS, rows, rows))
    env.cr.execute("""
        INSERT INTO bj_api_outbox (config_id, event, state, res_model, res_ids,
                                   idempotency_key, attempt_count, max_attempts,
                                   next_attempt_at, create_date, write_date, create_uid,
                                   write_uid)
        SELECT (%s::int[])[1 + n %% %s], 'bench',
               CASE WHEN n %% 2 = 0 THEN 'pending' ELSE 'retrying' END, 'res.partner', '1',
               md5(n::text), 0, 4, now() AT TIME ZONE 'UTC' + interval '1 hour',
               now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
          FROM generate_series(1, 1000) n
    """, (ids, CONFIGS))
    env.cr.commit()


def timed_reads(env, repeat):
    Dashboard = env["bj.api.dashboard"]
    names = list(Dashboard._fields)
    times = []
    for _i in range(repeat):
        env.invalidate_all()
        start = time.perf_counter()
        rows = Dashboard.search_read([], names)
        times.append((time.perf_counter() - start) * 1000)
    return times, rows


def ids_of(env):
    return env["bj.api.sync.config"].search([("name", "like", "Dashboard bench")]).ids


def single_row_inserts(env, ids, count=5000):
    """Time ``count`` one-row log inserts (as the ORM writes a log) with the
    rollup triggers, then as many with them disabled; print the difference."""
    sql = """
        INSERT INTO bj_api_log (config_id, direction, http_method, state, duration_ms,
                                attempt, create_date, write_date, create_uid, write_uid)
        VALUES (%s, 'out', 'POST', 'success', %s, 1, now() AT TIME ZONE 'UTC',
                now() AT TIME ZONE 'UTC', 1, 1)
    """
    figures = {}
    for label in ("with the rollup triggers", "without them"):
        if label == "without them":
            env.cr.execute("ALTER TABLE bj_api_log DISABLE TRIGGER USER")
        start = time.perf_counter()
        for n in range(count):
            env.cr.execute(sql, (ids[n % len(ids)], 5 + n % 300))
        figures[label] = (time.perf_counter() - start) * 1e6 / count
    env.cr.execute("ALTER TABLE bj_api_log ENABLE TRIGGER USER")
    env.cr.commit()
    with_t, without = figures.values()
    print(f"  one-row log insert: {with_t:.0f} us with the rollup triggers, {without:.0f} us "
          f"without (+{with_t - without:.0f} us per insert statement)")


def run(args):
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(odoo_args(args) + [f"--database={args.db}"])
    logging.getLogger("odoo").setLevel(logging.WARNING)
    registry = odoo.registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        load(env, args.rows)
        print(f"Loaded {args.rows:,} log rows over 30 days for {CONFIGS} configurations and "
              f"1,000 queue items in {time.perf_counter() - start:.1f} s")
        cold, _rows = timed_reads(env, 3)
        print(f"  before VACUUM ANALYZE: {', '.join(f'{t:.0f}' for t in cold)} ms")
    import psycopg2

    # VACUUM runs outside a transaction, on a connection of its own.
    vacuum = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                              dbname=args.db)
    vacuum.autocommit = True
    vacuum.cursor().execute("VACUUM ANALYZE bj_api_log")
    vacuum.cursor().execute("VACUUM ANALYZE bj_api_outbox")
    vacuum.cursor().execute("VACUUM ANALYZE bj_api_log_rollup")
    vacuum.close()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute("SELECT count(*) FROM bj_api_log WHERE create_date >= "
                   "(now() AT TIME ZONE 'UTC') - interval '7 days'")
        window = cr.fetchone()[0]
        times, rows = timed_reads(env, REPEAT)
        print(f"Dashboard over {args.rows:,} log rows ({window:,} in the 7-day window), "
              f"{len(rows)} cards: median {statistics.median(times):.0f} ms "
              f"(runs: {', '.join(f'{t:.0f}' for t in times)}) (target < 200 ms)")
        busiest = max(rows, key=lambda r: r["requests_7d"])
        print(f"  e.g. {busiest['config_id'][1]}: 24 h {busiest['requests_24h']} requests, "
              f"{busiest['failures_24h']} failures, p95 {busiest['p95_24h']:.0f} ms; "
              f"7 d {busiest['requests_7d']} requests; backlog {busiest['pending_count']} + "
              f"{busiest['retrying_count']}")
        single_row_inserts(env, ids_of(env))
        times, _rows = timed_reads(env, REPEAT)
        print(f"  with the 5,000 rollup rows those inserts added, not yet compacted: median "
              f"{statistics.median(times):.0f} ms")
        start = time.perf_counter()
        remaining = env["bj.api.log.rollup"]._cron_compact()
        env.cr.commit()
        print(f"  compaction cron: {(time.perf_counter() - start) * 1000:.0f} ms "
              f"({remaining:,} rollup rows left)")
        times, _rows = timed_reads(env, REPEAT)
        print(f"  after compaction: median {statistics.median(times):.0f} ms")
        start = time.perf_counter()
        env["bj.api.log"].read_group([], ["duration_ms"], ["config_id"])
        print(f"  log pivot (average duration by configuration, all rows): "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")


def main():
    scratch_db.main(__doc__.split("\n")[0], "bj_api_sync_dash", run, rows=1_000_000)


if __name__ == "__main__":
    main()
