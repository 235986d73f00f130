package io.syncsqlite.driver.jdbc;

import io.syncsqlite.driver.config.SyncProperty;
import io.syncsqlite.driver.config.SyncUrl;
import io.syncsqlite.driver.sync.SyncNode;

import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.DriverPropertyInfo;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code jdbc:syncsqlite:} driver. It opens the file with sqlite-jdbc (every non-{@code sync.*}
 * option passes through) and returns a {@link SyncConnection} that captures writes to synced tables.
 *
 * <p>Registered through {@code META-INF/services/java.sql.Driver} and on class load. Returns {@code null}
 * for URLs of other drivers, as {@link DriverManager} expects. WAL journal mode is the default (the
 * background sync client reads while the application writes); an explicit {@code journal_mode} wins.
 *
 * <p>Thread-safe.
 */
public final class SyncDriver implements Driver {

    private static final SyncDriver INSTANCE = new SyncDriver();
    private static volatile boolean registered;

    static {
        register();
    }

    /** Registers the driver with {@link DriverManager} (idempotent). */
    public static synchronized void register() {
        if (!registered) {
            try {
                DriverManager.registerDriver(INSTANCE);
                registered = true;
            } catch (SQLException e) {
                throw new IllegalStateException("cannot register the syncsqlite driver", e);
            }
        }
    }

    /** Removes the driver from {@link DriverManager}, for containers that unload applications. */
    public static synchronized void deregister() throws SQLException {
        if (registered) {
            DriverManager.deregisterDriver(INSTANCE);
            registered = false;
        }
    }

    @Override
    public Connection connect(String url, Properties info) throws SQLException {
        if (!acceptsURL(url)) {
            return null;
        }
        SyncUrl config = SyncUrl.parse(url, info);
        Properties sqlite = new Properties();
        sqlite.putAll(config.sqliteProps());
        if (!sqlite.containsKey("journal_mode") && !config.sqliteUrl().contains("journal_mode=")) {
            sqlite.setProperty("journal_mode", "WAL");
        }
        Connection raw;
        try {
            raw = openRaw(config.sqliteUrl(), sqlite);
        } catch (SQLException e) {
            throw readOnly(config, e);
        }
        if (raw == null) {
            throw new SQLException("sqlite-jdbc refused " + SyncUrl.mask(config.sqliteUrl()),
                    SyncSqlState.INVALID_PARAMETER.code());
        }
        try {
            SyncNode node = SyncNode.acquire(config, raw);
            return new SyncConnection(raw, node);
        } catch (SQLException e) {
            closeAfter(raw, e);
            throw readOnly(config, e);
        } catch (RuntimeException e) {
            closeAfter(raw, e);
            throw e;
        }
    }

    private static void closeAfter(Connection raw, Exception failure) {
        try {
            raw.close();
        } catch (SQLException suppressed) {
            failure.addSuppressed(suppressed);
        }
    }

    /**
     * SQLITE_READONLY while opening: a read-only connection ({@code open_mode=1}, {@code mode=ro}) to a file the driver
     * has not set up yet (WAL, its tables, the capture triggers, all made by the first read-write open) said only
     * "attempt to write a readonly database"; it now says what to do (SY003). Any other error is returned as it is.
     */
    private static SQLException readOnly(SyncUrl config, SQLException e) {
        if ((e.getErrorCode() & 0xff) != SQLITE_READONLY) {
            return e;
        }
        return new SQLException("syncsqlite: " + SyncUrl.mask(config.path()) + " is opened read-only, and the driver has"
                + " not set it up yet (WAL, its _sync_* tables and capture triggers are made by the first read-write"
                + " open): open it read-write once through jdbc:syncsqlite:, or read it with jdbc:sqlite:",
                SyncSqlState.SYNC_STATE.code(), e);
    }

    /**
     * Opens the file with sqlite-jdbc, trying again while it reports SQLITE_BUSY, for at most the busy
     * timeout. Switching a file to WAL ({@code PRAGMA journal_mode=WAL}, which sqlite-jdbc runs while opening)
     * needs an exclusive lock for which SQLite does not call its busy handler, so connections opening a file
     * that is not yet in WAL mode at the same moment fail at once. Nothing has been written when it fails.
     */
    private static Connection openRaw(String url, Properties sqlite) throws SQLException {
        long deadline = System.nanoTime() + busyTimeoutMillis(url, sqlite) * 1_000_000L;
        long pauseMillis = 1;
        while (true) {
            try {
                return org.sqlite.JDBC.createConnection(url, sqlite);
            } catch (SQLException e) {
                if ((e.getErrorCode() & 0xff) != SQLITE_BUSY || System.nanoTime() - deadline >= 0) {
                    throw e;
                }
            }
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SQLException("interrupted while the database file was locked", "HY008", e);
            }
            pauseMillis = Math.min(pauseMillis * 2, 50);
        }
    }

    /** SQLite's primary result code for a write to a read-only database; extended codes keep it in the low byte. */
    private static final int SQLITE_READONLY = 8;
    /** SQLite's primary result code for a locked file; extended codes keep it in the low byte. */
    private static final int SQLITE_BUSY = 5;

    /** sqlite-jdbc's default busy timeout, used when neither the URL nor the properties set one. */
    private static final long DEFAULT_BUSY_TIMEOUT_MILLIS = 3000;

    private static long busyTimeoutMillis(String url, Properties sqlite) {
        String value = sqlite.getProperty("busy_timeout");
        if (value == null) {
            Matcher m = BUSY_TIMEOUT_IN_URL.matcher(url);
            value = m.find() ? m.group(1) : null;
        }
        try {
            return value == null ? DEFAULT_BUSY_TIMEOUT_MILLIS : Math.max(0, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            return DEFAULT_BUSY_TIMEOUT_MILLIS; // sqlite-jdbc reports the bad value itself when it opens
        }
    }

    private static final Pattern BUSY_TIMEOUT_IN_URL = Pattern.compile("[?&]busy_timeout=([0-9]+)");

    @Override
    public boolean acceptsURL(String url) {
        return SyncUrl.accepts(url);
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) {
        Properties given = new Properties();
        if (info != null) {
            given.putAll(info);
            for (String k : info.stringPropertyNames()) {
                given.putIfAbsent(k, info.getProperty(k)); // its defaults
            }
        }
        // The URL's own parameters win, as at connect (SyncUrl.parse).
        int q = url == null ? -1 : url.indexOf('?');
        if (q >= 0) {
            for (String pair : url.substring(q + 1).split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0 && pair.startsWith("sync.")) {
                    given.setProperty(pair.substring(0, eq),
                            java.net.URLDecoder.decode(pair.substring(eq + 1), java.nio.charset.StandardCharsets.UTF_8));
                }
            }
        }
        SyncProperty[] all = SyncProperty.values();
        DriverPropertyInfo[] out = new DriverPropertyInfo[all.length];
        for (int i = 0; i < all.length; i++) {
            SyncProperty p = all[i];
            Object set = given.get(p.key());
            String value = set == null ? p.defaultValue() : String.valueOf(set);
            if ((p == SyncProperty.TOKEN || p == SyncProperty.TRUST_STORE_PASSWORD) && !value.isEmpty()) {
                value = "***"; // tools display these values; a token is a credential
            }
            DriverPropertyInfo d = new DriverPropertyInfo(p.key(), value);
            d.description = p.description();
            d.required = false;
            d.choices = p.isChoice() ? p.choices() : null;
            out[i] = d;
        }
        return out;
    }

    @Override
    public int getMajorVersion() {
        return 0;
    }

    @Override
    public int getMinorVersion() {
        return 1;
    }

    @Override
    public boolean jdbcCompliant() {
        return false;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException("the driver logs through System.Logger", SyncSqlState.NOT_SUPPORTED.code());
    }
}
