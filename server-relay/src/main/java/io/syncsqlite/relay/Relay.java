package io.syncsqlite.relay;

import io.syncsqlite.relay.apply.PostgresChangeApplier;
import io.syncsqlite.relay.auth.TokenVerifier;
import io.syncsqlite.relay.db.ConnectionPool;
import io.syncsqlite.relay.db.PgErrors;
import io.syncsqlite.relay.feed.ChangeFeed;
import io.syncsqlite.relay.feed.Retention;
import io.syncsqlite.relay.keys.KeyAllocator;
import io.syncsqlite.relay.ops.HttpEndpoints;
import io.syncsqlite.relay.ops.Metrics;
import io.syncsqlite.relay.schema.Catalog;
import io.syncsqlite.relay.schema.CatalogWatcher;
import io.syncsqlite.relay.schema.SchemaInstaller;
import io.syncsqlite.relay.scope.ScopeRules;
import io.syncsqlite.relay.session.ClientSession;
import io.syncsqlite.relay.ws.RelayWebSocketServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running relay: a WebSocket endpoint that applies client transactions to PostgreSQL and streams
 * PostgreSQL's commits back to clients.
 *
 * <pre>{@code
 * try (Relay relay = Relay.start(RelayConfig.of("jdbc:postgresql://localhost/app", "app", "secret")
 *         .withHost("127.0.0.1").withPort(0))) {
 *     URI uri = relay.uri(); // ws://127.0.0.1:<port>/sync
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> One WebSocket selector thread plus decoder threads (Java-WebSocket), one feed
 * thread ({@code syncsqlite-feed}), and a fixed pool of workers ({@code syncsqlite-worker-N}) that runs
 * every session's lane. All are daemon threads; {@link #close()} stops them.
 *
 * <p>Thread-safe: {@link #port()}, {@link #uri()} and {@link #close()} may be called from any thread.
 */
public final class Relay implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Relay.class);
    private static final long BUFFER_ENTRIES = 100_000;

    private final RelayConfig config;
    private final ConnectionPool pool;
    private final ChangeFeed feed;
    private final ExecutorService workers;
    private final RelayWebSocketServer server;
    private final Set<ClientSession> sessions;
    private final HttpEndpoints http;
    private final Retention retention;
    private final CatalogWatcher watcher;
    /** How often each relay checks PostgreSQL's schema for changes (see {@link CatalogWatcher}). */
    private static final long CATALOG_CHECK_MILLIS = 2000;
    private final int port;
    private boolean closed;

    private Relay(RelayConfig config, ConnectionPool pool, ChangeFeed feed, ExecutorService workers,
                  RelayWebSocketServer server, Set<ClientSession> sessions, HttpEndpoints http, Retention retention,
                  CatalogWatcher watcher) {
        this.config = config;
        this.pool = pool;
        this.feed = feed;
        this.workers = workers;
        this.server = server;
        this.sessions = sessions;
        this.http = http;
        this.retention = retention;
        this.watcher = watcher;
        this.port = server.getPort();
    }

    /**
     * Installs (or checks) the relay's schema and triggers, starts the change feed and listens.
     *
     * @throws SQLException             if PostgreSQL is unreachable or refuses the installation
     * @throws IOException              if the port cannot be bound
     * @throws IllegalArgumentException if a configured table does not exist or has no primary key
     */
    public static Relay start(RelayConfig config) throws SQLException, IOException {
        TokenVerifier verifier = config.auth() == null ? null
                : TokenVerifier.of(config.auth().hs256Secret(), config.auth().jwksFile(), config.auth().audience());
        javax.net.ssl.SSLContext tlsContext = config.tls() == null ? null : sslContext(config.tls());
        ConnectionPool.PgConnector connector = new ConnectionPool.PgConnector(config.pgUrl(), config.pgUser(),
                config.pgPassword(), SchemaInstaller.APPLICATION_NAME);
        Catalog catalog = install(connector, config);
        ConnectionPool pool = new ConnectionPool(connector, config.poolSize(), ConnectionPool.VALIDATE_AFTER,
                config.sessionLimits());
        ScopeRules scopes = null;
        if (config.scopes() != null) {
            if (config.auth() == null) {
                throw new IllegalArgumentException("per-user scopes need authentication: without a token there is no"
                        + " user to scope");
            }
            scopes = ScopeRules.load(config.scopes(), catalog);
            try (Connection c = connector.open()) {
                scopes.register(c);
                if (!c.getAutoCommit()) {
                    c.commit();
                }
            }
            if (!scopes.unnamedTables().isEmpty()) {
                log.warn("scope rules name no rule for {}: no user sees or writes those tables", scopes.unnamedTables());
            }
            log.info("per-user scopes from {} on {} table(s)", config.scopes(), scopes.rules().size());
        }
        ChangeFeed feed = new ChangeFeed(connector, pool, catalog, BUFFER_ENTRIES, Math.max(2, config.poolSize() / 2),
                ChangeFeed.POLL, true, config.sessionLimits());
        if (scopes != null) {
            feed.parseRows();
        }
        ScopeRules scopeRules = scopes;
        ExecutorService workers = null;
        RelayWebSocketServer server = null;
        HttpEndpoints http = null;
        Retention retention = null;
        CatalogWatcher watcher = null;
        try {
            feed.start();
            watcher = CatalogWatcher.start(connector, catalog, config.tables(), CATALOG_CHECK_MILLIS);
            workers = Executors.newFixedThreadPool(Math.max(4, 2 * config.poolSize()), daemonThreads("syncsqlite-worker-"));
            PostgresChangeApplier applier = new PostgresChangeApplier(pool, catalog, () -> {
                try (Connection c = connector.open()) {
                    return SchemaInstaller.install(c, config.schema(), config.tables());
                }
            });
            KeyAllocator keys = new KeyAllocator(pool, catalog);
            Set<ClientSession> sessions = ConcurrentHashMap.newKeySet();
            Metrics metrics = new Metrics();
            metrics.gauges(sessions::size, feed::head);
            ExecutorService lanes = workers;
            server = new RelayWebSocketServer(new InetSocketAddress(config.host(), config.port()),
                    config.maxFrameBytes(), verifier, config.maxConnections(), (out, remote, principal) -> {
                ClientSession[] self = new ClientSession[1];
                self[0] = new ClientSession(out, applier, keys, feed, metrics, lanes, remote, () -> sessions.remove(self[0]),
                        scopeRules, principal, config.maxFrameBytes());
                sessions.add(self[0]);
                return self[0];
            });
            if (tlsContext != null) {
                server.setWebSocketFactory(new org.java_websocket.server.DefaultSSLWebSocketServerFactory(tlsContext));
            }
            server.start();
            server.started().get(30, TimeUnit.SECONDS);
            if (config.retention() != null) {
                retention = Retention.start(pool, feed, config.retention());
            }
            if (config.httpPort() != RelayConfig.NO_HTTP) {
                http = HttpEndpoints.start(config.host(), config.httpPort(), pool, metrics, feed::failure);
            }
            Relay relay = new Relay(config, pool, feed, workers, server, sessions, http, retention, watcher);
            log.info("syncsqlite relay listening on {} (database {})", relay.uri(), RelayConfig.maskUrl(config.pgUrl()));
            return relay;
        } catch (ExecutionException | TimeoutException | InterruptedException | RuntimeException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            stopQuietly(server);
            if (http != null) {
                http.close();
            }
            if (retention != null) {
                retention.close();
            }
            if (watcher != null) {
                watcher.close();
            }
            feed.close();
            if (workers != null) {
                workers.shutdownNow();
            }
            pool.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            if (cause instanceof SQLException s) {
                throw s;
            }
            throw new IOException("cannot listen on " + config.host() + ":" + config.port() + ": " + cause, cause);
        } catch (SQLException e) {
            if (watcher != null) {
                watcher.close();
            }
            feed.close();
            pool.close();
            throw e;
        }
    }

    /** How long a start keeps trying an install that meets locks held by others' open transactions. */
    static final java.time.Duration INSTALL_PATIENCE = java.time.Duration.ofMinutes(5);

    /** Pause between install attempts: three times the attempt's lock bound, so writers run freely 3/4 of the time. */
    private static final long INSTALL_RETRY_MS = 3L * SchemaInstaller.LOCK_TIMEOUT_MS;

    /**
     * Installs (SchemaInstaller.install), again after a pause while a table lock it needs is held by someone
     * else's open transaction: each attempt waits at most {@link SchemaInstaller#LOCK_TIMEOUT_MS} for it, so
     * the writers queued behind the attempt wait no longer than that, instead of for the whole transaction.
     */
    private static Catalog install(ConnectionPool.PgConnector connector, RelayConfig config) throws SQLException {
        long deadline = System.nanoTime() + INSTALL_PATIENCE.toNanos();
        for (int attempt = 1; ; attempt++) {
            try (Connection c = connector.withApplicationName(SchemaInstaller.INSTALL_APPLICATION_NAME).open()) {
                return SchemaInstaller.install(c, config.schema(), config.tables());
            } catch (SQLException e) {
                if (!PgErrors.isLockTimeout(e) || System.nanoTime() > deadline) {
                    throw e;
                }
                if (attempt == 1) {
                    log.warn("installing waits for table locks held by other transactions (SQLState 55P03);"
                            + " trying again every {} ms for up to {}", INSTALL_RETRY_MS, INSTALL_PATIENCE);
                }
            }
            try {
                Thread.sleep(INSTALL_RETRY_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SQLException("interrupted while waiting to install", "57014", e);
            }
        }
    }

    private static javax.net.ssl.SSLContext sslContext(RelayConfig.Tls tls) throws IOException {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(tls.keystore())) {
            char[] password = tls.password().toCharArray();
            java.security.KeyStore ks = java.security.KeyStore.getInstance(
                    tls.keystore().toString().endsWith(".jks") ? "JKS" : "PKCS12");
            ks.load(in, password);
            javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(
                    javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot use the TLS keystore " + tls.keystore() + ": " + e.getMessage(), e);
        }
    }

    /** Starts a throwaway PostgreSQL for demos (see {@link EmbeddedDatabase}). */
    public static EmbeddedDatabase startEmbeddedPostgres() throws IOException {
        return EmbeddedDatabase.start();
    }

    /** The port the relay listens on (the chosen one if the configuration said 0). */
    public int port() {
        return port;
    }

    /** Prunes history once now (as the retention timer does); 0 when no retention is configured. */
    public int pruneHistory() throws SQLException {
        return retention == null ? 0 : retention.pruneOnce();
    }

    /** The port of {@code /health} and {@code /metrics}, or -1 when they are not served. */
    public int httpPort() {
        return http == null ? RelayConfig.NO_HTTP : http.port();
    }

    /** The address clients connect to, {@code ws://host:port/sync}. */
    public URI uri() {
        String host = config.host().equals("0.0.0.0") ? "localhost" : config.host();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return URI.create((config.tls() == null ? "ws://" : "wss://") + host + ":" + port() + "/sync");
    }

    public RelayConfig config() {
        return config;
    }

    /**
     * Graceful shutdown: stops accepting connections and messages, lets every session finish the apply
     * it is running (and send its acks), closes every connection with 1001, then stops the feed, the
     * workers and the database connections. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (http != null) {
            http.draining(); // health says 503 at once: take this relay out of rotation
        }
        server.stopAccepting();
        List<CompletableFuture<Void>> drains = sessions.stream().map(ClientSession::drain).toList();
        try {
            CompletableFuture.allOf(drains.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            log.warn("some sessions did not finish their work within 30 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopQuietly(server);
        // Sessions release their snapshot connections on their lanes after the sockets close.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!sessions.isEmpty() && System.nanoTime() < deadline) {
            sleep(10);
        }
        if (retention != null) {
            retention.close();
        }
        watcher.close();
        feed.close();
        workers.shutdown();
        try {
            if (!workers.awaitTermination(10, TimeUnit.SECONDS)) {
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            workers.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (http != null) {
            http.close();
        }
        pool.close();
        log.info("syncsqlite relay on port {} stopped", port);
    }

    private static void stopQuietly(RelayWebSocketServer server) {
        if (server == null) {
            return;
        }
        try {
            server.stop(5000, "relay shutting down");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
