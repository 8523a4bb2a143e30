-- dredge's queue on PostgreSQL, version 3: account stops seen by every daemon (issue 20).
-- Run inside one transaction with search_path set to dredge's schema.

-- An account a daemon stopped (`auth_failed`, `account_suspended`: the vendor refused
-- its credentials or suspended it). The daemon that met the stop re-asserts its row at
-- every heartbeat while its lane stays stopped, and removes it once its config for the
-- account changes; the other daemons stop their lane for the account when they read a
-- row that has not expired (a daemon that died stops asserting, and its rows lapse),
-- unless the stop was met (`since`) before their own config for the account last
-- changed or before they started.
CREATE TABLE account_stops (
    account text COLLATE "C" NOT NULL,
    node text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    reason text NOT NULL,
    since bigint NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (account, node)
);
