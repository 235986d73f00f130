package io.syncsqlite.driver.sql;

import java.util.List;

/**
 * What the driver needs to know about one SQL text.
 *
 * @param kind    the statement's kind
 * @param table   the table written or altered (unquoted, as written), or {@code null}
 * @param name    the savepoint name for SAVEPOINT / RELEASE / ROLLBACK TO; for ALTER TABLE what it does
 *                (the upper-case word after the table name: ADD, DROP, RENAME); else {@code null}
 * @param parsed  whether JSqlParser understood the statement (false: the lexer alone classified it)
 * @param counters columns the statement adds to (counter intent), empty for plain writes
 * @param returning whether a write has a RETURNING clause (it yields rows while its statement is open)
 * @param replaces  whether an INSERT or UPDATE resolves conflicts by REPLACE ({@code REPLACE INTO},
 *                  {@code INSERT OR REPLACE}, {@code UPDATE OR REPLACE}): it may delete other rows through a
 *                  UNIQUE constraint, which SQLite does without firing their delete triggers
 * @param alters    for several statements in one string (or a batch): its {@code ALTER TABLE} statements, each
 *                  classified alone, so that one sync cannot follow is refused before any of them runs; else
 *                  empty
 * @param renamedTo for {@code ALTER TABLE t RENAME TO x}, the new name {@code x} (unquoted); else {@code null}
 * @param unnamedColumns an upsert without a column list whose {@code DO UPDATE} may add {@code excluded} values:
 *                  its counters are known only with the table's columns ({@link SqlClassifier#withColumns})
 */
public record SqlInfo(StatementKind kind, String table, String name, boolean parsed, List<Counter> counters,
                      boolean returning, boolean replaces, List<SqlInfo> alters, String renamedTo,
                      boolean unnamedColumns) {

    public SqlInfo {
        counters = List.copyOf(counters);
        alters = List.copyOf(alters);
    }

    public SqlInfo(StatementKind kind, String table, String name, boolean parsed, List<Counter> counters,
                   boolean returning, boolean replaces, List<SqlInfo> alters, String renamedTo) {
        this(kind, table, name, parsed, counters, returning, replaces, alters, renamedTo, false);
    }

    public SqlInfo(StatementKind kind, String table, String name, boolean parsed, List<Counter> counters,
                   boolean returning, boolean replaces, List<SqlInfo> alters) {
        this(kind, table, name, parsed, counters, returning, replaces, alters, null);
    }

    public SqlInfo(StatementKind kind, String table, String name, boolean parsed, List<Counter> counters,
                   boolean returning, boolean replaces) {
        this(kind, table, name, parsed, counters, returning, replaces, List.of());
    }

    /** This classification with {@code alters} in place of its own. */
    public SqlInfo withAlters(List<SqlInfo> alters) {
        return new SqlInfo(kind, table, name, parsed, counters, returning, replaces, alters, renamedTo, unnamedColumns);
    }

    /** This classification with {@code counters} in place of its own, its columns known. */
    public SqlInfo withCounters(List<Counter> counters) {
        return new SqlInfo(kind, table, name, parsed, counters, returning, replaces, alters, renamedTo, false);
    }

    public SqlInfo(StatementKind kind, String table, String name, boolean parsed, List<Counter> counters,
                   boolean returning) {
        this(kind, table, name, parsed, counters, returning, false);
    }

    public SqlInfo(StatementKind kind, String table, String name, boolean parsed) {
        this(kind, table, name, parsed, List.of(), false, false);
    }
}
