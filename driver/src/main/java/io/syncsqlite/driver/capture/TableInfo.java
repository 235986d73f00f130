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
 * @param evicts  which writes may delete other rows of the table through a UNIQUE constraint
 *
 * <p>Immutable; thread-safe.
 */
public record TableInfo(String name, List<Column> columns, List<String> pk, Evicts evicts) {

    /** One column: its name, declared type and affinity. */
    public record Column(String name, String declaredType, Affinity affinity) {
    }

    /**
     * Which writes may delete other rows: SQLite's REPLACE conflict resolution deletes the rows an INSERT
     * or UPDATE collides with, and fires their delete triggers only with {@code recursive_triggers} on.
     * Through the key that needs no capture (the new row's image replaces the old one under the same key);
     * through another UNIQUE constraint it deletes a row under another key.
     */
    public enum Evicts {
        /** No UNIQUE constraint besides the key. */
        NEVER,
        /** Statements that ask for REPLACE ({@code INSERT OR REPLACE}, {@code REPLACE INTO}, {@code UPDATE OR REPLACE}). */
        ON_REPLACE,
        /** Every INSERT and UPDATE: a constraint of the table is declared {@code ON CONFLICT REPLACE}. */
        ALWAYS
    }

    public TableInfo {
        columns = List.copyOf(columns);
        pk = List.copyOf(pk);
    }

    public TableInfo(String name, List<Column> columns, List<String> pk) {
        this(name, columns, pk, Evicts.NEVER);
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

    public boolean hasPrimaryKey() {
        return !pk.isEmpty();
    }

    /** Columns by lower-case name, for matching names that arrive from PostgreSQL. */
    public Map<String, Column> columnsByLowerName() {
        return columns.stream().collect(Collectors.toMap(c -> c.name().toLowerCase(Locale.ROOT),
                Function.identity(), (a, b) -> a));
    }
}
