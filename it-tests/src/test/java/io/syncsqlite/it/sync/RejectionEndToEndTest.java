package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two offline clients insert the same e-mail address: PostgreSQL's UNIQUE constraint refuses the one that
 * arrives second; that client is told which transaction and why, only that transaction is reverted, and its
 * later transactions still land.
 */
class RejectionEndToEndTest {

    private static final String PG = "CREATE TABLE person (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)";
    private static final String LOCAL = "CREATE TABLE person (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)";
    private static final String ALL = "SELECT id, email, name FROM person ORDER BY id";

    @TempDir
    Path dir;

    @Test
    void aUniqueConflictRejectsExactlyThatTransaction() throws Exception {
        try (Cluster c = Cluster.start("e2e_reject", dir, PG)) {
            Client a = c.client("a", LOCAL);
            Client b = c.client("b", LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            b.node().addRejectionListener(told::add);

            a.offline();
            b.offline();
            a.exec("INSERT INTO person (id, email, name) VALUES ('p1', 'ann@example.com', 'Ann from a')");
            b.exec("INSERT INTO person (id, email, name) VALUES ('p2', 'ann@example.com', 'Ann from b')");
            b.exec("INSERT INTO person (id, email, name) VALUES ('p3', 'bob@example.com', 'Bob')");
            b.exec("UPDATE person SET name = 'Robert' WHERE id = 'p3'");

            a.online();
            a.awaitSynced();
            b.online();
            b.awaitSynced();
            c.awaitConverged(ALL, a, b);

            assertEquals(1, told.size(), "b's application is told once");
            Rejection r = told.get(0);
            assertEquals("23505", r.sqlState());
            assertTrue(r.reason().contains("email") || r.reason().contains("unique"), r.reason());
            assertEquals(1, r.changes().size());
            assertEquals("p2", r.changes().get(0).pk().get("id").asText());
            assertEquals(List.of("p1", "p3"), c.pgRows(ALL).stream().map(m -> (String) m.get("id")).toList());
            assertEquals("Robert", c.pgRows(ALL).get(1).get("name"));
        }
    }
}
