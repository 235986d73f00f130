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
 *
 * <p>Immutable; thread-safe.
 */
public record TableInfo(String name, List<Column> columns, List<String> pk) {

    /** One column: its name, declared type and affinity. */
    public record Column(String name, String declaredType, Affinity affinity) {
    }

    public TableInfo {
        columns = List.copyOf(columns);
        pk = List.copyOf(pk);
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
