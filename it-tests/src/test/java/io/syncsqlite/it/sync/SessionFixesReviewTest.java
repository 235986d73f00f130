package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Adversarial review of the session's fixes (REPLACE evictions captured with recursive_triggers,
 * counter statements with RETURNING, Statement batches). Each test asserts the rows PostgreSQL and every
 * client must hold after sync.
 */
class SessionFixesReviewTest {

    private static final String PG_STOCK = "CREATE TABLE stock (sku text PRIMARY KEY, qty int)";
    private static final String LOCAL_STOCK = "CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER)";
    private static final String STOCK = "SELECT sku, qty FROM stock ORDER BY sku";

    @TempDir
    Path dir;

    private static Map<String, Object> row(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            Object v = kv[i + 1];
            m.put((String) kv[i], v instanceof Integer n ? (Object) n.longValue() : v);
        }
        return m;
    }

    private static void syncAll(Client... clients) throws Exception {
        for (Client c : clients) {
            c.awaitSynced();
        }
        for (Client c : clients) {
            c.awaitSynced();
        }
    }

    /**
     * The upsert idiom {@code INSERT OR REPLACE} that hits only the row's own key (a rename) on a table
     * that also has a UNIQUE column. With plain SQLite (foreign_keys off, sqlite-jdbc's default) it is an
     * in-place replacement of the row. The driver now turns recursive_triggers on for it, so the capture's
     * delete trigger fires for the replaced row, and the relay applies a DELETE of the user then an INSERT:
     * PostgreSQL's ON DELETE CASCADE removes the user's sessions, on PostgreSQL and on every client.
     */
    @Test
    void anUpsertByKeyOnATableWithAUniqueColumnDoesNotCascadeAwayChildRows() throws Exception {
        String[] pg = {"CREATE TABLE users (id text PRIMARY KEY, email text UNIQUE, name text)",
            "CREATE TABLE sessions (id text PRIMARY KEY, user_id text REFERENCES users (id) ON DELETE CASCADE)",
            "INSERT INTO users VALUES ('u1', 'ann@e', 'Ann')",
            "INSERT INTO sessions VALUES ('s1', 'u1')"};
        String[] local = {"CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)",
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT REFERENCES users (id) ON DELETE CASCADE)"};
        String users = "SELECT id, email, name FROM users ORDER BY id";
        String sessions = "SELECT id, user_id FROM sessions ORDER BY id";
        try (Cluster cluster = Cluster.start("sfr_upsert", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(sessions, a, b);
            assertEquals(List.of(row("id", "s1", "user_id", "u1")), a.rows(sessions), "before");

            a.exec("INSERT OR REPLACE INTO users (id, email, name) VALUES ('u1', 'ann@e', 'Ann B')");
            assertEquals(List.of(row("id", "s1", "user_id", "u1")), a.rows(sessions), "locally, as with sqlite-jdbc");
            syncAll(a, b);
            assertEquals(List.of(row("id", "u1", "email", "ann@e", "name", "Ann B")), cluster.pgRows(users), "PostgreSQL users");
            assertEquals(List.of(row("id", "s1", "user_id", "u1")), cluster.pgRows(sessions),
                    "PostgreSQL kept the session of the renamed user");
            cluster.awaitConverged(sessions, a, b);
            assertEquals(List.of(row("id", "s1", "user_id", "u1")), a.rows(sessions), "client a kept the session");
        }
    }

    /**
     * A decrement with RETURNING in auto-commit mode, run through {@code Statement.execute(String)} (the
     * session fixed {@code PreparedStatement.execute()} and {@code executeQuery} only): the amounts must add
     * up across two offline clients, 100 - 1 - 2 - 4 - 8.
     */
    private static void decrement(Client c, int amount) throws Exception {
        try (Statement st = c.connection().createStatement()) {
            assertTrue(st.execute("UPDATE stock SET qty = qty - " + amount + " WHERE sku = 'a' RETURNING qty"));
            try (ResultSet rs = st.getResultSet()) {
                assertTrue(rs.next());
            }
        }
    }

    @Test
    void decrementsWithReturningThroughStatementExecuteAddUp() throws Exception {
        try (Cluster cluster = Cluster.start("sfr_ret_ctr", dir, PG_STOCK, "INSERT INTO stock VALUES ('a', 100)")) {
            Client one = cluster.client("one", LOCAL_STOCK);
            Client two = cluster.client("two", LOCAL_STOCK);
            cluster.awaitConverged(STOCK, one, two);
            one.offline();
            two.offline();
            decrement(one, 1);
            decrement(one, 2);
            decrement(two, 4);
            decrement(two, 8);
            assertEquals(List.of(row("sku", "a", "qty", 97)), one.rows(STOCK), "one locally");
            assertEquals(List.of(row("sku", "a", "qty", 88)), two.rows(STOCK), "two locally");
            one.online();
            two.online();
            syncAll(one, two);
            assertEquals(List.of(row("sku", "a", "qty", 85)), cluster.pgRows(STOCK), "every decrement applied");
            cluster.awaitConverged(STOCK, one, two);
        }
    }
}
