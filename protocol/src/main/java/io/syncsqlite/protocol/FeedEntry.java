package io.syncsqlite.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Objects;

/**
 * The state of one row after one PostgreSQL commit, as the relay streams it to clients.
 *
 * @param seq   the commit's position in the relay's commit-ordered log (0 inside a snapshot)
 * @param table table name as PostgreSQL knows it (lower case unless quoted there)
 * @param kind  the row exists with {@code row} (UPSERT) or no longer exists (DELETE)
 * @param pk    primary key columns and values
 * @param row   the full row for UPSERT, {@code null} for DELETE; values as in {@link RowChange}
 * @param hlc   the newest column timestamp of the row, which receivers fold into their clocks
 */
public record FeedEntry(long seq, String table, FeedKind kind, ObjectNode pk, ObjectNode row, long hlc) {
    public FeedEntry {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(pk, "pk");
        if (kind == FeedKind.UPSERT) {
            Objects.requireNonNull(row, "row of an UPSERT");
        }
    }
}
