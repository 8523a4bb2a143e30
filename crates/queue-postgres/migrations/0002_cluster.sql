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
