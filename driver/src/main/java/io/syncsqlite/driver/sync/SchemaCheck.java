package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.capture.Affinity;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.protocol.Identifiers;
import io.syncsqlite.protocol.Message;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Compares the local synced tables with the relay's ({@link Message.Schema}, asked for on every connect)
 * and lists the differences that lose or refuse data, so an application learns them when it connects
 * rather than from rejected transactions later: a table the relay does not sync, a column one side lacks,
 * another primary key, and a column whose values cannot keep their kind (text here, a number there, or
 * bytes on one side only). Declarations SQLite gives NUMERIC affinity (dates, booleans, decimals) are not
 * compared: the type mapping converts their values either way.
 *
 * <p>Thread-safe: stateless.
 */
final class SchemaCheck {

    private SchemaCheck() {
    }

    /** One line per difference, in table order; empty when the schemas fit. */
    static List<String> differences(Collection<TableInfo> local, Message.Schema server) {
        return differences(local, server, PgTypes.NONE);
    }

    /** The same, with the relay's column types: columns {@link PgTypes} converts fit (a BLOB for a uuid). */
    static List<String> differences(Collection<TableInfo> local, Message.Schema server, PgTypes types) {
        Map<String, Message.Schema.TableDef> remote = new HashMap<>();
        for (Message.Schema.TableDef t : server.tables()) {
            remote.put(fold(t.name()), t);
        }
        List<String> out = new ArrayList<>();
        for (TableInfo t : local) {
            if (!t.hasPrimaryKey()) {
                continue; // not synced (warned about at open)
            }
            Message.Schema.TableDef r = remote.get(fold(Identifiers.clip(t.name())));
            if (r == null) {
                out.add("table " + t.name() + " is not synced by the relay: its changes will be rejected");
                continue;
            }
            List<String> localPk = t.pk().stream().map(SchemaCheck::fold).toList();
            List<String> remotePk = r.primaryKey().stream().map(SchemaCheck::fold).toList();
            if (!localPk.equals(remotePk)) {
                out.add("table " + t.name() + ": primary key " + t.pk() + " here, " + r.primaryKey() + " in PostgreSQL");
            }
            Map<String, Message.Schema.ColumnDef> columns = new HashMap<>();
            for (Message.Schema.ColumnDef c : r.columns()) {
                columns.put(fold(c.name()), c);
            }
            Set<String> mine = new HashSet<>();
            for (TableInfo.Column c : t.columns()) {
                mine.add(fold(Identifiers.clip(c.name())));
            }
            for (TableInfo.Column c : t.columns()) {
                Message.Schema.ColumnDef rc = columns.get(fold(Identifiers.clip(c.name())));
                if (rc == null) {
                    out.add("table " + t.name() + ": column " + c.name() + " is not in PostgreSQL: its values will be rejected");
                } else if (!compatible(c, rc.sqliteType()) && !types.bridges(t.name(), c)) {
                    out.add("table " + t.name() + ": column " + c.name() + " is " + shown(c.declaredType())
                            + " here, " + rc.sqliteType() + " in PostgreSQL");
                }
            }
            for (Message.Schema.ColumnDef rc : r.columns()) {
                if (!mine.contains(fold(rc.name()))) {
                    out.add("table " + t.name() + ": PostgreSQL column " + rc.name()
                            + " is not here: its values are not kept locally");
                }
            }
        }
        return out;
    }

    private static boolean compatible(TableInfo.Column local, String serverType) {
        Affinity here = local.affinity();
        Affinity there = Affinity.of(serverType);
        boolean declaredBlob = local.declaredType() != null && local.declaredType().toUpperCase(Locale.ROOT).contains("BLOB");
        if (there == Affinity.BLOB) {
            return here == Affinity.BLOB || here == Affinity.NUMERIC;
        }
        if (declaredBlob) {
            return false;
        }
        boolean numberHere = here == Affinity.INTEGER || here == Affinity.REAL;
        boolean numberThere = there == Affinity.INTEGER || there == Affinity.REAL;
        return !(here == Affinity.TEXT && numberThere || numberHere && there == Affinity.TEXT);
    }

    private static String shown(String declared) {
        return declared == null || declared.isBlank() ? "untyped" : declared;
    }

    private static String fold(String name) {
        return name.toLowerCase(Locale.ROOT);
    }
}
