-- dredge's queue on PostgreSQL, version 1. Run inside one transaction with
-- search_path set to dredge's schema, so every name below lives in it.

-- Gapless counters for item and run ids (a sequence would leave gaps where a
-- transaction rolled back, and item ids are "increasing in creation order" without
-- holes, as on sled). Fencing epochs and staging order may have gaps: sequences.
CREATE TABLE counters (
    name text COLLATE "C" PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('item', 1), ('run', 1);
CREATE SEQUENCE epochs;
CREATE SEQUENCE stage_order;

CREATE TABLE runs (
    id text COLLATE "C" PRIMARY KEY,
    job text COLLATE "C" NOT NULL,
    lane text COLLATE "C" NOT NULL,
    spec bytea NOT NULL,
    started_at bigint NOT NULL,
    deadline bigint,
    max_attempts integer NOT NULL,
    state text NOT NULL,
    finished_at bigint,
    reason text,
    -- Cancelled, and its file not yet cut back to the cursor (settle_cancelled).
    unsettled boolean NOT NULL DEFAULT false,
    -- Item counts, kept by the triggers below in the statement that changes a state.
    ready bigint NOT NULL DEFAULT 0,
    leased bigint NOT NULL DEFAULT 0,
    snoozed bigint NOT NULL DEFAULT 0,
    staged bigint NOT NULL DEFAULT 0,
    done bigint NOT NULL DEFAULT 0,
    dead bigint NOT NULL DEFAULT 0,
    -- The committed output cursor.
    cursor_bytes bigint NOT NULL DEFAULT 0,
    cursor_records bigint NOT NULL DEFAULT 0,
    -- Dedupe keys seen in the run (the cap of NewItem::cap counts them).
    distinct_keys bigint NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_job ON runs (job, id);
CREATE INDEX runs_running ON runs (id) WHERE state = 'running';

CREATE TABLE items (
    id bigint PRIMARY KEY,
    run text COLLATE "C" NOT NULL,
    lane text COLLATE "C" NOT NULL,
    label text NOT NULL,
    payload bytea NOT NULL,
    scope text COLLATE "C",
    attempts integer NOT NULL,
    polls integer NOT NULL DEFAULT 0,
    -- ready, snoozed, leased, staged, done or dead.
    state text NOT NULL,
    -- When a waiting item becomes due (ready: not_before; snoozed: until). Kept while
    -- leased: a reverted lease goes back to it.
    not_before bigint NOT NULL,
    -- Waiting, and its run running and its job not paused: in the lease index. Kept
    -- in step by every call that changes one of those; leasing checks the run too.
    leasable boolean NOT NULL,
    lease_until bigint,
    -- The last lease's fencing token and holder (kept after it ends: a reopen takes
    -- a kept lease again under its epoch).
    lease_epoch bigint,
    lease_node text,
    -- The waiting state a lease reverts to.
    was_state text,
    stage_seq bigint,
    dead_reason text,
    last_error text,
    note text
);
CREATE INDEX items_to_lease ON items (lane, not_before, id) WHERE leasable;
CREATE INDEX items_by_scope ON items (lane, scope) WHERE leasable AND scope IS NOT NULL;
CREATE INDEX items_by_run ON items (run, id);
CREATE INDEX items_leased ON items (lease_node) WHERE state = 'leased';
CREATE INDEX items_staged ON items (stage_seq) WHERE state = 'staged';
CREATE INDEX items_dead ON items (run, id) WHERE state = 'dead';

-- A staged item's records (bincode, as sled keeps them), until its commit.
CREATE TABLE records (
    item bigint PRIMARY KEY,
    records bytea NOT NULL
);

CREATE TABLE dedupe_keys (
    run text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    item bigint NOT NULL,
    PRIMARY KEY (run, key)
);

CREATE TABLE plan_cursors (
    run text COLLATE "C" PRIMARY KEY,
    input text NOT NULL,
    input_offset bigint NOT NULL,
    planned bigint NOT NULL,
    items_done bigint NOT NULL,
    total bigint NOT NULL
);

CREATE TABLE schedule_states (
    job text COLLATE "C" PRIMARY KEY,
    last_fire bigint,
    content_hash bigint,
    last_run text COLLATE "C"
);

CREATE TABLE paused_jobs (
    job text COLLATE "C" PRIMARY KEY
);

-- Whether a run's waiting items may be leased now.
CREATE FUNCTION run_leasable(run_id text) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT EXISTS (
        SELECT 1 FROM runs r
        WHERE r.id = run_id AND r.state = 'running'
          AND NOT EXISTS (SELECT 1 FROM paused_jobs p WHERE p.job = r.job)
    )
$$;

-- Run counts move in the statement that moves item states: one rule, in one place,
-- for every call. Statement triggers over transition tables: a bulk change costs one
-- update per run, not one per item.
CREATE FUNCTION add_counts(runs_changed text[], states text[], deltas bigint[]) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    UPDATE runs r SET
        ready = r.ready + d.ready, leased = r.leased + d.leased,
        snoozed = r.snoozed + d.snoozed, staged = r.staged + d.staged,
        done = r.done + d.done, dead = r.dead + d.dead
    FROM (
        SELECT run,
            coalesce(sum(n) FILTER (WHERE state = 'ready'), 0) AS ready,
            coalesce(sum(n) FILTER (WHERE state = 'leased'), 0) AS leased,
            coalesce(sum(n) FILTER (WHERE state = 'snoozed'), 0) AS snoozed,
            coalesce(sum(n) FILTER (WHERE state = 'staged'), 0) AS staged,
            coalesce(sum(n) FILTER (WHERE state = 'done'), 0) AS done,
            coalesce(sum(n) FILTER (WHERE state = 'dead'), 0) AS dead
        FROM unnest(runs_changed, states, deltas) AS c(run, state, n)
        GROUP BY run
    ) d
    WHERE r.id = d.run
      AND (d.ready, d.leased, d.snoozed, d.staged, d.done, d.dead) <> (0, 0, 0, 0, 0, 0)
$$;

CREATE FUNCTION count_inserted_items() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM add_counts(array_agg(run), array_agg(state), array_agg(1::bigint)) FROM new_items;
    RETURN NULL;
END
$$;

CREATE FUNCTION count_updated_items() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM add_counts(array_agg(run), array_agg(state), array_agg(n))
    FROM (
        SELECT run, state, 1::bigint AS n FROM new_items
        UNION ALL
        SELECT run, state, -1::bigint FROM old_items
    ) c;
    RETURN NULL;
END
$$;

-- Deleting (pruning a finished run) leaves counts as they were, as on sled.
CREATE TRIGGER items_counted_on_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_items();
CREATE TRIGGER items_counted_on_update AFTER UPDATE ON items
    REFERENCING OLD TABLE AS old_items NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION count_updated_items();
