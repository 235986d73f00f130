package io.syncsqlite.it.harness;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.driver.sync.SyncNode;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One device in a test: a real SQLite file opened through {@code jdbc:syncsqlite:}, reaching the relay
 * through its own {@link TcpProxy} so the test can take it offline.
 */
public final class Client implements AutoCloseable {

    private final String name;
    private final Path file;
    private final TcpProxy proxy;
    private final String extraParams;
    private Connection conn;

    Client(String name, Path file, TcpProxy proxy, String extraParams) throws SQLException {
        this.name = name;
        this.file = file;
        this.proxy = proxy;
        this.extraParams = extraParams;
        reopen();
    }

    public String url() {
        return url(name, file, proxy, extraParams);
    }

    static String url(String name, Path file, TcpProxy proxy, String extraParams) {
        return "jdbc:syncsqlite:" + file + "?sync.server=" + proxy.wsUrl() + "&sync.node=" + name
                + "&sync.lingerMs=0&sync.reconnectMaxMs=300" + extraParams;
    }

    /** Closes the connection (stopping this file's sync client) and opens it again. */
    public void reopen() throws SQLException {
        if (conn != null) {
            conn.close();
        }
        conn = DriverManager.getConnection(url());
    }

    public Connection connection() {
        return conn;
    }

    public SyncNode node() throws SQLException {
        return conn.unwrap(SyncConnection.class).node();
    }

    public String name() {
        return name;
    }

    public Path file() {
        return file;
    }

    public TcpProxy proxy() {
        return proxy;
    }

    public void offline() {
        proxy.online(false);
    }

    public void online() {
        proxy.online(true);
    }

    /** Runs one statement and returns its update count (-1 for a query). */
    public int exec(String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            return ps.execute() ? -1 : ps.getUpdateCount();
        }
    }

    public void script(String... sql) throws SQLException {
        try (Statement st = conn.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    /** Runs the statements in one transaction of the application's connection. */
    public void transaction(String... sql) throws SQLException {
        conn.setAutoCommit(false);
        try {
            script(sql);
            conn.commit();
        } finally {
            conn.setAutoCommit(true);
        }
    }

    public List<Map<String, Object>> rows(String sql) throws SQLException {
        return Rows.query(conn, sql);
    }

    /** Waits until every local write is acknowledged and its result has come back through the feed. */
    public void awaitSynced() throws SQLException, InterruptedException {
        if (!node().awaitSynced(Duration.ofSeconds(30))) {
            throw new AssertionError(name + " did not sync within 30 s: " + node().status() + "; " + outboxSummary()
                    + "\n" + syncThreads());
        }
    }

    /**
     * Where the sync clients' threads and the WebSocket client's threads are, for a failure message: a client
     * that stays "connected" after its connection was cut is waiting somewhere, and a CI run has nothing else
     * to show where.
     */
    public static String syncThreads() {
        StringBuilder out = new StringBuilder("threads:");
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            String n = thread.getName();
            if (n.startsWith("syncsqlite-") || n.startsWith("HttpClient")) {
                out.append("\n  ").append(n).append(' ').append(thread.getState());
                for (int i = 0; i < Math.min(stack.length, 25); i++) {
                    out.append("\n    at ").append(stack[i]);
                }
            }
        });
        return out.toString();
    }

    /**
     * What holds the client back, for a failure message: the outbox rows not yet settled (read through a
     * plain SQLite connection, so it never waits for the sync client) and the cursor. A rare failure in a
     * CI run has nothing else to go on.
     */
    private String outboxSummary() {
        try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file);
             Statement st = raw.createStatement()) {
            StringBuilder out = new StringBuilder();
            try (var rs = st.executeQuery("SELECT v FROM _sync_state WHERE k = 'cursor'")) {
                out.append("cursor in file ").append(rs.next() ? rs.getString(1) : "none");
            }
            try (var rs = st.executeQuery("SELECT seq, tbl, op, pk, hlc, ack FROM _sync_outbox"
                    + " WHERE hlc IS NULL OR ack IS NULL OR ack > coalesce((SELECT v FROM _sync_state WHERE k = 'cursor'), 0)"
                    + " ORDER BY seq LIMIT 20")) {
                out.append(", unsettled outbox rows (seq tbl op pk hlc ack):");
                while (rs.next()) {
                    out.append(" [").append(rs.getLong(1)).append(' ').append(rs.getString(2)).append(' ')
                            .append(rs.getInt(3)).append(' ').append(rs.getString(4)).append(' ')
                            .append(rs.getString(5)).append(' ').append(rs.getString(6)).append(']');
                }
            }
            return out.toString();
        } catch (SQLException e) {
            return "outbox unreadable: " + e.getMessage();
        }
    }

    @Override
    public void close() throws SQLException {
        conn.close();
    }
}
