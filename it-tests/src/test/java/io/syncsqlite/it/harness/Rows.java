package io.syncsqlite.it.harness;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a query's rows as comparable values, so that a SQLite replica and PostgreSQL can be compared
 * with {@code assertEquals}: column names lower-cased, numbers as {@code long} or {@code double},
 * booleans as 0/1, byte arrays as hex text.
 */
public final class Rows {

    private Rows() {
    }

    /**
     * One expected row, from column names and values in turn ({@code row("id", 1L, "title", "x")}), numbers
     * as {@link #query} gives them: an {@code int} becomes a {@code long}.
     */
    public static Map<String, Object> row(Object... namesAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            Object v = namesAndValues[i + 1];
            m.put((String) namesAndValues[i], v instanceof Integer n ? (Object) n.longValue() : v);
        }
        return m;
    }

    public static List<Map<String, Object>> query(Connection c, String sql) throws SQLException {
        List<Map<String, Object>> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    row.put(md.getColumnLabel(i).toLowerCase(Locale.ROOT), normalize(rs.getObject(i)));
                }
                out.add(row);
            }
        }
        return out;
    }

    private static Object normalize(Object v) {
        if (v instanceof Boolean b) {
            return b ? 1L : 0L;
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof java.math.BigDecimal d) {
            return d.scale() <= 0 || d.stripTrailingZeros().scale() <= 0 ? (Object) d.longValue() : d.doubleValue();
        }
        if (v instanceof Float f) {
            return f.doubleValue();
        }
        if (v instanceof byte[] b) {
            StringBuilder sb = new StringBuilder();
            for (byte x : b) {
                sb.append(String.format("%02x", x));
            }
            return sb.toString();
        }
        return v;
    }
}
