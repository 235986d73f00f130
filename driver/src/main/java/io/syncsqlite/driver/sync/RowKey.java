package io.syncsqlite.driver.sync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.OutboxDecoder;
import io.syncsqlite.driver.capture.TableInfo;

import java.util.Locale;

/**
 * A canonical string for one row's primary key, equal for the same key whether it came from SQLite's
 * {@code json_object}, the outbox decoder or PostgreSQL's {@code to_jsonb} (which differ in spacing,
 * number formatting, column-name case and the case of a BLOB key's hex digits).
 *
 * <p>Stateless; thread-safe.
 */
final class RowKey {

    private RowKey() {
    }

    static String of(TableInfo table, JsonNode pk) {
        StringBuilder sb = new StringBuilder(table.name().toLowerCase(Locale.ROOT));
        for (String col : table.pk()) {
            sb.append('\u0001');
            JsonNode v = pk.get(col);
            if (v == null) {
                v = findIgnoreCase(pk, col);
            }
            if (v != null && v.isTextual() && Affinity.infinity(v.textValue()) != 0 && affinity(table, col).numeric()) {
                v = DoubleNode.valueOf(Affinity.infinity(v.textValue()) * Double.POSITIVE_INFINITY); // as LocalStore.bind stores it
            }
            String c = canonical(v);
            if (c.startsWith("s:\\x") && isHex(c, 4) && affinity(table, col) == Affinity.BLOB) {
                // bytea as PostgreSQL writes it (lower-case hex) and as the capture triggers do (hex(): upper);
                // the same test as the one that binds such a value as bytes (LocalStore.bind). Other text that
                // starts with \x is a text key and compares exactly.
                c = c.toLowerCase(Locale.ROOT);
            }
            sb.append(c);
        }
        return sb.toString();
    }

    /** Whether {@code s} from {@code from} on is an even number of hex digits (bytea's text form). */
    static boolean isHex(String s, int from) {
        if ((s.length() - from) % 2 != 0) {
            return false;
        }
        for (int i = from; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    private static Affinity affinity(TableInfo table, String col) {
        for (TableInfo.Column c : table.columns()) {
            if (c.name().equalsIgnoreCase(col)) {
                return c.affinity();
            }
        }
        return Affinity.TEXT; // neither bytes nor a number: the key compares as written
    }

    private static JsonNode findIgnoreCase(JsonNode obj, String name) {
        for (var e : obj.properties()) {
            if (e.getKey().equalsIgnoreCase(name)) {
                return e.getValue();
            }
        }
        return null;
    }

    private static String canonical(JsonNode v) {
        if (v == null || v.isNull()) {
            return "null";
        }
        if (v.isIntegralNumber()) {
            return v.bigIntegerValue().toString();
        }
        if (v.isNumber()) {
            // A key that is not an integer is a double wherever the client holds it (SQLite REAL): compare
            // the double, not its digits, which differ between json_object (up to 17, not always the nearest),
            // the outbox decoder and PostgreSQL (fewest). Digits alone removed a pending row at a resync.
            return OutboxDecoder.decimal(v.doubleValue()).toPlainString();
        }
        if (v.isBoolean()) {
            return v.booleanValue() ? "1" : "0";
        }
        return "s:" + v.asText();
    }
}
