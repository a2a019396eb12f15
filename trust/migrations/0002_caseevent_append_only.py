"""The case audit log is append-only in the database too: UPDATE and DELETE of a
`trust_caseevent` row raise, whatever path issues them (TRUNCATE, used by test
teardown, is not a row operation and is unaffected)."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION trust_caseevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'trust_caseevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trust_caseevent_append_only
    BEFORE UPDATE OR DELETE ON trust_caseevent
    FOR EACH ROW EXECUTE FUNCTION trust_caseevent_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS trust_caseevent_append_only ON trust_caseevent;
DROP FUNCTION IF EXISTS trust_caseevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("trust", "0001_cases_appeals_audit_log")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
