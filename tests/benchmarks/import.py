"""Import (Pull) benchmark: prints throughput and memory figures, asserts nothing.

Run with a Python that imports Odoo 17, PostgreSQL reachable (see README):

    python3 tests/benchmarks/import.py                  # scratch database, dropped after
    python3 tests/benchmarks/import.py --records 2000 --memory-items 20000   # quicker
    python3 tests/benchmarks/import.py --profile        # and one import run under cProfile

It creates a scratch database with bj_api_sync, an internal user ("Bench API",
partner manager) with an Odoo API key, and starts a paged API on 127.0.0.1 in
its own process (paged_api.py: ``GET /people/<tag>/<N>?page=k&per_page=100``
answers ``{"records": [{"name", "mail", "phone"}, ...]}``). Each phase runs in a
fresh process:

  1. ``config._run_import()`` of N new items, 100 per page (a GET
     config, ``response_action='import'``, page-number pagination, lines
     name, mail -> email as the Record Identifier, phone; Run As User the bench
     user), wall time of the call, records checked in the database after;
  2. Odoo started (threaded, ``--workers 0``) on a free port of 127.0.0.1
     against the same database; the same records (same three fields)
     created through ``/jsonrpc`` ``execute_kw`` ``create`` calls, one record
     each (keep-alive ``requests.Session``, API key as password), and through
     ``POST /api/sync/v1/<endpoint>/batch`` with 1,000 ``create`` operations
     per call (``transaction: true``, an inbound config with the same lines
     but no Record Identifier: the batch's fastest path, consecutive creates
     in one ``create()``); for information also one call with mail as Record
     Identifier (the batch then upserts: one lookup and create per operation).

  The import, the batch and a share of the /jsonrpc calls run in turn
  ``--repeat`` times (default 3), so that the machine's drift hits them
  alike; the import's and the batch's median runs are kept, the /jsonrpc
  rate is over all its calls (``--rpc-records``, default N: at ~15 calls/s
  that is ~11 minutes; a smaller sample gives the same rate).

  3. memory: peak RSS growth (``resource.getrusage().ru_maxrss``, the
     process's high-water mark, before and after the call) of a fresh process
     importing M items over M/100 pages; the RSS of the process is also
     sampled (from /proc/self/statm) after pages 1, 10%, 50% and the last one.

Each measurement gets its own set of items (a tag in the names and addresses),
so every record is new. One warm-up of each path (100 records through the
import, one jsonrpc create, a batch of 10) runs before its measurement.

Targets of issue #10 (reported, not asserted): import records/s at least 10x
the /jsonrpc loop's; import time at most 1.5x the batch API's; memory growth
under 50 MB for 100,000 items over 1,000 pages.
"""

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import socket
import subprocess
import sys
import time
import uuid

from scratch_db import create_database, drop_database, odoo_args

HERE = os.path.dirname(os.path.abspath(__file__))
PER_PAGE = 100
BATCH_SIZE = 1000
LOGIN = "bench_api"
ENDPOINT = "bench.people"          # inbound config, no Record Identifier
ENDPOINT_UPSERT = "bench.people.upsert"  # inbound config, mail as Record Identifier
# external key -> field, the same in the three paths
LINES = [("name", "name"), ("mail", "email"), ("phone", "phone")]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_odoo(args):
    import odoo

    odoo.tools.config.parse_config(odoo_args(args) + [f"--database={args.db}",
                                                      "--http-port=0"])
    logging.getLogger("odoo").setLevel(logging.WARNING)
    return odoo.registry(args.db)


def wait_http(url, proc, what, seconds=120):
    """Wait until ``url`` answers; stop ``proc`` and fail when it does not in time."""
    import requests

    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            # The first request of a fresh Odoo loads the registry: several seconds.
            requests.get(url, timeout=30)
            return
        except requests.RequestException:
            time.sleep(0.2)
    proc.terminate()
    proc.wait(30)
    raise SystemExit(f"{what} did not start")


class PagedApi:
    """paged_api.py in its own process, as an external API is."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "paged_api.py"), "--port", str(self.port)],
            stdout=subprocess.DEVNULL)
        wait_http(self.url + "/__stats", self.proc, "the paged API", 20)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)

    def stats(self):
        import requests

        return requests.get(self.url + "/__stats", timeout=5).json()

    def clear(self):
        import requests

        requests.get(self.url + "/__clear", timeout=5)


def add_lines(env, config, identifier):
    env["bj.api.sync.config.line"].create([
        {"config_id": config.id, "external_key": key,
         "field_id": env["ir.model.fields"]._get("res.partner", field).id,
         "is_identifier": identifier and key == "mail"}
        for key, field in LINES])


def bench_user(env):
    return env["res.users"].search([("login", "=", LOGIN)], limit=1)


def make_import(env, url, total, name):
    """An import config reading ``total`` items from ``url``, 100 per page."""
    config = env["bj.api.sync.config"].create({
        "name": name, "request_type": "out",
        "model_id": env["ir.model"]._get("res.partner").id,
        "url": url, "http_method_ids": [(6, 0, env.ref("bj_api_sync.http_method_get").ids)],
        "response_action": "import", "import_items_path": "records",
        "import_pagination": "page", "page_size": PER_PAGE,
        # One more than the full pages: the API's last (short or empty) page ends the run.
        "import_max_pages": total // PER_PAGE + 1,
        "user_id": bench_user(env).id,
    })
    add_lines(env, config, identifier=True)
    env.cr.commit()
    return config


def count_tag(cr, tag):
    cr.execute("SELECT count(*) FROM res_partner WHERE email LIKE %s", (f"{tag}%@bench.example",))
    return cr.fetchone()[0]


def new_tag(kind):
    return f"{kind}{uuid.uuid4().hex[:6]}"


def emit(name, **values):
    """Hand a phase's figures to the parent process (one JSON line)."""
    print("BENCH " + json.dumps({"name": name, **values}), flush=True)


# ------------------------------------------------------------------ phases
def phase_setup(args):
    """The bench user with an API key, and the two inbound configs."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        user = bench_user(env) or env["res.users"].create({
            "name": "Bench API", "login": LOGIN,
            "groups_id": [(6, 0, [env.ref("base.group_user").id,
                                  env.ref("base.group_partner_manager").id])],
        })
        key = env["res.users.apikeys"].with_user(user)._generate(None, "bench")
        Config = env["bj.api.sync.config"].with_context(active_test=False)
        for endpoint, identifier in ((ENDPOINT, False), (ENDPOINT_UPSERT, True)):
            if Config.search([("endpoint", "=", endpoint)]):
                continue
            config = Config.create({
                "name": f"Bench {endpoint}", "request_type": "in", "endpoint": endpoint,
                "model_id": env["ir.model"]._get("res.partner").id,
                "http_method_ids": [(6, 0, env["bj.http.method"].search([]).ids)],
                "auth_type": "bearer", "user_id": user.id,
                "rate_limit_per_minute": 0, "rate_limit_per_hour": 0,
            })
            add_lines(env, config, identifier)
        cr.commit()
    emit("setup", key=key)


def warm_up(env, paged):
    """Import one page of new items and commit, so that the measured run is warm."""
    make_import(env, f"{paged.url}/people/{new_tag('warm')}/{PER_PAGE}", PER_PAGE,
                "Bench warm-up")._run_import()
    env.cr.commit()


def phase_import(args):
    """``_run_import()`` of ``args.records`` new items; optionally profiled."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api

    with PagedApi() as paged, registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        warm_up(env, paged)
        tag = new_tag("imp")
        config = make_import(env, f"{paged.url}/people/{tag}/{args.records}", args.records,
                             "Bench import")
        env.invalidate_all()
        paged.clear()
        profiler = cProfile.Profile() if args.profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = config._run_import()
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
        cr.commit()
        stats = paged.stats()
        found = count_tag(cr, tag)
        emit("import", seconds=seconds, records=args.records, found=found,
             created=result["created"], updated=result["updated"], failed=result["failed"],
             pages=result["pages"], error=result["error"], served=stats["items"],
             requests=stats["pages"], profiled=bool(profiler))
        if profiler and args.profile_out:
            profiler.dump_stats(args.profile_out)
        if profiler:
            for sort in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(args.profile_top)
                print(f"--- cProfile of _run_import(), by {sort} ---")
                print(out.getvalue())


def start_server(args, port):
    """Odoo in threaded mode on 127.0.0.1:port against the benchmark's database."""
    cmd = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", *odoo_args(args),
           "-d", args.db, f"--db-filter=^{args.db}$", f"--http-port={port}",
           "--http-interface=127.0.0.1", "--gevent-port=0", "--workers=0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/web/login", proc, "the Odoo server")
    except BaseException:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        raise
    return proc


def generated(tag, count):
    """The ``count`` items the paged API serves under ``tag``, in order."""
    from paged_api import page_items  # noqa: PLC0415 - the very same generator

    return [item for page in range(1, count // PER_PAGE + 2)
            for item in page_items(tag, count, page, PER_PAGE)]


def db_count(args, tag):
    import psycopg2

    conn = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                            dbname=args.db)
    try:
        with conn.cursor() as cur:
            return count_tag(cur, tag)
    finally:
        conn.close()


def phase_rpc(args):
    """The records created through one ``/jsonrpc`` ``execute_kw`` call each."""
    import requests

    rpc = requests.Session()  # keep-alive

    def jsonrpc(service, method, params):
        body = rpc.post(f"{args.url}/jsonrpc", json={
            "jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": service, "method": method, "args": params}},
            timeout=120).json()
        if "error" in body:
            raise RuntimeError(json.dumps(body["error"])[:500])
        return body["result"]

    uid = jsonrpc("common", "authenticate", [args.db, LOGIN, args.key, {}])
    if not uid:
        raise SystemExit("the API key did not authenticate on /jsonrpc")

    def create(values):
        return jsonrpc("object", "execute_kw",
                       [args.db, uid, args.key, "res.partner", "create", [values]])

    create({"name": "warm-up", "email": "warm@bench.example"})
    tag = new_tag("rpc")
    # The items the paged API serves, as /jsonrpc takes them (field names).
    rows = [{"name": i["name"], "email": i["mail"], "phone": i["phone"]}
            for i in generated(tag, args.rpc_records)]
    start = time.perf_counter()
    for values in rows:
        create(values)
    seconds = time.perf_counter() - start
    emit("jsonrpc", seconds=seconds, records=len(rows), found=db_count(args, tag))


def phase_batch(args):
    """The records created through ``POST /api/sync/v1/<endpoint>/batch``, 1,000 per call."""
    import requests

    api = requests.Session()
    api.headers.update({"Authorization": f"Bearer {args.key}",
                        "Content-Type": "application/json"})
    endpoint = ENDPOINT_UPSERT if args.upsert else ENDPOINT

    def batch(items):
        body = {"operations": [{"method": "create", "data": item} for item in items],
                "options": {"transaction": True}}
        response = api.post(f"{args.url}/api/sync/v1/{endpoint}/batch",
                            data=json.dumps(body), timeout=900)
        if response.status_code != 200:
            raise RuntimeError(f"batch: {response.status_code} {response.text[:300]}")
        return response.json()["summary"]["succeeded"]

    batch(generated(new_tag("warm"), 10))
    tag = new_tag("bat")
    items = generated(tag, args.upsert_records if args.upsert else args.records)
    bodies = [items[i:i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
    start = time.perf_counter()
    succeeded = sum(batch(chunk) for chunk in bodies)
    seconds = time.perf_counter() - start
    emit("batch_upsert" if args.upsert else "batch", seconds=seconds, records=len(items),
         found=db_count(args, tag), calls=len(bodies), succeeded=succeeded)


def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def phase_memory(args):
    """Peak RSS growth of a fresh process importing ``args.memory_items`` items."""
    registry = setup_odoo(args)
    from odoo import SUPERUSER_ID, api
    from odoo.addons.bj_api_sync.services import importer

    with PagedApi() as paged, registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        warm_up(env, paged)
        tag = new_tag("mem")
        total = args.memory_items
        config = make_import(env, f"{paged.url}/people/{tag}/{total}", total, "Bench memory")
        pages = -(-total // PER_PAGE)
        marks = {1, max(1, pages // 10), max(1, pages // 2), pages}
        samples = []
        original = importer.ImportRun._import_page
        done = [0]

        def sampled(self, items):
            # Benchmark-only wrap: the RSS after each page in ``marks``.
            result = original(self, items)
            done[0] += 1
            if done[0] in marks:
                samples.append((done[0], rss_mb()))
            return result

        importer.ImportRun._import_page = sampled
        env.invalidate_all()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rss_before = rss_mb()
        start = time.perf_counter()
        try:
            result = config._run_import()
        finally:
            importer.ImportRun._import_page = original
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cr.commit()
        emit("memory", growth_mb=(after - before) / 1024, peak_before_mb=before / 1024,
             rss_before_mb=rss_before, samples=samples, seconds=seconds, records=total,
             created=result["created"], failed=result["failed"], pages=result["pages"],
             error=result["error"], found=count_tag(cr, tag))


# ------------------------------------------------------------------ parent
def run_phase(base, phase, extra=()):
    out = subprocess.run([*base, "--phase", phase, *extra], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise SystemExit(f"phase {phase} failed ({out.returncode}):\n{out.stdout[-3000:]}\n"
                         f"{out.stderr[-5000:]}")
    figures = {}
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            data = json.loads(line[6:])
            figures[data.pop("name")] = data
        else:
            print(line)
    if not figures:
        raise SystemExit(f"phase {phase} gave no figures:\n{out.stdout[-3000:]}\n"
                         f"{out.stderr[-3000:]}")
    return figures


def rate(figure):
    return figure["records"] / figure["seconds"]


def median_of(runs):
    """The run of median time among ``runs`` (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda f: f["seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["all_seconds"] = [f["seconds"] for f in runs]
    return chosen


def report(fig, args):
    imp, rpc, bat, ups, mem = (fig["import"], fig["jsonrpc"], fig["batch"],
                               fig["batch_upsert"], fig["memory"])
    print(f"\nImport benchmark, {args.records:,} records (name, mail -> email, phone), "
          f"{PER_PAGE} items per page, batch {BATCH_SIZE} operations per call; "
          f"import and batch in turn {args.repeat} time(s), medians kept")
    print(f"{'path':<58}{'seconds':>9}{'records/s':>11}  check")

    def row(label, f, check):
        spread = ""
        if len(f.get("all_seconds", [])) > 1:
            spread = " [runs: " + ", ".join(f"{t:.1f}" for t in f["all_seconds"]) + " s]"
        print(f"{label:<58}{f['seconds']:>9.2f}{rate(f):>11,.1f}  {check}{spread}")

    row("_run_import(), paged API on 127.0.0.1", imp,
        f"{imp['created']} created, {imp['failed']} failed, {imp['pages']} pages, "
        f"{imp['found']} in db, error {imp['error']}{' (profiled)' if imp['profiled'] else ''}")
    row(f"/jsonrpc execute_kw create, {rpc['records']:,} calls", rpc,
        f"{rpc['found']} in db [per turn: "
        + ", ".join(f"{r:.1f}" for r in rpc.get("rates", [])) + " records/s]")
    row(f"/api/sync/v1 batch, {bat['calls']} calls (no identifier)", bat,
        f"{bat['succeeded']} succeeded, {bat['found']} in db")
    row(f"/api/sync/v1 batch, {ups['calls']} call(s) (mail identifier: upserts)", ups,
        f"{ups['succeeded']} succeeded, {ups['found']} in db")
    speedup = rate(imp) / rate(rpc)
    vs_batch = imp["seconds"] / bat["seconds"]
    vs_upsert = (imp["seconds"] / imp["records"]) / (ups["seconds"] / ups["records"])

    def verdict(ok):
        return "met" if ok else "MISSED"

    print(f"\nimport vs /jsonrpc loop: {speedup:.1f}x the records/s (target >= 10x: "
          f"{verdict(speedup >= 10)})")
    print(f"import vs batch API: {vs_batch:.2f}x the time (target <= 1.5x: "
          f"{verdict(vs_batch <= 1.5)}); per record vs the upserting batch: {vs_upsert:.2f}x")
    if mem is None:
        print("memory: skipped (--skip-memory)")
        return
    samples = ", ".join(f"page {p}: {mb:.0f} MB" for p, mb in mem["samples"])
    print(f"memory, {mem['records']:,} items over {mem['pages']} pages (the last one, short "
          f"or empty, ends the run): peak RSS growth "
          f"{mem['growth_mb']:.1f} MB (ru_maxrss; target < 50 MB: "
          f"{verdict(mem['growth_mb'] < 50)}); RSS {mem['rss_before_mb']:.0f} MB before, "
          f"{samples}; {rate(mem):,.1f} records/s ({mem['seconds']:.1f} s), "
          f"{mem['created']} created, {mem['failed']} failed, {mem['found']} in db, "
          f"error {mem['error']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=f"bjibench_{os.getpid()}")
    parser.add_argument("--existing-db", action="store_true",
                        help="use --db as it is (bj_api_sync installed) instead of creating it")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--records", type=int, default=10_000,
                        help="records of the import and of the batch API")
    parser.add_argument("--rpc-records", type=int,
                        help="records created through /jsonrpc, spread over the turns "
                        "(default: --records)")
    parser.add_argument("--upsert-records", type=int, default=BATCH_SIZE,
                        help="records of the (informational) upserting batch")
    parser.add_argument("--memory-items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="turns of import, batch and a share of the /jsonrpc calls; the "
                        "import's and the batch's medians are kept")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="profile one more import run with cProfile and print its top "
                        "functions (that run is not counted)")
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--profile-out", help="with --profile: also write the pstats file here")
    parser.add_argument("--db-host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", default=os.environ.get("DB_PORT", "5432"))
    parser.add_argument("--db-user", default=os.environ.get("DB_USER", "odoo"))
    # Set by the parent for the phases that talk to its Odoo server.
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--upsert", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="all",
                        choices=["all", "setup", "import", "rpc", "batch", "memory"])
    args = parser.parse_args()
    if args.rpc_records is None:
        args.rpc_records = args.records

    if args.phase != "all":
        {"setup": phase_setup, "import": phase_import, "rpc": phase_rpc, "batch": phase_batch,
         "memory": phase_memory}[args.phase](args)
        return
    if not args.existing_db:
        print(f"Creating database {args.db} with bj_api_sync installed...", flush=True)
        create_database(args)
    server = None
    try:
        # Each phase in a fresh process, so that one's memory does not hide another's.
        base = [sys.executable, os.path.abspath(__file__), "--db", args.db,
                "--records", str(args.records), "--rpc-records", str(args.rpc_records),
                "--upsert-records", str(args.upsert_records),
                "--memory-items", str(args.memory_items),
                "--profile-top", str(args.profile_top), "--db-host", args.db_host,
                "--db-port", str(args.db_port), "--db-user", args.db_user]
        key = run_phase(base, "setup")["setup"]["key"]
        port = free_port()
        print(f"Odoo (threaded) on 127.0.0.1:{port} ...", flush=True)
        server = start_server(args, port)
        http = ["--url", f"http://127.0.0.1:{port}", "--key", key]
        runs = {"import": [], "batch": [], "jsonrpc": []}
        # The /jsonrpc calls are spread over the turns.
        shares = [args.rpc_records // args.repeat + (t < args.rpc_records % args.repeat)
                  for t in range(args.repeat)]
        for turn in range(1, args.repeat + 1):
            # The three paths in turn, so that the machine's drift hits them alike.
            print(f"turn {turn}/{args.repeat}: import ...", flush=True)
            runs["import"].append(run_phase(base, "import")["import"])
            print(f"turn {turn}/{args.repeat}: batch API ...", flush=True)
            runs["batch"].append(run_phase(base, "batch", http)["batch"])
            print(f"turn {turn}/{args.repeat}: /jsonrpc, {shares[turn - 1]:,} create calls ...",
                  flush=True)
            runs["jsonrpc"].append(run_phase(base, "rpc", [*http, "--rpc-records",
                                                           str(shares[turn - 1])])["jsonrpc"])
        rpc = runs.pop("jsonrpc")
        figures = {name: median_of(found) for name, found in runs.items()}
        # The calls of every turn together: one rate over all of them.
        figures["jsonrpc"] = {"seconds": sum(f["seconds"] for f in rpc),
                              "records": sum(f["records"] for f in rpc),
                              "found": sum(f["found"] for f in rpc),
                              "rates": [rate(f) for f in rpc]}
        print("batch API with a Record Identifier ...", flush=True)
        figures.update(run_phase(base, "batch", [*http, "--upsert"]))
        server.terminate()
        server.wait(30)
        server = None
        if args.profile:
            print("import under cProfile ...", flush=True)
            profile = ["--profile"]
            if args.profile_out:
                profile += ["--profile-out", os.path.abspath(args.profile_out)]
            run_phase(base, "import", profile)
        if args.skip_memory:
            figures["memory"] = None
        else:
            print(f"memory: {args.memory_items:,} items ...", flush=True)
            figures.update(run_phase(base, "memory"))
        report(figures, args)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if not (args.keep_db or args.existing_db):
            drop_database(args)


if __name__ == "__main__":
    main()
