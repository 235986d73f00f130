package io.syncsqlite.driver.capture;

import com.fasterxml.jackson.databind.node.TextNode;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;

/**
 * Generates the capture triggers of one synced table.
 *
 * <p>Per table: an AFTER INSERT trigger (every column), an AFTER UPDATE trigger when the key is unchanged
 * (the key and the changed columns, plus a {@code changed} mask telling which columns changed, so the sync
 * client sends only those: {@link #markedMask}), an AFTER UPDATE OF the key trigger for key changes (delete of
 * the old key, insert of the new row) and an AFTER DELETE trigger. A row image is copied column by column into the outbox's value
 * columns when the table fits them ({@link Layout}: no JSON is built while the application writes, which
 * was most of what capturing an update cost), else built with {@code json_object}, where BLOB values
 * become the text {@code \x<hex>}, PostgreSQL's bytea form (only columns with BLOB affinity, declared BLOB
 * or untyped, pay for that check). Deleted keys are always JSON: a delete carries nothing else.
 * A table without a primary key gets triggers that abort every write with a clear message: syncing it
 * silently wrong would be worse than refusing.
 *
 * <p>Stateless; thread-safe.
 */
public final class TriggerSql {

    public static final String PREFIX = "_sync_";

    /**
     * The capture triggers' guard: nothing is captured while the sync client applies other nodes' changes
     * ({@link Outbox#APPLYING} holds a row only inside its transactions, seen by nobody else). Those writes
     * arrived from the relay; captured, they were written to the outbox only to be deleted again before the
     * apply committed, which was most of SQLite's work for each row of an initial sync. A write by any other
     * connection or program finds the table empty and is captured as before.
     */
    static final String NOT_APPLYING = "NOT EXISTS (SELECT 1 FROM " + Outbox.APPLYING + ")";

    private TriggerSql() {
    }

    /**
     * The CREATE TRIGGER statements for {@code t}, in a stable order and text (used to detect drift).
     *
     * @param layout the id of {@code t}'s {@link Layout} when its rows are captured typed
     *               ({@link Layout#typed}), else {@code null} (JSON)
     */
    public static List<String> forTable(TableInfo t, Long layout) {
        if (!t.hasPrimaryKey()) {
            return refuse(t);
        }
        String tbl = quote(t.name());
        String lit = literal(t.name());
        String pkOld = jsonObject(t, t.pk(), "OLD", false);
        List<String> allNames = t.columns().stream().map(TableInfo.Column::name).toList();
        String sameKey = balanced(t.pk().stream().map(c -> "NOT " + differs(t, c)).toList(), " AND ");
        String anyChange = balanced(allNames.stream().map(c -> differs(t, c)).toList(), " OR ");
        String changed = layout == null ? changeMask(t, allNames) : markedMask(t);
        String newRow = "INSERT INTO _sync_outbox (tbl, op, " + rowColumns(t, layout) + ") VALUES (" + lit + ", "
                + Outbox.OP_INSERT + ", " + rowValues(t, layout, "NEW", true) + ");";
        List<String> out = new ArrayList<>();
        out.add(createTrigger(PREFIX + "ins_" + t.name()) + " AFTER INSERT ON " + tbl + " WHEN " + NOT_APPLYING
                + " BEGIN " + newRow + " END");
        out.add(createTrigger(PREFIX + "upd_" + t.name()) + " AFTER UPDATE ON " + tbl
                + " WHEN " + sameKey + " AND (" + anyChange + ") AND " + NOT_APPLYING + " BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, " + rowColumns(t, layout) + ", changed) VALUES (" + lit + ", "
                + Outbox.OP_UPDATE + ", " + rowValues(t, layout, "NEW", true, true) + ", " + changed + "); END");
        out.add(createTrigger(PREFIX + "key_" + t.name()) + " AFTER UPDATE OF " + keyTargets(t) + " ON " + tbl
                + " WHEN NOT (" + sameKey + ") AND " + NOT_APPLYING + " BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, pk) VALUES (" + lit + ", " + Outbox.OP_DELETE + ", " + pkOld + "); "
                + newRow + " END");
        out.add(createTrigger(PREFIX + "del_" + t.name()) + " AFTER DELETE ON " + tbl + " WHEN " + NOT_APPLYING
                + " BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, pk) VALUES (" + lit + ", " + Outbox.OP_DELETE + ", " + pkOld + "); END");
        if (!t.uniqueKeys().isEmpty()) {
            out.addAll(evictions(t));
        }
        return out;
    }

    /**
     * For a table with UNIQUE keys besides its primary key: REPLACE deletes the other rows that hold the
     * new row's unique values without firing their delete triggers (unless {@code recursive_triggers} is on),
     * so their deletes were never captured and PostgreSQL refused the row (23505). These BEFORE triggers
     * capture those deletes first. They act only while {@link Outbox#REPLACING} holds a row, which the driver
     * puts there around a statement that resolves conflicts by REPLACE: the same conflict under
     * {@code OR IGNORE} or {@code ON CONFLICT DO ...} deletes nothing. Rows with the new row's key (or, for an
     * update, the old one) are left out: those are the row itself, captured as it is written.
     */
    private static List<String> evictions(TableInfo t) {
        String tbl = quote(t.name());
        List<String> holds = new ArrayList<>();
        Set<String> uniqueColumns = new LinkedHashSet<>();
        // The new row as a table of its own, for the expressions of an index, which name columns without a
        // row: read against it they see the new row, read in the outer query the other row. (Its columns keep
        // the table's collations but not their affinity: an expression comparing a column with a value of
        // another kind may read the two rows differently; DESIGN.md, known limits.)
        StringJoiner newRow = new StringJoiner(", ", "(SELECT ", ")");
        Set<String> regular = new java.util.HashSet<>();
        t.columns().forEach(c -> regular.add(c.name().toLowerCase(java.util.Locale.ROOT)));
        Set<String> seen = new java.util.HashSet<>();
        java.util.stream.Stream.concat(t.columns().stream().map(TableInfo.Column::name),
                        t.uniqueKeys().stream().flatMap(k -> k.reads().stream())) // generated columns too: NEW has them
                .filter(c -> seen.add(c.toLowerCase(java.util.Locale.ROOT)))
                .forEach(c -> newRow.add("NEW." + quote(c) + " AS " + quote(c)));
        boolean readsGenerated = false;
        for (TableInfo.UniqueKey key : t.uniqueKeys()) {
            List<String> eq = new ArrayList<>();
            for (TableInfo.UniqueColumn c : key.columns()) {
                if (c.expression() == null) {
                    eq.add("r." + quote(c.name()) + " = NEW." + quote(c.name()) + " COLLATE " + quote(c.collation()));
                    uniqueColumns.add(c.name());
                } else {
                    eq.add("(" + c.expression() + ") = (SELECT " + c.expression() + " FROM " + newRow + ") COLLATE "
                            + quote(c.collation()));
                }
            }
            if (key.where() != null) {
                // A partial index holds unique only the rows its WHERE takes. Whether it takes the new row is not
                // asked: NEW's key may not be known yet (-1 for a keyless insert), and its columns lack affinity
                // in a derived table. A row logged for a new row the index does not take stays, so its delete
                // is taken out after the statement (phantomDeletes).
                eq.add("(" + key.where() + ")");
            }
            for (String read : key.reads()) {
                uniqueColumns.add(read);
                readsGenerated |= !regular.contains(read.toLowerCase(java.util.Locale.ROOT));
            }
            holds.add("(" + String.join(" AND ", eq) + ")");
        }
        String other = "NOT (" + sameKey(t.pk(), "r", "NEW") + ")";
        String select = " INSERT INTO _sync_outbox (tbl, op, pk) SELECT " + literal(t.name()) + ", " + Outbox.OP_DELETE + ", "
                + jsonObject(t, t.pk(), "r", false) + " FROM " + tbl + " AS r WHERE (" + balanced(holds, " OR ") + ") AND "
                + other;
        String when = " WHEN EXISTS (SELECT 1 FROM " + Outbox.REPLACING + ") BEGIN";
        // changes() in a trigger counts the trigger's own last statement: the driver cleans up only after a log.
        String told = " UPDATE " + Outbox.REPLACING + " SET evicted = 1 WHERE changes() > 0; END";
        if (uniqueColumns.isEmpty() || readsGenerated) {
            // An expression over no column, or over a generated one (which changes with the columns it is
            // computed from, and cannot be named in UPDATE OF): any update.
            uniqueColumns.clear();
            t.columns().forEach(c -> uniqueColumns.add(c.name()));
        }
        StringJoiner of = new StringJoiner(", ");
        uniqueColumns.forEach(c -> of.add(quote(c)));
        return List.of(
                createTrigger(PREFIX + "evi_" + t.name()) + " BEFORE INSERT ON " + tbl + when + select + ";" + told,
                createTrigger(PREFIX + "evu_" + t.name()) + " BEFORE UPDATE OF " + of + " ON " + tbl + when + select
                        + " AND NOT (" + sameKey(t.pk(), "r", "OLD") + ");" + told);
    }

    /** Which columns an update changed, a {@code 0} or {@code 1} per column, for the sync client to send only those. */
    private static String changeMask(TableInfo t, List<String> names) {
        return balanced(names.stream().map(c -> differs(t, c)).toList(), " || ");
    }

    /** Starts the change mask of a typed update whose value columns tell what changed ({@link #markedMask}). */
    public static final char MARKED = '~';
    /** In a {@link #MARKED} mask: the column's value tells whether the update changed it ({@link #SET_NULL}). */
    public static final char BY_VALUE = 'm';
    /**
     * What a typed update stores for a column of {@link #BY_VALUE} that it set to NULL: bytes, which such a column
     * cannot hold (its trigger refuses them), and not empty, which sqlite-jdbc reads back as NULL.
     */
    static final String SET_NULL = "x'00'";

    /**
     * The change mask of a typed update ({@code layout} set): {@link #MARKED}, then per column {@code 0} for a key
     * column (unchanged, or the key trigger runs instead), {@link #BY_VALUE} for a column that cannot hold bytes, and
     * for a BLOB or untyped column the comparison's {@code 0} or {@code 1}. A column of {@link #BY_VALUE} stores NULL
     * when unchanged, its new value when changed, and {@link #SET_NULL} when set to NULL, so its bit is read from the
     * value ({@link OutboxDecoder}) instead of comparing the column a third time (the WHEN and the value compare it
     * already): 100k updates of two columns in one transaction cost about a tenth less (docs/BENCHMARKS.md). A table
     * with no BLOB column gets a constant.
     */
    private static String markedMask(TableInfo t) {
        List<String> terms = new ArrayList<>();
        StringBuilder run = new StringBuilder().append(MARKED);
        for (TableInfo.Column c : t.columns()) {
            if (isKey(t, c)) {
                run.append('0');
            } else if (mayHoldStrayBytes(c)) {
                run.append(BY_VALUE);
            } else {
                terms.add(literal(run.toString()));
                run.setLength(0);
                terms.add(differs(t, c.name()));
            }
        }
        if (run.length() > 0) {
            terms.add(literal(run.toString()));
        }
        return balanced(terms, " || ");
    }

    /**
     * Whether an update changed column {@code c}, byte for byte: compared with the column's own collation, a case-only
     * change in a {@code NOCASE} column or trailing spaces in an {@code RTRIM} one were no change, and were never sent
     * (PostgreSQL and the other devices kept the old spelling for good); in a column without type affinity
     * ({@code BLOB} or untyped), 1.0 after 1 compares equal too, so the storage class is compared as well. The same
     * test decides the triggers' WHEN (a key changed this way is a key change, as PostgreSQL sees it), the change mask
     * and which values an update stores, so a stored value and its mask bit never disagree. {@code COLLATE BINARY}
     * costs nothing; {@code typeof} is added only where it is needed.
     */
    private static String differs(TableInfo t, String c) {
        String old = "OLD." + quote(c);
        String now = "NEW." + quote(c);
        String bytes = old + " IS NOT " + now + " COLLATE BINARY";
        TableInfo.Column col = t.columnsByLowerName().get(c.toLowerCase(java.util.Locale.ROOT));
        return col != null && col.affinity() == Affinity.BLOB
                ? "(" + bytes + " OR typeof(" + old + ") IS NOT typeof(" + now + "))" : "(" + bytes + ")";
    }

    /**
     * {@code terms} joined by {@code op}, parenthesised as a balanced tree: SQLite refuses an expression nested
     * more than 1000 deep, which a chain of one operator per column reaches in a table of a few hundred.
     */
    static String balanced(List<String> terms, String op) {
        if (terms.size() == 1) {
            return terms.get(0);
        }
        int half = terms.size() / 2;
        return "(" + balanced(terms.subList(0, half), op) + op + balanced(terms.subList(half, terms.size()), op) + ")";
    }

    /**
     * The SET targets that can change {@code t}'s key, for the key trigger's {@code UPDATE OF} list: SQLite
     * leaves a trigger whose list names no column the statement sets out of the statement's program, so the
     * usual UPDATE, which does not set the key, no longer runs that trigger's {@code WHEN} for each row. The
     * rowid's three names are listed because {@code SET rowid = ...} changes an {@code INTEGER PRIMARY KEY}
     * (the rowid's alias) without naming it; for any other key they cannot change it, and the {@code WHEN}
     * still decides. Foreign-key actions set the child's columns by name, so cascades still fire it.
     */
    private static String keyTargets(TableInfo t) {
        StringJoiner j = new StringJoiner(", ");
        t.pk().forEach(c -> j.add(quote(c)));
        return j.add("rowid").add("_rowid_").add("oid").toString();
    }

    /** Captures every existing row of {@code t} as an insert (first time a table is synced); {@code layout} as above. */
    public static String backfill(TableInfo t, Long layout) {
        return "INSERT INTO _sync_outbox (tbl, op, " + rowColumns(t, layout) + ") SELECT " + literal(t.name()) + ", "
                + Outbox.OP_INSERT + ", " + rowValues(t, layout, "r", false) + " FROM " + quote(t.name()) + " AS r";
    }

    /** The outbox columns a row image goes into: the layout and one value column per table column, or JSON. */
    private static String rowColumns(TableInfo t, Long layout) {
        if (layout == null) {
            return "pk, vals";
        }
        StringJoiner j = new StringJoiner(", ", "layout, ", "");
        for (int i = 0; i < t.columns().size(); i++) {
            j.add("v" + i);
        }
        return j.toString();
    }

    /** With {@code inTrigger}, bytes in a column not declared BLOB raise an error (RAISE works only in triggers). */
    private static String rowValues(TableInfo t, Long layout, String row, boolean inTrigger) {
        return rowValues(t, layout, row, inTrigger, false);
    }

    /**
     * As {@link #rowValues(TableInfo, Long, String, boolean)}; with {@code changedOnly} (an update's row image, in its
     * trigger) a column the update left as it was is stored as NULL, the change mask telling it from a NULL written.
     * Its value is never sent (the sync client sends an update's changed columns), and copying it cost a table of photos
     * a copy of the photo at every update of another column: 200 updates of a counter on rows with 2 MB photos wrote
     * 450 MB and took 3.5 times sqlite-jdbc's time. The key is kept: it is how a typed row names its row.
     */
    private static String rowValues(TableInfo t, Long layout, String row, boolean inTrigger, boolean changedOnly) {
        List<String> allNames = t.columns().stream().map(TableInfo.Column::name).toList();
        if (layout == null) {
            return jsonObject(t, t.pk(), row, false) + ", " + jsonObject(t, allNames, row, inTrigger, changedOnly);
        }
        StringJoiner j = new StringJoiner(", ", layout + ", ", "");
        for (TableInfo.Column c : t.columns()) {
            String value = !inTrigger ? row + "." + quote(c.name())
                    : changedOnly && !isKey(t, c) && mayHoldStrayBytes(c) ? checkedOrSetNull(t, c, row) : checked(t, c, row);
            j.add(ifChanged(t, c, value, changedOnly));
        }
        return j.toString();
    }

    /** {@code value}, or with {@code changedOnly} for a column other than the key, {@code value} only if the update changed it. */
    private static String ifChanged(TableInfo t, TableInfo.Column c, String value, boolean changedOnly) {
        if (!changedOnly || isKey(t, c)) {
            return value;
        }
        return "CASE WHEN " + differs(t, c.name()) + " THEN " + value + " END";
    }

    /** As {@link #checked} for a column of {@link #BY_VALUE} in a typed update: NULL is stored as {@link #SET_NULL}. */
    private static String checkedOrSetNull(TableInfo t, TableInfo.Column c, String row) {
        String ref = row + "." + quote(c.name());
        return "CASE WHEN " + ref + " >= x'' THEN RAISE(ABORT, " + literal(strayBytesMessage(t, c)) + ") WHEN " + ref
                + " IS NULL THEN " + SET_NULL + " ELSE " + ref + " END";
    }

    private static String strayBytesMessage(TableInfo t, TableInfo.Column c) {
        return "syncsqlite: column " + t.name() + "." + c.name() + " holds bytes, which sync only in a column declared BLOB";
    }

    /**
     * {@code row.c}, refusing bytes in a column not declared BLOB (or untyped) with a message (RAISE works
     * only in triggers). Bytes sync only in such a column: its affinity is what tells the client to turn
     * PostgreSQL's \x text back into bytes and to compare such keys without case. {@code json_object}
     * refused them with "JSON cannot hold BLOB values"; typed capture would store them. {@code >= x''} is
     * true for bytes alone (a BLOB sorts above every other value; NULL compares to nothing) and costs about a
     * third less than {@code typeof() = 'blob'} (30 against 50 ns a column).
     */
    private static String checked(TableInfo t, TableInfo.Column c, String row) {
        String ref = row + "." + quote(c.name());
        boolean key = isKey(t, c);
        if (!mayHoldStrayBytes(c) && !key) {
            return ref;
        }
        return "CASE" + (mayHoldStrayBytes(c) ? " WHEN " + ref + " >= x'' THEN RAISE(ABORT, " + literal(strayBytesMessage(t, c)) + ")" : "")
                + (key ? " WHEN " + ref + " IS NULL THEN RAISE(ABORT, " + literal(nullKey(t, c)) + ")" : "")
                + " ELSE " + ref + " END";
    }

    /**
     * Whether {@code c} is one of {@code t}'s key columns. SQLite lets a key column of a rowid table other than the rowid
     * alias hold NULL (a TEXT key, a composite key, {@code INTEGER PRIMARY KEY DESC}); PostgreSQL's keys cannot, so
     * such a row was sent, refused, and reverted on the device later: the capture refuses it at the write instead
     * (about 10 ns a key column, nothing against the write's own microseconds).
     */
    private static boolean isKey(TableInfo t, TableInfo.Column c) {
        return t.pk().stream().anyMatch(k -> k.equalsIgnoreCase(c.name()));
    }

    private static String nullKey(TableInfo t, TableInfo.Column c) {
        return "syncsqlite: primary key column " + t.name() + "." + c.name() + " is NULL, which cannot sync (PostgreSQL's"
                + " keys are NOT NULL); give it a value";
    }

    /**
     * A query returning the name of a key column of {@code t} that is NULL in some row: checked before a backfill, which
     * cannot raise the triggers' error itself.
     */
    public static String nullKeys(TableInfo t) {
        StringJoiner which = new StringJoiner(" ", "CASE ", " END");
        List<String> any = new ArrayList<>();
        for (String k : t.pk()) {
            String ref = "r." + quote(k);
            which.add("WHEN " + ref + " IS NULL THEN " + literal(k));
            any.add(ref + " IS NULL");
        }
        return "SELECT " + which + " FROM " + quote(t.name()) + " AS r WHERE " + balanced(any, " OR ") + " LIMIT 1";
    }

    /**
     * Whether {@code c} can hold bytes that cannot sync: any column not declared BLOB (or untyped). The
     * rowid alias cannot, but telling it apart needs more than the declared type (an {@code INTEGER} key
     * of a WITHOUT ROWID table, or one declared DESC, is not the alias and takes bytes), and one more
     * comparison a row costs about 30 ns.
     */
    private static boolean mayHoldStrayBytes(TableInfo.Column c) {
        return c.affinity() != Affinity.BLOB;
    }

    /**
     * A query returning the name of a column of {@code t} that holds bytes although not declared BLOB, if
     * any row has one: checked before a backfill, which cannot raise the triggers' error itself.
     */
    public static String strayBytes(TableInfo t) {
        StringJoiner which = new StringJoiner(" ", "CASE ", " END");
        List<String> any = new ArrayList<>();
        for (TableInfo.Column c : t.columns()) {
            if (mayHoldStrayBytes(c)) {
                String ref = "r." + quote(c.name());
                which.add("WHEN " + ref + " >= x'' THEN " + literal(c.name()));
                any.add(ref + " >= x''");
            }
        }
        if (any.isEmpty()) {
            return null;
        }
        return "SELECT " + which + " FROM " + quote(t.name()) + " AS r WHERE " + balanced(any, " OR ") + " LIMIT 1";
    }

    /** Names of every trigger this class may create for a table, for dropping them. */
    public static List<String> triggerNames(String table) {
        return List.of(PREFIX + "ins_" + table, PREFIX + "upd_" + table, PREFIX + "key_" + table,
                PREFIX + "del_" + table, PREFIX + "evi_" + table, PREFIX + "evu_" + table, PREFIX + "nopk_ins_" + table,
                PREFIX + "nopk_upd_" + table, PREFIX + "nopk_del_" + table);
    }

    private static List<String> refuse(TableInfo t) {
        String msg = literal("syncsqlite: table " + t.name()
                + " is synced but has no primary key; add one or remove it from sync.tables");
        String tbl = quote(t.name());
        List<String> out = new ArrayList<>();
        for (String[] op : new String[][]{{"ins", "INSERT"}, {"upd", "UPDATE"}, {"del", "DELETE"}}) {
            out.add(createTrigger(PREFIX + "nopk_" + op[0] + "_" + t.name()) + " BEFORE " + op[1]
                    + " ON " + tbl + " BEGIN SELECT RAISE(ABORT, " + msg + "); END");
        }
        return out;
    }

    /**
     * The most columns one {@code json_object} call takes: sqlite-jdbc's SQLite refuses a function call of
     * more than 100 arguments ({@code SQLITE_MAX_FUNCTION_ARG}; SQLite's own default is 127), two per column.
     */
    static final int JSON_OBJECT_COLUMNS = 50;

    /**
     * {@code json_object} of {@code names}, BLOBs as \x text; with {@code inTrigger}, stray bytes refused
     * ({@link #checked}). A wider set of columns (a table of more than 50 columns could not be captured at
     * all) is spelled out as text instead, each value by {@code json_quote}, which renders a value as
     * {@code json_object} does.
     */
    private static String jsonObject(TableInfo t, List<String> names, String row, boolean inTrigger) {
        return jsonObject(t, names, row, inTrigger, false);
    }

    /** As {@link #jsonObject(TableInfo, List, String, boolean)}, with {@link #ifChanged} applied to each value. */
    private static String jsonObject(TableInfo t, List<String> names, String row, boolean inTrigger, boolean changedOnly) {
        boolean wide = names.size() > JSON_OBJECT_COLUMNS;
        List<String> pairs = new ArrayList<>();
        for (String name : names) {
            TableInfo.Column c = t.columns().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
            String ref = row + "." + quote(name);
            String value = c.affinity() == Affinity.BLOB
                    ? "CASE" + (inTrigger && isKey(t, c) ? " WHEN " + ref + " IS NULL THEN RAISE(ABORT, "
                            + literal(nullKey(t, c)) + ")" : "")
                    + " WHEN typeof(" + ref + ") = 'blob' THEN '\\x' || hex(" + ref + ") ELSE " + ref + " END"
                    : inTrigger ? checked(t, c, row) : ref;
            value = ifChanged(t, c, value, changedOnly);
            pairs.add(wide ? literal(jsonString(name) + ":") + " || json_quote(" + value + ")" : literal(name) + ", " + value);
        }
        return wide ? "('{' || " + balanced(pairs, " || ',' || ") + " || '}')" : "json_object(" + String.join(", ", pairs) + ")";
    }

    /** {@code text} as a JSON string literal, quoted and escaped. */
    private static String jsonString(String text) {
        return TextNode.valueOf(text).toString();
    }

    /**
     * Deletes the outbox's delete entries of {@code t} after a given seq (the parameter) whose row still
     * exists: logged by the eviction triggers for a row that the statement did not evict after all (see
     * {@code SyncConnection.evicting}). A row the statement evicted and then wrote again (a multi-row insert
     * whose later row takes the evicted row's key) also exists, but an insert entry of its key follows the
     * delete: that delete stays, as PostgreSQL must drop the old row (and free its unique values) before the
     * new rows arrive. Keys compare as the delete trigger wrote them (a BLOB key, written as hex text, never
     * matches, and its entry stays).
     */
    public static String phantomDeletes(TableInfo t) {
        List<String> same = t.pk().stream().map(c -> "r." + quote(c) + " IS " + deletedKey(c)).toList();
        List<String> typed = new ArrayList<>();
        List<String> json = new ArrayList<>();
        for (String c : t.pk()) {
            int i = 0;
            while (!t.columns().get(i).name().equalsIgnoreCase(c)) {
                i++;
            }
            typed.add("i.v" + i + " IS " + deletedKey(c));
            json.add("json_extract(i.pk, '$.' || json_quote(" + literal(c) + ")) IS " + deletedKey(c));
        }
        return "DELETE FROM _sync_outbox WHERE seq > ? AND tbl = " + literal(t.name()) + " AND op = " + Outbox.OP_DELETE
                + " AND EXISTS (SELECT 1 FROM " + quote(t.name()) + " AS r WHERE " + balanced(same, " AND ") + ")"
                + " AND NOT EXISTS (SELECT 1 FROM _sync_outbox AS i WHERE i.seq > _sync_outbox.seq AND i.tbl = "
                + literal(t.name()) + " AND i.op = " + Outbox.OP_INSERT + " AND CASE WHEN i.layout IS NULL THEN "
                + balanced(json, " AND ") + " ELSE " + balanced(typed, " AND ") + " END)";
    }

    /** Key column {@code c} of the delete entry being looked at, as its trigger wrote it. */
    private static String deletedKey(String c) {
        return "json_extract(_sync_outbox.pk, '$.' || json_quote(" + literal(c) + "))";
    }

    /** Whether rows {@code a} and {@code b} have the same key (NULL-safe, as SQLite's own comparison). */
    private static String sameKey(List<String> pk, String a, String b) {
        return balanced(pk.stream().map(c -> a + "." + quote(c) + " IS " + b + "." + quote(c)).toList(), " AND ");
    }

    /**
     * {@code CREATE TRIGGER main."<name>"}: a trigger named with its schema is created in it, on that schema's
     * table. Unqualified, SQLite creates it on the table the name resolves to first, and a temporary table of a
     * synced table's name comes first: the capture moved to the temporary table while it existed, and the
     * synced table's writes went uncaptured.
     */
    private static String createTrigger(String name) {
        return "CREATE TRIGGER main." + quote(name);
    }

    public static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    public static String literal(String text) {
        return '\'' + text.replace("'", "''") + '\'';
    }
}
