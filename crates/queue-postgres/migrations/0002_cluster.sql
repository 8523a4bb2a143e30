-- dredge's queue on PostgreSQL, version 2: several daemons on one schema (issue 20).
-- Run inside one transaction with search_path set to dredge's schema.

-- The daemons sharing this schema. Each one upserts its row every heartbeat; a row
-- whose `expires_at` has passed is a daemon that died or was cut off. Limits are
-- shared among the live rows; `dredge status` lists them.
CREATE TABLE nodes (
    node text COLLATE "C" PRIMARY KEY,
    host text NOT NULL,
    pid bigint NOT NULL,
    started_at bigint NOT NULL,
    heartbeat_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

-- Which node writes a run's file now (the holder of the run's advisory lock), and a
-- fencing token that grows at each take-over: a commit of written items by a writer
-- whose token is older is refused.
ALTER TABLE runs ADD COLUMN writer_node text;
ALTER TABLE runs ADD COLUMN writer_epoch bigint NOT NULL DEFAULT 0;

-- Records are kept after their commit, so `dredge export` can write a run's file again
-- and a writer on another machine can rebuild a file it cannot see. `first_seq` is the
-- output sequence number of the item's first record, set by the commit that wrote it
-- (NULL while staged).
ALTER TABLE records ADD COLUMN run text COLLATE "C";
ALTER TABLE records ADD COLUMN first_seq bigint;
UPDATE records r SET run = i.run FROM items i WHERE i.id = r.item;
ALTER TABLE records ALTER COLUMN run SET NOT NULL;
CREATE INDEX records_by_run ON records (run, first_seq);
CREATE INDEX items_staged_by_run ON items (run, stage_seq) WHERE state = 'staged';
-- How many records a staged item holds: the commit that writes it numbers them.
ALTER TABLE records ADD COLUMN n_records bigint NOT NULL DEFAULT 0;

-- Wake-ups (LISTEN/NOTIFY), so that idle daemons wait instead of polling: a statement
-- that leaves items waiting wakes their lanes on every daemon, one that stages items
-- wakes the writer of their run, a new run wakes every writer (someone must take it).
-- Notifications are sent at commit, and only then: a woken daemon sees the change.
-- The channel is derived from the schema (a channel name is at most 63 bytes).
CREATE FUNCTION notify_channel() RETURNS text
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT 'dredge_' || substr(md5(current_schema()), 1, 16)
$$;

CREATE FUNCTION notify_items() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify(notify_channel(), 'lane ' || lane)
    FROM (SELECT DISTINCT lane FROM new_items WHERE state IN ('ready', 'snoozed')) l;
    PERFORM pg_notify(notify_channel(), 'staged ' || run)
    FROM (SELECT DISTINCT run FROM new_items WHERE state = 'staged') r;
    RETURN NULL;
END
$$;

CREATE TRIGGER items_notify_on_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION notify_items();
CREATE TRIGGER items_notify_on_update AFTER UPDATE ON items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION notify_items();

CREATE FUNCTION notify_runs() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify(notify_channel(), 'runs');
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_notify_on_insert AFTER INSERT ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION notify_runs();
-- A run ended (or was resumed) elsewhere: its writer lets it go, or takes it again.
CREATE TRIGGER runs_notify_on_state AFTER UPDATE OF state ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION notify_runs();
