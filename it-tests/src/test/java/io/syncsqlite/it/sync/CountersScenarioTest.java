package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * BACKGROUND.md property 4, as written there: every operation is "create the category with this amount,
 * or add the amount if it exists". Client 1 adds 1 ten times, once a second, behind 3 s of latency;
 * client 2 adds -3 three times, every 4 s, behind 300 ms; client 3 only watches. The first two operations
 * may both "create" the row. At the end every client and PostgreSQL hold exactly one row ('Food', 1).
 */
class CountersScenarioTest {

    private static final String TABLE = "CREATE TABLE categories (name TEXT PRIMARY KEY, count INTEGER NOT NULL)";
    private static final String UPSERT = "INSERT INTO categories(name, count) VALUES ('Food', ?)"
            + " ON CONFLICT(name) DO UPDATE SET count = count + excluded.count";
    private static final String ALL = "SELECT name, count FROM categories ORDER BY name";

    @TempDir
    Path dir;

    @Test
    void concurrentIncrementsAndCreatesAddUp() throws Exception {
        try (Cluster c = Cluster.start("e2e_counters", dir, TABLE)) {
            Client one = c.client("one", TABLE);
            Client two = c.client("two", TABLE);
            Client three = c.client("three", TABLE);
            one.proxy().latency(3000);
            two.proxy().latency(300);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                // The pacing is the scenario itself, not a wait for a result.
                Future<?> f1 = pool.submit(() -> {
                    for (int i = 0; i < 10; i++) {
                        one.exec(UPSERT, 1);
                        Thread.sleep(1000);
                    }
                    return null;
                });
                Future<?> f2 = pool.submit(() -> {
                    for (int i = 0; i < 3; i++) {
                        two.exec(UPSERT, -3);
                        Thread.sleep(4000);
                    }
                    return null;
                });
                f1.get();
                f2.get();
            } finally {
                pool.shutdown();
            }
            one.proxy().latency(0);
            two.proxy().latency(0);
            one.awaitSynced();
            two.awaitSynced();
            c.awaitConverged(ALL, one, two, three);
            assertEquals(List.of(Map.of("name", "Food", "count", 1L)), c.pgRows(ALL));
        }
    }
}
