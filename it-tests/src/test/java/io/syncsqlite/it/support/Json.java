package io.syncsqlite.it.support;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.RowChange;

import java.util.List;

/**
 * Short builders for protocol values in tests.
 *
 * <p>Thread-safe: stateless.
 */
public final class Json {

    private Json() {
    }

    /** {@code obj("id", 1, "name", "a")}: an object from key/value pairs (String, Number, Boolean or null). */
    public static ObjectNode obj(Object... keyValues) {
        if (keyValues.length % 2 != 0) {
            throw new IllegalArgumentException("key/value pairs expected");
        }
        ObjectNode o = MessageCodec.JSON.createObjectNode();
        for (int i = 0; i < keyValues.length; i += 2) {
            o.set((String) keyValues[i], MessageCodec.JSON.valueToTree(keyValues[i + 1]));
        }
        return o;
    }

    public static RowChange insert(String table, ObjectNode pk, ObjectNode values) {
        return new RowChange(table, ChangeKind.INSERT, pk, values);
    }

    public static RowChange update(String table, ObjectNode pk, ObjectNode values) {
        return new RowChange(table, ChangeKind.UPDATE, pk, values);
    }

    public static RowChange delete(String table, ObjectNode pk) {
        return new RowChange(table, ChangeKind.DELETE, pk, obj());
    }

    public static ClientTx tx(long id, long hlc, RowChange... changes) {
        return new ClientTx(id, hlc, List.of(changes));
    }
}
