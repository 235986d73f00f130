package io.syncsqlite.driver.capture;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The shape of one local table, read from SQLite's own catalog.
 *
 * @param name    the table name as declared
 * @param columns every column, in declaration order
 * @param pk      primary-key column names in key order; empty when the table has no declared key
 * @param uniqueKeys the table's UNIQUE constraints and unique indexes other than the primary key, over
 *                   plain columns and without a WHERE (those a REPLACE can evict other rows through)
 *
 * <p>Immutable; thread-safe.
 */
public record TableInfo(String name, List<Column> columns, List<String> pk, List<List<UniqueColumn>> uniqueKeys) {

    /** One column: its name, declared type and affinity. */
    public record Column(String name, String declaredType, Affinity affinity) {
    }

    /** A column of a unique key, with the collation its index compares it in. */
    public record UniqueColumn(String name, String collation) {
    }

    public TableInfo {
        columns = List.copyOf(columns);
        pk = List.copyOf(pk);
        uniqueKeys = uniqueKeys.stream().map(List::copyOf).toList();
    }

    public TableInfo(String name, List<Column> columns, List<String> pk) {
        this(name, columns, pk, List.of());
    }

    /**
     * The column that is an alias of SQLite's rowid ({@code id INTEGER PRIMARY KEY}, also declared as a
     * table constraint): SQLite fills it in when an INSERT leaves it out, so the driver allocates its
     * values instead (see {@code KeyRewriter}). {@code null} for any other key.
     */
    public Column rowidKey() {
        if (pk.size() != 1) {
            return null;
        }
        for (Column c : columns) {
            if (c.name().equalsIgnoreCase(pk.get(0))) {
                return c.declaredType() != null && c.declaredType().equalsIgnoreCase("INTEGER") ? c : null;
            }
        }
        return null;
    }

    /**
     * The single key column of integer affinity ({@code INTEGER}, {@code BIGINT}, ...), whether or not it
     * is the rowid's alias: such a key can also take its values from a sequence table, whose ids must come
     * from the relay's ranges too. {@code null} for any other key.
     */
    public Column integerKey() {
        if (pk.size() != 1) {
            return null;
        }
        for (Column c : columns) {
            if (c.name().equalsIgnoreCase(pk.get(0))) {
                return c.affinity() == Affinity.INTEGER ? c : null;
            }
        }
        return null;
    }

    public boolean hasPrimaryKey() {
        return !pk.isEmpty();
    }

    /** Columns by lower-case name, for matching names that arrive from PostgreSQL. */
    public Map<String, Column> columnsByLowerName() {
        return columns.stream().collect(Collectors.toMap(c -> c.name().toLowerCase(Locale.ROOT),
                Function.identity(), (a, b) -> a));
    }
}
