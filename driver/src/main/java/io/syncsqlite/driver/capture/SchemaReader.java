package io.syncsqlite.driver.capture;

import io.syncsqlite.driver.sql.SqlClassifier;

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

    /**
     * Every user table of the main schema, by lower-case name. Not virtual tables nor their shadow tables
     * ({@link #virtualOrShadow}): a virtual table takes no trigger (and one whose module is not loaded cannot even be
     * read), and a shadow table is the module's own storage, written by the module as the virtual table changes (an
     * FTS index): captured, it was sent as a table PostgreSQL has not got, and an FTS5 table's capture crashed the JVM
     * in SQLite at the first insert.
     */
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
        List<String> internal = virtualOrShadow(conn).stream().map(n -> n.toLowerCase(Locale.ROOT)).toList();
        Map<String, TableInfo> out = new LinkedHashMap<>();
        for (String name : names) {
            if (internal.contains(name.toLowerCase(Locale.ROOT))) {
                continue;
            }
            TableInfo t = readTable(conn, name);
            if (t != null) {
                out.put(name.toLowerCase(Locale.ROOT), t);
            }
        }
        return out;
    }

    /** An FTS3/4/5 {@code content=} option: the external table a full-text index reads its text from. */
    private static final java.util.regex.Pattern CONTENT = java.util.regex.Pattern.compile(
            "(?i)[(,\\s]content\\s*=\\s*(?:'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\"|`([^`]*)`|\\[([^\\]]*)]|([^\\s,)]+))");
    private static final java.util.regex.Pattern MODULE = java.util.regex.Pattern.compile(
            "(?i)\\bUSING\\s+[\"'`\\[]?(\\w+)");

    /**
     * The virtual tables of the main schema and the shadow tables their modules keep (an FTS5 table's {@code _data},
     * {@code _idx}, {@code _content}..., an R*Tree's {@code _node}...), as named; {@link #readTables} leaves them out.
     * SQLite's {@code table_list} tells shadow tables by their names alone (a module says which suffixes it uses), so
     * an application's own table named like one is taken back out: the external-content table of a full-text index
     * ({@code content='docs_content'} for an index named {@code docs}), which FTS does not create. And a module this
     * JVM has not loaded (an extension such as sqlite-vec, which the file's other users load) cannot say which tables
     * are its own: every table named after its virtual table ({@code vec_chunks}, {@code vec_rowids} for {@code vec})
     * is taken for one.
     */
    public static List<String> virtualOrShadow(Connection conn) throws SQLException {
        java.util.Set<String> out = new java.util.TreeSet<>(String.CASE_INSENSITIVE_ORDER);
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM pragma_table_list"
                + " WHERE schema = 'main' AND type IN ('virtual', 'shadow')")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        if (out.isEmpty()) {
            return List.of();
        }
        java.util.Set<String> modules = new java.util.HashSet<>();
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM pragma_module_list")) {
            while (rs.next()) {
                modules.add(rs.getString(1).toLowerCase(Locale.ROOT));
            }
        }
        java.util.Set<String> content = new java.util.TreeSet<>(String.CASE_INSENSITIVE_ORDER);
        List<String> unknown = new ArrayList<>();
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT name, sql FROM main.sqlite_schema"
                + " WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")) {
            while (rs.next()) {
                String sql = rs.getString(2);
                java.util.regex.Matcher c = CONTENT.matcher(sql);
                while (c.find()) {
                    for (int g = 1; g <= 5; g++) {
                        if (c.group(g) != null && !c.group(g).isEmpty()) {
                            content.add(g == 1 ? c.group(g).replace("''", "'") : g == 2 ? c.group(g).replace("\"\"", "\"")
                                    : c.group(g));
                        }
                    }
                }
                java.util.regex.Matcher m = MODULE.matcher(sql);
                if (m.find() && !modules.contains(m.group(1).toLowerCase(Locale.ROOT))) {
                    unknown.add(rs.getString(1));
                }
            }
        }
        for (String vtab : unknown) {
            try (PreparedStatement ps = conn.prepareStatement("SELECT name FROM main.sqlite_schema WHERE type = 'table'"
                    + " AND substr(lower(name), 1, ?) = lower(?) || '_'")) {
                ps.setInt(1, vtab.length() + 1);
                ps.setString(2, vtab);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                }
            }
        }
        out.removeAll(content);
        return List.copyOf(out);
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
                "SELECT name, type, pk FROM pragma_table_info(?, 'main') ORDER BY cid")) {
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
     * The unique indexes of {@code table} other than its primary key's, each as its key terms in order (see
     * {@link TableInfo#uniqueKeys}). Indexes over expressions or with a WHERE are read from their SQL
     * ({@link SqlClassifier#indexShape}); one whose SQL cannot be read, that names the rowid, or whose
     * expressions or WHERE qualify a name (a dot: the eviction trigger reads them against two rows under
     * other names) is left out, and REPLACE evictions through it are not captured.
     */
    private static List<TableInfo.UniqueKey> uniqueKeys(Connection conn, String table) throws SQLException {
        record Term(int cid, String name, String collation) {
        }
        java.util.Map<String, List<Term>> byIndex = new java.util.LinkedHashMap<>();
        java.util.Set<String> partial = new java.util.HashSet<>();
        try (PreparedStatement ps = conn.prepareStatement("SELECT il.name, ix.cid, ix.name, ix.coll, il.partial"
                + " FROM pragma_index_list(?, 'main') AS il, pragma_index_xinfo(il.name, 'main') AS ix"
                + " WHERE il.\"unique\" AND il.origin <> 'pk' AND ix.\"key\""
                + " ORDER BY il.seq, ix.seqno")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String index = rs.getString(1);
                    byIndex.computeIfAbsent(index, k -> new ArrayList<>())
                            .add(new Term(rs.getInt(2), rs.getString(3), rs.getString(4)));
                    if (rs.getBoolean(5)) {
                        partial.add(index);
                    }
                }
            }
        }
        List<TableInfo.UniqueKey> out = new ArrayList<>();
        for (java.util.Map.Entry<String, List<Term>> e : byIndex.entrySet()) {
            List<Term> terms = e.getValue();
            boolean plain = terms.stream().allMatch(t -> t.cid() >= 0);
            if (plain && !partial.contains(e.getKey())) {
                out.add(new TableInfo.UniqueKey(terms.stream()
                        .map(t -> new TableInfo.UniqueColumn(t.name(), t.collation())).toList()));
                continue;
            }
            if (terms.stream().anyMatch(t -> t.cid() == -1)) {
                continue; // the rowid
            }
            SqlClassifier.IndexShape shape = indexShape(conn, e.getKey());
            if (shape == null || shape.terms().size() != terms.size() || shape.qualifies()) {
                continue;
            }
            List<TableInfo.UniqueColumn> columns = new ArrayList<>();
            for (int i = 0; i < terms.size(); i++) {
                Term t = terms.get(i);
                columns.add(t.cid() >= 0 ? new TableInfo.UniqueColumn(t.name(), t.collation())
                        : new TableInfo.UniqueColumn(null, t.collation(), shape.terms().get(i)));
            }
            // table_xinfo: a generated column (left out of the table's columns) may be read too.
            List<String> reads = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement("SELECT name FROM pragma_table_xinfo(?, 'main') ORDER BY cid")) {
                ps.setString(1, table);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (shape.names().contains(rs.getString(1).toLowerCase(Locale.ROOT))) {
                            reads.add(rs.getString(1));
                        }
                    }
                }
            }
            out.add(new TableInfo.UniqueKey(columns, shape.where(), reads));
        }
        return out;
    }

    /** The shape of index {@code name}, read from its SQL; null when it has none or it cannot be read. */
    private static SqlClassifier.IndexShape indexShape(Connection conn, String name) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getString(1) != null ? SqlClassifier.indexShape(rs.getString(1)) : null;
            }
        }
    }
}
