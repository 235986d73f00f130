package io.syncsqlite.driver.jdbc;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A {@link DataSource} for {@code jdbc:syncsqlite:} URLs, usable directly or behind a pool (HikariCP's
 * {@code dataSourceClassName}, Spring Boot's {@code spring.datasource.url} works with the driver alone).
 *
 * <p>Thread-safe for {@code getConnection}; configure it before sharing it.
 */
public class SyncDataSource implements DataSource {

    private volatile java.util.function.Supplier<String> tokenSupplier;

    private final SyncDriver driver = new SyncDriver();
    private volatile String url;
    private final Properties properties = new Properties();
    private volatile PrintWriter logWriter;
    private volatile int loginTimeout;

    public SyncDataSource() {
    }

    public SyncDataSource(String url) {
        this.url = url;
    }

    public String getUrl() {
        return url;
    }

    public void setUrl(String url) {
        this.url = url;
    }

    /** Sets a connection property ({@code sync.*} or a sqlite-jdbc option). */
    public void setProperty(String key, String value) {
        synchronized (properties) {
            properties.setProperty(key, value);
        }
    }

    @Override
    public Connection getConnection() throws SQLException {
        String u = url;
        if (u == null) {
            throw new SQLException("SyncDataSource has no URL", SyncSqlState.INVALID_PARAMETER.code());
        }
        Properties copy;
        synchronized (properties) {
            copy = (Properties) properties.clone();
        }
        Connection c = driver.connect(u, copy);
        if (c == null) {
            throw new SQLException("not a syncsqlite URL: " + io.syncsqlite.driver.config.SyncUrl.mask(u),
                    SyncSqlState.INVALID_PARAMETER.code());
        }
        java.util.function.Supplier<String> supplier = tokenSupplier;
        if (supplier != null) {
            c.unwrap(SyncConnection.class).node().setTokenSupplier(supplier);
        }
        return c;
    }

    /**
     * Supplies the token presented to the relay at every (re)connection of the files this DataSource
     * opens (for tokens that expire: the relay ends a session when its token expires, and the client
     * reconnects with a fresh one). Overrides {@code sync.token}.
     */
    public void setTokenSupplier(java.util.function.Supplier<String> supplier) {
        this.tokenSupplier = supplier;
    }

    /** SQLite has no users: the credentials are ignored, as sqlite-jdbc ignores them. */
    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() {
        return logWriter;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
        this.logWriter = out;
    }

    @Override
    public void setLoginTimeout(int seconds) {
        this.loginTimeout = seconds;
    }

    @Override
    public int getLoginTimeout() {
        return loginTimeout;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException("the driver logs through System.Logger", SyncSqlState.NOT_SUPPORTED.code());
    }

    @Override
    public <T> T unwrap(Class<T> iface) throws SQLException {
        if (iface.isInstance(this)) {
            return iface.cast(this);
        }
        throw new SQLException("not a wrapper for " + iface.getName(), SyncSqlState.NOT_SUPPORTED.code());
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
        return iface.isInstance(this);
    }
}
