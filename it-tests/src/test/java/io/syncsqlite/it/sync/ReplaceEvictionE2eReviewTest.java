package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * End-to-end review of REPLACE evictions (commit a2b15cf): what the writer holds locally after each
 * statement must reach PostgreSQL and the other replica, without a rejection. Each test shows what a
 * wrong capture (a missed or a phantom delete) does to the replicas.
 */
class ReplaceEvictionE2eReviewTest {

    private static final String PG = "CREATE TABLE users (id text PRIMARY KEY, email text UNIQUE, name text)";
    private static final String LOCAL = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)";
    private static final String USERS = "SELECT id, email, name FROM users ORDER BY id";

    @TempDir
    Path dir;

    /** The rejections {@code a} is told of from now on. */
    private static List<io.syncsqlite.driver.sync.Rejection> rejectionsOf(Client a) throws Exception {
        List<io.syncsqlite.driver.sync.Rejection> rejections = new CopyOnWriteArrayList<>();
        a.node().addRejectionListener(rejections::add);
        return rejections;
    }

    /**
     * What a wrote locally ({@code written}, read by {@code rows}) reaches PostgreSQL and b without a
     * rejection: a holds it before and after syncing, and a, b and PostgreSQL converge.
     */
    private static void assertLands(Cluster cluster, String rows, List<Map<String, Object>> written,
                                    List<io.syncsqlite.driver.sync.Rejection> rejections, Client a, Client b)
            throws Exception {
        assertEquals(written, a.rows(rows), "what the application wrote locally");
        syncAll(a, b);
        cluster.awaitConverged(rows, a, b);
        assertEquals(written, a.rows(rows), "a after syncing, as PostgreSQL and b (converged)");
        assertEquals(List.of(), rejections, "rejections");
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
     * {@code INSERT OR REPLACE ... ON CONFLICT (email) DO NOTHING}: the upsert clause resolves the email
     * conflict, so SQLite keeps u1 and adds nothing. Expected: u1 stays in PostgreSQL and on b.
     */
    @Test
    void insertOrReplaceWithAnUpsertClauseDeletesNothingAnywhere() throws Exception {
        try (Cluster cluster = Cluster.start("rev_upsert", dir, PG)) {
            Client a = cluster.client("a", LOCAL);
            Client b = cluster.client("b", LOCAL);
            a.exec("INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            syncAll(a, b);
            cluster.awaitConverged(USERS, a, b);
            a.exec("INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob') ON CONFLICT (email) DO NOTHING");
            List<Map<String, Object>> written = List.of(row("id", "u1", "email", "x@e", "name", "Ann"));
            assertEquals(written, a.rows(USERS), "SQLite kept u1");
            syncAll(a, b);
            assertEquals(written, cluster.pgRows(USERS), "PostgreSQL must still hold u1 (a phantom delete was captured)");
            cluster.awaitConverged(USERS, a, b);
            assertEquals(written, b.rows(USERS), "b");
        }
    }

    /**
     * {@code Statement.addBatch("INSERT OR REPLACE ...")} evicting u1 through email. Expected: PostgreSQL
     * takes u2 and drops u1, without a rejection (as the single-statement form does since a2b15cf).
     */
    @Test
    void aStatementBatchOfReplaceReachesPostgresWithoutARejection() throws Exception {
        try (Cluster cluster = Cluster.start("rev_stbatch", dir, PG)) {
            Client a = cluster.client("a", LOCAL);
            Client b = cluster.client("b", LOCAL);
            List<io.syncsqlite.driver.sync.Rejection> rejections = rejectionsOf(a);
            a.exec("INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            syncAll(a, b);
            try (Statement st = a.connection().createStatement()) {
                st.addBatch("INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
                st.executeBatch();
            }
            List<Map<String, Object>> written = List.of(row("id", "u2", "email", "x@e", "name", "Bob"));
            assertLands(cluster, USERS, written, rejections, a, b);
        }
    }

    /**
     * A unique index dropped locally (PostgreSQL has none either) after its eviction triggers were
     * installed: two rows share an email, and a REPLACE with that email evicts nothing. Expected: all three
     * rows in PostgreSQL and on b. (Passes here because the sync client reloaded the node's catalog, so
     * {@code SyncConnection.evicting} no longer sets the flag; the stale {@code _sync_evi_users} trigger stays,
     * and without a reload the driver test {@code aDroppedUniqueIndexCapturesNoPhantomDeletes} shows phantom deletes.)
     */
    @Test
    void aReplaceAfterTheUniqueIndexWasDroppedDeletesNothingAnywhere() throws Exception {
        String pg = "CREATE TABLE users (id text PRIMARY KEY, email text, name text)";
        String local = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT)";
        try (Cluster cluster = Cluster.start("rev_dropidx", dir, pg)) {
            Client a = cluster.client("a", local, "CREATE UNIQUE INDEX users_email ON users (email)");
            Client b = cluster.client("b", local);
            a.reopen(); // installs the eviction triggers for the index
            a.script("DROP INDEX users_email",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')",
                    "INSERT INTO users VALUES ('u2', 'x@e', 'Bob')");
            syncAll(a, b);
            a.exec("INSERT OR REPLACE INTO users VALUES ('u3', 'x@e', 'Cid')");
            List<Map<String, Object>> written = List.of(row("id", "u1", "email", "x@e", "name", "Ann"),
                    row("id", "u2", "email", "x@e", "name", "Bob"), row("id", "u3", "email", "x@e", "name", "Cid"));
            assertEquals(written, a.rows(USERS), "SQLite evicted nothing");
            syncAll(a, b);
            assertEquals(written, cluster.pgRows(USERS), "PostgreSQL (phantom deletes of u1 and u2 were captured)");
            cluster.awaitConverged(USERS, a, b);
        }
    }

    /**
     * A unique index created on the local table after it was synced (PostgreSQL has the UNIQUE constraint
     * from the start), then a REPLACE evicting u1 through it. Expected: PostgreSQL takes u2 and drops u1,
     * without a rejection.
     */
    @Test
    void aReplaceThroughAUniqueIndexCreatedAfterSyncingReachesPostgres() throws Exception {
        try (Cluster cluster = Cluster.start("rev_newidx", dir, PG)) {
            Client a = cluster.client("a", "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT)");
            Client b = cluster.client("b", LOCAL);
            List<io.syncsqlite.driver.sync.Rejection> rejections = rejectionsOf(a);
            a.exec("INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            syncAll(a, b);
            a.exec("CREATE UNIQUE INDEX users_email ON users (email)");
            syncAll(a, b);
            a.exec("INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            List<Map<String, Object>> written = List.of(row("id", "u2", "email", "x@e", "name", "Bob"));
            assertLands(cluster, USERS, written, rejections, a, b);
        }
    }

    /**
     * Plain writes to a local table whose UNIQUE constraint says ON CONFLICT REPLACE (PostgreSQL has a plain
     * UNIQUE): an INSERT evicts u1 and an UPDATE evicts u3, as REPLACE statements would. Expected: PostgreSQL
     * and b hold what a holds, without a rejection (before, PostgreSQL refused the new rows with 23505 and a
     * reverted them).
     */
    @Test
    void plainWritesThroughAConstraintThatSaysReplaceReachPostgres() throws Exception {
        String local = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE ON CONFLICT REPLACE, name TEXT)";
        try (Cluster cluster = Cluster.start("rev_conflict_replace", dir, PG)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            List<io.syncsqlite.driver.sync.Rejection> rejections = rejectionsOf(a);
            a.exec("INSERT INTO users VALUES ('u1', 'x@e', 'Ann'), ('u3', 'z@e', 'Cid')");
            syncAll(a, b);
            a.exec("INSERT INTO users VALUES ('u2', 'x@e', 'Bob')");
            a.exec("UPDATE users SET email = 'z@e' WHERE id = 'u2'");
            List<Map<String, Object>> written = List.of(row("id", "u2", "email", "z@e", "name", "Bob"));
            assertLands(cluster, USERS, written, rejections, a, b);
        }
    }

    /**
     * REPLACE through unique indexes PostgreSQL has too: over an expression (emails unique whatever their
     * case) and partial (unique among rows not deleted). Expected: PostgreSQL and b hold what a holds, without
     * a rejection (before, the evictions were not captured: PostgreSQL refused the new rows and a reverted).
     */
    @Test
    void replacesThroughExpressionAndPartialUniqueIndexesReachPostgres() throws Exception {
        String rows = "SELECT id, email, name, deleted FROM users ORDER BY id";
        try (Cluster cluster = Cluster.start("rev_expr_partial", dir,
                "CREATE TABLE users (id text PRIMARY KEY, email text, name text, deleted int NOT NULL DEFAULT 0)",
                "CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE deleted = 0")) {
            String local = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT, deleted INTEGER NOT NULL DEFAULT 0)";
            String index = "CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE deleted = 0";
            Client a = cluster.client("a", local, index);
            Client b = cluster.client("b", local, index);
            List<io.syncsqlite.driver.sync.Rejection> rejections = rejectionsOf(a);
            a.exec("INSERT INTO users VALUES ('u1', 'x@e', 'Ann', 0), ('u3', 'x@e', 'Old', 1)");
            syncAll(a, b);
            a.exec("INSERT OR REPLACE INTO users VALUES ('u2', 'X@E', 'Bob', 0)");
            List<Map<String, Object>> written = List.of(row("id", "u2", "email", "X@E", "name", "Bob", "deleted", 0L),
                    row("id", "u3", "email", "x@e", "name", "Old", "deleted", 1L));
            assertLands(cluster, rows, written, rejections, a, b); // u3 is deleted: not in the index
        }
    }
}
