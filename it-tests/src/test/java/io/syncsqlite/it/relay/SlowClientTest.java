package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The slow-client policy (issue 5): a client that stops confirming what it received gets at most the
 * flow window's four messages more, however much is committed meanwhile, so the relay holds nothing for
 * it beyond one page of history; other clients are not held up; and when it reads again it is caught up
 * from its cursor with every commit exactly once, in order.
 */
class SlowClientTest {

    private static final int COMMITS = 1500;
    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("slow", "CREATE TABLE ev (id bigint PRIMARY KEY, payload text)");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long changesMessages(TestClient c) {
        return c.messages().stream().filter(m -> m instanceof Message.Changes).count();
    }

    @Test
    void aClientThatStopsReadingGetsNoMoreThanTheWindowAndCatchesUpLater() throws Exception {
        TestClient slow = f.client("slow", 0);
        slow.await(() -> slow.cursor() > 0 ? true : null, "snapshot");
        slow.autoProgress(false);
        long before = changesMessages(slow);
        TestClient fast = f.client("fast", slow.cursor());

        try (Connection c = f.connection(); PreparedStatement ps = c.prepareStatement("INSERT INTO ev VALUES (?, ?)")) {
            c.setAutoCommit(true);
            for (int i = 1; i <= COMMITS; i++) {
                ps.setLong(1, i);
                ps.setString(2, "x".repeat(200));
                ps.executeUpdate();
            }
        }
        long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
        fast.awaitCursor(head);
        Thread.sleep(300); // whatever the relay would still push to the slow client has had time to arrive
        long held = changesMessages(slow) - before;
        assertTrue(held <= 4, "a client that confirms nothing gets at most the window, got " + held + " messages");
        assertTrue(slow.cursor() < head);

        slow.autoProgress(true);
        slow.sendProgress(slow.cursor());
        slow.awaitCursor(head);
        Map<Long, Integer> seen = new HashMap<>();
        long lastSeq = 0;
        for (FeedEntry e : slow.entries()) {
            if (e.table().equals("ev")) {
                seen.merge(e.pk().get("id").asLong(), 1, Integer::sum);
                assertTrue(e.seq() >= lastSeq, "commit order");
                lastSeq = e.seq();
            }
        }
        assertEquals(COMMITS, seen.size(), "every commit reached the slow client");
        assertTrue(seen.values().stream().allMatch(n -> n == 1), "none twice");
        assertEquals(List.of(), slow.errors());
        slow.close();
        fast.close();
    }

    /**
     * A commit bigger than the relay reads at once (10,000 change rows) is read and sent in parts, from
     * PostgreSQL, to a live client and to one catching up: every row once, the cursor reaching the
     * commit only with its last part, and the commit after it still delivered.
     */
    @Test
    void aCommitTooBigToReadAtOnceArrivesInPartsExactlyOnce() throws Exception {
        f.execute("CREATE TABLE bulk (id bigint PRIMARY KEY, payload text)");
        f.restart(); // picks the new table up at once
        TestClient live = f.client("bulk-live", 0);
        live.await(() -> live.cursor() > 0 ? true : null, "snapshot");
        long from = live.cursor();
        f.execute("INSERT INTO bulk SELECT g, 'row ' || g FROM generate_series(1, 25000) AS g",
                "INSERT INTO bulk VALUES (25001, 'after')");
        long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
        live.awaitCursor(head);
        TestClient late = f.client("bulk-late", from);
        late.awaitCursor(head);
        for (TestClient c : List.of(live, late)) {
            Map<Long, Integer> seen = new HashMap<>();
            for (FeedEntry e : c.entries()) {
                if (e.table().equals("bulk")) {
                    seen.merge(e.pk().get("id").asLong(), 1, Integer::sum);
                }
            }
            assertEquals(25001, seen.size());
            assertTrue(seen.values().stream().allMatch(n -> n == 1), "none twice");
            List<Long> throughs = c.changes().stream().map(Message.Changes::through).filter(t -> t > from).toList();
            assertEquals(List.of(head - 1, head), throughs.stream().distinct().toList(),
                    "the cursor moves only to whole commits");
            assertEquals(List.of(), c.errors());
        }
        live.close();
        late.close();
    }

    /**
     * Retention may prune a commit while a slow client has only part of it: the relay must not take the
     * missing rest for the commit's end (the client would skip rows for good) but end the session, so the
     * client reconnects and resyncs.
     */
    @Test
    void aCommitPrunedBetweenItsPartsEndsTheSessionInsteadOfEndingTheCommitEarly() throws Exception {
        f.execute("CREATE TABLE bulk2 (id bigint PRIMARY KEY, payload text)");
        f.restart();
        TestClient c = f.client("pruned", 0);
        c.await(() -> c.cursor() > 0 ? true : null, "snapshot");
        c.autoProgress(false);
        long from = c.cursor();
        f.execute("INSERT INTO bulk2 SELECT g, 'row ' || g FROM generate_series(1, 25000) AS g");
        long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
        c.await(() -> changesMessages(c) >= 4 ? true : null, "the window's worth of the first part");
        // What Retention does to a commit, in one transaction.
        f.execute("WITH gone AS (DELETE FROM syncsqlite.commit_log WHERE seq = " + head + " RETURNING xid)"
                + " DELETE FROM syncsqlite.change WHERE xid IN (SELECT xid FROM gone)");
        c.autoProgress(true);
        c.sendProgress(c.cursor());
        assertEquals(1001, c.awaitClose());
        assertTrue(c.cursor() < head, "the cursor never reached the commit it only had part of");
        long got = c.entries().stream().filter(e -> e.table().equals("bulk2")).count();
        assertTrue(got >= 10_000 && got < 25_000, "the first part was read whole, the rest never: " + got);
        assertTrue(from < head);
        c.close();
    }

}
