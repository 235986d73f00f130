package io.syncsqlite.relay.apply;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.relay.schema.TableInfo;

/**
 * One validated row change: names resolved to PostgreSQL's, values ready for {@code jsonb_populate_record}.
 *
 * @param pk     primary key values, keys in primary key order
 * @param values the non-key, writable columns the client sent, in table order (empty for DELETE)
 * @param pkJson {@code pk} as JSON text
 * @param deltas counter columns and the amounts to add (not set), for non-key numeric columns
 *
 * <p>Immutable once built; thread-safe.
 */
record Op(TableInfo table, ChangeKind kind, ObjectNode pk, ObjectNode values, String pkJson, ObjectNode deltas) {
}
