package io.syncsqlite.relay;

import java.util.List;
import java.util.Objects;

/**
 * Everything a relay needs to start.
 *
 * @param pgUrl         JDBC URL of the PostgreSQL database, e.g. {@code jdbc:postgresql://db:5432/app}
 * @param pgUser        database user (may be empty when the URL or the server supplies it)
 * @param pgPassword    database password (may be empty)
 * @param host          address to listen on; {@link #DEFAULT_HOST} listens on every interface
 * @param port          WebSocket port; 0 picks a free one (see {@link Relay#port()})
 * @param schema        the PostgreSQL schema whose tables are synced
 * @param tables        the tables to sync; empty means every table of {@code schema} with a primary key
 * @param poolSize      database connections for applying client transactions
 * @param maxFrameBytes largest WebSocket frame accepted from a client; larger ones close with 1009
 * @param httpPort      port of {@code /health} and {@code /metrics} on {@code host}; 0 picks a free one,
 *                      {@link #NO_HTTP} (-1) serves none
 * @param auth          how clients authenticate, or {@code null}: every client is trusted
 * @param retention     how long the feed's history is kept (clients offline longer resync from a
 *                      snapshot), or {@code null} to keep it forever
 * @param tls           the keystore for {@code wss://}, or {@code null} for plain {@code ws://}
 * @param scopes        a JSON file of per-user scope rules (see {@code ScopeRules}; needs {@code auth}), or
 *                      {@code null}: every user sees and writes every row
 * @param maxConnections authenticated connections served at once; more are closed with 1013
 * @param lockTimeout   longest wait for a lock (a row another writer holds) in the relay's database work; the
 *                      client whose change waits longer is disconnected (1011) and sends it again later,
 *                      instead of holding one of the {@code poolSize} connections for as long as the lock
 *                      is held
 * @param statementTimeout longest a statement of the relay's applies, snapshots and history reads may run
 *                      ({@code statement_timeout}; it must exceed {@code lockTimeout}); the relay waits twice
 *                      that plus 5 s for any reply on those connections (one round trip may hold two waiting
 *                      statements), then drops the connection: a database that stopped answering costs that
 *                      long, not the kernel's TCP timeout. {@link java.time.Duration#ZERO}: no bound (the
 *                      server's own {@code statement_timeout}, no network timeout)
 *
 * <p>Immutable; thread-safe.
 */
public record RelayConfig(String pgUrl, String pgUser, String pgPassword, String host, int port, String schema,
                          List<String> tables, int poolSize, int maxFrameBytes, int httpPort, Auth auth,
                          java.time.Duration retention, Tls tls, java.nio.file.Path scopes, int maxConnections,
                          java.time.Duration lockTimeout, java.time.Duration statementTimeout) {

    /** A PKCS12 (or JKS) keystore with the relay's certificate and key. The password is never printed. */
    public record Tls(java.nio.file.Path keystore, String password) {
        @Override
        public String toString() {
            return "Tls[" + keystore + "]";
        }
    }

    /**
     * JWT authentication of clients: HS256 with {@code hs256Secret}, and/or RS256/ES256 with the keys of
     * {@code jwksFile}; tokens must name {@code audience} when it is set. Never printed.
     */
    public record Auth(String hs256Secret, java.nio.file.Path jwksFile, String audience) {
        @Override
        public String toString() {
            return "Auth[hs256=" + (hs256Secret != null) + ", jwks=" + jwksFile + ", audience=" + audience + "]";
        }
    }

    public static final String DEFAULT_HOST = "0.0.0.0";
    public static final int DEFAULT_PORT = 7780;
    public static final String DEFAULT_SCHEMA = "public";
    public static final int DEFAULT_POOL_SIZE = 8;
    public static final int DEFAULT_MAX_FRAME_BYTES = 16 << 20;
    public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
    /**
     * Long enough for the lock waits of relays and applications working normally (another apply of the
     * same rows, a bulk apply holding a table's lock), well under a client's 30 s acknowledgement timeout,
     * so a change stuck behind a lock gives its connection back before the client sends it again.
     */
    public static final java.time.Duration DEFAULT_LOCK_TIMEOUT = java.time.Duration.ofSeconds(10);
    /**
     * Far above what the relay's statements take (a 100,000-row client transaction, the largest a 16 MiB
     * frame holds, applies in seconds; snapshots and history are read in pages), and it makes the network
     * timeout 65 s, a fourteenth of the time a dark database would otherwise hold each connection.
     */
    public static final java.time.Duration DEFAULT_STATEMENT_TIMEOUT = java.time.Duration.ofSeconds(30);
    /** {@link #httpPort()} value for "no health and metrics endpoint". */
    public static final int NO_HTTP = -1;

    public RelayConfig {
        Objects.requireNonNull(pgUrl, "pgUrl");
        pgUser = pgUser == null ? "" : pgUser;
        pgPassword = pgPassword == null ? "" : pgPassword;
        host = host == null || host.isBlank() ? DEFAULT_HOST : host;
        schema = schema == null || schema.isBlank() ? DEFAULT_SCHEMA : schema;
        tables = tables == null ? List.of() : List.copyOf(tables);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be between 0 and 65535: " + port);
        }
        if (poolSize < 1) {
            throw new IllegalArgumentException("pool size must be at least 1: " + poolSize);
        }
        if (retention != null && (retention.isNegative() || retention.isZero())) {
            throw new IllegalArgumentException("retention must be positive: " + retention);
        }
        if (httpPort < NO_HTTP || httpPort > 65535) {
            throw new IllegalArgumentException("http port must be between 0 and 65535, or -1 for none: " + httpPort);
        }
        if (maxConnections < 1) {
            throw new IllegalArgumentException("max connections must be at least 1: " + maxConnections);
        }
        if (lockTimeout == null || lockTimeout.isNegative() || lockTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("lock timeout must be at least 1 ms: " + lockTimeout);
        }
        if (statementTimeout == null || statementTimeout.isNegative()) {
            throw new IllegalArgumentException("statement timeout must be zero (none) or positive: " + statementTimeout);
        }
        if (!statementTimeout.isZero() && statementTimeout.compareTo(lockTimeout) <= 0) {
            throw new IllegalArgumentException("statement timeout (" + statementTimeout.toMillis()
                    + " ms) must exceed the lock timeout (" + lockTimeout.toMillis() + " ms): a lock wait would be"
                    + " cancelled as a slow statement instead");
        }
        if (maxFrameBytes < 1024) {
            throw new IllegalArgumentException("max frame bytes must be at least 1024: " + maxFrameBytes);
        }
    }

    /** A configuration with every default: all interfaces, port 7780, schema public, all tables. */
    public static RelayConfig of(String pgUrl, String pgUser, String pgPassword) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SCHEMA, List.of(),
                DEFAULT_POOL_SIZE, DEFAULT_MAX_FRAME_BYTES, NO_HTTP, null, null, null, null, DEFAULT_MAX_CONNECTIONS,
                DEFAULT_LOCK_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT);
    }

    public RelayConfig withHost(String host) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    public RelayConfig withPort(int port) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    public RelayConfig withSchema(String schema) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    public RelayConfig withTables(List<String> tables) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    public RelayConfig withPoolSize(int poolSize) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Serves {@code /health} and {@code /metrics} on this port (0: any free port, -1: none). */
    public RelayConfig withHttpPort(int httpPort) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Requires clients to present a JWT verified as {@code auth} says. */
    public RelayConfig withAuth(Auth auth) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Keeps the feed's history for {@code retention} (null: forever). */
    public RelayConfig withRetention(java.time.Duration retention) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Serves {@code wss://} with the certificate of {@code tls}. */
    public RelayConfig withTls(Tls tls) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Scopes every user's rows by the rules in {@code scopes} (requires {@link #withAuth}). */
    public RelayConfig withScopes(java.nio.file.Path scopes) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    public RelayConfig withMaxConnections(int maxConnections) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    public RelayConfig withMaxFrameBytes(int maxFrameBytes) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort, auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Bounds every lock wait of the relay's database work (see {@link #lockTimeout()}). */
    public RelayConfig withLockTimeout(java.time.Duration lockTimeout) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /** Bounds every statement of the relay's pooled database work (see {@link #statementTimeout()}). */
    public RelayConfig withStatementTimeout(java.time.Duration statementTimeout) {
        return new RelayConfig(pgUrl, pgUser, pgPassword, host, port, schema, tables, poolSize, maxFrameBytes, httpPort,
                auth, retention, tls, scopes, maxConnections, lockTimeout, statementTimeout);
    }

    /**
     * The bounds of the relay's pooled connections (applies, history reads; snapshots without the idle bound).
     * A relay transaction idles between its statements only for the relay's own work, so the server may end
     * one idle for as long as a statement may run: its connection was lost.
     */
    public io.syncsqlite.relay.db.SessionLimits sessionLimits() {
        java.time.Duration bound = statementTimeout.isZero() ? null : statementTimeout;
        return new io.syncsqlite.relay.db.SessionLimits(lockTimeout, bound, bound);
    }

    /** Never shows the password, also not one embedded in the URL. */
    @Override
    public String toString() {
        return "RelayConfig[pgUrl=" + maskUrl(pgUrl) + ", pgUser=" + pgUser + ", pgPassword=" + (pgPassword.isEmpty() ? "" : "***")
                + ", host=" + host + ", port=" + port + ", schema=" + schema + ", tables=" + tables
                + ", poolSize=" + poolSize + ", maxFrameBytes=" + maxFrameBytes + ", httpPort=" + httpPort
                + ", auth=" + auth + ", retention=" + retention + ", tls=" + tls + ", scopes=" + scopes
                + ", maxConnections=" + maxConnections + ", lockTimeout=" + lockTimeout
                + ", statementTimeout=" + statementTimeout + "]";
    }

    /** The URL with any {@code password=} parameter and {@code user:password@} masked, for logs. */
    public static String maskUrl(String url) {
        if (url == null) {
            return null;
        }
        return url.replaceAll("(?i)(password=)[^&;]*", "$1***").replaceAll("//([^/:@]+):[^/@]*@", "//$1:***@");
    }
}
