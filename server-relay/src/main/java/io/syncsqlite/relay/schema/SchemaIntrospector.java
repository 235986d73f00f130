package io.syncsqlite.relay.schema;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Reads the synced tables' columns, types, primary keys and foreign keys from PostgreSQL's catalog.
 *
 * <p>Thread-safe: stateless; each call uses the connection it is given.
 */
public final class SchemaIntrospector {

    private static final String COLUMNS = """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
                   a.attgenerated <> '', a.attidentity = 'a',
                   a.atttypid = 'numeric'::regtype OR (t.typtype = 'd' AND syncsqlite.numeric_based(a.atttypid)),
                   coalesce((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0),
                   coalesce(bt.typname, t.typname)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
            LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
            WHERE n.nspname = ? AND c.relkind = 'r' AND NOT c.relispartition
            ORDER BY c.relname, a.attnum""";

    private static final String FOREIGN_KEYS = """
            SELECT ch.relname, pa.relname, pn.nspname = ?, con.confdeltype
            FROM pg_constraint con
            JOIN pg_class ch ON ch.oid = con.conrelid
            JOIN pg_namespace cn ON cn.oid = ch.relnamespace
            JOIN pg_class pa ON pa.oid = con.confrelid
            JOIN pg_namespace pn ON pn.oid = pa.relnamespace
            WHERE con.contype = 'f' AND cn.nspname = ?""";

    private SchemaIntrospector() {
    }

    /**
     * The catalog of {@code schema}'s synced tables.
     *
     * @param tables the tables to sync (names as PostgreSQL stores them, or matching case-insensitively);
     *               empty means every table of the schema that has a primary key
     * @throws IllegalArgumentException if a named table does not exist or has no primary key
     */
    public static Catalog read(Connection c, String schema, List<String> tables) throws SQLException {
        Map<String, RawTable> raw = new TreeMap<>();
        try (PreparedStatement ps = c.prepareStatement(COLUMNS)) {
            ps.setString(1, schema);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    RawTable t = raw.computeIfAbsent(rs.getString(1), RawTable::new);
                    int pkPosition = rs.getInt(8);
                    t.columns.add(new ColumnInfo(rs.getString(2), rs.getString(3), rs.getString(4),
                            pkPosition > 0, rs.getBoolean(5), rs.getBoolean(7), rs.getString(9)));
                    if (pkPosition > 0) {
                        t.pk.put(pkPosition, rs.getString(2));
                    }
                    if (rs.getBoolean(6)) {
                        t.identityAlways.add(rs.getString(2));
                    }
                }
            }
        }
        Map<String, Set<String>> parents = new HashMap<>();
        Set<String> cascading = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement(FOREIGN_KEYS)) {
            ps.setString(1, schema);
            ps.setString(2, schema);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (!rs.getBoolean(3)) {
                        continue;
                    }
                    String child = rs.getString(1);
                    String parent = rs.getString(2);
                    if (!child.equals(parent)) {
                        parents.computeIfAbsent(child, k -> new HashSet<>()).add(parent);
                    }
                    String onDelete = rs.getString(4);
                    // CASCADE deletes child rows, SET DEFAULT may move them to another key; SET NULL
                    // and NO ACTION/RESTRICT leave every child row where it is.
                    if (onDelete.equals("c") || onDelete.equals("d")) {
                        cascading.add(parent);
                    }
                }
            }
        }

        List<String> selected = select(raw, tables);
        Map<String, TableInfo> infos = new LinkedHashMap<>();
        for (String name : selected) {
            RawTable t = raw.get(name);
            infos.put(name, new TableInfo(schema, name, t.columns, new ArrayList<>(t.pk.values()),
                    t.identityAlways, cascading.contains(name)));
        }
        return new Catalog(schema, parentsFirst(infos, parents));
    }

    private static List<String> select(Map<String, RawTable> raw, List<String> tables) {
        List<String> selected = new ArrayList<>();
        if (tables.isEmpty()) {
            for (RawTable t : raw.values()) {
                if (!t.pk.isEmpty()) {
                    selected.add(t.name);
                }
            }
            return selected;
        }
        for (String wanted : tables) {
            String name = raw.containsKey(wanted) ? wanted : raw.keySet().stream()
                    .filter(n -> n.equalsIgnoreCase(wanted)).findFirst().orElse(null);
            if (name == null) {
                throw new IllegalArgumentException("table " + wanted + " does not exist");
            }
            if (raw.get(name).pk.isEmpty()) {
                throw new IllegalArgumentException("table " + name + " has no primary key; only tables"
                        + " with a primary key can be synced");
            }
            if (!selected.contains(name)) {
                selected.add(name);
            }
        }
        return selected;
    }

    /** Kahn's algorithm over the foreign keys among the selected tables, ties broken by name. */
    private static List<TableInfo> parentsFirst(Map<String, TableInfo> infos, Map<String, Set<String>> parents) {
        List<TableInfo> ordered = new ArrayList<>();
        Set<String> done = new HashSet<>();
        TreeSet<String> remaining = new TreeSet<>(infos.keySet());
        while (!remaining.isEmpty()) {
            String next = null;
            for (String name : remaining) {
                Set<String> p = parents.getOrDefault(name, Set.of());
                if (p.stream().allMatch(x -> done.contains(x) || !infos.containsKey(x))) {
                    next = name;
                    break;
                }
            }
            if (next == null) {
                next = remaining.first(); // a cycle: any order is as good as another
            }
            remaining.remove(next);
            done.add(next);
            ordered.add(infos.get(next));
        }
        return ordered;
    }

    private static final class RawTable {
        final String name;
        final List<ColumnInfo> columns = new ArrayList<>();
        final Map<Integer, String> pk = new TreeMap<>();
        final Set<String> identityAlways = new HashSet<>();

        RawTable(String name) {
            this.name = name;
        }
    }
}
