package io.syncsqlite.relay.schema;

import io.syncsqlite.relay.db.ConnectionPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Picks up schema changes made in PostgreSQL while the relay runs (a column added, a table created that
 * the synced set includes): every {@code intervalMillis} it reads a fingerprint of the synced schema's
 * tables, columns and primary keys, and when it changed it runs {@link SchemaInstaller#install} again
 * (which puts capture triggers on new tables, under the install lock) and swaps the {@link Catalog}.
 * Tables count by their oid too: a migration that rebuilds a table (create, copy, drop, rename) leaves
 * the same names and columns on a table without capture triggers, which silently stopped syncing.
 *
 * <p>Polling rather than a DDL event trigger: event triggers need a superuser, and one cheap catalog query
 * every few seconds per relay costs nothing measurable. Every relay watches on its own, so several relays
 * all pick the change up within one interval.
 *
 * <p>Thread-safe: one daemon thread of its own ({@code syncsqlite-catalog}); {@link #close()} may be
 * called from any thread.
 */
public final class CatalogWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CatalogWatcher.class);

    private static final String FINGERPRINT = """
            SELECT md5(coalesce((SELECT string_agg(c.relname || '#' || c.oid || '.' || a.attname || ':'
                                                   || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull,
                                                   ',' ORDER BY c.relname, a.attnum)
                                 FROM pg_class c
                                 JOIN pg_namespace n ON n.oid = c.relnamespace
                                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                 WHERE n.nspname = ? AND c.relkind IN ('r', 'p')), '')
                       || '|' ||
                       coalesce((SELECT string_agg(k.conrelid::regclass::text || ':' || k.conkey::text, ','
                                                   ORDER BY k.conrelid::regclass::text)
                                 FROM pg_constraint k
                                 JOIN pg_namespace n ON n.oid = k.connamespace
                                 WHERE n.nspname = ? AND k.contype = 'p'), ''))""";

    private final ConnectionPool.PgConnector connector;
    private final Catalog catalog;
    private final List<String> configuredTables;
    private final long intervalMillis;
    private final Thread thread;
    private volatile boolean closed;
    private String fingerprint;
    /**
     * Column names per table as of the last check: compared with the next catalog to find added columns.
     * The watcher's own, because the shared catalog is also re-read when a client names an unknown column.
     */
    private Map<String, List<String>> columns;

    private CatalogWatcher(ConnectionPool.PgConnector connector, Catalog catalog, List<String> configuredTables,
                           long intervalMillis) {
        this.connector = connector;
        this.catalog = catalog;
        this.configuredTables = configuredTables;
        this.intervalMillis = intervalMillis;
        this.thread = new Thread(this::run, "syncsqlite-catalog");
        this.thread.setDaemon(true);
    }

    /**
     * Reads the current fingerprint (so that only later changes cause a reload) and starts watching.
     *
     * @param configuredTables the relay's {@code --tables}; empty means every table with a primary key
     */
    public static CatalogWatcher start(ConnectionPool.PgConnector connector, Catalog catalog,
                                       List<String> configuredTables, long intervalMillis) throws SQLException {
        CatalogWatcher w = new CatalogWatcher(connector, catalog, configuredTables, intervalMillis);
        try (Connection c = connector.open()) {
            w.fingerprint = fingerprint(c, catalog.schema());
            w.columns = columnsOf(catalog);
        }
        w.thread.start();
        return w;
    }

    private void run() {
        Connection c = null;
        // Logged once per streak: a table lock held by an application's long transaction fails every check
        // (the install's lock bound) until it ends, every 2 s.
        boolean failing = false;
        while (!closed) {
            try {
                Thread.sleep(intervalMillis);
            } catch (InterruptedException e) {
                break;
            }
            try {
                if (c == null || c.isClosed()) {
                    c = connector.open();
                }
                String now = fingerprint(c, catalog.schema());
                if (!Objects.equals(now, fingerprint)) {
                    Catalog newer = SchemaInstaller.install(c, catalog.schema(), configuredTables);
                    queueFilledColumns(c, newer);
                    columns = columnsOf(newer);
                    catalog.replaceWith(newer);
                    fingerprint = now;
                    log.info("schema of {} changed in PostgreSQL: catalog reloaded, syncing {}", catalog.schema(),
                            newer.tables().stream().map(t -> t.name() + t.columns().stream().map(ColumnInfo::name).toList()).toList());
                }
                SchemaInstaller.backfillPending(c, catalog);
                if (failing) {
                    log.info("schema checks work again");
                    failing = false;
                }
            } catch (SQLException | RuntimeException e) {
                // A half-done ALTER or a lost connection: keep the old catalog and try again next time.
                String state = e instanceof SQLException s ? s.getSQLState() : e.getClass().getSimpleName();
                if (!failing) {
                    log.warn("could not check the schema for changes (SQLState {}); retrying every {} ms",
                            state, intervalMillis);
                    failing = true;
                } else {
                    log.debug("schema check failed again (SQLState {})", state);
                }
                ConnectionPool.closeQuietly(c);
                c = null;
            }
        }
        ConnectionPool.closeQuietly(c);
    }

    private static Map<String, List<String>> columnsOf(Catalog catalog) {
        Map<String, List<String>> out = new HashMap<>();
        for (TableInfo t : catalog.tables()) {
            out.put(t.name(), t.columns().stream().map(ColumnInfo::name).toList());
        }
        return out;
    }

    /**
     * Queues a backfill ({@link SchemaInstaller#backfillPending}) of every synced table that gained a column
     * with a default or a generated value: PostgreSQL fills the existing rows with it without firing any
     * trigger, so nothing reached the clients that already have such a column (they kept NULL).
     */
    private void queueFilledColumns(Connection c, Catalog newer) throws SQLException {
        for (TableInfo t : newer.tables()) {
            List<String> old = columns.get(t.name());
            if (old == null) {
                continue; // a new table is backfilled by the install
            }
            List<String> added = t.columns().stream().map(ColumnInfo::name).filter(n -> !old.contains(n)).toList();
            if (added.isEmpty()) {
                continue;
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO syncsqlite.backfill (tbl) SELECT ?"
                    + " WHERE EXISTS (SELECT FROM syncsqlite.client) AND EXISTS (SELECT FROM pg_attribute a"
                    + " WHERE a.attrelid = ?::regclass AND a.attname = ANY (?) AND (a.atthasdef OR a.attgenerated <> ''))"
                    + " ON CONFLICT DO NOTHING")) {
                ps.setString(1, t.name());
                ps.setString(2, t.qualifiedName());
                ps.setArray(3, c.createArrayOf("text", added.toArray()));
                if (ps.executeUpdate() > 0) {
                    log.info("columns {} of {} were filled by PostgreSQL without capture: sending its rows again", added, t);
                }
            }
        }
    }

    private static String fingerprint(Connection c, String schema) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(true);
        try (PreparedStatement ps = c.prepareStatement(FINGERPRINT)) {
            ps.setString(1, schema);
            ps.setString(2, schema);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
