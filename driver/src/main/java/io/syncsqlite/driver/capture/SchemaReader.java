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
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    declared = rs.getString(1);
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
        return new TableInfo(declared, columns, new ArrayList<>(pk.values()), uniqueKeys(conn, declared));
    }

    /**
     * The unique indexes of {@code table} other than its primary key's, over plain columns and without a
     * WHERE, each as its key columns in order (see {@link TableInfo#uniqueKeys}).
     */
    private static List<List<TableInfo.UniqueColumn>> uniqueKeys(Connection conn, String table) throws SQLException {
        java.util.Map<String, List<TableInfo.UniqueColumn>> byIndex = new java.util.LinkedHashMap<>();
        java.util.Set<String> unusable = new java.util.HashSet<>();
        try (PreparedStatement ps = conn.prepareStatement("SELECT il.name, ix.cid, ix.name, ix.coll"
                + " FROM pragma_index_list(?) AS il, pragma_index_xinfo(il.name) AS ix"
                + " WHERE il.\"unique\" AND il.origin <> 'pk' AND NOT il.partial AND ix.\"key\""
                + " ORDER BY il.seq, ix.seqno")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String index = rs.getString(1);
                    if (rs.getInt(2) < 0) {
                        unusable.add(index); // an expression (-2) or the rowid (-1)
                    }
                    byIndex.computeIfAbsent(index, k -> new ArrayList<>())
                            .add(new TableInfo.UniqueColumn(rs.getString(3), rs.getString(4)));
                }
            }
        }
        List<List<TableInfo.UniqueColumn>> out = new ArrayList<>();
        byIndex.forEach((index, cols) -> {
            if (!unusable.contains(index)) {
                out.add(cols);
            }
        });
        return out;
    }
}
