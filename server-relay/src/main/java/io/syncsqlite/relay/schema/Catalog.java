package io.syncsqlite.relay.schema;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The synced tables the relay serves, resolved once at startup.
 *
 * <p>Tables are listed parents first (by foreign keys), so a snapshot never delivers a child row before
 * the parent row it references; cycles are broken by name order.
 *
 * <p>Immutable; thread-safe.
 */
public final class Catalog {

    private final String schema;
    private final List<TableInfo> tables;
    private final Map<String, TableInfo> byName = new HashMap<>();
    private final Map<String, TableInfo> byFoldedName = new HashMap<>();

    public Catalog(String schema, List<TableInfo> tablesParentsFirst) {
        this.schema = schema;
        this.tables = List.copyOf(tablesParentsFirst);
        for (TableInfo t : tables) {
            byName.put(t.name(), t);
            byFoldedName.putIfAbsent(t.name().toLowerCase(Locale.ROOT), t);
        }
    }

    public String schema() {
        return schema;
    }

    /** Synced tables, parents before children. */
    public List<TableInfo> tables() {
        return tables;
    }

    /**
     * The synced table a client means by {@code clientName}: exact match first, then case-insensitive
     * (SQLite table names are case-insensitive); {@code null} if none.
     */
    public TableInfo table(String clientName) {
        TableInfo t = byName.get(clientName);
        return t != null ? t : byFoldedName.get(clientName.toLowerCase(Locale.ROOT));
    }
}
