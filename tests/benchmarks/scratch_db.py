"""The scratch database of a benchmark: Odoo's options, creation and removal."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def odoo_args(args):
    """Return the Odoo options of a benchmark run (no HTTP port: callers choose)."""
    import odoo

    addons = os.path.join(os.path.dirname(odoo.__file__), "addons")
    return [
        f"--db_host={args.db_host}", f"--db_port={args.db_port}", f"--db_user={args.db_user}",
        f"--addons-path={addons},{ROOT}", "--without-demo=all", "--log-level=warn",
        "--max-cron-threads=0",
    ]


def create_database(args):
    """Create ``args.db`` with bj_api_sync installed."""
    cmd = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", *odoo_args(args),
           "-d", args.db, "-i", "bj_api_sync", "--stop-after-init", "--http-port=0"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def drop_database(args):
    """Drop ``args.db`` (no other connection may be open on it)."""
    import psycopg2

    conn = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                            dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{args.db}"')
    conn.close()


def main(description, prefix, run, rows):
    """Parse a benchmark's options (``--db``, ``--keep-db``, ``--rows``, the
    database's host, port and user), create its scratch database, ``run(args)``
    and drop the database afterwards (unless ``--keep-db``)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", default=f"{prefix}_{os.getpid()}")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--db-host", default=os.environ.get("DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", default=os.environ.get("DB_PORT", "5432"))
    parser.add_argument("--db-user", default=os.environ.get("DB_USER", "odoo"))
    args = parser.parse_args()
    print(f"Creating database {args.db} with bj_api_sync installed...")
    create_database(args)
    try:
        run(args)
    finally:
        if not args.keep_db:
            import odoo

            odoo.sql_db.close_all()
            drop_database(args)
