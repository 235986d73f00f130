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
 * ({@code install.sql}) and, on every synced table, the five statement-level capture triggers and the
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

    /**
     * The install's bound on each wait for a table lock (55P03 after it; the caller tries again later). What
     * it still locks, it locks strongly: CREATE TRIGGER on a table newly synced (SHARE ROW EXCLUSIVE), an
     * upgrade's new column (ACCESS EXCLUSIVE). Such a request waits for the table's open writers, and every
     * writer that comes after queues behind it; unbounded, one long transaction stalled every writer of the
     * table for as long as it ran. A request queues ahead of later writers, so it waits only for those in
     * flight: a second is plenty unless one of them is long. Other relays' installs are waited for without
     * it (the advisory lock).
     */
    public static final int LOCK_TIMEOUT_MS = 1000;

    /**
     * Capture triggers and the event clause of each (with its transition tables). TRUNCATE's runs before: it
     * logs the rows as deleted while they are still there (install.sql); a second one after it puts back a key
     * sequence that RESTART IDENTITY rewound.
     */
    public static final Map<String, String> CAPTURE_TRIGGERS = Map.of(
            "syncsqlite_capture_insert", "AFTER INSERT ON %I.%I REFERENCING NEW TABLE AS syncsqlite_new",
            "syncsqlite_capture_update",
            "AFTER UPDATE ON %I.%I REFERENCING OLD TABLE AS syncsqlite_old NEW TABLE AS syncsqlite_new",
            "syncsqlite_capture_delete", "AFTER DELETE ON %I.%I REFERENCING OLD TABLE AS syncsqlite_old",
            "syncsqlite_capture_truncate", "BEFORE TRUNCATE ON %I.%I",
            "syncsqlite_capture_truncated", "AFTER TRUNCATE ON %I.%I");
    /** The commit-mark trigger's WHEN clause: true once per transaction (see createCommit). */
    private static final String FIRST_WRITE = "CASE WHEN coalesce(current_setting('syncsqlite.queued', true), '') = ''"
            + " THEN set_config('syncsqlite.queued', '1', true) = '1' ELSE false END";
    /** The row-level capture trigger of versions before statement-level capture. */
    static final String LEGACY_CAPTURE_TRIGGER = "syncsqlite_capture";
    public static final String COMMIT_TRIGGER = "syncsqlite_commit";

    /**
     * Keeps relays of versions before the text clock keys (and their capture function {@code
     * syncsqlite.capture()}, which wrote jsonb keys) from starting against a database this version installed:
     * their install script's {@code CREATE OR REPLACE FUNCTION syncsqlite.capture() RETURNS trigger} fails
     * on a function of that name returning void ("cannot change return type"), so such a relay stops at
     * start-up instead of rejecting every client transaction (its key comparisons would fail with 42883,
     * which it reports to clients as refused data). Runs after {@link #upgradeTriggers}: no trigger may
     * still call the old function when it is dropped.
     */
    private static final String FENCE = """
            DO $do$
            BEGIN
                IF EXISTS (SELECT FROM pg_proc WHERE oid = to_regprocedure('syncsqlite.capture()')
                           AND prorettype = 'trigger'::regtype) THEN
                    DROP FUNCTION syncsqlite.capture();
                END IF;
            END
            $do$;
            CREATE OR REPLACE FUNCTION syncsqlite.capture() RETURNS void LANGUAGE plpgsql AS $fn$
            BEGIN
                RAISE EXCEPTION 'syncsqlite.capture() was replaced by syncsqlite.capture_rows()';
            END
            $fn$;
            COMMENT ON FUNCTION syncsqlite.capture() IS 'Not for use: keeps relays that stored clock keys as jsonb'
                ' (before 2026-12-04) from starting against this database; upgrade them instead.';
            """;

    /** Application name of every relay's connections (and the prefix of its other connections' names). */
    public static final String APPLICATION_NAME = "syncsqlite-relay";
    /**
     * The install connection's name. Relays of earlier versions named every connection {@code syncsqlite-relay...}
     * but never this; a relay of this version has no other connection before its install, so on a database
     * still to convert a session of this name is a relay of this version, about to install after this one.
     */
    public static final String INSTALL_APPLICATION_NAME = APPLICATION_NAME + " install";

    private SchemaInstaller() {
    }

    /**
     * The first start of this version converts {@code row_clock.pk} from jsonb to text (install.sql). A relay
     * of an earlier version still running would then fail its clock lookups with 42883 and report every
     * client transaction as refused, which the client reverts: data lost. So the conversion waits until
     * no other relay is connected (by application name), apart from the install connections of relays of this
     * version ({@link #INSTALL_APPLICATION_NAME}) and relays waiting for the install lock (they install next:
     * one of this version converts nothing more, one of an earlier version fails on {@link #FENCE}).
     */
    private static void refuseConversionUnderEarlierRelays(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT string_agg(s.pid || ' (' || s.application_name || ', ' || coalesce(s.client_addr::text, 'local')
                                  || ')', ', ' ORDER BY s.pid)
                FROM pg_stat_activity AS s
                WHERE s.datname = current_database() AND s.pid <> pg_backend_pid() AND s.application_name LIKE ?
                  AND s.application_name <> ?
                  -- relays of any version starting at the same time wait for the install lock: they install after
                  -- this one (an earlier one then fails on FENCE)
                  AND NOT pg_backend_pid() = ANY (pg_blocking_pids(s.pid))
                  AND (SELECT a.atttypid FROM pg_attribute AS a
                       WHERE a.attrelid = to_regclass('syncsqlite.row_clock') AND a.attname = 'pk') = 'jsonb'::regtype""")) {
            ps.setString(1, APPLICATION_NAME + "%");
            ps.setString(2, INSTALL_APPLICATION_NAME);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                String others = rs.getString(1);
                if (others != null) {
                    throw new SQLException("this relay version converts syncsqlite.row_clock (keys as text instead of"
                            + " jsonb), which relays of earlier versions cannot use; stop them first (connected: "
                            + others + "), then start this version, and upgrade every relay to it", "55006");
                }
            }
        }
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
                st.execute("SET LOCAL lock_timeout = " + LOCK_TIMEOUT_MS);
            }
            refuseConversionUnderEarlierRelays(c);
            try (Statement st = c.createStatement()) {
                st.execute(installScript());
                // Feed positions start at 1, so that "through" > 0 always means a complete position:
                // the last batch of a snapshot of a database nobody has written to yet still ends on one.
                st.execute("SELECT syncsqlite.commit_mark() WHERE NOT EXISTS (SELECT FROM syncsqlite.commit_log)");
            }
            upgradeTriggers(c);
            if (!hasTrigger(c, "syncsqlite", "change", COMMIT_TRIGGER)) {
                createCommit(c);
            }
            try (Statement st = c.createStatement()) {
                st.execute(FENCE);
            }
            Catalog catalog = SchemaIntrospector.read(c, schema, tables);
            for (TableInfo t : catalog.tables()) {
                if (ensureTriggers(c, t)) {
                    // Its rows so far were never captured: see backfillPending. Only clients that exist now can
                    // lack them; later ones start from a snapshot.
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO syncsqlite.backfill (tbl)"
                            + " SELECT ? WHERE EXISTS (SELECT FROM syncsqlite.client) ON CONFLICT DO NOTHING")) {
                        ps.setString(1, t.name());
                        ps.executeUpdate();
                    }
                }
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
     * Creates a table's five triggers where missing: statement-level capture triggers (INSERT, UPDATE, DELETE: a
     * trigger with transition tables takes one event, and UPDATE needs both the old and the new rows; and TRUNCATE,
     * before and after it) whose arguments are the primary key columns. Capture triggers created for another primary
     * key are recreated. (The commit mark is one trigger on the change log: {@link #createCommit}.)
     */
    private static boolean ensureTriggers(Connection c, TableInfo t) throws SQLException {
        Map<String, List<String>> capture = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT tgname, tgargs FROM pg_trigger
                WHERE tgrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass AND tgname LIKE 'syncsqlite%'""")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (CAPTURE_TRIGGERS.containsKey(rs.getString(1))) {
                        capture.put(rs.getString(1), triggerArgs(rs.getBytes(2)));
                    }
                }
            }
        }
        boolean wasCaptured = !capture.isEmpty();
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
        return !wasCaptured;
    }

    /**
     * Logs the rows that tables put under capture already held ({@code syncsqlite.backfill}), so that
     * clients already syncing (their snapshot predates the table) receive them through the feed instead of
     * only at their next resync: a table created, or added to {@code --tables}, while clients run. Every
     * relay calls this from its {@link CatalogWatcher}; a table is taken once it has been pending for
     * {@link #BACKFILL_DELAY_SECONDS}, longer than the watchers' period, so every relay on the database
     * syncs the table by then (a relay's feed drops entries of tables it does not know). Skipped when no
     * client has ever connected: every client still starts from a snapshot.
     *
     * <p>In chunks of {@link #BACKFILL_CHUNK} rows in key order, one transaction each, with the feed mark
     * of a commit. Each chunk locks its rows {@code FOR SHARE}, so a concurrent writer of one of them
     * either committed before (and the chunk logs its result) or waits and commits after (its own capture
     * then comes later in the feed): an older image never follows a newer one. A relay that dies midway
     * leaves the table claimed for an hour, then another starts it again (images are idempotent).
     */
    public static void backfillPending(Connection c, Catalog catalog) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            while (true) {
                String table;
                boolean anyClient;
                try (PreparedStatement ps = c.prepareStatement("SELECT b.tbl, EXISTS (SELECT FROM syncsqlite.client)"
                        + " FROM syncsqlite.backfill AS b WHERE b.since < now() - make_interval(secs => ?)"
                        + " ORDER BY b.since LIMIT 1 FOR UPDATE SKIP LOCKED")) {
                    ps.setInt(1, BACKFILL_DELAY_SECONDS);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            c.commit();
                            return;
                        }
                        table = rs.getString(1);
                        anyClient = rs.getBoolean(2);
                    }
                }
                TableInfo t = catalog.table(table);
                long rows = 0;
                if (t != null && anyClient) {
                    // Claimed for an hour: other relays skip it meanwhile, and take it over if this one dies.
                    try (PreparedStatement ps = c.prepareStatement(
                            "UPDATE syncsqlite.backfill SET since = now() + interval '1 hour' WHERE tbl = ?")) {
                        ps.setString(1, table);
                        ps.executeUpdate();
                    }
                    c.commit();
                    String after = null;
                    while (true) {
                        String[] chunk = backfillChunk(c, t, after);
                        if (chunk[1] == null) {
                            break;
                        }
                        rows += Long.parseLong(chunk[0]);
                        try (Statement st = c.createStatement()) {
                            st.execute("SELECT syncsqlite.commit_mark()");
                        }
                        c.commit();
                        after = chunk[1];
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM syncsqlite.backfill WHERE tbl = ?")) {
                    ps.setString(1, table);
                    ps.executeUpdate();
                }
                c.commit();
                if (rows > 0) {
                    log.info("sent the {} row(s) table {} held before its capture was installed to the feed", rows, t);
                }
            }
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    static final int BACKFILL_DELAY_SECONDS = 3;
    static final int BACKFILL_CHUNK = 5000;

    /** Logs the next chunk after key {@code after} (a row image, or null); returns {count, last row image or null}. */
    private static String[] backfillChunk(Connection c, TableInfo t, String after) throws SQLException {
        String q = t.qualifiedName();
        String keys = Sql.columns("t.", t.primaryKey());
        String pk = Sql.pkObject("r.", t.primaryKey());
        String sql = "WITH rows AS MATERIALIZED (SELECT t.* FROM " + q + " AS t"
                + (after == null ? "" : " WHERE (" + keys + ") > (SELECT " + Sql.columns("k.", t.primaryKey())
                        + " FROM jsonb_populate_record(NULL::" + q + ", ?::jsonb) AS k)")
                + " ORDER BY " + keys + " LIMIT " + BACKFILL_CHUNK + " FOR SHARE), "
                + "logged AS (INSERT INTO syncsqlite.change (tbl, kind, pk, \"row\", hlc) SELECT " + Sql.literal(t.name())
                + ", 'U', " + pk + ", to_jsonb(r.*), coalesce((SELECT " + Sql.rowHlc("rc", t)
                + " FROM syncsqlite.row_clock AS rc WHERE rc.tbl = " + Sql.literal(t.name()) + " AND rc.pk = " + Sql.clockKey("r.", t)
                + "), 0) FROM rows AS r RETURNING 1) "
                + "SELECT (SELECT count(*) FROM logged), (SELECT to_jsonb(r.*)::text FROM rows AS r ORDER BY "
                + String.join(", ", t.primaryKey().stream().map(k -> "r." + Sql.ident(k) + " DESC").toList()) + " LIMIT 1)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (after != null) {
                ps.setString(1, after);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long n = rs.getLong(1);
                return new String[]{Long.toString(n), n == 0 ? null : rs.getString(2)};
            }
        }
    }

    private static void createCapture(Connection c, String trigger, String schema, String table, List<String> pk)
            throws SQLException {
        ddl(c, "SELECT format('CREATE TRIGGER %I " + CAPTURE_TRIGGERS.get(trigger)
                        + " FOR EACH STATEMENT EXECUTE FUNCTION syncsqlite.capture_rows(%s)', ?::text, ?::text, ?::text,"
                        + " (SELECT string_agg(quote_literal(k), ', ' ORDER BY o)"
                        + "  FROM unnest(?::text[]) WITH ORDINALITY AS u(k, o)))",
                trigger, schema, table, pk);
    }

    /**
     * The commit mark is a deferred row-level constraint trigger (the only kind that runs at commit; constraint
     * triggers cannot be statement-level) on the change log, which every captured write reaches: a TRUNCATE's
     * logged deletes too, where the table itself fires no row trigger. Until the twenty-fourth session it was on
     * each synced table, and a transaction that wrote a table could not TRUNCATE it afterwards (PostgreSQL refuses
     * to truncate a table with pending trigger events). Its WHEN clause, evaluated as each row is written rather
     * than at commit, is true for the first written row of a transaction only: it sets the transaction-local flag
     * {@code syncsqlite.queued} as it passes. So one deferred event is queued per transaction instead of one per
     * row, and no PL/pgSQL runs for the other rows. A rolled-back savepoint discards both the events queued in it
     * and the flag set in it, so the next write queues it again. Inserts only: retention's deletes mark nothing.
     */
    private static void createCommit(Connection c) throws SQLException {
        ddl(c, """
                SELECT format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT ON %I.%I'
                           || ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (%s)'
                           || ' EXECUTE FUNCTION syncsqlite.commit_mark_trigger()', ?::text, ?::text, ?::text,
                              (?::text[])[1])""",
                COMMIT_TRIGGER, "syncsqlite", "change", List.of(FIRST_WRITE));
    }

    /**
     * Replaces the triggers of earlier versions, on every table that has them (also tables another relay
     * syncs): the row-level capture trigger, the commit-mark trigger on a synced table (dropped: it is on the change
     * log now, see {@link #createCommit}), and capture triggers calling {@code syncsqlite.capture()} (jsonb clock
     * keys).
     */
    private static void upgradeTriggers(Connection c) throws SQLException {
        List<String[]> legacy = new ArrayList<>();
        List<List<String>> args = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT n.nspname, r.relname, t.tgname, t.tgargs FROM pg_trigger AS t
                JOIN pg_class AS r ON r.oid = t.tgrelid JOIN pg_namespace AS n ON n.oid = r.relnamespace
                WHERE t.tgname = ? OR (t.tgname = ? AND t.tgrelid <> 'syncsqlite.change'::regclass)
                   OR (t.tgname = ANY (?) AND t.tgfoid = to_regprocedure('syncsqlite.capture()'))""")) {
            ps.setString(1, LEGACY_CAPTURE_TRIGGER);
            ps.setString(2, COMMIT_TRIGGER);
            ps.setArray(3, c.createArrayOf("text", CAPTURE_TRIGGERS.keySet().toArray()));
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
                continue; // the commit mark is on the change log now (createCommit)
            } else if (CAPTURE_TRIGGERS.containsKey(l[2])) {
                createCapture(c, l[2], l[0], l[1], args.get(i));
            } else {
                for (String trigger : CAPTURE_TRIGGERS.keySet()) {
                    if (!hasTrigger(c, l[0], l[1], trigger)) {
                        createCapture(c, trigger, l[0], l[1], args.get(i));
                    }
                }
            }
        }
    }

    private static boolean hasTrigger(Connection c, String schema, String table, String trigger) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT FROM pg_trigger"
                + " WHERE tgrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass AND tgname = ?")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            ps.setString(3, trigger);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
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
