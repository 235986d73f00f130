package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that reconnects after many commits receives the latest state of each row, not every
 * intermediate image: a row updated 300 times while it was away costs it about one entry per batch.
 */
class CatchUpCompactionTest {

    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("compact", "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)",
                "INSERT INTO counter VALUES (1, 0), (2, 0)");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void aRowUpdatedManyTimesArrivesAsItsLatestState() {
        long cursor = f.queryLong("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log");
        for (int i = 1; i <= 300; i++) {
            f.execute("UPDATE counter SET n = " + i + " WHERE id = 1"); // 300 commits while the client is away
        }
        f.execute("DELETE FROM counter WHERE id = 2");
        long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
        TestClient c = f.client("compact-a", cursor);
        c.awaitCursor(head);
        List<FeedEntry> one = c.entries().stream().filter(e -> e.pk().get("id").asInt() == 1).toList();
        List<FeedEntry> two = c.entries().stream().filter(e -> e.pk().get("id").asInt() == 2).toList();
        // The relay reads up to 256 commits per batch: at most a couple of images of row 1, the last one final.
        assertTrue(one.size() <= 3, "entries for row 1: " + one.size());
        assertEquals(300, one.get(one.size() - 1).row().get("n").asInt());
        assertEquals(1, two.size());
        assertEquals(FeedKind.DELETE, two.get(0).kind());
    }
}
