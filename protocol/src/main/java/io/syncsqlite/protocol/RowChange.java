package io.syncsqlite.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Objects;

/**
 * One captured change to one row of a synced table, sent from a client to the relay.
 *
 * @param table  table name as the client knows it (matched case-insensitively by the relay)
 * @param kind   insert, update or delete
 * @param pk     primary key columns and their values
 * @param values for INSERT every column, for UPDATE the changed columns, for DELETE empty. Values are
 *               JSON scalars; a BLOB travels as a string {@code "\\x<hex>"} (PostgreSQL's bytea text
 *               form), which only columns declared as blobs interpret as bytes.
 * @param deltas counter columns and the amount the statement added to each ({@code SET c = c + ?}, or an
 *               upsert whose {@code DO UPDATE} adds {@code excluded.c}); empty for plain writes. The
 *               relay adds these amounts instead of overwriting, so concurrent increments add up.
 */
public record RowChange(String table, ChangeKind kind, ObjectNode pk, ObjectNode values, ObjectNode deltas) {
    public RowChange {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(pk, "pk");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(deltas, "deltas");
        deltas.properties().forEach(e -> {
            if (!e.getValue().isNumber()) {
                throw new IllegalArgumentException("delta of " + e.getKey() + " is not a number");
            }
        });
    }

    /** A plain (last-writer-wins) change. */
    public RowChange(String table, ChangeKind kind, ObjectNode pk, ObjectNode values) {
        this(table, kind, pk, values, MessageCodec.JSON.createObjectNode());
    }
}
