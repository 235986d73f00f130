package io.syncsqlite.driver.capture;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Reads user tables from {@code sqlite_schema}, skipping SQLite's own and syncsqlite's tables.
 *
 * <p>Stateless; each call uses the given connection, which must not be used concurrently.
 */
public final class SchemaReader {

    private SchemaReader() {
    }

    /** Every user table of the main schema, by lower-case name. */
    public static Map<String, TableInfo> readTables(Connection conn) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT name FROM sqlite_schema WHERE type = 'table'"
                     + " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_sync\\_%' ESCAPE '\\'"
                     + " ORDER BY name")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        Map<String, TableInfo> out = new LinkedHashMap<>();
        for (String name : names) {
            TableInfo t = readTable(conn, name);
            if (t != null) {
                out.put(name.toLowerCase(Locale.ROOT), t);
            }
        }
        return out;
    }

    /** One table, or {@code null} if it does not exist. */
    public static TableInfo readTable(Connection conn, String name) throws SQLException {
        List<TableInfo.Column> columns = new ArrayList<>();
        TreeMap<Integer, String> pk = new TreeMap<>();
        String declared = null;
        String sql = null;
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    declared = rs.getString(1);
                    sql = rs.getString(2);
                }
            }
        }
        if (declared == null) {
            return null;
        }
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid")) {
            ps.setString(1, declared);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String col = rs.getString(1);
                    String type = rs.getString(2);
                    columns.add(new TableInfo.Column(col, type, Affinity.of(type)));
                    int k = rs.getInt(3);
                    if (k > 0) {
                        pk.put(k, col);
                    }
                }
            }
        }
        return new TableInfo(declared, columns, new ArrayList<>(pk.values()), evicts(conn, declared, sql));
    }

    private static final Pattern DECLARED_REPLACE = Pattern.compile("(?i)\\bON\\s+CONFLICT\\s+REPLACE\\b");

    /**
     * Whether writes may delete rows through a UNIQUE constraint other than the key ({@link TableInfo.Evicts}).
     * {@code ON CONFLICT REPLACE} is looked for in the whole CREATE TABLE text: where it is declared on the
     * key alone, writes pay for a capture they did not need, never the other way round.
     */
    private static TableInfo.Evicts evicts(Connection conn, String table, String sql) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT count(*) FROM pragma_index_list(?) WHERE \"unique\" AND origin <> 'pk'")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next() || rs.getInt(1) == 0) {
                    return TableInfo.Evicts.NEVER;
                }
            }
        }
        return sql != null && DECLARED_REPLACE.matcher(sql).find() ? TableInfo.Evicts.ALWAYS : TableInfo.Evicts.ON_REPLACE;
    }
}
