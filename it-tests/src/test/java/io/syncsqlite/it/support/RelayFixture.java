package io.syncsqlite.it.support;

import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;

import java.io.IOException;
import java.net.URI;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A relay on a fresh test database, listening on 127.0.0.1 and an ephemeral port, plus direct SQL access
 * to that database for setting up and checking.
 *
 * <p>Not thread-safe for {@link #restart()}/{@link #close()}; the SQL helpers open a connection per call
 * and may be used from any thread.
 */
public final class RelayFixture implements AutoCloseable {

    private final PostgresFixture.Server server;
    private final String dbUrl;
    private final List<String> tables;
    private final List<TestClient> clients = new ArrayList<>();
    private Relay relay;
    private UnaryOperator<RelayConfig> custom = UnaryOperator.identity();

    private RelayFixture(PostgresFixture.Server server, String dbUrl, List<String> tables) {
        this.server = server;
        this.dbUrl = dbUrl;
        this.tables = tables;
    }

    /**
     * Creates a database named after {@code prefix}, runs {@code ddl} in it, then starts a relay syncing
     * every table with a primary key.
     */
    public static RelayFixture start(String prefix, String... ddl) {
        PostgresFixture.Server server = PostgresFixture.server();
        String url = server.newDatabase(prefix);
        RelayFixture f = new RelayFixture(server, url, List.of());
        f.execute(ddl);
        f.relay = f.startRelay();
        return f;
    }

    /** A fixture on an existing database, with no relay started yet. */
    public static RelayFixture on(String dbUrl, List<String> tables) {
        return new RelayFixture(PostgresFixture.server(), dbUrl, tables);
    }

    public RelayConfig config() {
        return custom.apply(RelayConfig.of(dbUrl, server.user(), server.password()).withHost("127.0.0.1").withPort(0)
                .withTables(tables).withPoolSize(4));
    }

    /** Restarts the relay with {@code change} made to its configuration, as every later start will be. */
    public void reconfigure(UnaryOperator<RelayConfig> change) {
        custom = change;
        restart();
    }

    /** Starts one more relay on the same database (the caller closes it). */
    public Relay startRelay() {
        try {
            return Relay.start(config());
        } catch (SQLException | IOException e) {
            throw new IllegalStateException("relay did not start", e);
        }
    }

    public Relay relay() {
        return relay;
    }

    public URI uri() {
        return relay.uri();
    }

    public String dbUrl() {
        return dbUrl;
    }

    /** Stops the relay (gracefully) and starts a new one on the same database. */
    public void restart() {
        relay.close();
        relay = startRelay();
    }

    /** A connected client that has said hello. */
    public TestClient client(String node, long cursor) {
        TestClient c = connect();
        c.hello(node, cursor);
        return c;
    }

    /** A connected client that has said nothing yet. */
    public TestClient connect() {
        TestClient c = TestClient.connect(uri());
        synchronized (clients) {
            clients.add(c);
        }
        return c;
    }

    public Connection connection() throws SQLException {
        return server.connect(dbUrl);
    }

    /** Runs statements in auto-commit mode. */
    public void execute(String... sql) {
        try (Connection c = connection(); Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The first column of the first row, as a long. */
    public long queryLong(String sql) {
        try (Connection c = connection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            if (!rs.next()) {
                throw new IllegalStateException("no row: " + sql);
            }
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every row, each as a list of its column values rendered with {@code getString}. */
    public List<List<String>> query(String sql) {
        try (Connection c = connection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            List<List<String>> rows = new ArrayList<>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        synchronized (clients) {
            for (TestClient c : clients) {
                c.close();
            }
            clients.clear();
        }
        if (relay != null) {
            relay.close();
        }
    }
}
