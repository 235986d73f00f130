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
