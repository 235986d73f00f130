package io.syncsqlite.relay.db;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A small pool of PostgreSQL connections over {@link DriverManager}: at most {@code maxSize} open at
 * once, created on demand, kept for reuse, dropped when a caller reports them broken.
 *
 * <p>Pooled connections have auto-commit off; every borrower ends its transaction (commit or rollback)
 * before {@link #release}. A connection idle for longer than {@code validateAfter} is checked with a
 * round trip (2 s timeout) before it is handed out: a NAT or firewall that forgets an idle flow drops its
 * packets without a reset, and a borrower would otherwise wait for the kernel to give up on TCP (about 15
 * minutes) with no error to retry on. The relay needs nothing more than this, which is why it does not
 * pull in a full pool library.
 *
 * <p>Thread-safe: any thread may borrow and release. A borrowed connection belongs to one thread at a
 * time, as JDBC connections are not meant to be shared.
 */
public final class ConnectionPool implements AutoCloseable {

    /** How long a validation round trip may take before the connection counts as dead. */
    private static final int VALIDATION_TIMEOUT_SECONDS = 2;

    private final PgConnector connector;
    private final Semaphore permits;
    private final long validateAfterNanos;
    private final SessionLimits limits;
    private final ConcurrentLinkedDeque<Idle> idle = new ConcurrentLinkedDeque<>();
    private volatile boolean closed;

    private record Idle(Connection connection, long sinceNanos) {
    }

    /** How long a connection may sit idle before it is checked again, by default. */
    public static final Duration VALIDATE_AFTER = Duration.ofSeconds(5);

    /** A pool that checks connections idle for more than {@link #VALIDATE_AFTER} before handing them out. */
    public ConnectionPool(PgConnector connector, int maxSize) {
        this(connector, maxSize, VALIDATE_AFTER);
    }

    /** @param validateAfter connections idle for longer are checked first ({@link Duration#ZERO}: always) */
    public ConnectionPool(PgConnector connector, int maxSize, Duration validateAfter) {
        this(connector, maxSize, validateAfter, SessionLimits.NONE);
    }

    /**
     * @param limits every connection's lock and statement bounds and its wait for a reply: a borrower that
     *               waits longer for a lock gets SQLState 55P03 and gives the connection back, instead of
     *               holding it for as long as someone else holds the lock; one whose statement runs too
     *               long gets 57014; one whose server stopped answering gets 08006 and a closed connection
     */
    public ConnectionPool(PgConnector connector, int maxSize, Duration validateAfter, SessionLimits limits) {
        if (maxSize < 1) {
            throw new IllegalArgumentException("pool size must be at least 1");
        }
        this.connector = connector;
        this.permits = new Semaphore(maxSize, true);
        this.validateAfterNanos = validateAfter.toNanos();
        this.limits = limits == null ? SessionLimits.NONE : limits;
    }

    /**
     * A connection with auto-commit off, waiting up to {@code timeout} for one to be free.
     *
     * @throws SQLException SQLState 08001 when none is free in time or the pool is closed, or whatever
     *                      opening a new connection throws
     */
    public Connection borrow(Duration timeout) throws SQLException {
        if (closed) {
            throw new SQLException("connection pool is closed", "08003");
        }
        try {
            if (!permits.tryAcquire(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new SQLException("no database connection free within " + timeout, "08001");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while waiting for a database connection", "08001", e);
        }
        try {
            Idle kept;
            while ((kept = idle.pollFirst()) != null) {
                if (System.nanoTime() - kept.sinceNanos() < validateAfterNanos
                        || kept.connection().isValid(VALIDATION_TIMEOUT_SECONDS)) {
                    return kept.connection();
                }
                closeQuietly(kept.connection()); // died while idle
            }
            Connection c = connector.open();
            try {
                // In auto-commit mode, so that no borrower's rollback undoes them.
                try (java.sql.Statement st = c.createStatement()) {
                    if (limits.lockTimeout() != null) {
                        st.execute("SET lock_timeout = " + limits.lockTimeout().toMillis());
                    }
                    if (limits.statementTimeout() != null) {
                        st.execute("SET statement_timeout = " + limits.statementTimeout().toMillis());
                    }
                    if (limits.idleInTransactionTimeout() != null) {
                        st.execute("SET idle_in_transaction_session_timeout = "
                                + limits.idleInTransactionTimeout().toMillis());
                    }
                }
                if (limits.networkTimeout() != null) {
                    long network = limits.networkTimeout().toMillis();
                    // pgjdbc applies it as the socket's read timeout; the executor is not used.
                    c.setNetworkTimeout(Runnable::run, Math.toIntExact(network));
                    // The server's socket gives up on a peer that stopped reading or answering as soon as the
                    // relay gives up on the server (see SessionLimits).
                    atMost(c, "tcp_user_timeout", network);
                    atMost(c, "tcp_keepalives_idle", 30);
                    atMost(c, "tcp_keepalives_interval", 10);
                    atMost(c, "tcp_keepalives_count", 3);
                }
                c.setAutoCommit(false);
            } catch (SQLException | RuntimeException e) {
                closeQuietly(c);
                throw e;
            }
            return c;
        } catch (SQLException | RuntimeException e) {
            permits.release();
            throw e;
        }
    }

    /**
     * Gives a connection back. {@code broken} (or a closed connection) closes it instead of keeping it,
     * so the next borrower opens a fresh one.
     */
    public void release(Connection c, boolean broken) {
        try {
            boolean keep = !broken && !closed && !c.isClosed();
            if (keep) {
                idle.addFirst(new Idle(c, System.nanoTime()));
            } else {
                closeQuietly(c);
            }
        } catch (SQLException e) {
            closeQuietly(c);
        } finally {
            permits.release();
        }
        if (closed) {
            drainIdle();
        }
    }

    @Override
    public void close() {
        closed = true;
        drainIdle();
    }

    /** Closes every idle connection (after one was found dead, the others likely are too). */
    public void discardIdle() {
        drainIdle();
    }

    private void drainIdle() {
        Idle kept;
        while ((kept = idle.pollFirst()) != null) {
            closeQuietly(kept.connection());
        }
    }

    /**
     * Lowers the session's {@code setting} to {@code value} unless the server's (or the database's, or the
     * role's) is stricter already (0 means none): an operator's shorter TCP timeouts stay. In auto-commit
     * mode, ignoring a refusal: some platforms lack these settings, and Unix sockets ignore them.
     */
    private static void atMost(Connection c, String setting, long value) {
        try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT set_config(s.name,"
                + " least(coalesce(nullif(s.setting::bigint, 0), ?), ?)::text, false) FROM pg_settings AS s WHERE s.name = ?")) {
            ps.setLong(1, value);
            ps.setLong(2, value);
            ps.setString(3, setting);
            ps.execute();
        } catch (SQLException e) {
            // The connection works without it; a dead peer is then found later, as before.
        }
    }

    public static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // Closing a broken connection may fail; there is nothing left to do with it.
        }
    }

    /** Opens raw connections. */
    public static final class PgConnector {
        private final String url;
        private final Properties properties;

        public PgConnector(String url, String user, String password, String applicationName) {
            this.url = url;
            this.properties = new Properties();
            if (user != null && !user.isEmpty()) {
                properties.setProperty("user", user);
            }
            if (password != null && !password.isEmpty()) {
                properties.setProperty("password", password);
            }
            properties.setProperty("ApplicationName", applicationName);
            properties.setProperty("tcpKeepAlive", "true");
        }

        private PgConnector(String url, Properties properties) {
            this.url = url;
            this.properties = properties;
        }

        /** The same database and credentials, seen as {@code name} in {@code pg_stat_activity}. */
        public PgConnector withApplicationName(String name) {
            Properties copy = new Properties();
            copy.putAll(properties);
            copy.setProperty("ApplicationName", name);
            return new PgConnector(url, copy);
        }

        public String applicationName() {
            return properties.getProperty("ApplicationName");
        }

        /**
         * A new connection in auto-commit mode, in time zone UTC: every text the relay makes of a
         * {@code timestamptz} (row images for clients, keys, clock keys) then reads the same whatever zone the
         * relay's JVM runs in, and the same as the capture trigger's, which runs in UTC too (install.sql).
         */
        public Connection open() throws SQLException {
            Properties copy = new Properties();
            copy.putAll(properties);
            Connection c = DriverManager.getConnection(url, copy);
            try (Statement st = c.createStatement()) {
                st.execute("SET TimeZone = 'UTC'");
            } catch (SQLException e) {
                closeQuietly(c);
                throw e;
            }
            return c;
        }

        public String url() {
            return url;
        }
    }
}
