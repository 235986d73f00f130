package io.syncsqlite.driver.capture;

import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

/**
 * Generates the capture triggers of one synced table.
 *
 * <p>Per table: an AFTER INSERT trigger (every column), an AFTER UPDATE trigger when the key is unchanged
 * (every column plus a {@code changed} string of {@code 0}/{@code 1} per column, so the sync client sends
 * only changed columns), an AFTER UPDATE trigger for key changes (delete of the old key, insert of the new
 * row) and an AFTER DELETE trigger. Values are built with {@code json_object} inside SQLite, which costs
 * a few microseconds per row and no round trip to Java. BLOB values become the text {@code \x<hex>},
 * PostgreSQL's bytea form; only columns with BLOB affinity (declared BLOB or untyped) pay for that check.
 * A table without a primary key gets triggers that abort every write with a clear message: syncing it
 * silently wrong would be worse than refusing.
 *
 * <p>Stateless; thread-safe.
 */
public final class TriggerSql {

    public static final String PREFIX = "_sync_";

    private TriggerSql() {
    }

    /** The CREATE TRIGGER statements for {@code t}, in a stable order and text (used to detect drift). */
    public static List<String> forTable(TableInfo t) {
        if (!t.hasPrimaryKey()) {
            return refuse(t);
        }
        String tbl = quote(t.name());
        String lit = literal(t.name());
        String pkNew = jsonObject(t, t.pk(), "NEW");
        String pkOld = jsonObject(t, t.pk(), "OLD");
        List<String> allNames = t.columns().stream().map(TableInfo.Column::name).toList();
        String valsNew = jsonObject(t, allNames, "NEW");
        String sameKey = compare(t.pk(), "IS", " AND ");
        String anyChange = compare(allNames, "IS NOT", " OR ");
        StringJoiner changed = new StringJoiner(" || ");
        for (String c : allNames) {
            changed.add("(OLD." + quote(c) + " IS NOT NEW." + quote(c) + ")");
        }
        List<String> out = new ArrayList<>();
        out.add("CREATE TRIGGER " + quote(PREFIX + "ins_" + t.name()) + " AFTER INSERT ON " + tbl + " BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, pk, vals) VALUES (" + lit + ", " + Outbox.OP_INSERT
                + ", " + pkNew + ", " + valsNew + "); END");
        out.add("CREATE TRIGGER " + quote(PREFIX + "upd_" + t.name()) + " AFTER UPDATE ON " + tbl
                + " WHEN " + sameKey + " AND (" + anyChange + ") BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, pk, vals, changed) VALUES (" + lit + ", " + Outbox.OP_UPDATE
                + ", " + pkNew + ", " + valsNew + ", " + changed + "); END");
        out.add("CREATE TRIGGER " + quote(PREFIX + "key_" + t.name()) + " AFTER UPDATE ON " + tbl
                + " WHEN NOT (" + sameKey + ") BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, pk) VALUES (" + lit + ", " + Outbox.OP_DELETE + ", " + pkOld + ");"
                + " INSERT INTO _sync_outbox (tbl, op, pk, vals) VALUES (" + lit + ", " + Outbox.OP_INSERT
                + ", " + pkNew + ", " + valsNew + "); END");
        out.add("CREATE TRIGGER " + quote(PREFIX + "del_" + t.name()) + " AFTER DELETE ON " + tbl + " BEGIN"
                + " INSERT INTO _sync_outbox (tbl, op, pk) VALUES (" + lit + ", " + Outbox.OP_DELETE + ", " + pkOld + "); END");
        return out;
    }

    /** Captures every existing row of {@code t} as an insert (first time a table is synced). */
    public static String backfill(TableInfo t) {
        List<String> allNames = t.columns().stream().map(TableInfo.Column::name).toList();
        return "INSERT INTO _sync_outbox (tbl, op, pk, vals) SELECT " + literal(t.name()) + ", " + Outbox.OP_INSERT
                + ", " + jsonObject(t, t.pk(), "r") + ", " + jsonObject(t, allNames, "r")
                + " FROM " + quote(t.name()) + " AS r";
    }

    /** Names of every trigger this class may create for a table, for dropping them. */
    public static List<String> triggerNames(String table) {
        return List.of(PREFIX + "ins_" + table, PREFIX + "upd_" + table, PREFIX + "key_" + table,
                PREFIX + "del_" + table, PREFIX + "nopk_ins_" + table, PREFIX + "nopk_upd_" + table,
                PREFIX + "nopk_del_" + table);
    }

    private static List<String> refuse(TableInfo t) {
        String msg = literal("syncsqlite: table " + t.name()
                + " is synced but has no primary key; add one or remove it from sync.tables");
        String tbl = quote(t.name());
        List<String> out = new ArrayList<>();
        for (String[] op : new String[][]{{"ins", "INSERT"}, {"upd", "UPDATE"}, {"del", "DELETE"}}) {
            out.add("CREATE TRIGGER " + quote(PREFIX + "nopk_" + op[0] + "_" + t.name()) + " BEFORE " + op[1]
                    + " ON " + tbl + " BEGIN SELECT RAISE(ABORT, " + msg + "); END");
        }
        return out;
    }

    /** The key of a row of {@code t} (aliased {@code row}) as JSON, exactly as the capture triggers build it. */
    public static String keyJson(TableInfo t, String row) {
        return jsonObject(t, t.pk(), row);
    }

    private static String jsonObject(TableInfo t, List<String> names, String row) {
        StringJoiner j = new StringJoiner(", ", "json_object(", ")");
        for (String name : names) {
            TableInfo.Column c = t.columns().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
            String ref = row + "." + quote(name);
            String value = c.affinity() == Affinity.BLOB
                    ? "CASE WHEN typeof(" + ref + ") = 'blob' THEN '\\x' || hex(" + ref + ") ELSE " + ref + " END"
                    : ref;
            j.add(literal(name)).add(value);
        }
        return j.toString();
    }

    private static String compare(List<String> names, String op, String sep) {
        StringJoiner j = new StringJoiner(sep);
        for (String c : names) {
            j.add("OLD." + quote(c) + " " + op + " NEW." + quote(c));
        }
        return j.toString();
    }

    public static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    public static String literal(String text) {
        return '\'' + text.replace("'", "''") + '\'';
    }
}
