package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A device's delete of a parent removes what that device had seen, and only that (docs/DESIGN.md,
 * "Referential integrity"): rows another device added below the parent concurrently survive, with the
 * parent, whichever device syncs first. Each scenario runs in both orders, the delete reaching the relay
 * first ("delete") or last ("child"), and must end the same.
 */
class ObservedRemoveTest {

    private static final String[] SCHEMA = {
        "CREATE TABLE tournament (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
        "CREATE TABLE player (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE enrolment (tournament_id TEXT NOT NULL REFERENCES tournament (id) ON DELETE CASCADE,"
                + " player_id TEXT NOT NULL REFERENCES player (id), PRIMARY KEY (tournament_id, player_id))",
        "CREATE TABLE score (tournament_id TEXT NOT NULL, player_id TEXT NOT NULL, round INTEGER NOT NULL,"
                + " points INTEGER NOT NULL, PRIMARY KEY (tournament_id, player_id, round),"
                + " FOREIGN KEY (tournament_id, player_id) REFERENCES enrolment (tournament_id, player_id) ON DELETE CASCADE)",
        "CREATE TABLE note (id TEXT PRIMARY KEY, tournament_id TEXT REFERENCES tournament (id) ON DELETE SET NULL,"
                + " body TEXT NOT NULL)",
    };
    private static final String TOURNAMENTS = "SELECT id, title FROM tournament ORDER BY id";
    private static final String ENROLMENTS = "SELECT tournament_id, player_id FROM enrolment ORDER BY 1, 2";
    private static final String SCORES = "SELECT tournament_id, player_id, round, points FROM score ORDER BY 1, 2, 3";
    private static final String NOTES = "SELECT id, tournament_id FROM note ORDER BY id";

    @TempDir
    Path dir;

    /** Two devices that have both seen t1 with players p1, p2, p3 and whatever {@code setup} wrote. */
    private record World(Cluster cluster, Client a, Client b, List<Rejection> rejections) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            cluster.close();
        }
    }

    private World world(String name, String... setup) throws Exception {
        Cluster c = Cluster.start(name, dir, SCHEMA);
        Client a = c.client("a", SCHEMA);
        Client b = c.client("b", SCHEMA);
        List<Rejection> rejections = new CopyOnWriteArrayList<>();
        a.node().addRejectionListener(rejections::add);
        b.node().addRejectionListener(rejections::add);
        a.exec("INSERT INTO tournament VALUES ('t1', 'Spring Open')");
        a.script("INSERT INTO player VALUES ('p1', 'Ann')", "INSERT INTO player VALUES ('p2', 'Bo')",
                "INSERT INTO player VALUES ('p3', 'Cy')");
        if (setup.length > 0) {
            a.script(setup);
        }
        a.awaitSynced();
        b.awaitSynced();
        for (String view : List.of(TOURNAMENTS, ENROLMENTS, SCORES, NOTES)) {
            c.awaitConverged(view, a, b);
        }
        a.offline();
        b.offline();
        return new World(c, a, b, rejections);
    }

    /** Brings both devices online in the given order and waits until all three sides agree. */
    private static void sync(World w, String first) throws Exception {
        Client one = first.equals("delete") ? w.b() : w.a();
        Client two = one == w.a() ? w.b() : w.a();
        one.online();
        one.awaitSynced();
        two.online();
        two.awaitSynced();
        one.awaitSynced();
        for (String view : List.of(TOURNAMENTS, ENROLMENTS, SCORES, NOTES)) {
            w.cluster().awaitConverged(view, w.a(), w.b());
        }
    }

    private static Map<String, Object> enrolment(String t, String p) {
        return row("tournament_id", t, "player_id", p);
    }

    /**
     * b saw p1 enrolled and deletes the tournament; a, offline, enrols p2. As when the delete arrives first
     * (p2's enrolment restores the tournament, p1's stays deleted), so when it arrives last: the tournament
     * and p2's enrolment stay, p1's enrolment, which b saw, goes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"delete", "child"})
    void aDeleteTakesTheChildrenItSawAndLeavesOneAddedConcurrently(String first) throws Exception {
        try (World w = world("or_seen_" + first, "INSERT INTO enrolment VALUES ('t1', 'p1')")) {
            w.a().exec("INSERT INTO enrolment VALUES ('t1', 'p2')");
            w.b().exec("DELETE FROM tournament WHERE id = 't1'");
            sync(w, first);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(row("id", "t1", "title", "Spring Open")), w.cluster().pgRows(TOURNAMENTS));
            assertEquals(List.of(enrolment("t1", "p2")), w.cluster().pgRows(ENROLMENTS));
        }
    }

    /**
     * One level further: a records a round-2 score for p1's enrolment, which b saw along with its round-1
     * score and p2's enrolment. Either order: the tournament and p1's enrolment stay (the new score needs
     * them), the new score stays, what b saw below them (round 1, p2's enrolment) goes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"delete", "child"})
    void aGrandchildAddedConcurrentlyKeepsItsAncestorsOnly(String first) throws Exception {
        try (World w = world("or_grand_" + first, "INSERT INTO enrolment VALUES ('t1', 'p1')",
                "INSERT INTO enrolment VALUES ('t1', 'p2')", "INSERT INTO score VALUES ('t1', 'p1', 1, 10)")) {
            w.a().exec("INSERT INTO score VALUES ('t1', 'p1', 2, 20)");
            w.b().exec("DELETE FROM tournament WHERE id = 't1'");
            sync(w, first);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(row("id", "t1", "title", "Spring Open")), w.cluster().pgRows(TOURNAMENTS));
            assertEquals(List.of(enrolment("t1", "p1")), w.cluster().pgRows(ENROLMENTS));
            assertEquals(List.of(row("tournament_id", "t1", "player_id", "p1", "round", 2L, "points", 20L)),
                    w.cluster().pgRows(SCORES));
        }
    }

    /**
     * ON DELETE SET NULL: b saw note n1 on the tournament; a adds n2. Either order: the tournament stays for
     * n2, and n1, which b saw, is detached as the delete detaches it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"delete", "child"})
    void aDetachingDeleteDetachesWhatItSaw(String first) throws Exception {
        try (World w = world("or_setnull_" + first, "INSERT INTO note VALUES ('n1', 't1', 'seen')")) {
            w.a().exec("INSERT INTO note VALUES ('n2', 't1', 'new')");
            w.b().exec("DELETE FROM tournament WHERE id = 't1'");
            sync(w, first);
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(row("id", "t1", "title", "Spring Open")), w.cluster().pgRows(TOURNAMENTS));
            assertEquals(List.of(row("id", "n1", "tournament_id", null), row("id", "n2", "tournament_id", "t1")),
                    w.cluster().pgRows(NOTES));
        }
    }

    /**
     * What the deleting device added itself before its delete is its own to delete: b enrols p3 and then
     * deletes the tournament, both offline. The delete cascades to it as PostgreSQL does.
     */
    @Test
    void aDeviceDeletesWhatItAddedItself() throws Exception {
        try (World w = world("or_own", "INSERT INTO enrolment VALUES ('t1', 'p1')")) {
            w.b().exec("INSERT INTO enrolment VALUES ('t1', 'p3')");
            w.b().exec("DELETE FROM tournament WHERE id = 't1'");
            sync(w, "delete");
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(), w.cluster().pgRows(TOURNAMENTS));
            assertEquals(List.of(), w.cluster().pgRows(ENROLMENTS));
        }
    }

    /**
     * Online, a delete of a parent whose children the device has received takes them along, also the
     * ones written directly in PostgreSQL: nothing is held back once the device has seen it.
     */
    @Test
    void anOnlineDeleteTakesEveryChildTheDeviceHasReceived() throws Exception {
        try (World w = world("or_online", "INSERT INTO enrolment VALUES ('t1', 'p1')")) {
            w.a().online();
            w.b().online();
            w.cluster().pg("INSERT INTO enrolment VALUES ('t1', 'p2')");
            w.cluster().awaitConverged(ENROLMENTS, w.a(), w.b());
            assertEquals(2, w.b().rows(ENROLMENTS).size());
            w.b().exec("DELETE FROM tournament WHERE id = 't1'");
            w.b().awaitSynced();
            w.a().awaitSynced();
            w.cluster().awaitConverged(TOURNAMENTS, w.a(), w.b());
            w.cluster().awaitConverged(ENROLMENTS, w.a(), w.b());
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(), w.cluster().pgRows(TOURNAMENTS));
            assertEquals(List.of(), w.cluster().pgRows(ENROLMENTS));
        }
    }

    /**
     * A child written directly in PostgreSQL (psql) while b was offline is unseen by b like a device's:
     * b's delete, synced after it, leaves the tournament and that enrolment.
     */
    @Test
    void aDirectWriteBelowTheParentIsUnseenByAnOfflineDevice() throws Exception {
        try (World w = world("or_direct")) {
            w.cluster().pg("INSERT INTO enrolment VALUES ('t1', 'p3')");
            w.b().exec("DELETE FROM tournament WHERE id = 't1'");
            w.a().online();
            sync(w, "delete");
            assertEquals(List.of(), w.rejections());
            assertEquals(List.of(row("id", "t1", "title", "Spring Open")), w.cluster().pgRows(TOURNAMENTS));
            assertEquals(List.of(enrolment("t1", "p3")), w.cluster().pgRows(ENROLMENTS));
        }
    }
}
