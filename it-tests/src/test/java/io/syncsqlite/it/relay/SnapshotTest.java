package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.syncsqlite.it.support.Json.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A client with cursor 0 first gets every existing row, consistently, then live changes. */
class SnapshotTest {

    private static final int PARENTS = 3000;
    private static final int CHILDREN = 2500;
    private static RelayFixture f;
    private static long snapshotSeq;

    @BeforeAll
    static void start() {
        // "a_child" sorts before "z_parent": the snapshot must still send parents first. Half the rows
        // exist before the relay is first installed (they have no clocks yet), half are written after.
        f = RelayFixture.start("snapshot",
                "CREATE TABLE z_parent (id int PRIMARY KEY, name text)",
                "CREATE TABLE a_child (id int PRIMARY KEY, parent int NOT NULL REFERENCES z_parent (id), v text)",
                "INSERT INTO z_parent SELECT g, 'p' || g FROM generate_series(1, " + PARENTS / 2 + ") AS g",
                "INSERT INTO a_child SELECT g, 1 + g % 100, 'c' || g FROM generate_series(1, " + CHILDREN / 2 + ") AS g");
        f.execute("INSERT INTO z_parent SELECT g, 'p' || g FROM generate_series(" + (PARENTS / 2 + 1) + ", " + PARENTS + ") AS g",
                "INSERT INTO a_child SELECT g, 1 + g % 100, 'c' || g FROM generate_series(" + (CHILDREN / 2 + 1) + ", " + CHILDREN + ") AS g");
        snapshotSeq = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void aNewClientGetsEveryRowParentsFirstThenLiveChanges() {
        TestClient c = f.client("snap-new", 0);
        c.awaitCursor(snapshotSeq);
        List<Message.Changes> snapshot = c.changes();
        Message.Changes last = snapshot.get(snapshot.size() - 1);
        assertEquals(snapshotSeq, last.through());
        for (Message.Changes ch : snapshot) {
            assertEquals(PARENTS + CHILDREN, ch.snapshotTotal());
            assertTrue(ch == last || ch.through() == 0, "through stays 0 until the last batch");
            assertTrue(ch.entries().size() <= 1000);
        }
        List<FeedEntry> rows = c.entries();
        assertEquals(PARENTS + CHILDREN, rows.size());
        assertTrue(rows.stream().allMatch(e -> e.seq() == 0));
        assertEquals(PARENTS + CHILDREN, rows.stream().map(e -> e.table() + e.pk()).distinct().count());
        int lastParent = 0;
        int firstChild = Integer.MAX_VALUE;
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).table().equals("z_parent")) {
                lastParent = i;
            } else {
                firstChild = Math.min(firstChild, i);
            }
        }
        assertTrue(lastParent < firstChild, "parents before children");
        assertTrue(rows.stream().filter(e -> e.pk().get("id").asInt() > PARENTS / 2 && e.table().equals("z_parent"))
                .allMatch(e -> e.hlc() > 0), "rows carry their clocks");

        f.execute("UPDATE z_parent SET name = 'live' WHERE id = 1");
        c.awaitCursor(snapshotSeq + 1);
        FeedEntry live = c.entries().get(c.entries().size() - 1);
        assertEquals("live", live.row().get("name").asText());
        assertTrue(live.seq() > snapshotSeq);
    }

    @Test
    void noMoreThanFourMessagesAreUnconfirmed() {
        TestClient c = f.connect();
        c.autoProgress(false);
        c.hello("snap-slow", 0);
        c.await(() -> c.changes().size() == 4 ? true : null, "four snapshot messages");
        // A round trip through the session's lane: anything it would have sent comes before this ack.
        c.push(tx(1, Hlc.ofMillis(System.currentTimeMillis())));
        c.awaitAck(1);
        assertEquals(4, c.changes().size(), "the fifth waits for progress");

        c.sendProgress(0);
        c.await(() -> c.changes().size() == 5 ? true : null, "fifth message after one progress");
        c.autoProgress(true);
        for (int i = 0; i < 4; i++) {
            c.sendProgress(0);
        }
        c.awaitCursor(snapshotSeq);
        assertEquals(PARENTS + CHILDREN, c.entries().stream().filter(e -> e.seq() == 0).count());
    }
}
