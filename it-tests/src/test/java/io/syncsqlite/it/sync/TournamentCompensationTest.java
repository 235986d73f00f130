package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Referential integrity under concurrency (BACKGROUND.md property 5): client a, offline, enrols a player
 * in tournament T while client b deletes T. After both sync, T and the enrolment exist on every client and
 * in PostgreSQL: the deleted parent is restored rather than the child refused.
 */
class TournamentCompensationTest {

    private static final String[] PG = {
        "CREATE TABLE tournament (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
        "CREATE TABLE player (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE enrolment (tournament_id TEXT NOT NULL REFERENCES tournament (id) ON DELETE CASCADE,"
                + " player_id TEXT NOT NULL REFERENCES player (id), PRIMARY KEY (tournament_id, player_id))",
    };

    @TempDir
    Path dir;

    @Test
    void aChildInsertedWhileItsParentIsDeletedRestoresTheParent() throws Exception {
        try (Cluster c = Cluster.start("e2e_tournament", dir, PG)) {
            Client a = c.client("a", PG);
            Client b = c.client("b", PG);
            a.exec("INSERT INTO tournament VALUES ('t1', 'Spring Open')");
            a.exec("INSERT INTO player VALUES ('p1', 'Ann')");
            a.awaitSynced();
            c.awaitConverged("SELECT id FROM tournament", a, b);
            c.awaitConverged("SELECT id FROM player", a, b);

            a.offline();
            a.exec("INSERT INTO enrolment VALUES ('t1', 'p1')");
            b.exec("DELETE FROM tournament WHERE id = 't1'");
            b.awaitSynced();
            assertEquals(List.of(), c.pgRows("SELECT id FROM tournament"));

            a.online();
            a.awaitSynced();
            c.awaitConverged("SELECT id, title FROM tournament ORDER BY id", a, b);
            c.awaitConverged("SELECT tournament_id, player_id FROM enrolment ORDER BY 1, 2", a, b);
            assertEquals(List.of(Map.of("id", "t1", "title", "Spring Open")), c.pgRows("SELECT id, title FROM tournament"));
            assertEquals(List.of(Map.of("tournament_id", "t1", "player_id", "p1")),
                    c.pgRows("SELECT tournament_id, player_id FROM enrolment"));
        }
    }

    /**
     * The restored image comes with the parent's tombstone, not from the change log: with the log's history
     * of the tournament gone (as retention prunes it), the child still keeps its parent. Before, the relay
     * searched the log (a scan of all of it, having no index by key) and, finding nothing, rejected the child.
     * A tombstone written before tombstones kept images (dead_row NULL) still finds it in the log.
     */
    @Test
    void theParentIsRestoredFromItsTombstoneAfterItsHistoryWasPruned() throws Exception {
        try (Cluster c = Cluster.start("e2e_tournament_pruned", dir, PG)) {
            Client a = c.client("a", PG);
            Client b = c.client("b", PG);
            a.exec("INSERT INTO tournament VALUES ('t1', 'Spring Open'), ('t2', 'Autumn Cup')");
            a.exec("INSERT INTO player VALUES ('p1', 'Ann')");
            a.awaitSynced();
            c.awaitConverged("SELECT id FROM tournament", a, b);

            a.offline();
            a.exec("INSERT INTO enrolment VALUES ('t1', 'p1'), ('t2', 'p1')");
            b.exec("DELETE FROM tournament");
            b.awaitSynced();
            assertEquals(List.of(Map.of("pk", "{\"id\": \"t1\"}"), Map.of("pk", "{\"id\": \"t2\"}")),
                    c.pgRows("SELECT pk FROM syncsqlite.row_clock WHERE tbl = 'tournament' AND NOT alive"
                            + " AND dead_row ->> 'title' IS NOT NULL ORDER BY pk"));
            // t1's history is pruned; t2's tombstone is made to look like one written before dead_row.
            c.pg("DELETE FROM syncsqlite.change WHERE tbl = 'tournament' AND pk = '{\"id\": \"t1\"}'",
                    "UPDATE syncsqlite.row_clock SET dead_row = NULL WHERE tbl = 'tournament' AND pk = '{\"id\": \"t2\"}'");

            a.online();
            a.awaitSynced();
            c.awaitConverged("SELECT id, title FROM tournament ORDER BY id", a, b);
            c.awaitConverged("SELECT tournament_id, player_id FROM enrolment ORDER BY 1, 2", a, b);
            assertEquals(List.of(Map.of("id", "t1", "title", "Spring Open"), Map.of("id", "t2", "title", "Autumn Cup")),
                    c.pgRows("SELECT id, title FROM tournament ORDER BY id"));
            assertEquals(2, c.pgRows("SELECT * FROM enrolment").size());
            assertEquals(List.of(), c.pgRows("SELECT pk FROM syncsqlite.row_clock WHERE tbl = 'tournament'"
                    + " AND (NOT alive OR dead_row IS NOT NULL)"), "alive again, without an image");
        }
    }

    @Test
    void aChildOfAParentThatNeverExistedIsStillRejected() throws Exception {
        try (Cluster c = Cluster.start("e2e_orphan", dir, PG)) {
            Client a = c.client("a", PG);
            a.exec("INSERT INTO player VALUES ('p1', 'Ann')");
            a.exec("INSERT INTO enrolment VALUES ('nope', 'p1')");
            a.awaitSynced();
            assertEquals(List.of(), c.pgRows("SELECT * FROM enrolment"));
            assertEquals(List.of(), a.rows("SELECT * FROM enrolment"), "the refused insert is reverted locally");
            assertEquals(1, c.pgRows("SELECT * FROM player").size());
        }
    }
}
