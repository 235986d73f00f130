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
import java.util.List;

/**
 * Installs the relay's objects in PostgreSQL: schema {@code syncsqlite} with its tables and functions
 * ({@code install.sql}) and, on every synced table, the capture trigger and the deferred commit-mark
 * constraint trigger.
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

    public static final String CAPTURE_TRIGGER = "syncsqlite_capture";
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

    private static void ensureTriggers(Connection c, TableInfo t) throws SQLException {
        List<String> captureArgs = null;
        boolean hasCommit = false;
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT tgname, tgargs FROM pg_trigger
                WHERE tgrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass AND tgname IN (?, ?)""")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.name());
            ps.setString(3, CAPTURE_TRIGGER);
            ps.setString(4, COMMIT_TRIGGER);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (rs.getString(1).equals(CAPTURE_TRIGGER)) {
                        captureArgs = triggerArgs(rs.getBytes(2));
                    } else {
                        hasCommit = true;
                    }
                }
            }
        }
        if (captureArgs != null && !captureArgs.equals(t.primaryKey())) {
            log.info("primary key of {} changed: recreating its capture trigger", t);
            ddl(c, "SELECT format('DROP TRIGGER %I ON %I.%I', ?::text, ?::text, ?::text)",
                    CAPTURE_TRIGGER, t.schema(), t.name(), null);
            captureArgs = null;
        }
        if (captureArgs == null) {
            ddl(c, """
                    SELECT format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I.%I FOR EACH ROW'
                               || ' EXECUTE FUNCTION syncsqlite.capture(%s)', ?::text, ?::text, ?::text,
                                  (SELECT string_agg(quote_literal(k), ', ' ORDER BY o)
                                   FROM unnest(?::text[]) WITH ORDINALITY AS u(k, o)))""",
                    CAPTURE_TRIGGER, t.schema(), t.name(), t.primaryKey());
        }
        if (!hasCommit) {
            ddl(c, """
                    SELECT format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I.%I'
                               || ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW'
                               || ' EXECUTE FUNCTION syncsqlite.commit_mark_trigger()', ?::text, ?::text, ?::text)""",
                    COMMIT_TRIGGER, t.schema(), t.name(), null);
        }
    }

    /** Lets PostgreSQL quote the names ({@code format('%I')}), then runs the statement it built. */
    private static void ddl(Connection c, String builder, String trigger, String schema, String table,
                            List<String> pk) throws SQLException {
        String sql;
        try (PreparedStatement ps = c.prepareStatement(builder)) {
            ps.setString(1, trigger);
            ps.setString(2, schema);
            ps.setString(3, table);
            if (pk != null) {
                ps.setArray(4, c.createArrayOf("text", pk.toArray()));
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
