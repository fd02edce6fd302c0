"""Per configuration, hour (and day) and duration bucket: how many calls,
successes and failures.

The delivery dashboard reads its windows from these counts (some ten thousand
rows for 7 days, however many logs) instead of aggregating every log of the
window: whole days from the day rows, the hours around them from the hour rows.
PostgreSQL keeps them: statement triggers on ``bj_api_log`` add a row per
configuration, period and bucket that an INSERT, UPDATE or DELETE changed, for
the hour and for the day (a delta, positive or negative),
whatever wrote the logs (the ORM, bulk inserts, the purge, SQL). Plain inserts,
never an upsert: under Odoo's REPEATABLE READ an upsert on a row another worker
just changed would fail that worker's log write. The deltas of one key are
merged by a cron every few minutes; until then the dashboard sums them.
"""
import logging

from odoo import api, fields, models

from ..engine import duration_histogram

_logger = logging.getLogger(__name__)

# The windows reach 7 days back, into the day before the first whole one.
KEEP_DAYS = 8

# The calls the dashboard counts: no connection test, no run that sent nothing.
COUNTED = "config_id IS NOT NULL AND is_connection_test IS NOT TRUE AND state <> 'skipped'"

_DELTA = """
    SELECT config_id, span, date_trunc(span, create_date) AS period,
           bj_api_duration_bucket(duration_ms) AS bucket,
           {sign} AS requests,
           {sign} * (state = 'success')::integer AS successes,
           {sign} * (state IN ('failed', 'retrying'))::integer AS failures
      FROM {rows}, (VALUES ('hour'), ('day')) spans (span)
     WHERE {counted} AND create_date >= (now() AT TIME ZONE 'UTC') - interval '{keep} days'
"""

TRIGGER_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bj_api_log_rollup (config_id, span, period, bucket, requests, successes,
                                   failures)
    SELECT config_id, span, period, bucket, sum(requests), sum(successes), sum(failures)
      FROM ({deltas}) deltas
     GROUP BY config_id, span, period, bucket
    -- an update that changes nothing counted (retrying -> failed) adds no row
    HAVING sum(requests) <> 0 OR sum(successes) <> 0 OR sum(failures) <> 0;
    RETURN NULL;
END
$$
"""


def _deltas(operation):
    new = _DELTA.format(sign=1, rows="new_rows", counted=COUNTED, keep=KEEP_DAYS)
    old = _DELTA.format(sign=-1, rows="old_rows", counted=COUNTED, keep=KEEP_DAYS)
    return {"INSERT": new, "DELETE": old, "UPDATE": f"{new} UNION ALL {old}"}[operation]


# One function per operation: a trigger function can only name the transition
# tables its trigger declares.
FUNCTIONS = {op: f"bj_api_log_rollup_{op.lower()}" for op in ("INSERT", "UPDATE", "DELETE")}
TRANSITIONS = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
               "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}

# The statements init() runs for each operation, and the uninstall's; built
# from this module's constants only.
TRIGGER_STATEMENTS = [
    statement
    for operation, function in FUNCTIONS.items()
    for statement in (
        TRIGGER_FUNCTION_SQL.format(name=function, deltas=_deltas(operation)),
        f"DROP TRIGGER IF EXISTS {function} ON bj_api_log",
        f"CREATE TRIGGER {function} AFTER {operation} ON bj_api_log "
        f"REFERENCING {TRANSITIONS[operation]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    )
]
DROP_STATEMENTS = [
    statement
    for function in FUNCTIONS.values()
    for statement in (f"DROP TRIGGER IF EXISTS {function} ON bj_api_log",
                      f"DROP FUNCTION IF EXISTS {function}()")
] + [
    # CASCADE: the dashboard's view calls it, and goes too.
    "DROP FUNCTION IF EXISTS bj_api_duration_bucket(double precision) CASCADE",
]
BACKFILL_SQL = f"""
    INSERT INTO bj_api_log_rollup (config_id, span, period, bucket, requests, successes,
                                   failures)
    SELECT config_id, span, period, bucket, sum(requests), sum(successes), sum(failures)
      FROM ({_DELTA.format(sign=1, rows='bj_api_log', counted=COUNTED, keep=KEEP_DAYS)}) d
     GROUP BY config_id, span, period, bucket
"""  # noqa: S608

COMPACT_SQL = """
WITH keys AS (
    SELECT config_id, span, period, bucket FROM bj_api_log_rollup
     GROUP BY config_id, span, period, bucket HAVING count(*) > 1
), merged AS (
    DELETE FROM bj_api_log_rollup r USING keys k
     WHERE r.config_id = k.config_id AND r.span = k.span AND r.period = k.period
       AND r.bucket = k.bucket
 RETURNING r.config_id, r.span, r.period, r.bucket, r.requests, r.successes, r.failures
)
INSERT INTO bj_api_log_rollup (config_id, span, period, bucket, requests, successes, failures)
SELECT config_id, span, period, bucket, sum(requests), sum(successes), sum(failures)
  FROM merged GROUP BY config_id, span, period, bucket
HAVING sum(requests) <> 0 OR sum(successes) <> 0 OR sum(failures) <> 0
"""


class BjApiLogRollup(models.Model):
    """Counts of logged calls per configuration, hour or day, and duration bucket
    (kept 8 days)."""

    _name = "bj.api.log.rollup"
    _description = "BJ API Log Rollup"
    _log_access = False
    _order = "period desc, span, config_id, bucket"

    # A plain integer, not a Many2one: a configuration deleted while its logs
    # are detached must not fail on a foreign key; its rows age out.
    config_id = fields.Integer(required=True, readonly=True)
    span = fields.Selection([("hour", "Hour"), ("day", "Day")], required=True, readonly=True)
    period = fields.Datetime(required=True, readonly=True, help="Start of the hour or day (UTC).")
    bucket = fields.Integer(required=True, readonly=True,
                            help="Duration bucket: see engine/duration_histogram.py.")
    requests = fields.Integer(readonly=True)
    successes = fields.Integer(readonly=True)
    failures = fields.Integer(readonly=True)

    def init(self):
        """Create the bucket function, the triggers on the logs, the index the
        dashboard reads, and the counts of the logs already there (first install
        or upgrade)."""
        cr = self.env.cr
        cr.execute(duration_histogram.BUCKET_SQL)
        cr.execute("""
            CREATE INDEX IF NOT EXISTS bj_api_log_rollup_period_idx
                ON bj_api_log_rollup (span, period)
                INCLUDE (config_id, bucket, requests, successes, failures)
        """)
        for statement in TRIGGER_STATEMENTS:
            cr.execute(statement)
        cr.execute("SELECT 1 FROM bj_api_log_rollup LIMIT 1")
        if not cr.fetchone():
            # Logs committed by another worker during this upgrade, after its
            # snapshot and before the triggers, would be missed: a few at most.
            # The SQL is this module's constants.
            cr.execute(BACKFILL_SQL)

    @api.model
    def _cron_compact(self):
        """Merge the rows of each configuration, period and bucket into one, and
        drop the periods older than the dashboard reads; return how many rows remain."""
        cr = self.env.cr
        cr.execute("DELETE FROM bj_api_log_rollup WHERE period < "
                   "(now() AT TIME ZONE 'UTC') - interval '1 day' * %s", (KEEP_DAYS,))
        cr.execute(COMPACT_SQL)
        cr.execute("SELECT count(*) FROM bj_api_log_rollup")
        remaining = cr.fetchone()[0]
        self.env.invalidate_all()
        return remaining

    @api.model
    def _drop_database_objects(self):
        """Drop the triggers and functions :meth:`init` made (uninstall: Odoo
        drops the tables it knows, not these)."""
        for statement in DROP_STATEMENTS:
            self.env.cr.execute(statement)
