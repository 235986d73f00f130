package io.syncsqlite.it.harness;

import io.syncsqlite.it.support.RelayFixture;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import static org.awaitility.Awaitility.await;

/**
 * A PostgreSQL database, a relay on it, and any number of {@link Client}s, each on its own SQLite file
 * and behind its own {@link TcpProxy}. The relay can be restarted; proxies follow it to its new port.
 */
public final class Cluster implements AutoCloseable {

    private final RelayFixture relay;
    private final Path dir;
    private final List<Client> clients = new ArrayList<>();
    private final List<TcpProxy> proxies = new ArrayList<>();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private String clientParams = "";

    private Cluster(RelayFixture relay, Path dir) {
        this.relay = relay;
        this.dir = dir;
    }

    /** The relay running now (a new one after each restart). */
    public io.syncsqlite.relay.Relay relay() {
        return relay.relay();
    }

    /** Creates a fresh database with {@code pgDdl} and starts a relay on it. */
    public static Cluster start(String name, Path dir, String... pgDdl) {
        return new Cluster(RelayFixture.start(name, pgDdl), dir);
    }

    /** Extra URL parameters (starting with {@code &}) for clients created from now on. */
    public Cluster clientParams(String params) {
        this.clientParams = params;
        return this;
    }

    /** A new client whose SQLite file gets {@code localDdl} before it is opened through the driver. */
    public Client client(String name, String... localDdl) throws SQLException, IOException {
        return open(name, file(name, localDdl), proxy());
    }

    /** Creates {@code <name>.db} with {@code localDdl} (through plain sqlite-jdbc), for a client to open. */
    public Path file(String name, String... localDdl) throws SQLException {
        Path file = dir.resolve(name + ".db");
        try (Connection plain = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = plain.createStatement()) {
            for (String sql : localDdl) {
                st.execute(sql);
            }
        }
        return file;
    }

    /** A proxy to the relay, following it across restarts (for a client in this JVM or another). */
    public TcpProxy proxy() throws IOException {
        TcpProxy p = new TcpProxy(relay.relay().port());
        proxies.add(p);
        return p;
    }

    /** Closes {@code resource} (a client process, say) when the cluster closes, before anything else. */
    public <T extends AutoCloseable> T closeWith(T resource) {
        resources.add(resource);
        return resource;
    }

    /** Opens an existing file through the driver as a client behind {@code proxy}. */
    public Client open(String name, Path file, TcpProxy proxy) throws SQLException {
        Client c = new Client(name, file, proxy, clientParams);
        clients.add(c);
        return c;
    }

    /** The driver URL for a client named {@code name} on {@code file} behind {@code proxy}. */
    public String url(String name, Path file, TcpProxy proxy) {
        return Client.url(name, file, proxy, clientParams);
    }

    public String dbUrl() {
        return relay.dbUrl();
    }

    public Connection pg() throws SQLException {
        return relay.connection();
    }

    public void pg(String... sql) {
        relay.execute(sql);
    }

    public List<Map<String, Object>> pgRows(String sql) throws SQLException {
        try (Connection c = pg()) {
            return Rows.query(c, sql);
        }
    }

    /** Stops the relay gracefully and starts a new one on the same database (another port). */
    public void restartRelay() {
        relay.restart();
        for (TcpProxy p : proxies) {
            p.target(relay.relay().port());
        }
    }

    /** Restarts the relay with {@code change} made to its configuration (and every later start's). */
    public void reconfigureRelay(java.util.function.UnaryOperator<io.syncsqlite.relay.RelayConfig> change) {
        relay.reconfigure(change);
        for (TcpProxy p : proxies) {
            p.target(relay.relay().port());
        }
    }

    public void stopRelay() {
        relay.relay().close();
    }

    public void startRelay() {
        relay.restart();
        for (TcpProxy p : proxies) {
            p.target(relay.relay().port());
        }
    }

    /** Waits until the query returns the same rows on PostgreSQL and on every given client. */
    public void awaitConverged(String sql, Client... on) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            List<Map<String, Object>> expected = pgRows(sql);
            for (Client c : on) {
                org.junit.jupiter.api.Assertions.assertEquals(expected, c.rows(sql), c.name() + " vs PostgreSQL");
            }
        });
    }

    public static <T> T eventually(Callable<T> check, java.util.function.Predicate<T> done) {
        return await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(check, done::test);
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable r : resources) {
            r.close();
        }
        for (Client c : clients) {
            c.close();
        }
        for (TcpProxy p : proxies) {
            p.close();
        }
        relay.close();
    }
}
