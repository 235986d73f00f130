package io.syncsqlite.driver.sql;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
 * <p>How: in a query or a write ({@code SELECT}, {@code WITH}, {@code INSERT}, {@code UPDATE}, {@code DELETE}),
 * each schema table read as a table ({@code FROM}, {@code JOIN}, a {@code FROM} list's comma, a parenthesized
 * table), of any schema but {@code temp} (an attached file may be one the driver opened), becomes a derived table
 * of its rows that neither are nor belong to a {@code _sync_*} object, named as the reference was, so the rest
 * of the query reads it unchanged. Whatever a derived table cannot stand in for leaves the whole statement as
 * written, the driver's rows included, rather than break it: the rowid ({@code rowid}, {@code oid},
 * {@code _rowid_}), a column named through the table under another name or with its schema
 * ({@code main.sqlite_master.name}), {@code INDEXED BY}/{@code NOT INDEXED}, a common table expression of that
 * name, the table written to (with {@code writable_schema}). So is DDL ({@code CREATE VIEW} or {@code TRIGGER}
 * keeps its text as the application wrote it), and a statement that names the driver's objects (a name or
 * pattern starting {@code _sync_}), as {@code DatabaseMetaData} answers a request by exact name.
 *
 * <p>Stateless; thread-safe.
 */
public final class SchemaListing {

    /**
     * SQLite's LIKE compares without case, as the driver's capture and {@code DatabaseMetaData} pick its tables;
     * {@code coalesce} keeps rows whose name is NULL (a table being created by {@code CREATE TABLE ... AS}).
     */
    private static final String NOT_THE_DRIVERS = " WHERE NOT coalesce(name LIKE '\\_sync\\_%' ESCAPE '\\'"
            + " OR tbl_name LIKE '\\_sync\\_%' ESCAPE '\\', 0))";

    /** Statements whose reads of the schema table are rewritten. */
    private static final Set<String> READING = Set.of("SELECT", "WITH", "VALUES", "INSERT", "REPLACE", "UPDATE",
            "DELETE", "EXPLAIN");

    /** Words that end a FROM clause (at the same depth). */
    private static final Set<String> AFTER_FROM = Set.of("WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW",
            "UNION", "EXCEPT", "INTERSECT", "RETURNING", "SET", "VALUES", "SELECT");

    /** Words that may follow a table reference and are not an alias of it. */
    private static final Set<String> NOT_ALIAS = Set.of("WHERE", "ORDER", "GROUP", "LIMIT", "JOIN", "INNER", "LEFT",
            "RIGHT", "FULL", "CROSS", "NATURAL", "ON", "USING", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "HAVING",
            "INDEXED", "NOT", "RETURNING", "OUTER");

    private SchemaListing() {
    }

    /** {@code sql}, or, when it reads a schema table, the same statements without the driver's objects. */
    public static String hideDriverObjects(String sql) {
        if (!namesSchemaTable(sql)) {
            return sql;
        }
        List<SqlLexer.Span> spans = SqlLexer.spans(sql);
        if (doubtful(spans)) {
            return sql;
        }
        StringBuilder out = null;
        int copied = 0;
        String verb = null;
        List<Boolean> inFrom = new ArrayList<>(List.of(false));
        for (int i = 0; i < spans.size(); i++) {
            SqlLexer.Token t = spans.get(i).token();
            if (verb == null) {
                verb = t.quoted() ? "" : t.text();
            }
            int depth = inFrom.size() - 1;
            if (t.is(";")) {
                verb = null;
                inFrom = new ArrayList<>(List.of(false));
            } else if (t.is("(")) {
                inFrom.add(false);
            } else if (t.is(")")) {
                if (depth > 0) {
                    inFrom.remove(depth);
                }
            } else if (t.is("FROM")) {
                inFrom.set(depth, true);
            } else if (!t.quoted() && AFTER_FROM.contains(t.text())) {
                inFrom.set(depth, false);
            } else if (isSchemaTable(spans.get(i)) && READING.contains(verb)) {
                int first = qualified(spans, i);
                if (first < 0 || !readAsTable(spans, first, inFrom)) {
                    continue;
                }
                if (out == null) {
                    out = new StringBuilder(sql.length() + 128);
                }
                SqlLexer.Span name = spans.get(i);
                int start = spans.get(first).start();
                out.append(sql, copied, start).append("(SELECT * FROM ").append(sql, start, name.end()).append(NOT_THE_DRIVERS);
                if (i + 1 >= spans.size() || !isAlias(spans.get(i + 1))) {
                    out.append(" AS ").append(sql, name.start(), name.end());
                }
                copied = name.end();
            }
        }
        return out == null ? sql : out.append(sql, copied, sql.length()).toString();
    }

    /**
     * Where the reference to the schema table at {@code i} starts: {@code i}, or its schema's token; -1 for the
     * {@code temp} schema's (nothing of the driver's is there).
     */
    private static int qualified(List<SqlLexer.Span> spans, int i) {
        if (i >= 2 && spans.get(i - 1).token().is(".")) {
            SqlLexer.Span schema = spans.get(i - 2);
            return schema.token().identifier(schema.original()).equalsIgnoreCase("temp") ? -1 : i - 2;
        }
        return i;
    }

    /** Whether the reference starting at {@code first} names a table read (not the one a statement writes). */
    private static boolean readAsTable(List<SqlLexer.Span> spans, int first, List<Boolean> inFrom) {
        if (first == 0) {
            return false;
        }
        SqlLexer.Token before = spans.get(first - 1).token();
        if (before.is("FROM")) {
            return first < 2 || !spans.get(first - 2).token().is("DELETE");
        }
        if (before.is("JOIN")) {
            return true;
        }
        if (before.is(",")) {
            return inFrom.get(inFrom.size() - 1);
        }
        // a parenthesized table: FROM (sqlite_master)
        return before.is("(") && first >= 2 && (spans.get(first - 2).token().is("FROM") || spans.get(first - 2).token().is("JOIN"));
    }

    /** Whether the statements hold something a derived table cannot stand in for, or ask for the driver's objects. */
    private static boolean doubtful(List<SqlLexer.Span> spans) {
        List<String> tables = new ArrayList<>(); // the schema tables' names as read (not as a column's qualifier)
        for (int i = 0; i < spans.size(); i++) {
            if (isSchemaTable(spans.get(i)) && !(i + 1 < spans.size() && spans.get(i + 1).token().is("."))) {
                tables.add(name(spans.get(i)));
            }
        }
        for (int i = 0; i < spans.size(); i++) {
            SqlLexer.Span s = spans.get(i);
            SqlLexer.Token t = s.token();
            String pattern = name(s).replace("\\", "");
            while (pattern.startsWith("%") || pattern.startsWith("*")) {
                pattern = pattern.substring(1);
            }
            if (pattern.startsWith("_sync_")) {
                return true; // a name or pattern of the driver's objects
            }
            if (!t.quoted() && (t.is("ROWID") || t.is("OID") || t.is("_ROWID_") || t.is("INDEXED"))) {
                return true;
            }
            if (!isSchemaTable(s) || i + 1 >= spans.size()) {
                continue;
            }
            SqlLexer.Token next = spans.get(i + 1).token();
            if (next.is("(") || next.is("AS") && i + 2 < spans.size() && spans.get(i + 2).token().is("(")) {
                return true; // WITH sqlite_master AS (...)
            }
            // a column named through the table with its schema, or under the other of its two names
            if (next.is(".") && (i >= 1 && spans.get(i - 1).token().is(".") || !tables.contains(name(s)))) {
                return true;
            }
        }
        return false;
    }

    /** The name a token stands for (a string's body too), lower-case. */
    private static String name(SqlLexer.Span span) {
        return span.token().identifier(span.original()).toLowerCase(Locale.ROOT);
    }

    private static boolean isSchemaTable(SqlLexer.Span span) {
        String id = span.token().identifier(span.original());
        return id.equalsIgnoreCase("sqlite_schema") || id.equalsIgnoreCase("sqlite_master");
    }

    /** Whether {@code next}, the token after a table reference, starts an alias ({@code AS x}, a bare name, a string). */
    private static boolean isAlias(SqlLexer.Span next) {
        SqlLexer.Token t = next.token();
        if (t.quoted() || t.is("AS") || t.is("'")) {
            return true;
        }
        String text = t.text();
        return !text.isEmpty() && (Character.isLetter(text.charAt(0)) || text.charAt(0) == '_') && !NOT_ALIAS.contains(text);
    }

    /**
     * Whether {@code sql} may name a schema table: {@code sqlite_master} or {@code sqlite_schema}, ASCII letters
     * compared without case. A first-letter test keeps this to about a nanosecond a character: every statement text a
     * {@code Statement} runs passes here.
     */
    private static boolean namesSchemaTable(String sql) {
        for (int i = 0, last = sql.length() - 13; i <= last; i++) {
            char c = sql.charAt(i);
            if ((c == 's' || c == 'S') && (sql.regionMatches(true, i, "sqlite_master", 0, 13)
                    || sql.regionMatches(true, i, "sqlite_schema", 0, 13))) {
                return true;
            }
        }
        return false;
    }
}
