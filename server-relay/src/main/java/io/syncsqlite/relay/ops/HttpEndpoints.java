package io.syncsqlite.relay.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.syncsqlite.relay.db.ConnectionPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.Supplier;
import java.util.concurrent.Executors;

/**
 * The relay's operations port: {@code GET /health} (200 when PostgreSQL answers, the change feed runs
 * and the relay accepts clients, else 503, for load balancers and orchestrators) and {@code GET /metrics} (Prometheus). The JDK's
 * own HTTP server is enough for two tiny endpoints and keeps a web framework off the relay.
 *
 * <p>Thread-safe: requests are served by one daemon thread of its own.
 */
public final class HttpEndpoints implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HttpEndpoints.class);
    private static final Duration DB_TIMEOUT = Duration.ofSeconds(2);

    private final HttpServer server;
    private final ConnectionPool pool;
    private final Metrics metrics;
    private volatile boolean accepting = true;

    private final Supplier<String> feedFailure;

    private HttpEndpoints(HttpServer server, ConnectionPool pool, Metrics metrics, Supplier<String> feedFailure) {
        this.server = server;
        this.pool = pool;
        this.metrics = metrics;
        this.feedFailure = feedFailure;
    }

    /**
     * Listens on {@code host:port} (0: any free port).
     *
     * @param feedFailure why the change feed stopped for good, null while it runs
     */
    public static HttpEndpoints start(String host, int port, ConnectionPool pool, Metrics metrics,
                                      Supplier<String> feedFailure) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 16);
        HttpEndpoints endpoints = new HttpEndpoints(server, pool, metrics, feedFailure);
        server.createContext("/health", endpoints::health);
        server.createContext("/metrics", endpoints::metrics);
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "syncsqlite-http");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        log.info("health and metrics on http://{}:{}/health and /metrics", host, server.getAddress().getPort());
        return endpoints;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** From now on {@code /health} answers 503 (shutting down: take this relay out of rotation). */
    public void draining() {
        accepting = false;
    }

    private void health(HttpExchange x) throws IOException {
        long head = databaseHead();
        boolean feeding = feedFailure.get() == null;
        boolean ok = accepting && head >= 0 && feeding;
        String body = "{\"status\":\"" + (ok ? "ok" : !accepting ? "shutting down"
                : !feeding ? "change feed stopped" : "database unreachable") + "\"}\n";
        respond(x, ok ? 200 : 503, "application/json", body);
    }

    private void metrics(HttpExchange x) throws IOException {
        respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(databaseHead()));
    }

    /** The newest commit position in PostgreSQL, or -1 when the database does not answer. */
    private long databaseHead() {
        Connection c = null;
        boolean broken = false;
        try {
            c = pool.borrow(DB_TIMEOUT);
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log")) {
                long head = rs.next() ? rs.getLong(1) : 0;
                if (!c.getAutoCommit()) {
                    c.commit();
                }
                return head;
            }
        } catch (SQLException e) {
            broken = true;
            return -1;
        } finally {
            if (c != null) {
                pool.release(c, broken);
            }
        }
    }

    private static void respond(HttpExchange x, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        boolean head = "HEAD".equals(x.getRequestMethod());
        x.sendResponseHeaders(status, head ? -1 : bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            if (!head) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
