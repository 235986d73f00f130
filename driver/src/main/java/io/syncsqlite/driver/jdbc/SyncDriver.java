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
        Connection raw = org.sqlite.JDBC.createConnection(config.sqliteUrl(), sqlite);
        if (raw == null) {
            throw new SQLException("sqlite-jdbc refused " + SyncUrl.mask(config.sqliteUrl()),
                    SyncSqlState.INVALID_PARAMETER.code());
        }
        try {
            SyncNode node = SyncNode.acquire(config, raw);
            return new SyncConnection(raw, node);
        } catch (SQLException | RuntimeException e) {
            try {
                raw.close();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public boolean acceptsURL(String url) {
        return SyncUrl.accepts(url);
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) {
        Properties given = info == null ? new Properties() : info;
        SyncProperty[] all = SyncProperty.values();
        DriverPropertyInfo[] out = new DriverPropertyInfo[all.length];
        for (int i = 0; i < all.length; i++) {
            SyncProperty p = all[i];
            String value = given.getProperty(p.key(), p.defaultValue());
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
