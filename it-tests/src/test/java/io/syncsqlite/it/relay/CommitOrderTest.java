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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The feed follows commit order (BACKGROUND.md, property 7): no change skipped, none delivered twice,
 * even when transactions commit in another order than they began.
 */
class CommitOrderTest {

    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("order", "CREATE TABLE ev (id int PRIMARY KEY, writer int, n int)");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long head() {
        return f.queryLong("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log");
    }

    private static List<Integer> ids(TestClient c) {
        return c.entries().stream().filter(e -> e.table().equals("ev")).map(e -> e.pk().get("id").asInt()).toList();
    }

    @Test
    void aTransactionThatBeganFirstAndCommitsLastIsNotSkipped() throws Exception {
        TestClient c = f.client("order-pair", head());
        try (Connection early = f.connection(); Connection late = f.connection()) {
            early.setAutoCommit(false);
            early.createStatement().execute("INSERT INTO ev VALUES (1, 1, 0)");
            late.createStatement().execute("INSERT INTO ev VALUES (2, 2, 0)");
            long lateSeq = head();
            c.awaitCursor(lateSeq);
            assertEquals(List.of(2), ids(c));
            early.commit();
        }
        c.awaitCursor(head());
        assertEquals(List.of(2, 1), ids(c));
    }

    @Test
    void interleavedWritersAreDeliveredExactlyOnceInSeqOrder() throws Exception {
        TestClient c = f.client("order-many", head());
        Set<Integer> committed = ConcurrentHashMap.newKeySet();
        int writers = 4;
        int txsEach = 30;
        ExecutorService pool = Executors.newFixedThreadPool(writers + 1);
        CountDownLatch longTxStarted = new CountDownLatch(1);
        CountDownLatch othersDone = new CountDownLatch(writers);
        List<Future<?>> futures = new ArrayList<>();
        // One long transaction begins before everyone and commits after everyone.
        futures.add(pool.submit(() -> {
            try (Connection conn = f.connection()) {
                conn.setAutoCommit(false);
                conn.createStatement().execute("INSERT INTO ev VALUES (99000, 99, 0)");
                longTxStarted.countDown();
                othersDone.await(60, TimeUnit.SECONDS);
                conn.createStatement().execute("INSERT INTO ev VALUES (99001, 99, 1)");
                conn.commit();
                committed.add(99000);
                committed.add(99001);
            }
            return null;
        }));
        longTxStarted.await(20, TimeUnit.SECONDS);
        for (int w = 0; w < writers; w++) {
            int writer = w;
            futures.add(pool.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                try (Connection conn = f.connection();
                     PreparedStatement ins = conn.prepareStatement("INSERT INTO ev VALUES (?, ?, ?)")) {
                    conn.setAutoCommit(false);
                    for (int t = 0; t < txsEach; t++) {
                        List<Integer> rows = new ArrayList<>();
                        for (int k = 0; k < 1 + random.nextInt(3); k++) {
                            int id = 100_000 + writer * 10_000 + t * 10 + k;
                            ins.setInt(1, id);
                            ins.setInt(2, writer);
                            ins.setInt(3, t);
                            ins.executeUpdate();
                            rows.add(id);
                        }
                        Thread.sleep(random.nextInt(10)); // widen the window between write and commit
                        if (random.nextInt(10) == 0) {
                            conn.rollback();
                        } else {
                            conn.commit();
                            committed.addAll(rows);
                        }
                    }
                } finally {
                    othersDone.countDown();
                }
                return null;
            }));
        }
        for (Future<?> fu : futures) {
            fu.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();

        c.awaitCursor(head());
        List<Integer> got = ids(c);
        assertEquals(committed.size(), got.size(), "every committed row exactly once");
        assertEquals(committed, new HashSet<>(got));
        assertEquals(List.of(99000, 99001), got.subList(got.size() - 2, got.size()), "the long transaction commits last");

        long previous = 0;
        for (FeedEntry e : c.entries()) {
            assertTrue(e.seq() >= previous, "entries in seq order");
            previous = e.seq();
        }
        for (Message.Changes ch : c.changes()) {
            if (!ch.entries().isEmpty() && ch.through() != 0) {
                assertEquals(ch.through(), ch.entries().get(ch.entries().size() - 1).seq(),
                        "a message ends on a commit boundary");
            }
        }
    }
}
