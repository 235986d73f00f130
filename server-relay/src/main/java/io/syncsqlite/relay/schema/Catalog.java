package io.syncsqlite.relay.schema;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The synced tables the relay serves: read at startup, and read again when a client names a table or
 * column the relay does not know yet (a column added in PostgreSQL, a new table), see {@link #replaceWith}.
 *
 * <p>Tables are listed parents first (by foreign keys), so a snapshot never delivers a child row before
 * the parent row it references; cycles are broken by name order.
 *
 * <p>Thread-safe: the tables are one immutable view, swapped atomically.
 */
public final class Catalog {

    private record View(List<TableInfo> tables, Map<String, TableInfo> byName, Map<String, TableInfo> byFoldedName,
                        Set<String> names) {
        static View of(List<TableInfo> tablesParentsFirst) {
            Map<String, TableInfo> byName = new HashMap<>();
            Map<String, TableInfo> byFoldedName = new HashMap<>();
            for (TableInfo t : tablesParentsFirst) {
                byName.put(t.name(), t);
                byFoldedName.putIfAbsent(t.name().toLowerCase(Locale.ROOT), t);
            }
            return new View(List.copyOf(tablesParentsFirst), Map.copyOf(byName), Map.copyOf(byFoldedName),
                    Set.copyOf(byName.keySet()));
        }
    }

    private final String schema;
    private volatile View view;

    public Catalog(String schema, List<TableInfo> tablesParentsFirst) {
        this.schema = schema;
        this.view = View.of(tablesParentsFirst);
    }

    public String schema() {
        return schema;
    }

    /** Synced tables, parents before children. */
    public List<TableInfo> tables() {
        return view.tables();
    }

    /** The synced tables' names (PostgreSQL's spelling). */
    public Set<String> names() {
        return view.names();
    }

    /**
     * The synced table a client means by {@code clientName}: exact match first, then case-insensitive
     * (SQLite table names are case-insensitive), then as PostgreSQL cut a name longer than 63 bytes (SQLite
     * keeps it whole; {@link io.syncsqlite.protocol.Identifiers}); {@code null} if none.
     */
    public TableInfo table(String clientName) {
        View v = view;
        TableInfo t = v.byName().get(clientName);
        if (t == null) {
            t = v.byFoldedName().get(clientName.toLowerCase(Locale.ROOT));
        }
        String clipped;
        if (t == null && !(clipped = io.syncsqlite.protocol.Identifiers.clip(clientName)).equals(clientName)) {
            t = table(clipped);
        }
        return t;
    }

    /** Takes the tables of {@code newer}, a catalog read again from PostgreSQL. */
    public void replaceWith(Catalog newer) {
        this.view = newer.view;
    }
}
