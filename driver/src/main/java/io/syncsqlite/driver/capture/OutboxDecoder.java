package io.syncsqlite.driver.capture;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.syncsqlite.protocol.JsonTrees;
import io.syncsqlite.protocol.MessageCodec;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns outbox rows back into row changes, whichever of the two capture formats wrote them.
 *
 * <p>Tables of up to {@link Outbox#VALUE_COLUMNS} columns are captured <em>typed</em>: the trigger copies
 * each column into one of the outbox's value columns {@code v0, v1, ...}, whose BLOB affinity keeps SQLite's
 * storage class as it is, and names the table's {@linkplain Layout layout} by id; the key is not stored
 * separately (it is among the values). Wider tables, and rows written by earlier versions, carry
 * {@code pk} and {@code vals} as the JSON text {@code json_object} builds. Both come out as the same JSON
 * trees: a typed value becomes what {@code json_object} would have rendered and {@link MessageCodec#JSON}
 * parsed (BLOBs as {@code \x<HEX>}), except that a REAL's digits are the fewest that read back as the
 * same double where SQLite's may run to 17 ({@link #decimal}); OutboxDecoderTest checks this against SQLite.
 *
 * <p>Not thread-safe: caches layouts read through its connection; one per connection.
 */
public final class OutboxDecoder {

    /** The outbox columns {@link #decode} reads, in this order, for a SELECT list. */
    public static final String COLUMNS = "tbl, op, pk, vals, changed, deltas, layout, " + Outbox.valueColumnList();

    private static final MathContext DIGITS_15 = new MathContext(15, RoundingMode.HALF_EVEN);
    private static final MathContext DIGITS_16 = new MathContext(16, RoundingMode.HALF_EVEN);
    private static final MathContext DIGITS_17 = new MathContext(17, RoundingMode.HALF_EVEN);
    /** Where {@code v0} is in {@link #COLUMNS}, counted from its first column. */
    private static final int VALUES_FROM = 7;
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();
    private static final BigDecimal INFINITY = new BigDecimal("9E+999");

    private final Connection db;
    private final Map<Long, Layout> layouts = new HashMap<>();

    public OutboxDecoder(Connection db) {
        this.db = db;
    }

    /**
     * One captured row change: {@code values} is empty for a delete; {@code deltas} as stored; {@code changed} as stored
     * for JSON rows, and for typed rows a {@code 0} or {@code 1} per column also when stored marked
     * ({@link TriggerSql#MARKED}).
     */
    public record Captured(String table, int op, ObjectNode pk, ObjectNode values, String changed, String deltas) {
    }

    /** Decodes the row under {@code rs}'s cursor, whose {@link #COLUMNS} start at column {@code first}. */
    public Captured decode(ResultSet rs, int first) throws SQLException {
        String table = rs.getString(first);
        int op = rs.getInt(first + 1);
        String changed = rs.getString(first + 4);
        String deltas = rs.getString(first + 5);
        long layoutId = rs.getLong(first + 6);
        if (rs.wasNull()) {
            String pk = rs.getString(first + 2);
            String vals = rs.getString(first + 3);
            ObjectNode values = vals == null ? MessageCodec.JSON.createObjectNode() : documentsAsText(object(vals));
            return new Captured(table, op, documentsAsText(object(pk)), values, changed, deltas);
        }
        Layout layout = layout(layoutId);
        ObjectNode values = MessageCodec.JSON.createObjectNode();
        boolean marked = changed != null && !changed.isEmpty() && changed.charAt(0) == TriggerSql.MARKED;
        StringBuilder mask = marked ? new StringBuilder(layout.columns().size()) : null;
        for (int i = 0; i < layout.columns().size(); i++) {
            Object v = rs.getObject(first + VALUES_FROM + i);
            if (marked) {
                char bit = changed.charAt(i + 1);
                if (bit == TriggerSql.BY_VALUE) {
                    // Such a column cannot hold bytes (its trigger refuses them): bytes here say "set to NULL".
                    bit = v == null ? '0' : '1';
                    if (v instanceof byte[]) {
                        v = null;
                    }
                }
                mask.append(bit);
            }
            values.set(layout.columns().get(i), node(v));
        }
        if (marked) {
            changed = mask.toString();
        }
        ObjectNode pk = MessageCodec.JSON.createObjectNode();
        for (String k : layout.pk()) {
            pk.set(k, values.get(k));
        }
        return new Captured(table, op, pk, values, changed, deltas);
    }

    /**
     * A stored SQLite value as the JSON tree {@code json_object} text parses to: integers as int or long
     * nodes, REALs as decimals with trailing zeros stripped (as the shared mapper does; digits as in
     * {@link #decimal}), BLOBs as PostgreSQL's {@code bytea} text.
     */
    public static JsonNode node(Object v) {
        if (v == null) {
            return NullNode.getInstance();
        }
        if (v instanceof Integer i) {
            return IntNode.valueOf(i);
        }
        if (v instanceof Long l) {
            return l == (int) (long) l ? IntNode.valueOf((int) (long) l) : LongNode.valueOf(l);
        }
        if (v instanceof Double d) {
            return DecimalNode.valueOf(decimal(d));
        }
        if (v instanceof byte[] b) {
            return TextNode.valueOf(bytea(b));
        }
        return TextNode.valueOf(v.toString());
    }

    /**
     * A REAL as the shortest decimal of 15, 16 or 17 significant digits that reads back as the same double
     * (as C's {@code %.15g}, {@code %.16g}, {@code %.17g}; PostgreSQL's {@code float8} output is shortest
     * too). Not SQLite's JSON digits: it writes 15 when its own reader gets the same double back and else 17
     * from an approximate expansion (1/3 becomes {@code 0.33333333333333332}, not the nearest 17 digits
     * {@code ...31}), which is not worth imitating: both denote the same double. Not {@code Double.toString}
     * either: Java 17's may run to 18 digits. Infinities as SQLite writes them ({@code 9.0e+999}).
     */
    public static BigDecimal decimal(double d) {
        if (Double.isInfinite(d)) {
            return d > 0 ? INFINITY : INFINITY.negate();
        }
        if (d == 0) {
            return BigDecimal.ZERO;
        }
        BigDecimal exact = new BigDecimal(d);
        BigDecimal digits = exact.round(DIGITS_15);
        if (digits.doubleValue() != d) {
            digits = exact.round(DIGITS_16);
            if (digits.doubleValue() != d) {
                digits = exact.round(DIGITS_17);
            }
        }
        return digits.stripTrailingZeros();
    }

    /** {@code \x} and upper-case hex, as the JSON capture writes a BLOB ({@code hex()}). */
    static String bytea(byte[] b) {
        char[] out = new char[2 + 2 * b.length];
        out[0] = '\\';
        out[1] = 'x';
        for (int i = 0; i < b.length; i++) {
            out[2 + 2 * i] = HEX[(b[i] >> 4) & 0xF];
            out[3 + 2 * i] = HEX[b[i] & 0xF];
        }
        return new String(out);
    }

    private Layout layout(long id) throws SQLException {
        Layout cached = layouts.get(id);
        if (cached != null) {
            return cached;
        }
        // Layout rows are never changed or removed, so a cached one stays true for the life of the file.
        try (PreparedStatement ps = db.prepareStatement("SELECT cols, pk FROM _sync_layouts WHERE id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("outbox names capture layout " + id + ", which _sync_layouts does not hold",
                            "XX001");
                }
                Layout layout = new Layout(names(rs.getString(1)), names(rs.getString(2)));
                layouts.put(id, layout);
                return layout;
            }
        }
    }

    private static List<String> names(String json) throws SQLException {
        try {
            JsonNode n = MessageCodec.JSON.readTree(json);
            if (!(n instanceof ArrayNode a)) {
                throw new SQLException("capture layout is not a JSON array: " + json, "XX001");
            }
            List<String> out = new ArrayList<>(a.size());
            a.forEach(x -> out.add(x.asText()));
            return out;
        } catch (JsonProcessingException e) {
            throw new SQLException("capture layout holds malformed JSON", "XX001", e);
        }
    }

    /**
     * A JSON-captured row's documents as text, as typed capture gives them: {@code json_object} nests a
     * value that carries SQLite's JSON subtype (set with {@code json()} or {@code json_set()} in the same
     * statement) instead of quoting it. Nested, a document of a few hundred levels made the push too deep
     * to encode, and the outbox stopped behind it; as text the relay reads it like any other.
     */
    private static ObjectNode documentsAsText(ObjectNode row) {
        for (Map.Entry<String, JsonNode> f : row.properties()) {
            if (f.getValue().isContainerNode()) {
                f.setValue(TextNode.valueOf(JsonTrees.text(f.getValue())));
            }
        }
        return row;
    }

    /** Parses a JSON object the outbox or a capture query holds, at any depth (see {@link JsonTrees}). */
    public static ObjectNode object(String json) throws SQLException {
        try {
            JsonNode n = JsonTrees.deep(json);
            if (!(n instanceof ObjectNode o)) {
                throw new SQLException("outbox value is not a JSON object: " + json.length() + " chars", "XX001");
            }
            return o;
        } catch (JsonProcessingException e) {
            throw new SQLException("outbox holds malformed JSON", "XX001", e);
        }
    }
}
