package io.syncsqlite.driver.sql;

import java.util.List;
import java.util.Set;

/**
 * Keeps the driver's own tables and triggers out of what the application reads from SQLite's schema table
 * ({@code sqlite_schema}, or its older name {@code sqlite_master}), as {@code DatabaseMetaData} already does.
 *
 * <p>Why: tools decide what to do from that table. Flyway lists it to tell a new database from one it must
 * not touch ({@code SELECT tbl_name FROM "main".sqlite_master WHERE type='table'}), and every file the
 * driver opens holds its {@code _sync_*} tables from the first connection, so Flyway refused to migrate a
 * new file ("Found non-empty schema(s) "main" but no schema history table"), and its advice,
 * {@code baselineOnMigrate}, marks version 1 as applied and skips the migration that creates the tables.
 *
 * <p>How: each reference to the main schema's table in a {@code FROM} or {@code JOIN} becomes a derived
 * table of its rows that neither are nor belong to a {@code _sync_*} object, named as the reference was, so
 * the rest of the query reads it unchanged. A statement that names {@code _sync} anywhere ({@code '_sync_%'},
 * {@code '\_sync\_%'}) asks for the driver's objects and is left as written, as {@code DatabaseMetaData}
 * answers a request by exact name; so are the schema tables of {@code temp} and of attached files, which hold
 * nothing of the driver's.
 *
 * <p>Stateless; thread-safe.
 */
public final class SchemaListing {

    /** SQLite's {@code GLOB}, unlike {@code LIKE}, takes {@code _} literally and compares case-sensitively. */
    private static final String NOT_THE_DRIVERS = " WHERE name NOT GLOB '_sync_*' AND tbl_name NOT GLOB '_sync_*')";

    /** Words that may follow a table reference and are not an alias of it. */
    private static final Set<String> NOT_ALIAS = Set.of("WHERE", "ORDER", "GROUP", "LIMIT", "JOIN", "INNER", "LEFT",
            "RIGHT", "FULL", "CROSS", "NATURAL", "ON", "USING", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "HAVING",
            "INDEXED", "NOT", "RETURNING", "OUTER");

    private SchemaListing() {
    }

    /** {@code sql}, or, when it reads the main schema table, the same query without the driver's objects. */
    public static String hideDriverObjects(String sql) {
        if (!contains(sql, "sqlite_") || contains(sql, "_sync")) {
            return sql;
        }
        List<SqlLexer.Span> spans = SqlLexer.spans(sql);
        StringBuilder out = null;
        int copied = 0;
        for (int i = 0; i < spans.size(); i++) {
            SqlLexer.Span name = spans.get(i);
            if (!isSchemaTable(name) || (i + 1 < spans.size() && spans.get(i + 1).token().is("."))) {
                continue;
            }
            int first = i;
            if (i >= 2 && spans.get(i - 1).token().is(".")) {
                SqlLexer.Span schema = spans.get(i - 2);
                if (!schema.token().identifier(schema.original()).equalsIgnoreCase("main")) {
                    continue;
                }
                first = i - 2;
            }
            if (first == 0 || !(spans.get(first - 1).token().is("FROM") || spans.get(first - 1).token().is("JOIN"))) {
                continue;
            }
            if (out == null) {
                out = new StringBuilder(sql.length() + 96);
            }
            int start = spans.get(first).start();
            out.append(sql, copied, start).append("(SELECT * FROM ").append(sql, start, name.end()).append(NOT_THE_DRIVERS);
            if (i + 1 >= spans.size() || !isAlias(spans.get(i + 1))) {
                out.append(" AS ").append(sql, name.start(), name.end());
            }
            copied = name.end();
        }
        return out == null ? sql : out.append(sql, copied, sql.length()).toString();
    }

    private static boolean isSchemaTable(SqlLexer.Span span) {
        String id = span.token().identifier(span.original());
        return !span.token().is("'") && (id.equalsIgnoreCase("sqlite_schema") || id.equalsIgnoreCase("sqlite_master"));
    }

    /** Whether {@code next}, the token after a table reference, starts an alias ({@code AS x}, or a bare name). */
    private static boolean isAlias(SqlLexer.Span next) {
        SqlLexer.Token t = next.token();
        if (t.quoted() || t.is("AS")) {
            return true;
        }
        String text = t.text();
        return !text.isEmpty() && (Character.isLetter(text.charAt(0)) || text.charAt(0) == '_') && !NOT_ALIAS.contains(text);
    }

    /** Whether {@code sql} contains {@code lowerCase}, ASCII letters compared without case; no allocation. */
    private static boolean contains(String sql, String lowerCase) {
        int n = lowerCase.length();
        for (int i = 0, last = sql.length() - n; i <= last; i++) {
            if (sql.regionMatches(true, i, lowerCase, 0, n)) {
                return true;
            }
        }
        return false;
    }
}
