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
