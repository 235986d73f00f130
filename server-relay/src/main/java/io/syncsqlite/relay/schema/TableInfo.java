package io.syncsqlite.relay.schema;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One synced table: its columns in table order, its primary key, and the facts the merge needs.
 *
 * <p>Immutable; thread-safe.
 */
public final class TableInfo {

    private final String schema;
    private final String name;
    private final List<ColumnInfo> columns;
    private final List<String> primaryKey;
    private final boolean identityAlways;
    /** The {@code GENERATED ALWAYS AS IDENTITY} columns, when known (empty through the boolean constructor). */
    private final java.util.Set<String> identityAlwaysColumns;
    private final boolean deleteCascades;
    private final Map<String, ColumnInfo> byName = new HashMap<>();
    private final Map<String, ColumnInfo> byFoldedName = new HashMap<>();
    private final String qualified;

    /**
     * @param identityAlways whether a column is {@code GENERATED ALWAYS AS IDENTITY}: inserts then need
     *                       {@code OVERRIDING SYSTEM VALUE}, because clients bring their own keys
     * @param deleteCascades whether deleting a row can delete or re-key rows of other tables (a foreign
     *                       key referencing this table with ON DELETE CASCADE or SET DEFAULT)
     */
    public TableInfo(String schema, String name, List<ColumnInfo> columns, List<String> primaryKey,
                     boolean identityAlways, boolean deleteCascades) {
        this(schema, name, columns, primaryKey, identityAlways, java.util.Set.of(), deleteCascades);
    }

    /**
     * @param identityAlwaysColumns the {@code GENERATED ALWAYS AS IDENTITY} columns: PostgreSQL lets an insert
     *                              give them a value ({@code OVERRIDING SYSTEM VALUE}) but no update
     */
    public TableInfo(String schema, String name, List<ColumnInfo> columns, List<String> primaryKey,
                     java.util.Set<String> identityAlwaysColumns, boolean deleteCascades) {
        this(schema, name, columns, primaryKey, !identityAlwaysColumns.isEmpty(), identityAlwaysColumns, deleteCascades);
    }

    private TableInfo(String schema, String name, List<ColumnInfo> columns, List<String> primaryKey,
                      boolean identityAlways, java.util.Set<String> identityAlwaysColumns, boolean deleteCascades) {
        this.identityAlwaysColumns = java.util.Set.copyOf(identityAlwaysColumns);
        this.schema = schema;
        this.name = name;
        this.columns = List.copyOf(columns);
        this.primaryKey = List.copyOf(primaryKey);
        this.identityAlways = identityAlways;
        this.deleteCascades = deleteCascades;
        for (ColumnInfo c : this.columns) {
            byName.put(c.name(), c);
            // SQLite names are case-insensitive: a client's "Name" means PostgreSQL's "name". Two
            // PostgreSQL columns differing only in case keep the first; exact matches win anyway.
            byFoldedName.putIfAbsent(c.name().toLowerCase(Locale.ROOT), c);
        }
        this.qualified = Sql.ident(schema) + "." + Sql.ident(name);
    }

    public String schema() {
        return schema;
    }

    public String name() {
        return name;
    }

    /** The table as a quoted, schema-qualified SQL name. */
    public String qualifiedName() {
        return qualified;
    }

    public List<ColumnInfo> columns() {
        return columns;
    }

    public List<String> primaryKey() {
        return primaryKey;
    }

    public boolean identityAlways() {
        return identityAlways;
    }

    /** Whether the column is {@code GENERATED ALWAYS AS IDENTITY}: an update cannot set it. */
    public boolean identityAlways(String column) {
        return identityAlwaysColumns.contains(column);
    }

    public boolean deleteCascades() {
        return deleteCascades;
    }

    /**
     * The column a client means by {@code clientName}: exact match first, then case-insensitive, then as
     * PostgreSQL cut a name longer than 63 bytes.
     */
    public ColumnInfo column(String clientName) {
        ColumnInfo c = byName.get(clientName);
        if (c == null) {
            c = byFoldedName.get(clientName.toLowerCase(Locale.ROOT));
        }
        String clipped;
        if (c == null && !(clipped = io.syncsqlite.protocol.Identifiers.clip(clientName)).equals(clientName)) {
            c = column(clipped);
        }
        return c;
    }

    @Override
    public String toString() {
        return schema + "." + name;
    }
}
