package io.syncsqlite.driver.sync;

import io.syncsqlite.protocol.RowChange;

import java.util.List;

/**
 * A local transaction that PostgreSQL refused. It has been reverted in the local file (its rows show the
 * server's values again); later local transactions were kept and still sync.
 *
 * @param tx       the transaction's id (the {@code seq} of its last outbox row)
 * @param sqlState PostgreSQL's SQLState (23505 unique violation, 23503 foreign key, 42501 permission...)
 * @param reason   PostgreSQL's message
 * @param changes  the row changes that were refused, as captured
 */
public record Rejection(long tx, String sqlState, String reason, List<RowChange> changes) {
    public Rejection {
        changes = List.copyOf(changes);
    }
}
