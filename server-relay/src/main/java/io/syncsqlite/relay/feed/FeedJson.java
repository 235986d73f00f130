package io.syncsqlite.relay.feed;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.protocol.MessageCodec;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Builds {@code changes} frames from PostgreSQL's JSON text directly. PostgreSQL already produces the row
 * and key JSON, so the relay splices it into the message instead of parsing it into trees and encoding
 * it again for every client; the result is exactly what {@link MessageCodec} would produce for a
 * {@link io.syncsqlite.protocol.Message.Changes} of {@link io.syncsqlite.protocol.FeedEntry}s.
 *
 * <p>Thread-safe: stateless apart from a concurrent cache of encoded table names.
 */
public final class FeedJson {

    private static final Map<String, String> QUOTED = new ConcurrentHashMap<>();

    private FeedJson() {
    }

    /**
     * One encoded FeedEntry.
     *
     * @param pkJson  PostgreSQL's JSON text of the key object
     * @param rowJson PostgreSQL's JSON text of the row, {@code null} for a delete
     */
    public static String entry(long seq, String table, String pkJson, String rowJson, long hlc) {
        StringBuilder sb = new StringBuilder(64 + pkJson.length() + (rowJson == null ? 4 : rowJson.length()));
        sb.append("{\"seq\":").append(seq)
                .append(",\"table\":").append(quoted(table))
                .append(",\"kind\":").append(rowJson == null ? "\"DELETE\"" : "\"UPSERT\"")
                .append(",\"pk\":").append(pkJson)
                .append(",\"row\":").append(rowJson == null ? "null" : rowJson)
                .append(",\"hlc\":").append(hlc)
                .append('}');
        return sb.toString();
    }

    /** A complete {@code changes} frame. */
    public static String changes(List<String> entries, long through, long snapshotTotal) {
        int size = 80;
        for (String e : entries) {
            size += e.length() + 1;
        }
        StringBuilder sb = new StringBuilder(size);
        sb.append("{\"type\":\"changes\",\"entries\":[");
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(entries.get(i));
        }
        return sb.append("],\"through\":").append(through)
                .append(",\"snapshotTotal\":").append(snapshotTotal)
                .append('}').toString();
    }

    private static String quoted(String table) {
        return QUOTED.computeIfAbsent(table, t -> {
            try {
                return MessageCodec.JSON.writeValueAsString(t);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        });
    }
    /**
     * The text PostgreSQL's {@code jsonb} output gives for {@code o}, or null where this cannot be sure
     * of it. Used to recognise a row image PostgreSQL stored exactly as a client sent it (see
     * {@code EchoFilter}), so a null costs nothing but a missed recognition, while a wrong text could make
     * two different values look equal: only flat objects of strings, integers, plain decimals, booleans and
     * nulls are rendered. The format is {@code JsonbToCString}'s: keys ordered by UTF-8 length, then
     * bytewise; {@code ": "} and {@code ", "}; strings escaped as {@code escape_json} does; numbers as
     * {@code numeric_out} writes them (never with an exponent).
     */
    public static String jsonbText(ObjectNode o) {
        record Key(String name, byte[] utf8) {
        }
        List<Key> keys = new ArrayList<>(o.size());
        for (var it = o.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            keys.add(new Key(name, name.getBytes(StandardCharsets.UTF_8)));
        }
        keys.sort((a, b) -> a.utf8.length != b.utf8.length ? Integer.compare(a.utf8.length, b.utf8.length)
                : Arrays.compareUnsigned(a.utf8, b.utf8));
        StringBuilder sb = new StringBuilder(16 + 24 * keys.size());
        sb.append('{');
        for (int i = 0; i < keys.size(); i++) {
            if (i > 0) {
                sb.append(", ");
            }
            jsonbString(sb, keys.get(i).name);
            sb.append(": ");
            if (!jsonbScalar(sb, o.get(keys.get(i).name))) {
                return null;
            }
        }
        return sb.append('}').toString();
    }

    private static boolean jsonbScalar(StringBuilder sb, JsonNode v) {
        if (v.isTextual()) {
            jsonbString(sb, v.textValue());
        } else if (v.isIntegralNumber()) {
            sb.append(v.bigIntegerValue());
        } else if (v.isBigDecimal()) {
            // numeric_out writes the digits and the scale as given, never an exponent; BigDecimal's
            // toString uses one for some values (1E+3, 1.0E-7), which are then not recognised.
            String text = v.decimalValue().toString();
            if (text.indexOf('E') >= 0) {
                return false;
            }
            sb.append(text);
        } else if (v.isBoolean()) {
            sb.append(v.booleanValue());
        } else if (v.isNull()) {
            sb.append("null");
        } else {
            // doubles (whose shortest text PostgreSQL and Java may write differently), arrays, objects
            return false;
        }
        return true;
    }

    private static void jsonbString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < ' ') {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
