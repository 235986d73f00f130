package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Two devices' creating upserts ({@code INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n}) and a direct one in
 * psql ({@code SET n = cat.n + 100}) on the same new key at the same moment, 60 keys in a row: every amount counts
 * once, on every replica. Before, one key in about 40 ended at 11: the relay read the row absent, then the direct
 * writer's clock row (committed in between) alive, took that for a row gone without a trigger, and inserted over the
 * direct write (TxRun.readState). Found by ConcurrentAppReviewTest's upsert case, which failed once in CI.
 */
class CounterCreationRaceTest {
    @TempDir
    Path dir;

    @Test
    void creatingUpsertsFromDevicesAndPsqlAtOnceAllCount() throws Exception {
        String up = "INSERT INTO cat (name, n) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n";
        try (Cluster cluster = Cluster.start("counter_race", dir, "CREATE TABLE cat (name text PRIMARY KEY, n int NOT NULL)")) {
            Client a = cluster.client("a", "CREATE TABLE cat (name TEXT PRIMARY KEY, n INTEGER NOT NULL)");
            Client b = cluster.client("b", "CREATE TABLE cat (name TEXT PRIMARY KEY, n INTEGER NOT NULL)");
            a.awaitSynced();
            ExecutorService ex = Executors.newFixedThreadPool(3);
            int rounds = 60;
            for (int r = 0; r < rounds; r++) {
                String k = "k" + r;
                int delay = r % 7;
                CountDownLatch go = new CountDownLatch(1);
                List<Future<?>> f = new ArrayList<>();
                f.add(ex.submit(() -> { go.await(); a.exec(up, k, 1); return null; }));
                f.add(ex.submit(() -> { go.await(); b.exec(up, k, 10); return null; }));
                f.add(ex.submit(() -> { go.await(); Thread.sleep(delay); cluster.pg("INSERT INTO cat VALUES ('" + k + "', 100) ON CONFLICT (name) DO UPDATE SET n = cat.n + 100"); return null; }));
                go.countDown();
                for (Future<?> x : f) x.get();
            }
            a.awaitSynced();
            b.awaitSynced();
            cluster.awaitConverged("SELECT name, n FROM cat ORDER BY name", a, b);
            List<String> bad = new ArrayList<>();
            for (var row : cluster.pgRows("SELECT name, n FROM cat ORDER BY name")) {
                if (((Number) row.get("n")).intValue() != 111) bad.add(row.toString());
            }
            ex.shutdown();
            assertEquals(List.of(), bad);
        }
    }
}
