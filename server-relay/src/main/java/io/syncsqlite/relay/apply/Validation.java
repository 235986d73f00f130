package io.syncsqlite.relay.apply;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.protocol.RowChange;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.ColumnInfo;
import io.syncsqlite.relay.schema.TableInfo;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Resolves a client transaction's table and column names against the catalog, so that only names read
 * from PostgreSQL's catalog ever reach SQL text, and prepares values for PostgreSQL.
 *
 * <p>Thread-safe: stateless.
 */
final class Validation {

    private Validation() {
    }

    static List<Op> validate(Catalog catalog, ClientTx tx) throws InvalidChange {
        List<Op> ops = new ArrayList<>(tx.changes().size());
        for (RowChange change : tx.changes()) {
            ops.add(validate(catalog, change));
        }
        return ops;
    }

    /**
     * The rows a refused transaction names that the relay can address: one DELETE-shaped op (key only) per
     * change whose table and key are valid, whatever its values; the rest are skipped.
     */
    static List<Op> addressable(Catalog catalog, ClientTx tx) {
        List<Op> ops = new ArrayList<>(tx.changes().size());
        for (RowChange change : tx.changes()) {
            try {
                ops.add(validate(catalog, new RowChange(change.table(), ChangeKind.DELETE, change.pk(),
                        MessageCodec.JSON.createObjectNode())));
            } catch (InvalidChange e) {
                // a table or key the relay cannot name: no row of it to revert to
            }
        }
        return ops;
    }

    private static Op validate(Catalog catalog, RowChange change) throws InvalidChange {
        TableInfo table = catalog.table(change.table());
        if (table == null) {
            throw new InvalidChange("42P01", "table " + change.table() + " is not synced by this relay");
        }
        Map<String, JsonNode> pkValues = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = change.pk().properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            ColumnInfo col = column(table, f.getKey());
            if (!col.primaryKey()) {
                throw new InvalidChange("42703", "column " + col.name() + " is not part of the primary key of "
                        + table.name());
            }
            if (f.getValue() == null || f.getValue().isNull() || f.getValue().isContainerNode()) {
                throw new InvalidChange("42703", "primary key column " + col.name() + " of " + table.name()
                        + " needs a scalar value");
            }
            pkValues.put(col.name(), convert(col, f.getValue()));
        }
        if (pkValues.size() != table.primaryKey().size()) {
            throw new InvalidChange("42703", "incomplete primary key for " + table.name() + ": expected "
                    + table.primaryKey());
        }
        ObjectNode pk = MessageCodec.JSON.createObjectNode();
        for (String name : table.primaryKey()) {
            pk.set(name, pkValues.get(name));
        }

        ObjectNode values = MessageCodec.JSON.createObjectNode();
        if (change.kind() != ChangeKind.DELETE) {
            Map<String, JsonNode> given = new HashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = change.values().properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                ColumnInfo col = column(table, f.getKey());
                // Key columns come from pk; generated columns are PostgreSQL's to compute.
                if (!col.primaryKey() && !col.generated()) {
                    given.put(col.name(), convert(col, f.getValue()));
                }
            }
            for (ColumnInfo col : table.columns()) {
                JsonNode v = given.get(col.name());
                if (v != null) {
                    values.set(col.name(), v);
                }
            }
        }
        ObjectNode deltas = MessageCodec.JSON.createObjectNode();
        if (change.kind() != ChangeKind.DELETE) {
            for (Map.Entry<String, JsonNode> f : change.deltas().properties()) {
                ColumnInfo col = column(table, f.getKey());
                if (col.primaryKey() || col.generated()) {
                    throw new InvalidChange("42703", "column " + col.name() + " of " + table.name()
                            + " cannot be a counter");
                }
                deltas.set(col.name(), f.getValue());
            }
        }
        try {
            return new Op(table, change.kind(), pk, values, MessageCodec.JSON.writeValueAsString(pk), deltas);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ColumnInfo column(TableInfo table, String name) throws InvalidChange {
        ColumnInfo col = table.column(name);
        if (col == null) {
            throw new InvalidChange("42703", "column " + name + " of table " + table.name() + " does not exist");
        }
        return col;
    }

    /**
     * SQLite has no boolean or JSON type: its 0/1 become PostgreSQL booleans, and the text of a JSON
     * document stored in a TEXT column becomes that document in a json/jsonb column (not a JSON string
     * holding it). Text that is not valid JSON stays a string, which PostgreSQL then stores as such. A REAL
     * infinity becomes PostgreSQL's, and the JSON text of an array (as arrays reach clients) an array.
     * A document nested deeper than {@link JsonTrees#TREE_DEPTH} is carried as its text once read in full
     * (PostgreSQL takes thousands of levels; writing such a tree would overflow the apply thread's stack).
     * JSON beyond the read limits ({@link MessageCodec}: a number's digits) is refused (54000), not stored as
     * a string: it is JSON, only larger than the relay reads.
     */
    private static JsonNode convert(ColumnInfo col, JsonNode value) throws InvalidChange {
        if (value == null) {
            return MessageCodec.JSON.nullNode();
        }
        if (value.isContainerNode()) {
            return JsonTrees.bounded(value);
        }
        if (col.isBoolean() && value.isIntegralNumber() && (value.asLong() == 0 || value.asLong() == 1)) {
            return BooleanNode.valueOf(value.asLong() == 1);
        }
        if (value.isNumber() && !value.isIntegralNumber()
                && (col.numeric() || col.baseType().equals("float8") || col.baseType().equals("float4"))
                && Double.isInfinite(value.doubleValue())) {
            // SQLite's REAL infinity arrives as 9E+999 (json_object's spelling; JSON has no infinity), which
            // these types refuse as out of range; they take the text, and their JSON is that text too.
            return TextNode.valueOf(value.doubleValue() > 0 ? "Infinity" : "-Infinity");
        }
        if (value.isTextual() && col.baseType().startsWith("_") && value.asText().startsWith("[")) {
            // An array column (pg_type names array types _elem): PostgreSQL's arrays reach clients as JSON
            // text, which comes back as such; jsonb_populate_record takes the JSON array, not its text.
            try {
                JsonNode parsed = JsonTrees.value(value.asText());
                if (parsed.isArray() || JsonTrees.isRaw(parsed)) {
                    return parsed;
                }
            } catch (StreamConstraintsException e) {
                throw beyondLimits(col, e);
            } catch (com.fasterxml.jackson.core.JsonProcessingException notJson) {
                return value;
            }
        }
        if (value.isTextual() && (col.baseType().equals("json") || col.baseType().equals("jsonb"))) {
            try {
                return JsonTrees.value(value.asText());
            } catch (StreamConstraintsException e) {
                throw beyondLimits(col, e);
            } catch (com.fasterxml.jackson.core.JsonProcessingException notJson) {
                return value;
            }
        }
        return value;
    }

    private static InvalidChange beyondLimits(ColumnInfo col, StreamConstraintsException e) {
        return new InvalidChange("54000", "the JSON value of column " + col.name() + " is beyond what the relay reads: "
                + e.getOriginalMessage());
    }
}
