package io.syncsqlite.driver.sql;

import net.sf.jsqlparser.expression.DoubleValue;
import net.sf.jsqlparser.expression.Expression;
import net.sf.jsqlparser.expression.Function;
import net.sf.jsqlparser.expression.JdbcParameter;
import net.sf.jsqlparser.expression.LongValue;
import net.sf.jsqlparser.expression.SignedExpression;
import net.sf.jsqlparser.expression.operators.arithmetic.Addition;
import net.sf.jsqlparser.expression.operators.arithmetic.Subtraction;
import net.sf.jsqlparser.expression.operators.conditional.AndExpression;
import net.sf.jsqlparser.expression.operators.relational.EqualsTo;
import net.sf.jsqlparser.expression.operators.relational.ExpressionList;
import net.sf.jsqlparser.expression.operators.relational.ParenthesedExpressionList;
import net.sf.jsqlparser.parser.CCJSqlParserUtil;
import net.sf.jsqlparser.schema.Column;
import net.sf.jsqlparser.schema.Table;
import net.sf.jsqlparser.statement.Statement;
import net.sf.jsqlparser.statement.delete.Delete;
import net.sf.jsqlparser.statement.insert.Insert;
import net.sf.jsqlparser.statement.update.Update;
import net.sf.jsqlparser.statement.update.UpdateSet;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Classifies SQL text for the driver, behind a cache keyed by the SQL string.
 *
 * <p>Two stages, because JSqlParser 5.4 rejects about a quarter of real SQLite statements
 * ({@code INSERT OR REPLACE}, {@code BEGIN IMMEDIATE}, {@code RELEASE x}, {@code PRAGMA}, {@code STRICT}
 * tables...): a quote- and comment-aware lexer decides the kind of every statement, and JSqlParser,
 * called on the caller's thread (its default {@code parse(String)} spawns an executor per call, 6-23x
 * slower), resolves the target table of DML when it can. A statement JSqlParser cannot parse is still
 * classified; the triggers, not the parse, decide what is captured, so a parse failure never loses a
 * write.
 *
 * <p>The cache makes repeated SQL free: applications and ORMs issue the same few hundred statement texts.
 * It is bounded by clearing it when full, which keeps the hot path a single lock-free lookup.
 *
 * <p>Thread-safe.
 */
public final class SqlClassifier {

    private static final int MAX_CACHED = 4096;
    private static final int MAX_SQL_CACHED = 16 * 1024;
    private static final int HEAD_TOKENS = 48;

    private final ConcurrentHashMap<String, SqlInfo> cache = new ConcurrentHashMap<>();

    public SqlInfo classify(String sql) {
        SqlInfo info = cache.get(sql);
        if (info != null) {
            return info;
        }
        info = classifyUncached(sql);
        if (sql.length() <= MAX_SQL_CACHED) {
            if (cache.size() >= MAX_CACHED) {
                cache.clear();
            }
            cache.put(sql, info);
        }
        return info;
    }

    /** Classifies without touching the cache (used by benchmarks to measure the cold cost). */
    public static SqlInfo classifyUncached(String sql) {
        List<String> originals = new ArrayList<>();
        List<SqlLexer.Token> t = SqlLexer.tokens(sql, HEAD_TOKENS, originals);
        if (t.isEmpty()) {
            return new SqlInfo(StatementKind.READ, null, null, false);
        }
        if (hasSecondStatement(sql)) {
            return new SqlInfo(StatementKind.UNKNOWN, null, null, false, List.of(), false, severalReplace(sql),
                    alters(sql));
        }
        int i = 0;
        if (t.get(0).is("WITH")) {
            i = skipCommonTableExpressions(t);
            if (i >= t.size() && t.size() >= HEAD_TOKENS) {
                // A WITH clause longer than the head: read on (once per distinct SQL text, which is cached).
                originals.clear();
                t = SqlLexer.tokens(sql, Integer.MAX_VALUE, originals);
                i = skipCommonTableExpressions(t);
            }
            if (i >= t.size()) {
                return new SqlInfo(StatementKind.UNKNOWN, null, null, false);
            }
        }
        SqlLexer.Token head = t.get(i);
        switch (head.quoted() ? "" : head.text()) {
            case "SELECT", "VALUES", "EXPLAIN":
                return new SqlInfo(StatementKind.READ, null, null, false);
            case "INSERT", "REPLACE":
                return dml(withoutConflictClause(sql, "INSERT", head.is("INSERT") && i + 1 < t.size() && t.get(i + 1).is("OR")),
                        StatementKind.INSERT, tableAfter(t, originals, i, "INTO"), head.is("REPLACE") || orReplace(t, i + 1));
            case "UPDATE":
                return dml(withoutConflictClause(sql, "UPDATE", i + 1 < t.size() && t.get(i + 1).is("OR")),
                        StatementKind.UPDATE, tableAfterOr(t, originals, i + 1), orReplace(t, i + 1));
            case "DELETE":
                return dml(sql, StatementKind.DELETE, tableAfter(t, originals, i, "FROM"), false);
            case "BEGIN":
                return new SqlInfo(StatementKind.BEGIN, null, null, false);
            case "COMMIT", "END":
                return new SqlInfo(StatementKind.COMMIT, null, null, false);
            case "ROLLBACK":
                return rollback(t, originals);
            case "SAVEPOINT":
                return new SqlInfo(StatementKind.SAVEPOINT, null, name(t, originals, 1), false);
            case "RELEASE":
                return new SqlInfo(StatementKind.RELEASE, null,
                        name(t, originals, t.size() > 1 && t.get(1).is("SAVEPOINT") ? 2 : 1), false);
            case "PRAGMA", "ANALYZE", "ATTACH", "DETACH", "VACUUM", "REINDEX":
                return new SqlInfo(StatementKind.PRAGMA, null, null, false);
            case "CREATE":
                return create(t, originals);
            case "ALTER":
                return alter(t, originals);
            case "DROP":
                if (t.size() > 1 && t.get(1).is("TABLE")) {
                    return new SqlInfo(StatementKind.DROP_TABLE, tableAfter(t, originals, 0, "TABLE"), null, false);
                }
                return new SqlInfo(StatementKind.OTHER_DDL, null, null, false);
            default:
                return new SqlInfo(StatementKind.UNKNOWN, null, null, false);
        }
    }

    /** Whether the tokens at {@code k} are {@code OR REPLACE}. */
    private static boolean orReplace(List<SqlLexer.Token> t, int k) {
        return k + 1 < t.size() && t.get(k).is("OR") && t.get(k + 1).is("REPLACE");
    }

    /**
     * {@code sql} without the {@code OR <conflict>} after its {@code verb} (UPDATE, INSERT), when {@code conflictClause}:
     * for JSqlParser, which does not know SQLite's {@code UPDATE OR IGNORE} or an {@code INSERT OR IGNORE} with an
     * upsert clause, and would leave the statement's increments merged as plain sets (SqliteShapesReviewTest,
     * TodayThirdReviewTest). What the clause does is the lexer's to tell ({@code replaces}).
     */
    private static String withoutConflictClause(String sql, String verb, boolean conflictClause) {
        if (!conflictClause) {
            return sql;
        }
        List<SqlLexer.Span> spans = SqlLexer.spans(sql);
        for (int k = 0; k + 2 < spans.size(); k++) {
            if (spans.get(k).token().is(verb)) {
                return spans.get(k + 1).token().is("OR")
                        ? sql.substring(0, spans.get(k + 1).start()) + sql.substring(spans.get(k + 2).end()) : sql;
            }
        }
        return sql;
    }

    private static SqlInfo dml(String sql, StatementKind kind, String lexedTable, boolean replaces) {
        String table = lexedTable;
        boolean parsed = false;
        boolean unnamed = false;
        List<Counter> counters = new ArrayList<>();
        try {
            Statement st = parse(sql);
            Table target = st instanceof Insert ins ? ins.getTable()
                    : st instanceof Update up ? up.getTable()
                    : st instanceof Delete del ? del.getTable() : null;
            if (target != null) {
                // JSqlParser splits a quoted name holding a dot ("app.users") as schema and table; the lexer
                // reads quotes as SQLite does.
                table = lexedTable != null && lexedTable.contains(".") ? lexedTable : unquote(target.getName());
                parsed = true;
            }
            if (st instanceof Update up) {
                counters(up.getUpdateSets(), targetNames(up.getTable()), Map.of(), counters);
                versions(up, counters);
            } else if (st instanceof Insert ins && ins.getConflictAction() != null
                    && ins.getConflictAction().getUpdateSets() != null) {
                counters(ins.getConflictAction().getUpdateSets(), targetNames(ins.getTable()), insertedValues(ins), counters);
            }
            unnamed = st instanceof Insert ins && ins.getColumns() == null && ins.getConflictAction() != null
                    && ins.getConflictAction().getUpdateSets() != null && EXCLUDED.matcher(sql).find();
        } catch (Exception | StackOverflowError e) {
            // JSqlParser does not know this SQLite form; the lexer's answer stands, but for an UPDATE's increments.
            if (kind == StatementKind.UPDATE) {
                counters = setCounters(sql);
            }
        }
        return new SqlInfo(kind, table, null, parsed, counters, hasReturning(sql), replaces, List.of(), null, unnamed);
    }

    /**
     * The increments of an UPDATE JSqlParser cannot read whole, read from the statement cut before its WHERE: a
     * WHERE with SQLite's {@code IS}/{@code IS NOT} of a value ({@code note IS NOT 'x'}, {@code owner IS ?}) failed
     * the parse, and the statement's increments merged as plain sets (TodayThirdReviewTest). The SET list is what
     * names them; a version column, read from the WHERE, is left as a plain set.
     */
    private static List<Counter> setCounters(String sql) {
        int depth = 0;
        for (SqlLexer.Span span : SqlLexer.spans(sql)) {
            SqlLexer.Token t = span.token();
            if (t.is("(")) {
                depth++;
            } else if (t.is(")")) {
                depth--;
            } else if (depth == 0 && t.is("WHERE")) {
                try {
                    String head = sql.substring(0, span.start());
                    if (parse(head) instanceof Update up) {
                        List<Counter> out = new ArrayList<>();
                        counters(up.getUpdateSets(), targetNames(up.getTable()), Map.of(), out);
                        return out;
                    }
                } catch (Exception | StackOverflowError e) {
                    // not even its SET list reads: no increments known
                }
                break;
            }
        }
        return new ArrayList<>();
    }

    /** JSqlParser's reading of {@code sql}; SQLite also quotes names in brackets ({@code [item]}), read only when told. */
    private static Statement parse(String sql) throws net.sf.jsqlparser.parser.ParseException {
        return CCJSqlParserUtil.newParser(sql).withSquareBracketQuotation(sql.indexOf('[') >= 0).Statement();
    }

    private static final java.util.regex.Pattern EXCLUDED = java.util.regex.Pattern.compile("(?i)excluded");

    /**
     * The counters of an upsert without a column list ({@link SqlInfo#unnamedColumns}), given the columns its
     * {@code VALUES} fill, in order (the table's columns but generated ones): {@code INSERT INTO item VALUES (?, ?)
     * ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty} adds its second parameter. Without them such an
     * increment merged last-writer-wins, and one of two devices' amounts was lost (SqliteShapesReviewTest).
     *
     * @return the counters, or {@code info}'s own when the statement does not read as such an upsert
     */
    public static List<Counter> withColumns(String sql, SqlInfo info, List<String> columns) {
        try {
            Statement st = parse(withoutConflictClause(sql, "INSERT", true));
            if (st instanceof Insert ins && ins.getColumns() == null && ins.getConflictAction() != null
                    && ins.getConflictAction().getUpdateSets() != null) {
                ExpressionList<Column> named = new ExpressionList<>();
                for (String c : columns) {
                    named.add(new Column(c));
                }
                ins.setColumns(named);
                List<Counter> counters = new ArrayList<>();
                counters(ins.getConflictAction().getUpdateSets(), targetNames(ins.getTable()), insertedValues(ins), counters);
                return counters;
            }
        } catch (Exception | StackOverflowError e) {
            // as in dml: the classification stands
        }
        return info.counters();
    }

    /**
     * Finds the optimistic lock of an ORM: {@code SET version = ? ... WHERE ... AND version = ?}, on a column
     * named {@code version} ({@link #isVersion}: Hibernate's {@code @Version} field). Such
     * a column merges as a counter of the difference (one per update): set by the last writer, it went back
     * after concurrent offline edits (two on one device, one later on another, ended at one), and a detached
     * copy of that version then merged without an optimistic-lock failure. Added up, it only grows. The
     * name keeps other compare-and-set updates ({@code SET holder = ? WHERE holder = ?}, and Hibernate's
     * {@code @OptimisticLocking(type = DIRTY)} on any column) last-writer-wins, and {@link Counter#amount}
     * counts only a step of one, the step Hibernate takes.
     */
    private static void versions(Update up, List<Counter> out) {
        Map<String, Integer> compared = new HashMap<>();
        equalities(up.getWhere(), compared);
        for (UpdateSet set : up.getUpdateSets()) {
            if (set.getColumns().size() != set.getValues().size()) {
                continue;
            }
            for (int i = 0; i < set.getColumns().size(); i++) {
                String column = unquote(set.getColumn(i).getColumnName());
                String key = column.toLowerCase(Locale.ROOT);
                Integer was = compared.get(key);
                if (was != null && isVersion(column) && unwrap(set.getValue(i)) instanceof JdbcParameter p
                        && p.getIndex() != null && out.stream().noneMatch(c -> c.column().equalsIgnoreCase(column))) {
                    out.add(new Counter(column, 1, p.getIndex(), null, was));
                }
            }
        }
    }

    /**
     * {@code version}, in any case: Hibernate's {@code @Version} field as nearly every entity names it. Not
     * every name ending in it: {@code appVersion}, {@code schema_version} and {@code conversion} are data that
     * Hibernate's {@code @OptimisticLocking(type = DIRTY)} compares and sets the same way, and summing them
     * is wrong (FixesReviewTest, SequenceSecondReviewTest).
     */
    static boolean isVersion(String column) {
        return column.equalsIgnoreCase("version");
    }

    /** The {@code column = ?} terms of a WHERE's top-level AND chain, by lower-case column name. */
    private static void equalities(Expression where, Map<String, Integer> out) {
        Expression e = unwrap(where);
        if (e instanceof AndExpression and) {
            equalities(and.getLeftExpression(), out);
            equalities(and.getRightExpression(), out);
        } else if (e instanceof EqualsTo eq) {
            Expression l = unwrap(eq.getLeftExpression());
            Expression r = unwrap(eq.getRightExpression());
            if (l instanceof JdbcParameter && r instanceof Column) {
                Expression t = l;
                l = r;
                r = t;
            }
            if (l instanceof Column c && r instanceof JdbcParameter p && p.getIndex() != null) {
                out.put(unquote(c.getColumnName()).toLowerCase(Locale.ROOT), p.getIndex());
            }
        }
    }

    /**
     * The names a column of the written table may be qualified with: its name and its alias, lower case. In
     * {@code UPDATE item SET qty = d.qty + 1 FROM delivery AS d}, {@code d.qty} is another table's column, and the
     * assignment a plain set, not an increment (SqliteShapesReviewTest).
     */
    private static Set<String> targetNames(Table table) {
        Set<String> names = new HashSet<>();
        names.add(unquote(table.getName()).toLowerCase(Locale.ROOT));
        if (table.getAlias() != null && table.getAlias().getName() != null) {
            names.add(unquote(table.getAlias().getName()).toLowerCase(Locale.ROOT));
        }
        return names;
    }

    /**
     * Finds {@code c = c + x} / {@code c = c - x} assignments whose {@code x} is a parameter or a number, where
     * {@code c} is the written table's column (unqualified, or qualified by one of {@code target}).
     */
    private static void counters(List<UpdateSet> sets, Set<String> target, Map<String, Expression> inserted,
            List<Counter> out) {
        for (UpdateSet set : sets) {
            if (set.getColumns().size() != set.getValues().size()) {
                continue;
            }
            for (int i = 0; i < set.getColumns().size(); i++) {
                String column = unquote(set.getColumn(i).getColumnName());
                Counter c = counter(column, target, unwrap(set.getValue(i)), inserted);
                if (c != null) {
                    out.add(c);
                }
            }
        }
    }

    private static Counter counter(String column, Set<String> target, Expression e, Map<String, Expression> inserted) {
        if (e instanceof Addition add) {
            int left = columnRef(add.getLeftExpression(), column, target);
            if (left >= 0) {
                return zero(amount(column, 1, add.getRightExpression(), inserted), left);
            }
            int right = columnRef(add.getRightExpression(), column, target);
            if (right >= 0) {
                return zero(amount(column, 1, add.getLeftExpression(), inserted), right);
            }
        } else if (e instanceof Subtraction sub) {
            int left = columnRef(sub.getLeftExpression(), column, target);
            if (left >= 0) {
                return zero(amount(column, -1, sub.getRightExpression(), inserted), left);
            }
        }
        return null;
    }

    private static Counter zero(Counter c, int zero) {
        return c == null || zero == 0 ? c : new Counter(c.column(), c.sign(), c.parameter(), c.literal(), c.minus(), zero);
    }

    /**
     * Whether {@code e} reads the written table's {@code column} as a counter does: -1 if not; 0 for the column, or
     * for {@code coalesce(column, 0)} / {@code ifnull(column, 0)} (a null-safe increment, which the relay's
     * {@code coalesce(c, 0) + amount} already is); the parameter index of the fallback of {@code coalesce(column, ?)}
     * (jOOQ binds it), which must be bound 0 at execution ({@link Counter#zero}).
     */
    private static int columnRef(Expression e, String column, Set<String> target) {
        e = unwrap(e);
        if (isColumn(e, column, target)) {
            return 0;
        }
        if (e instanceof Function f && f.getName() != null
                && ("coalesce".equalsIgnoreCase(f.getName()) || "ifnull".equalsIgnoreCase(f.getName()))
                && f.getParameters() != null && f.getParameters().size() == 2
                && isColumn((Expression) f.getParameters().get(0), column, target)) {
            Expression fallback = unwrap((Expression) f.getParameters().get(1));
            if (fallback instanceof LongValue v && v.getValue() == 0) {
                return 0;
            }
            if (fallback instanceof JdbcParameter p && p.getIndex() != null) {
                return p.getIndex();
            }
        }
        return -1;
    }

    private static Counter amount(String column, int sign, Expression e, Map<String, Expression> inserted) {
        e = unwrap(e);
        if (e instanceof SignedExpression signed && signed.getSign() == '-') {
            return amount(column, -sign, signed.getExpression(), inserted);
        }
        if (e instanceof JdbcParameter p && p.getIndex() != null) {
            return new Counter(column, sign, p.getIndex(), null);
        }
        if (e instanceof LongValue v) {
            return new Counter(column, sign, 0, BigDecimal.valueOf(v.getValue()));
        }
        if (e instanceof DoubleValue v) {
            return new Counter(column, sign, 0, BigDecimal.valueOf(v.getValue()));
        }
        if (e instanceof Column c && c.getTable() != null && "excluded".equalsIgnoreCase(c.getTable().getName())) {
            Expression value = inserted.get(unquote(c.getColumnName()).toLowerCase(Locale.ROOT));
            return value == null ? null : amount(column, sign, value, Map.of());
        }
        return null;
    }

    /** Whether {@code e} is the written table's {@code column}: unqualified, or qualified by one of {@code target}. */
    private static boolean isColumn(Expression e, String column, Set<String> target) {
        e = unwrap(e);
        return e instanceof Column c && (c.getTable() == null || c.getTable().getName() == null
                || target.contains(unquote(c.getTable().getName()).toLowerCase(Locale.ROOT)))
                && unquote(c.getColumnName()).equalsIgnoreCase(column);
    }

    private static Expression unwrap(Expression e) {
        while (e instanceof ParenthesedExpressionList<?> p && p.size() == 1) {
            e = (Expression) p.get(0);
        }
        return e;
    }

    /** The single row of an {@code INSERT ... VALUES}, by lower-case column name. */
    private static Map<String, Expression> insertedValues(Insert ins) {
        Map<String, Expression> out = new HashMap<>();
        if (ins.getColumns() == null || ins.getValues() == null) {
            return out;
        }
        ExpressionList<?> row = ins.getValues().getExpressions();
        if (row.size() == 1 && row.get(0) instanceof ExpressionList<?> nested) {
            row = nested;
        }
        if (row.size() != ins.getColumns().size()) {
            return out;
        }
        for (int i = 0; i < row.size(); i++) {
            out.put(unquote(ins.getColumns().get(i).getColumnName()).toLowerCase(Locale.ROOT), (Expression) row.get(i));
        }
        return out;
    }

    /** ALTER TABLE: the table, and as {@code name} the word after it ({@code ADD}, {@code DROP}, {@code RENAME}). */
    /**
     * An ALTER TABLE: the table, and what it does (ADD, DROP, RENAME). A table qualified by another schema than
     * {@code main} ({@code temp}, an attached file) is none of the synced ones: its table is left null.
     */
    private static SqlInfo alter(List<SqlLexer.Token> t, List<String> originals) {
        String table = tableAfter(t, originals, 0, "TABLE");
        int k = 3;
        if (t.size() > 4 && t.get(3).is(".")) {
            k = 5;
            if (!"main".equalsIgnoreCase(name(t, originals, 2))) {
                table = null;
            }
        }
        String action = t.size() > k && t.get(1).is("TABLE") && !t.get(k).quoted() ? t.get(k).text() : null;
        // RENAME TO x renames the table (RENAME [COLUMN] a TO b a column)
        String renamedTo = "RENAME".equals(action) && t.size() > k + 2 && t.get(k + 1).is("TO")
                ? name(t, originals, k + 2) : null;
        return new SqlInfo(StatementKind.ALTER_TABLE, table, action, false, List.of(), false, false, List.of(), renamedTo);
    }

    private static SqlInfo rollback(List<SqlLexer.Token> t, List<String> originals) {
        for (int k = 1; k < t.size(); k++) {
            if (t.get(k).is("TO")) {
                int at = k + 1 < t.size() && t.get(k + 1).is("SAVEPOINT") ? k + 2 : k + 1;
                return new SqlInfo(StatementKind.ROLLBACK_TO, null, name(t, originals, at), false);
            }
        }
        return new SqlInfo(StatementKind.ROLLBACK, null, null, false);
    }

    private static SqlInfo create(List<SqlLexer.Token> t, List<String> originals) {
        int k = 1;
        while (k < t.size() && (t.get(k).is("TEMP") || t.get(k).is("TEMPORARY") || t.get(k).is("UNIQUE")
                || t.get(k).is("VIRTUAL"))) {
            k++;
        }
        if (k < t.size() && t.get(k).is("TABLE") && !t.get(k - 1).is("VIRTUAL")) {
            boolean temp = k > 1;
            return new SqlInfo(temp ? StatementKind.OTHER_DDL : StatementKind.CREATE_TABLE,
                    tableAfter(t, originals, 0, "TABLE"), null, false);
        }
        return new SqlInfo(StatementKind.OTHER_DDL, null, null, false);
    }

    /** The (possibly schema-qualified) name after the first {@code keyword}, skipping IF [NOT] EXISTS. */
    private static String tableAfter(List<SqlLexer.Token> t, List<String> originals, int from, String keyword) {
        for (int k = from; k < t.size(); k++) {
            if (t.get(k).is(keyword)) {
                return tableAfterOr(t, originals, k + 1);
            }
        }
        return null;
    }

    /** The name at {@code k}, after optional {@code OR <conflict>} and {@code IF [NOT] EXISTS}. */
    private static String tableAfterOr(List<SqlLexer.Token> t, List<String> originals, int k) {
        if (k < t.size() && t.get(k).is("OR")) {
            k += 2;
        }
        if (k < t.size() && t.get(k).is("IF")) {
            k += t.size() > k + 1 && t.get(k + 1).is("NOT") ? 3 : 2;
        }
        if (k >= t.size()) {
            return null;
        }
        // schema.table: the table is the part after the dot
        if (k + 2 < t.size() && t.get(k + 1).text().equals(".") && !t.get(k + 1).quoted()) {
            k += 2;
        }
        return t.get(k).identifier(originals.get(k));
    }

    private static String name(List<SqlLexer.Token> t, List<String> originals, int k) {
        return k < t.size() ? t.get(k).identifier(originals.get(k)) : null;
    }

    private static int skipCommonTableExpressions(List<SqlLexer.Token> t) {
        int depth = 0;
        for (int k = 1; k < t.size(); k++) {
            String s = t.get(k).quoted() ? "" : t.get(k).text();
            if (s.equals("(")) {
                depth++;
            } else if (s.equals(")")) {
                depth--;
            } else if (depth == 0 && (s.equals("SELECT") || s.equals("INSERT") || s.equals("UPDATE")
                    || s.equals("DELETE") || s.equals("REPLACE") || s.equals("VALUES"))) {
                return k;
            }
        }
        return t.size();
    }

    private static boolean hasReturning(String sql) {
        if (sql.toUpperCase(Locale.ROOT).indexOf("RETURNING") < 0) {
            return false;
        }
        for (SqlLexer.Token t : SqlLexer.tokens(sql, Integer.MAX_VALUE, null)) {
            if (t.is("RETURNING")) {
                return true;
            }
        }
        return false;
    }

    /** True when a {@code ;} outside quotes and comments is followed by anything but space or comments. */
    private static boolean hasSecondStatement(String sql) {
        int semi = sql.indexOf(';');
        if (semi < 0) {
            return false;
        }
        List<SqlLexer.Token> all = SqlLexer.tokens(sql, Integer.MAX_VALUE, null);
        for (int k = triggerBodyEnd(all); k < all.size(); k++) {
            if (all.get(k).is(";")) {
                for (int j = k + 1; j < all.size(); j++) {
                    if (!all.get(j).is(";")) {
                        return true;
                    }
                }
                return false;
            }
        }
        return false;
    }

    /**
     * For a string that starts with {@code CREATE [TEMP] TRIGGER}: the index of the token after its body's
     * {@code END}, else 0. The statements of a trigger's body end at their {@code ;} but belong to the one CREATE
     * TRIGGER statement, which SQLite parses whole: read as several statements, a batch entry creating a trigger
     * ran in one call with the entries after it, before the capture triggers were installed again after it, so
     * the application's trigger fired first and its write was captured before the insert that made the row.
     * {@code CASE ... END} (in the WHEN clause or the body) nests.
     */
    private static int triggerBodyEnd(List<SqlLexer.Token> t) {
        if (t.isEmpty() || !t.get(0).is("CREATE")) {
            return 0;
        }
        int i = t.size() > 1 && (t.get(1).is("TEMP") || t.get(1).is("TEMPORARY")) ? 2 : 1;
        if (i >= t.size() || !t.get(i).is("TRIGGER")) {
            return 0;
        }
        int cases = 0;
        for (i++; i < t.size(); i++) {
            if (t.get(i).is("CASE")) {
                cases++;
            } else if (t.get(i).is("END") && cases-- == 0) {
                return i + 1;
            }
        }
        return 0;
    }

    /**
     * Whether a table's SQL (as {@code sqlite_schema} keeps it) declares a constraint {@code ON CONFLICT
     * REPLACE}: read by tokens, so comments inside the clause do not hide it, and strings and comments that
     * mention it do not count.
     */
    public static boolean declaresOnConflictReplace(String tableSql) {
        List<SqlLexer.Token> t = SqlLexer.tokens(tableSql, Integer.MAX_VALUE, null);
        for (int k = 0; k + 2 < t.size(); k++) {
            if (t.get(k).is("ON") && t.get(k + 1).is("CONFLICT") && t.get(k + 2).is("REPLACE")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a trigger's SQL writes with REPLACE ({@code INSERT OR REPLACE}, {@code REPLACE INTO},
     * {@code UPDATE OR REPLACE}); the {@code replace()} function does not count.
     */
    public static boolean writesByReplace(String triggerSql) {
        List<SqlLexer.Token> t = SqlLexer.tokens(triggerSql, Integer.MAX_VALUE, null);
        for (int k = 0; k < t.size(); k++) {
            if (t.get(k).is("REPLACE") && (k > 0 && t.get(k - 1).is("OR") || k + 1 < t.size() && t.get(k + 1).is("INTO"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * The parts of a {@code CREATE [UNIQUE] INDEX} statement that decide which rows it holds unique: the SQL of
     * each indexed term (a column or an expression, without the {@code COLLATE} and {@code ASC}/{@code DESC}
     * that apply to the whole term), the SQL of its {@code WHERE}, or null; the names its terms and WHERE
     * mention (lower-case), and whether they qualify one ({@code t.a}).
     */
    public record IndexShape(List<String> terms, String where, java.util.Set<String> names, boolean qualifies) {
    }

    /** {@code createIndexSql} read as an index (see {@link IndexShape}), or null when it cannot be read. */
    public static IndexShape indexShape(String createIndexSql) {
        List<SqlLexer.Span> t = SqlLexer.spans(createIndexSql);
        int k = 0;
        while (k < t.size() && !t.get(k).token().is("ON")) {
            k++;
        }
        while (k < t.size() && !t.get(k).token().is("(")) {
            k++;
        }
        if (k >= t.size()) {
            return null;
        }
        List<String> terms = new ArrayList<>();
        int depth = 0;
        int first = k + 1;
        int end = -1;
        for (int j = k; j < t.size() && end < 0; j++) {
            SqlLexer.Token tok = t.get(j).token();
            if (tok.is("(")) {
                depth++;
            } else if (tok.is(")") || tok.is(",") && depth == 1) {
                if (tok.is(")")) {
                    depth--;
                }
                if (depth == 0 || tok.is(",")) {
                    int last = j - 1;
                    // A sort order, then a collation, apply to the whole term only after an operand of their own.
                    if (last > first && (t.get(last).token().is("ASC") || t.get(last).token().is("DESC"))) {
                        last--;
                    }
                    if (last - 2 >= first && t.get(last - 1).token().is("COLLATE") && singleOperand(t, first, last - 2)) {
                        last -= 2;
                    }
                    if (last < first) {
                        return null;
                    }
                    terms.add(createIndexSql.substring(t.get(first).start(), t.get(last).end()));
                    first = j + 1;
                    if (depth == 0) {
                        end = j;
                    }
                }
            } else if (tok.is(";")) {
                return null;
            }
        }
        if (end < 0) {
            return null;
        }
        String where = null;
        int last = t.size() - 1;
        while (last > end && t.get(last).token().is(";")) {
            last--;
        }
        if (last > end) {
            if (!t.get(end + 1).token().is("WHERE") || last < end + 2) {
                return null;
            }
            where = createIndexSql.substring(t.get(end + 2).start(), t.get(last).end());
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        boolean qualifies = false;
        for (int m = k + 1; m <= last; m++) {
            SqlLexer.Token tok = t.get(m).token();
            names.add(tok.text().toLowerCase(java.util.Locale.ROOT));
            qualifies |= tok.is(".") && m + 1 <= last && name(t.get(m - 1).token()) && name(t.get(m + 1).token());
        }
        return new IndexShape(terms, where, names, qualifies);
    }

    /** Whether a token names something (a quoted name, or a word not starting with a digit: 0.5 is a number). */
    private static boolean name(SqlLexer.Token tok) {
        char c = tok.text().isEmpty() ? '0' : tok.text().charAt(0);
        return tok.quoted() || Character.isLetter(c) || c == '_';
    }

    /**
     * Whether the tokens {@code from..to} are one operand, which a {@code COLLATE} after them applies to as a
     * whole: one token, or one parenthesised group, or a function call.
     */
    private static boolean singleOperand(List<SqlLexer.Span> t, int from, int to) {
        if (from == to) {
            return true;
        }
        int open = t.get(from).token().is("(") ? from : t.get(from + 1).token().is("(") ? from + 1 : -1;
        if (open < 0) {
            return false;
        }
        int depth = 0;
        for (int m = open; m <= to; m++) {
            if (t.get(m).token().is("(")) {
                depth++;
            } else if (t.get(m).token().is(")") && --depth == 0) {
                return m == to;
            }
        }
        return false;
    }

    /** Statement heads that manage the transaction. */
    private static final java.util.Set<String> TRANSACTION_CONTROL =
            java.util.Set.of("BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE");

    /**
     * For several statements in one string: whether one of them may resolve a conflict by REPLACE (the word
     * appears outside strings and comments, as a keyword or as the {@code replace()} function, which only
     * costs the flag) and none manages the transaction or says ROLLBACK anywhere (so that the string can run
     * inside a transaction of the driver's: {@code SyncConnection.run}).
     */
    private static boolean severalReplace(String sql) {
        boolean replace = false;
        boolean head = true;
        for (SqlLexer.Token token : SqlLexer.tokens(sql, Integer.MAX_VALUE, null)) {
            if (token.quoted()) {
                head = false;
                continue;
            }
            String text = token.text();
            if (head && TRANSACTION_CONTROL.contains(text) || "ROLLBACK".equals(text)) {
                return false;
            }
            head = ";".equals(text);
            replace |= "REPLACE".equals(text);
        }
        return replace;
    }

    /**
     * {@code info} of {@code sql} for the JDBC calls through which sqlite-jdbc runs only a string's first statement
     * ({@code execute}, {@code executeQuery}, batch entries, prepared statements; {@code executeUpdate} runs them
     * all, through {@code sqlite3_exec}): its {@link SqlInfo#alters} keep the first statement's ALTER, if any.
     */
    public static SqlInfo firstStatementOnly(SqlInfo info, String sql) {
        if (info.alters().isEmpty()) {
            return info;
        }
        return info.withAlters(alters(sql, true));
    }

    private static List<SqlInfo> alters(String sql) {
        return alters(sql, false);
    }

    /**
     * Statement heads after which a statement may write a column's value: WITH may lead to an INSERT, and a DELETE
     * may fire an application trigger that writes the new column.
     */
    private static final java.util.Set<String> WRITING_HEADS = java.util.Set.of("INSERT", "REPLACE", "UPDATE", "WITH",
            "DELETE");

    /** Statement heads that write no column's value. */
    private static final java.util.Set<String> NON_WRITING_HEADS = java.util.Set.of("SELECT", "VALUES", "EXPLAIN",
            "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "ANALYZE", "ATTACH",
            "DETACH", "VACUUM", "REINDEX", "CREATE", "ALTER", "DROP");

    /**
     * An {@code ALTER TABLE ... ADD} among several statements in one string, with where its statement ends in the
     * text (after its {@code ;}).
     */
    public record AddBeforeWrites(SqlInfo add, int end) {
    }

    /**
     * For several statements in one string: each {@code ALTER TABLE ... ADD} after which a later statement may
     * write rows (an INSERT, UPDATE, REPLACE or DELETE, a WITH, or a statement this lexer does not know). Run in one
     * call, such a statement meets the capture triggers of before the new column, which leave its values out.
     * A CREATE TRIGGER later in the string is one statement, which writes nothing itself.
     */
    public static List<AddBeforeWrites> addsBeforeWrites(String sql) {
        return beforeWrites(sql, (s, t, originals) -> {
            if (!s.trigger() && t.get(s.from()).is("ALTER")) {
                SqlInfo alter = alter(t.subList(s.from(), s.to()), originals.subList(s.from(), s.to()));
                if ("ADD".equals(alter.name()) && alter.table() != null) {
                    return new AddBeforeWrites(alter, s.end());
                }
            }
            return null;
        });
    }

    /**
     * For several statements in one string: where each {@code CREATE [TEMP] TRIGGER} ends (after its {@code ;}, or at
     * the string's end) that a later statement may write after (as for {@link #addsBeforeWrites}). Run in one call,
     * such a statement meets the capture triggers of before the application's trigger, which then fires first: its
     * write was captured before the row that caused it, and PostgreSQL refused the transaction (a foreign key onto
     * that row) and the device reverted it (SessionDiffReviewTest). A trigger's body is read as part of it.
     */
    public static List<TriggerBeforeWrites> triggersBeforeWrites(String sql) {
        // The table follows the header's first ON (CREATE TRIGGER g AFTER UPDATE OF a ON t ...).
        return beforeWrites(sql, (s, t, originals) -> s.trigger() ? new TriggerBeforeWrites(
                tableAfter(t.subList(s.from(), s.to()), originals.subList(s.from(), s.to()), 0, "ON"), s.end()) : null);
    }

    /** One statement of several in a string: its tokens {@code from..to}, where it ends in the string (after its {@code ;}). */
    private record Piece(int from, int to, int end, boolean trigger) {
    }

    private interface StatementMark<T> {
        /** What {@code s} sets up for the writes after it, or null. */
        T of(Piece s, List<SqlLexer.Token> t, List<String> originals);
    }

    /**
     * The marks of statements of {@code sql} that a later statement which may write follows (an INSERT, UPDATE,
     * REPLACE or DELETE, a WITH, or a statement this lexer does not know). Statements end at a {@code ;} outside
     * strings and comments; a CREATE TRIGGER's body, whose statements end at theirs, is part of it.
     */
    private static <T> List<T> beforeWrites(String sql, StatementMark<T> mark) {
        List<SqlLexer.Span> spans = SqlLexer.spans(sql);
        List<SqlLexer.Token> t = new ArrayList<>(spans.size());
        List<String> originals = new ArrayList<>(spans.size());
        for (SqlLexer.Span span : spans) {
            t.add(span.token());
            originals.add(span.original());
        }
        List<T> pending = new ArrayList<>();
        List<T> out = new ArrayList<>();
        int from = 0;
        while (from < t.size()) {
            int bodyEnd = triggerBodyEnd(t.subList(from, t.size()));
            int k = bodyEnd > 0 ? from + bodyEnd : from;
            while (k < t.size() && !t.get(k).is(";")) {
                k++;
            }
            if (k > from) {
                T m = mark.of(new Piece(from, k, k < t.size() ? spans.get(k).end() : sql.length(), bodyEnd > 0), t, originals);
                SqlLexer.Token head = t.get(from);
                String word = head.quoted() ? "" : head.text();
                if (m != null) {
                    pending.add(m);
                } else if (!pending.isEmpty() && (WRITING_HEADS.contains(word) || !NON_WRITING_HEADS.contains(word))) {
                    out.addAll(pending);
                    pending.clear();
                }
            }
            from = k + 1;
        }
        return out;
    }

    /** A {@code CREATE TRIGGER} on {@code table} (null if unread) among several statements, ending at {@code end}. */
    public record TriggerBeforeWrites(String table, int end) {
    }

    /**
     * Whether one of several statements in {@code sql} manages the transaction: BEGIN, COMMIT, END, ROLLBACK,
     * SAVEPOINT or RELEASE at a statement's head. The BEGIN and END of a CREATE TRIGGER's body, and the statements
     * between them, are not the string's own. {@code OR ROLLBACK} and {@code RAISE(ROLLBACK)} are not control: they
     * end a transaction only as a failing statement does, which the caller handles whatever the string.
     */
    public static boolean managesTransaction(String sql) {
        boolean head = true;
        boolean create = false;
        boolean trigger = false;
        int cases = 0;
        for (SqlLexer.Token token : SqlLexer.tokens(sql, Integer.MAX_VALUE, null)) {
            String text = token.quoted() ? "" : token.text();
            if (trigger) {
                if (text.equals("CASE")) {
                    cases++;
                } else if (text.equals("END")) {
                    trigger = cases-- > 0;
                }
                continue;
            }
            if (head && TRANSACTION_CONTROL.contains(text)) {
                return true;
            }
            if (create && text.equals("TRIGGER")) {
                trigger = true;
                cases = 0;
            }
            create = head ? text.equals("CREATE") : create && !text.equals(";");
            head = ";".equals(text);
        }
        return false;
    }

    /**
     * For several statements in one string: each {@code ALTER TABLE} among them (or only among the first
     * statement), classified alone. Cut at every {@code ;} outside strings and comments: one inside a trigger's
     * body cuts it too, but a trigger's body holds no ALTER, so no piece that starts with one comes from it
     * (and a string starting with CREATE TRIGGER has no ALTER as its first statement).
     */
    private static List<SqlInfo> alters(String sql, boolean firstOnly) {
        List<String> originals = new ArrayList<>();
        List<SqlLexer.Token> t = SqlLexer.tokens(sql, Integer.MAX_VALUE, originals);
        List<SqlInfo> out = new ArrayList<>();
        int from = 0;
        for (int k = 0; k <= t.size(); k++) {
            if (k == t.size() || t.get(k).is(";")) {
                if (k > from && t.get(from).is("ALTER")) {
                    out.add(alter(t.subList(from, k), originals.subList(from, k)));
                }
                if (firstOnly && k > from) {
                    break;
                }
                from = k + 1;
            }
        }
        return out;
    }

    private static String unquote(String name) {
        if (name.length() >= 2) {
            char a = name.charAt(0);
            char b = name.charAt(name.length() - 1);
            if ((a == '"' && b == '"') || (a == '`' && b == '`') || (a == '[' && b == ']')) {
                return name.substring(1, name.length() - 1);
            }
        }
        return name;
    }
}
