package io.syncsqlite.relay.schema;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Installs the relay's objects in PostgreSQL: schema {@code syncsqlite} with its tables and functions
 * ({@code install.sql}) and, on every synced table, the three statement-level capture triggers and the
 * deferred commit-mark constraint trigger (docs/DESIGN.md, "PostgreSQL side").
 *
 * <p>Idempotent, and safe when several relays start at once: everything runs in one transaction holding
 * a transaction-level advisory lock, and triggers are created only when missing (or when the primary key
 * they were created for has changed), so a restart does not take exclusive locks on busy tables.
 *
 * <p>Thread-safe: stateless; each call uses the connection it is given.
 */
public final class SchemaInstaller {

    private static final Logger log = LoggerFactory.getLogger(SchemaInstaller.class);

    /** 0x7379_6E63_7371_6C00: "syncsql" 0. The commit mark uses ...01. */
    private static final long INSTALL_LOCK = 0x73796E6373716C00L;

    /** Capture triggers and the event clause of each (with its transition tables). */
    public static final Map<String, String> CAPTURE_TRIGGERS = Map.of(
            "syncsqlite_capture_insert", "AFTER INSERT ON %I.%I REFERENCING NEW TABLE AS syncsqlite_new",
            "syncsqlite_capture_update",
            "AFTER UPDATE ON %I.%I REFERENCING OLD TABLE AS syncsqlite_old NEW TABLE AS syncsqlite_new",
            "syncsqlite_capture_delete", "AFTER DELETE ON %I.%I REFERENCING OLD TABLE AS syncsqlite_old");
    /** The commit-mark trigger's WHEN clause: true once per transaction (see createCommit). */
    private static final String FIRST_WRITE = "CASE WHEN coalesce(current_setting('syncsqlite.queued', true), '') = ''"
            + " THEN set_config('syncsqlite.queued', '1', true) = '1' ELSE false END";
    /** The row-level capture trigger of versions before statement-level capture. */
    static final String LEGACY_CAPTURE_TRIGGER = "syncsqlite_capture";
    public static final String COMMIT_TRIGGER = "syncsqlite_commit";

    private SchemaInstaller() {
    }

    /** Installs (or checks) everything and returns the catalog of synced tables. */
    public static Catalog install(Connection c, String schema, List<String> tables) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                ps.setLong(1, INSTALL_LOCK);
                ps.execute();
            }
            try (Statement st = c.createStatement()) {
                st.execute(installScript());
                // Feed positions start at 1, so that "through" > 0 always means a complete position:
                // the last batch of a snapshot of a database nobody has written to yet still ends on one.
                st.execute("SELECT syncsqlite.commit_mark() WHERE NOT EXISTS (SELECT FROM syncsqlite.commit_log)");
            }
            upgradeTriggers(c);
            Catalog catalog = SchemaIntrospector.read(c, schema, tables);
            for (TableInfo t : catalog.tables()) {
                ensureTriggers(c, t);
            }
            c.commit();
            log.info("syncsqlite schema ready; syncing {} table(s) of schema {}: {}", catalog.tables().size(),
                    schema, catalog.tables().stream().map(TableInfo::name).toList());
            return catalog;
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    /**
     * Creates a table's four triggers where missing: three statement-level capture triggers (INSERT,
     * UPDATE, DELETE: a trigger with transition tables takes one event, and UPDATE needs both the old and
     * the new rows) whose arguments are the primary key columns, and the deferred commit-mark constraint
     * trigger. Capture triggers created for another primary key are recreated.
     */
    private static void ensureTriggers(Connection c, TableInfo t) throws SQLException {
        Map<String, List<String>> capture = new HashMap<>();
        boolean hasCommit = false;
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT tgname, tgargs FROM pg_trigger
                WHERE tgrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass AND tgname LIKE 'syncsqlite%'""")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (rs.getString(1).equals(COMMIT_TRIGGER)) {
                        hasCommit = true;
                    } else if (CAPTURE_TRIGGERS.containsKey(rs.getString(1))) {
                        capture.put(rs.getString(1), triggerArgs(rs.getBytes(2)));
                    }
                }
            }
        }
        for (Map.Entry<String, String> e : CAPTURE_TRIGGERS.entrySet()) {
            List<String> args = capture.get(e.getKey());
            if (args != null && !args.equals(t.primaryKey())) {
                log.info("primary key of {} changed: recreating its capture trigger {}", t, e.getKey());
                dropTrigger(c, e.getKey(), t.schema(), t.name());
                args = null;
            }
            if (args == null) {
                createCapture(c, e.getKey(), t.schema(), t.name(), t.primaryKey());
            }
        }
        if (!hasCommit) {
            createCommit(c, t.schema(), t.name());
        }
    }

    private static void createCapture(Connection c, String trigger, String schema, String table, List<String> pk)
            throws SQLException {
        ddl(c, "SELECT format('CREATE TRIGGER %I " + CAPTURE_TRIGGERS.get(trigger)
                        + " FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.capture(%s)', ?::text, ?::text, ?::text,"
                        + " (SELECT string_agg(quote_literal(k), ', ' ORDER BY o)"
                        + "  FROM unnest(?::text[]) WITH ORDINALITY AS u(k, o)))",
                trigger, schema, table, pk);
    }

    /**
     * The commit mark stays a deferred row-level constraint trigger (the only kind that runs at commit;
     * constraint triggers cannot be statement-level), but its WHEN clause, evaluated as each row is written
     * rather than at commit, is true for the first written row of a transaction only: it sets the
     * transaction-local flag {@code syncsqlite.queued} as it passes. So one deferred event is queued per
     * transaction instead of one per row, and no PL/pgSQL runs for the other rows. A rolled-back savepoint
     * discards both the events queued in it and the flag set in it, so the next write queues it again.
     */
    private static void createCommit(Connection c, String schema, String table) throws SQLException {
        ddl(c, """
                SELECT format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I.%I'
                           || ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (%s)'
                           || ' EXECUTE FUNCTION syncsqlite.commit_mark_trigger()', ?::text, ?::text, ?::text,
                              (?::text[])[1])""",
                COMMIT_TRIGGER, schema, table, List.of(FIRST_WRITE));
    }

    /**
     * Replaces the triggers of earlier versions, on every table that has them (also tables another relay
     * syncs): the row-level capture trigger, and a commit-mark trigger without the WHEN clause (it would
     * queue one event per row).
     */
    private static void upgradeTriggers(Connection c) throws SQLException {
        List<String[]> legacy = new ArrayList<>();
        List<List<String>> args = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT n.nspname, r.relname, t.tgname, t.tgargs FROM pg_trigger AS t
                JOIN pg_class AS r ON r.oid = t.tgrelid JOIN pg_namespace AS n ON n.oid = r.relnamespace
                WHERE t.tgname = ? OR (t.tgname = ? AND t.tgqual IS NULL)""")) {
            ps.setString(1, LEGACY_CAPTURE_TRIGGER);
            ps.setString(2, COMMIT_TRIGGER);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    legacy.add(new String[]{rs.getString(1), rs.getString(2), rs.getString(3)});
                    args.add(triggerArgs(rs.getBytes(4)));
                }
            }
        }
        for (int i = 0; i < legacy.size(); i++) {
            String[] l = legacy.get(i);
            log.info("replacing trigger {} of {}.{} of an earlier version", l[2], l[0], l[1]);
            dropTrigger(c, l[2], l[0], l[1]);
            if (l[2].equals(COMMIT_TRIGGER)) {
                createCommit(c, l[0], l[1]);
            } else {
                for (String trigger : CAPTURE_TRIGGERS.keySet()) {
                    createCapture(c, trigger, l[0], l[1], args.get(i));
                }
            }
        }
    }

    private static void dropTrigger(Connection c, String trigger, String schema, String table) throws SQLException {
        ddl(c, "SELECT format('DROP TRIGGER %I ON %I.%I', ?::text, ?::text, ?::text)", trigger, schema, table, null);
    }

    /**
     * Lets PostgreSQL quote the names ({@code format('%I')}), then runs the statement it built; {@code args}
     * (the primary key columns, or the WHEN clause) is the fourth parameter, as text[], if not null.
     */
    private static void ddl(Connection c, String builder, String trigger, String schema, String table,
                            List<String> args) throws SQLException {
        String sql;
        try (PreparedStatement ps = c.prepareStatement(builder)) {
            ps.setString(1, trigger);
            ps.setString(2, schema);
            ps.setString(3, table);
            if (args != null) {
                ps.setArray(4, c.createArrayOf("text", args.toArray()));
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                sql = rs.getString(1);
            }
        }
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /** {@code pg_trigger.tgargs}: the arguments, each followed by a NUL byte. */
    private static List<String> triggerArgs(byte[] raw) {
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        return args;
    }

    static String installScript() {
        try (InputStream in = SchemaInstaller.class.getResourceAsStream("install.sql")) {
            if (in == null) {
                throw new IllegalStateException("install.sql missing from the relay's classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
