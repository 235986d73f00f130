package io.syncsqlite.driver.sql;

import io.syncsqlite.driver.jdbc.SyncSqlState;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Rewrites an {@code INSERT} that leaves a synced table's integer rowid key to SQLite, so that the driver
 * supplies the key from the ranges the relay reserved for this client.
 *
 * <p>Why: SQLite picks {@code max(rowid) + 1} for a missing {@code INTEGER PRIMARY KEY}, so two clients
 * that insert while apart pick the same value for different rows, and sync would merge them into one.
 * Hibernate's {@code IDENTITY} strategy sends exactly such statements ({@code insert into t (name) values
 * (?)}, then {@code select last_insert_rowid()}). The rewrite keeps the application's SQL text and adds
 * the key: a missing key column is appended to the column list with one extra parameter per row
 * ({@code insert into t (name, "id") values (?1, ?2)}), and a key written as {@code NULL} becomes a
 * parameter. SQLite then reports the supplied key through {@code last_insert_rowid()} and
 * {@code getGeneratedKeys()}, so the application sees nothing different.
 *
 * <p>Parameters: the application's {@code ?} become numbered {@code ?1..?n} in text order (so the key
 * parameters, numbered after them, can sit anywhere in the text), and keep their indexes. A statement
 * that already numbers its parameters ({@code ?NNN}) keeps them; named parameters ({@code :x}, {@code @x},
 * {@code $x}) or a mix cannot be renumbered safely and are refused.
 *
 * <p>Refused with SQLState 0A000, because the key cannot be supplied row by row: {@code INSERT ... SELECT}
 * and {@code INSERT ... VALUES} inside a {@code WITH} that leave the key out. A key given as a literal is left
 * alone: the application then owns its keys. A key given as a lone {@code ?} becomes {@code coalesce(?n, slot)}:
 * bound to a value it is the application's, bound NULL (jOOQ's {@code values(null, ...)}, {@code setNull}) the
 * driver supplies one, and only then takes it from the stock ({@link KeyedInsert#guard}).
 *
 * <p>Stateless; thread-safe.
 */
public final class KeyRewriter {

    private KeyRewriter() {
    }

    /**
     * An INSERT with key slots: the SQL is {@code parts[0] key0 parts[1] key1 ...}.
     *
     * @param parts         the text around the key slots; {@code parts.size() - 1} slots, one per row
     * @param appParameters how many parameters the application's own SQL has
     */
    public record KeyedInsert(List<String> parts, int appParameters, List<Integer> guards) {

        public KeyedInsert {
            parts = List.copyOf(parts);
            guards = List.copyOf(guards);
        }

        /** Every row's key supplied by the driver. */
        public KeyedInsert(List<String> parts, int appParameters) {
            this(parts, appParameters, java.util.Collections.nCopies(parts.size() - 1, 0));
        }

        /**
         * The application's parameter that holds row {@code row}'s key, written {@code coalesce(?n, slot)}: the
         * driver supplies a key only when the application bound NULL there (0: always).
         */
        public int guard(int row) {
            return guards.get(row);
        }

        /** Rows inserted, hence keys needed per execution. */
        public int keys() {
            return parts.size() - 1;
        }

        /** The JDBC parameter index of row {@code row}'s key (0-based row). */
        public int keyParameter(int row) {
            return appParameters + row + 1;
        }

        /** The SQL to prepare: each slot is a numbered parameter after the application's. */
        public String preparedSql() {
            StringBuilder sb = new StringBuilder(parts.get(0));
            for (int r = 0; r < keys(); r++) {
                sb.append('?').append(keyParameter(r)).append(parts.get(r + 1));
            }
            return sb.toString();
        }

        /** The SQL to execute directly, with the keys written as literals. */
        public String withKeys(long[] keys) {
            StringBuilder sb = new StringBuilder(parts.get(0));
            for (int r = 0; r < keys(); r++) {
                sb.append(keys[r]).append(parts.get(r + 1));
            }
            return sb.toString();
        }
    }

    private record Edit(int start, int end, String text, boolean slot) {
    }

    /**
     * @param sql          an INSERT (or REPLACE) into the table that has the key
     * @param keyColumn    the table's rowid key column
     * @param tableColumns the table's columns in declaration order (for an INSERT without column list)
     * @return the rewritten statement, or {@code null} when the statement supplies every key itself or is
     *         not a form this class recognises (SQLite then reports its own error, if any)
     * @throws SQLException 0A000 when the statement leaves the key out in a form that cannot be rewritten
     */
    public static KeyedInsert rewrite(String sql, String keyColumn, List<String> tableColumns) throws SQLException {
        List<SqlLexer.Span> t = SqlLexer.spans(sql);
        int i = 0;
        boolean withClause = false;
        if (!t.isEmpty() && t.get(0).token().is("WITH")) {
            withClause = true;
            i = skipToDepthZero(t, 1, "INSERT", "REPLACE");
        }
        if (i >= t.size() || !(is(t, i, "INSERT") || is(t, i, "REPLACE"))) {
            return null;
        }
        while (i < t.size() && !is(t, i, "INTO")) {
            i++;
        }
        i++; // table name
        if (i >= t.size()) {
            return null;
        }
        i++;
        if (is(t, i, ".")) {
            i += 2;
        }
        if (is(t, i, "AS")) {
            i += 2;
        }
        List<Edit> edits = new ArrayList<>();
        // Per row with a slot, in text order: the application parameter guarding it (0: none).
        List<Integer> guards = new ArrayList<>();
        int keyIndex = -1;
        boolean keyListed = true;
        if (is(t, i, "(")) {
            int close = matching(t, i);
            if (close < 0) {
                return null;
            }
            List<List<SqlLexer.Span>> columns = items(t, i, close);
            for (int c = 0; c < columns.size(); c++) {
                List<SqlLexer.Span> col = columns.get(c);
                if (col.size() == 1 && name(col.get(0)).equalsIgnoreCase(keyColumn)) {
                    keyIndex = c;
                }
            }
            if (keyIndex < 0) {
                keyListed = false;
                edits.add(new Edit(t.get(close).start(), t.get(close).start(), ", " + quote(keyColumn), false));
            }
            i = close + 1;
        } else {
            for (int c = 0; c < tableColumns.size(); c++) {
                if (tableColumns.get(c).equalsIgnoreCase(keyColumn)) {
                    keyIndex = c;
                }
            }
            if (keyIndex < 0) {
                return null;
            }
        }
        if (is(t, i, "DEFAULT") && is(t, i + 1, "VALUES")) {
            edits.add(new Edit(t.get(i).start(), t.get(i + 1).end(), "(" + quote(keyColumn) + ") VALUES (", false));
            edits.add(new Edit(t.get(i + 1).end(), t.get(i + 1).end(), "", true));
            edits.add(new Edit(t.get(i + 1).end(), t.get(i + 1).end(), ")", false));
            guards.add(0);
        } else if (is(t, i, "VALUES")) {
            if (withClause && !keyListed) {
                throw refused(keyColumn, "an INSERT inside WITH");
            }
            i++;
            while (is(t, i, "(")) {
                int close = matching(t, i);
                if (close < 0) {
                    return null;
                }
                if (!keyListed) {
                    edits.add(new Edit(t.get(close).start(), t.get(close).start(), ", ", false));
                    edits.add(new Edit(t.get(close).start(), t.get(close).start(), "", true));
                    guards.add(0);
                } else {
                    List<List<SqlLexer.Span>> values = items(t, i, close);
                    if (keyIndex < values.size() && values.get(keyIndex).size() == 1
                            && values.get(keyIndex).get(0).token().is("NULL")) {
                        SqlLexer.Span nul = values.get(keyIndex).get(0);
                        edits.add(new Edit(nul.start(), nul.end(), "", true));
                        guards.add(0);
                    } else if (keyIndex < values.size() && values.get(keyIndex).size() == 1
                            && values.get(keyIndex).get(0).token().text().equals("?")) {
                        // A key bound as a parameter may be bound NULL (jOOQ's values(null, ...), setNull): SQLite would
                        // then pick max(rowid) + 1, the same on two devices (JooqReviewTest). The driver supplies a
                        // key for that case only, so an application that binds its keys uses none of the stock.
                        SqlLexer.Span q = values.get(keyIndex).get(0);
                        edits.add(new Edit(q.start(), q.start(), "coalesce(", false));
                        edits.add(new Edit(q.end(), q.end(), ", ", false));
                        edits.add(new Edit(q.end(), q.end(), "", true));
                        edits.add(new Edit(q.end(), q.end(), ")", false));
                        guards.add(plainParametersBefore(t, q));
                    }
                }
                i = close + 1;
                if (!is(t, i, ",")) {
                    break;
                }
                i++;
            }
        } else if (!keyListed) {
            throw refused(keyColumn, "INSERT ... SELECT");
        }
        if (edits.stream().noneMatch(Edit::slot)) {
            return null;
        }
        int appParameters = renumberParameters(sql, t, edits, keyColumn);
        return assemble(sql, edits, appParameters, guards);
    }

    /** The 1-based index the application's plain {@code ?} at {@code q} has (they are numbered in text order). */
    private static int plainParametersBefore(List<SqlLexer.Span> t, SqlLexer.Span q) {
        int n = 0;
        for (int k = 0; k < t.size() && t.get(k).start() <= q.start(); k++) {
            if (isPlainParameter(t, k)) {
                n++;
            }
        }
        return n;
    }

    /** Whether token {@code k} is a {@code ?} not followed, without a gap, by its number ({@code ?NNN}). */
    private static boolean isPlainParameter(List<SqlLexer.Span> t, int k) {
        return t.get(k).token().text().equals("?")
                && !(glued(t, k) && Character.isDigit(t.get(k + 1).original().charAt(0)));
    }

    /** Whether token {@code k + 1} follows token {@code k} without a gap (and is not quoted). */
    private static boolean glued(List<SqlLexer.Span> t, int k) {
        return k + 1 < t.size() && t.get(k + 1).start() == t.get(k).end() && !t.get(k + 1).token().quoted();
    }

    /** Adds edits that number plain {@code ?} parameters; returns how many parameters the SQL has. */
    private static int renumberParameters(String sql, List<SqlLexer.Span> t, List<Edit> edits, String key)
            throws SQLException {
        int plain = 0;
        int maxNumbered = 0;
        List<SqlLexer.Span> plainSpans = new ArrayList<>();
        for (int k = 0; k < t.size(); k++) {
            SqlLexer.Span s = t.get(k);
            String text = s.token().text();
            boolean glued = glued(t, k);
            if (text.equals("?")) {
                if (isPlainParameter(t, k)) {
                    plain++;
                    plainSpans.add(s);
                } else {
                    maxNumbered = Math.max(maxNumbered, parseIndex(t.get(k + 1).original()));
                }
            } else if ((text.equals(":") || text.equals("@")) && glued
                    || !s.token().quoted() && text.length() > 1 && "$:@#".indexOf(text.charAt(0)) >= 0) {
                throw refused(key, "a statement with named parameters");
            }
        }
        if (plain > 0 && maxNumbered > 0) {
            throw refused(key, "a statement that mixes ? and ?NNN parameters");
        }
        if (plain == 0) {
            return maxNumbered;
        }
        int n = 0;
        for (SqlLexer.Span s : plainSpans) {
            edits.add(new Edit(s.start(), s.end(), "?" + ++n, false));
        }
        return plain;
    }

    private static int parseIndex(String digits) {
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            return Integer.MAX_VALUE / 2;
        }
    }

    private static KeyedInsert assemble(String sql, List<Edit> edits, int appParameters, List<Integer> guards) {
        // Stable by position: inserts at the same position keep the order they were added in.
        List<Edit> sorted = new ArrayList<>(edits);
        sorted.sort(Comparator.comparingInt(Edit::start));
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int at = 0;
        for (Edit e : sorted) {
            current.append(sql, at, e.start());
            if (e.slot()) {
                parts.add(current.toString());
                current.setLength(0);
            } else {
                current.append(e.text());
            }
            at = Math.max(at, e.end());
        }
        current.append(sql, at, sql.length());
        parts.add(current.toString());
        return new KeyedInsert(parts, appParameters, guards);
    }

    private static SQLException refused(String key, String form) {
        return new SQLException(form + " that leaves out the integer key " + key + " of a synced table cannot be"
                + " given keys that are unique across clients; name the key column and give its value, or insert"
                + " row by row with VALUES", SyncSqlState.NOT_SUPPORTED.code());
    }

    private static boolean is(List<SqlLexer.Span> t, int i, String text) {
        return i >= 0 && i < t.size() && t.get(i).token().is(text);
    }

    private static String name(SqlLexer.Span s) {
        return s.token().quoted() ? s.token().text() : s.original();
    }

    private static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** Index of the {@code )} matching the {@code (} at {@code open}, or -1. */
    private static int matching(List<SqlLexer.Span> t, int open) {
        int depth = 0;
        for (int k = open; k < t.size(); k++) {
            if (is(t, k, "(")) {
                depth++;
            } else if (is(t, k, ")") && --depth == 0) {
                return k;
            }
        }
        return -1;
    }

    /** The comma-separated items between {@code (} at {@code open} and its {@code )} at {@code close}. */
    private static List<List<SqlLexer.Span>> items(List<SqlLexer.Span> t, int open, int close) {
        List<List<SqlLexer.Span>> out = new ArrayList<>();
        List<SqlLexer.Span> item = new ArrayList<>();
        int depth = 0;
        for (int k = open + 1; k < close; k++) {
            if (is(t, k, "(")) {
                depth++;
            } else if (is(t, k, ")")) {
                depth--;
            } else if (depth == 0 && is(t, k, ",")) {
                out.add(item);
                item = new ArrayList<>();
                continue;
            }
            item.add(t.get(k));
        }
        out.add(item);
        return out;
    }

    /** The first of {@code words} at parenthesis depth 0 from {@code from}, or {@code t.size()}. */
    private static int skipToDepthZero(List<SqlLexer.Span> t, int from, String... words) {
        int depth = 0;
        for (int k = from; k < t.size(); k++) {
            if (is(t, k, "(")) {
                depth++;
            } else if (is(t, k, ")")) {
                depth--;
            } else if (depth == 0) {
                for (String w : words) {
                    if (is(t, k, w)) {
                        return k;
                    }
                }
            }
        }
        return t.size();
    }
}
