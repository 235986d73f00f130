package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.RowChange;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Clients of two relays hammer the same rows in different orders: every transaction is acknowledged
 * (lock ordering prevents deadlocks; any that happen are retried), and each column ends with the value
 * of its greatest (hlc, node).
 */
class ContentionTest {

    @Test
    void concurrentWritersOfTheSameRowsAllSucceedAndConverge() throws Exception {
        int rows = 5;
        int clients = 4;
        int txs = 40;
        try (RelayFixture f = RelayFixture.start("contention", "CREATE TABLE c (id int PRIMARY KEY, v text)");
             Relay second = f.startRelay()) {
            TestClient seed = f.client("seed", 0);
            List<RowChange> inserts = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                inserts.add(insert("c", obj("id", r), obj("v", "seed")));
            }
            seed.push(new ClientTx(1, Hlc.ofMillis(1_000), inserts));
            seed.awaitAck(1);

            ExecutorService pool = Executors.newFixedThreadPool(clients);
            List<Future<?>> futures = new ArrayList<>();
            String[][] expected = new String[rows][];
            long[][] best = new long[rows][];
            Object lock = new Object();
            for (int k = 0; k < clients; k++) {
                int client = k;
                futures.add(pool.submit(() -> {
                    Random random = new Random(client);
                    TestClient c = TestClient.connect(client % 2 == 0 ? f.uri() : second.uri());
                    try {
                        String node = "writer-" + client;
                        c.hello(node, 0);
                        for (int t = 1; t <= txs; t++) {
                            long hlc = Hlc.ofMillis(2_000 + random.nextInt(1_000));
                            List<Integer> order = new ArrayList<>();
                            for (int r = 0; r < rows; r++) {
                                order.add(r);
                            }
                            Collections.shuffle(order, random);
                            List<RowChange> changes = new ArrayList<>();
                            String value = node + "/" + t;
                            for (int r : order) {
                                changes.add(update("c", obj("id", r), obj("v", value)));
                            }
                            c.push(tx(t, hlc, changes.toArray(RowChange[]::new)));
                            c.awaitAck(t);
                            synchronized (lock) {
                                for (int r = 0; r < rows; r++) {
                                    if (best[r] == null || Hlc.compare(hlc, node, best[r][0], expected[r][1]) > 0) {
                                        best[r] = new long[]{hlc};
                                        expected[r] = new String[]{value, node};
                                    }
                                }
                            }
                        }
                        assertEquals(null, c.closeCode());
                    } finally {
                        c.close();
                    }
                    return null;
                }));
            }
            for (Future<?> fu : futures) {
                fu.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();
            for (int r = 0; r < rows; r++) {
                assertEquals(expected[r][0], f.query("SELECT v FROM c WHERE id = " + r).get(0).get(0), "row " + r);
            }
        }
    }
}
