package io.syncsqlite.examples;

import io.syncsqlite.driver.jdbc.SyncConnection;
import io.syncsqlite.relay.EmbeddedDatabase;
import io.syncsqlite.relay.Relay;
import io.syncsqlite.relay.RelayConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The syncsqlite demo: a relay on an embedded PostgreSQL, two devices ("alice" and "bob") on their own
 * SQLite files, writes on each and one directly in PostgreSQL, a concurrent offline edit of one row, and
 * every replica printed as it converges. Ends by itself.
 *
 * <p>The devices are ordinary JDBC code; the only syncsqlite-specific thing is the URL.
 */
public final class Demo {

    private static final String PG_DDL = "CREATE TABLE task (id TEXT PRIMARY KEY, title TEXT NOT NULL,"
            + " done BOOLEAN NOT NULL DEFAULT false, priority INTEGER, owner TEXT)";
    private static final String LOCAL_DDL = "CREATE TABLE IF NOT EXISTS task (id TEXT PRIMARY KEY, title TEXT NOT NULL,"
            + " done BOOLEAN NOT NULL DEFAULT 0, priority INTEGER, owner TEXT)";
    private static final String ALL = "SELECT id, title, done, priority, owner FROM task ORDER BY id";

    private Demo() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println("syncsqlite demo: starting an embedded PostgreSQL (a few seconds the first time)...");
        try (EmbeddedDatabase pg = EmbeddedDatabase.start()) {
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
                 Statement st = c.createStatement()) {
                st.execute(PG_DDL);
            }
            try (Relay relay = Relay.start(RelayConfig.of(pg.jdbcUrl(), pg.user(), pg.password())
                    .withHost("127.0.0.1").withPort(0))) {
                System.out.println("relay listening at " + relay.uri());
                run(pg, relay);
            }
        }
        System.out.println("demo finished");
    }

    private static void run(EmbeddedDatabase pg, Relay relay) throws Exception {
        Path dir = Files.createTempDirectory("syncsqlite-demo");
        // The one line an application changes: jdbc:sqlite:<file> becomes jdbc:syncsqlite:<file>?sync.server=...
        String alice = "jdbc:syncsqlite:" + dir.resolve("alice.db") + "?sync.server=" + relay.uri();
        String bob = "jdbc:syncsqlite:" + dir.resolve("bob.db") + "?sync.server=" + relay.uri();
        try (Connection a = DriverManager.getConnection(alice);
             Connection b = DriverManager.getConnection(bob);
             Connection p = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
            execute(a, LOCAL_DDL);
            execute(b, LOCAL_DDL);

            step("alice adds two tasks, bob adds one");
            insert(a, "a1", "buy milk", 2, "alice");
            insert(a, "a2", "call the plumber", 1, "alice");
            insert(b, "b1", "book flights", 3, "bob");
            converge(a, b, p);

            step("someone marks bob's task done directly in PostgreSQL (psql, a back-office job...)");
            execute(p, "UPDATE task SET done = true WHERE id = 'b1'");
            converge(a, b, p);

            step("alice and bob edit task a1 at the same time: alice the title, bob the priority");
            a.setAutoCommit(false);
            execute(a, "UPDATE task SET title = 'buy oat milk' WHERE id = 'a1'");
            b.setAutoCommit(false);
            execute(b, "UPDATE task SET priority = 5 WHERE id = 'a1'");
            a.commit();
            b.commit();
            a.setAutoCommit(true);
            b.setAutoCommit(true);
            converge(a, b, p);
            System.out.println("both edits survive: the merge is per column");

            step("bob deletes task a2");
            execute(b, "DELETE FROM task WHERE id = 'a2'");
            converge(a, b, p);
        }
    }

    private static void insert(Connection c, String id, String title, int priority, String owner) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO task (id, title, priority, owner) VALUES (?, ?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, title);
            ps.setInt(3, priority);
            ps.setString(4, owner);
            ps.executeUpdate();
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static void step(String what) {
        System.out.println();
        System.out.println("== " + what);
    }

    /** Prints the three replicas until they hold the same rows (at most 30 s). */
    private static void converge(Connection a, Connection b, Connection p) throws Exception {
        for (Connection c : List.of(a, b)) {
            c.unwrap(SyncConnection.class).node().awaitSynced(Duration.ofSeconds(30));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        List<List<String>> pa;
        List<List<String>> pb;
        List<List<String>> pp;
        do {
            pa = rows(a);
            pb = rows(b);
            pp = rows(p);
            if (pa.equals(pp) && pb.equals(pp)) {
                break;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        print("PostgreSQL", pp);
        print("alice.db", pa);
        print("bob.db", pb);
        if (pa.equals(pp) && pb.equals(pp)) {
            System.out.println("-> all three replicas agree");
        } else {
            System.out.println("-> NOT converged; alice: " + a.unwrap(SyncConnection.class).node().status()
                    + ", bob: " + b.unwrap(SyncConnection.class).node().status());
        }
    }

    private static List<List<String>> rows(Connection c) throws SQLException {
        List<List<String>> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(ALL)) {
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                List<String> row = new ArrayList<>();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    Object v = rs.getObject(i);
                    // SQLite stores booleans as 0/1; show both sides alike.
                    row.add(v instanceof Boolean bool ? (bool ? "1" : "0") : Objects.toString(v));
                }
                out.add(row);
            }
        }
        return out;
    }

    private static void print(String name, List<List<String>> rows) {
        System.out.println("  " + name + ":");
        for (List<String> r : rows) {
            System.out.println("    " + String.join(" | ", r));
        }
    }
}
