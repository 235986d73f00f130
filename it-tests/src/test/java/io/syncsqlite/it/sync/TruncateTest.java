package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * TRUNCATE of a synced table in PostgreSQL (psql, a migration, an ETL job) reaches the clients as a delete of every
 * row. PostgreSQL fires no row trigger for it; the relay's BEFORE TRUNCATE capture logs the rows while they are still
 * there (install.sql). Before it, every client kept the rows for good.
 */
class TruncateTest {

    @TempDir
    Path dir;

    private static final String PG_NOTE = "CREATE TABLE note (id int PRIMARY KEY, title text, n int)";
    private static final String LOCAL_NOTE = "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT, n INTEGER)";
    private static final String NOTES = "SELECT id, title, n FROM note ORDER BY id";

    @Test
    void aTruncateInPsqlEmptiesTheTableOnEveryClient() throws Exception {
        try (Cluster c = Cluster.start("trunc_plain", dir, PG_NOTE)) {
            c.pg("INSERT INTO note SELECT g, 'n' || g, g FROM generate_series(1, 500) AS g");
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.exec("INSERT INTO note VALUES (1000, 'from a', 1)");
            c.awaitConverged(NOTES, a, b);
            assertEquals(501, a.rows(NOTES).size());

            c.pg("TRUNCATE note");
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(), b.rows(NOTES));

            // The table goes on syncing both ways.
            b.exec("INSERT INTO note VALUES (1, 'again', 2)");
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(row("id", 1, "title", "again", "n", 2)), c.pgRows(NOTES));
        }
    }

    /** A migration empties a table and fills it again in one transaction: clients get exactly the new rows. */
    @Test
    void truncateAndRefillInOneTransaction() throws Exception {
        try (Cluster c = Cluster.start("trunc_refill", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'old', 1), (2, 'old', 2), (3, 'old', 3)");
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            pgTx(c, "TRUNCATE note", "INSERT INTO note VALUES (2, 'new', 20), (4, 'new', 40)");
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 2, "title", "new", "n", 20), row("id", 4, "title", "new", "n", 40)), a.rows(NOTES));
        }
    }

    /** A truncate that is rolled back (or in a savepoint rolled back) leaves the clients' rows alone. */
    @Test
    void aRolledBackTruncateChangesNothing() throws Exception {
        try (Cluster c = Cluster.start("trunc_rollback", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 1), (2, 'two', 2)");
            Client a = c.client("a", LOCAL_NOTE);
            c.awaitConverged(NOTES, a);
            try (Connection pg = c.pg(); Statement st = pg.createStatement()) {
                pg.setAutoCommit(false);
                st.execute("TRUNCATE note");
                pg.rollback();
                st.execute("SAVEPOINT s");
                st.execute("TRUNCATE note");
                st.execute("ROLLBACK TO SAVEPOINT s");
                st.execute("UPDATE note SET n = 22 WHERE id = 2");
                pg.commit();
            }
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 1, "title", "one", "n", 1), row("id", 2, "title", "two", "n", 22)), a.rows(NOTES));
        }
    }

    /**
     * TRUNCATE ... CASCADE empties the tables that refer to the truncated one as well (PostgreSQL adds them to the
     * statement). Clients enforce foreign keys: the children's rows must go with the parents'.
     */
    @Test
    void truncateCascadeEmptiesTheReferringTablesOnClientsEnforcingForeignKeys() throws Exception {
        String pgList = "CREATE TABLE list (id int PRIMARY KEY, name text)";
        String pgItem = "CREATE TABLE item (id int PRIMARY KEY, list_id int NOT NULL REFERENCES list (id), label text)";
        String localList = "CREATE TABLE list (id INTEGER PRIMARY KEY, name TEXT)";
        String localItem = "CREATE TABLE item (id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL REFERENCES list (id), label TEXT)";
        String items = "SELECT id, list_id, label FROM item ORDER BY id";
        String lists = "SELECT id, name FROM list ORDER BY id";
        try (Cluster c = Cluster.start("trunc_cascade", dir, pgList, pgItem).clientParams("&foreign_keys=true")) {
            c.pg("INSERT INTO list VALUES (1, 'a'), (2, 'b')");
            c.pg("INSERT INTO item SELECT g, 1 + g % 2, 'i' || g FROM generate_series(1, 20) AS g");
            Client a = c.client("a", localList, localItem);
            c.awaitConverged(items, a);
            c.pg("TRUNCATE list CASCADE");
            c.awaitConverged(items, a);
            c.awaitConverged(lists, a);
            assertEquals(List.of(), a.rows(lists));
            assertEquals(List.of(), a.rows(items));
        }
    }

    /**
     * A device offline during the truncate: its edit of a row made before the truncate loses to it (the delete is
     * newer), its new row made after it stays, as with a DELETE of every row.
     */
    @Test
    void anOfflineDevicesOlderEditLosesToTheTruncateAndItsLaterRowStays() throws Exception {
        try (Cluster c = Cluster.start("trunc_offline", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 1), (2, 'two', 2)");
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            c.awaitConverged(NOTES, a, b);
            a.offline();
            a.exec("UPDATE note SET title = 'edited offline' WHERE id = 1");
            Thread.sleep(5);
            c.pg("TRUNCATE note");
            Thread.sleep(5);
            a.exec("INSERT INTO note VALUES (3, 'added offline', 3)");
            a.online();
            a.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(row("id", 3, "title", "added offline", "n", 3)), c.pgRows(NOTES));
        }
    }

    private static void pgTx(Cluster c, String... sql) throws Exception {
        DirectCascadeMoveReviewTest.pgTx(c, sql);
    }
}
