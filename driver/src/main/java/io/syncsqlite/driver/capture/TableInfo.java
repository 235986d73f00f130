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
 * @param uniqueKeys the table's UNIQUE constraints and unique indexes other than the primary key (those a
 *                   REPLACE can evict other rows through)
 *
 * <p>Immutable; thread-safe.
 */
public record TableInfo(String name, List<Column> columns, List<String> pk, List<UniqueKey> uniqueKeys) {

    /** One column: its name, declared type and affinity. */
    public record Column(String name, String declaredType, Affinity affinity) {
    }

    /**
     * A term of a unique key, with the collation its index compares it in: a column ({@code name}), or an
     * expression over the table's columns ({@code expression}, its SQL as the index declares it; then
     * {@code name} is null).
     */
    public record UniqueColumn(String name, String collation, String expression) {
        public UniqueColumn(String name, String collation) {
            this(name, collation, null);
        }
    }

    /**
     * A unique key: its terms, and for a partial index the SQL of its WHERE (null: every row), with the names
     * of the columns the expressions and the WHERE read (empty when there are none; generated columns, which
     * {@link TableInfo#columns} leaves out, included).
     */
    public record UniqueKey(List<UniqueColumn> columns, String where, List<String> reads) {
        public UniqueKey {
            columns = List.copyOf(columns);
            reads = List.copyOf(reads);
        }

        public UniqueKey(List<UniqueColumn> columns) {
            this(columns, null, List.of());
        }
    }

    public TableInfo {
        columns = List.copyOf(columns);
        pk = List.copyOf(pk);
        uniqueKeys = List.copyOf(uniqueKeys);
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
