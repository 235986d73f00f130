package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.ClientProcess;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import io.syncsqlite.it.harness.WriterMain;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Randomized convergence: four clients make random inserts, updates, deletes and counter increments over
 * two related tables, while going offline and online at random and the relay restarts. A fifth client runs
 * in its own JVM ({@link WriterMain}) writing rows and increments, is killed with SIGKILL halfway while
 * it writes and syncs, and is reopened from its file. At quiescence every replica equals PostgreSQL, and
 * every counter of an account nobody deleted equals the sum of the increments committed on all clients
 * (for the killed client: the increments its file committed, recorded in the same transactions).
 *
 * <p>CI runs three fixed seeds. {@code -Dsyncsqlite.soak.seconds=600} runs random seeds for that long;
 * every seed is printed, and {@code -Dsyncsqlite.seed=N} replays one.
 */
class RandomizedConvergenceTest {

    private static final String[] SCHEMA = {
        "CREATE TABLE acct (id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)",
        "CREATE TABLE entry (id INTEGER PRIMARY KEY, acct_id INTEGER NOT NULL REFERENCES acct (id) ON DELETE CASCADE,"
                + " note TEXT)",
    };
    private static final String LEDGER = "CREATE TABLE ledger (acct INTEGER NOT NULL, amount INTEGER NOT NULL)";
    private static final String ACCTS = "SELECT id, name, balance FROM acct ORDER BY id";
    private static final String ENTRIES = "SELECT id, acct_id, note FROM entry ORDER BY id";

    @TempDir
    Path dir;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {11, 22, 33})
    void replicasConvergeAndCountersAddUp(long seed) throws Exception {
        String replay = System.getProperty("syncsqlite.seed");
        long soakSeconds = Long.getLong("syncsqlite.soak.seconds", 0);
        if (replay != null) {
            run(Long.parseLong(replay), 300);
        } else if (soakSeconds > 0) {
            long end = System.nanoTime() + soakSeconds * 1_000_000_000L;
            Random seeds = new Random();
            while (System.nanoTime() < end) {
                run(seeds.nextLong(), 500);
            }
        } else {
            run(seed, 150);
        }
    }

    private void run(long seed, int steps) throws Exception {
        System.out.println("randomized convergence: seed " + seed + ", " + steps + " steps");
        Path runDir = Files.createTempDirectory(dir, "seed");
        Random rnd = new Random(seed);
        try (Cluster c = Cluster.start("e2e_random", runDir, SCHEMA)) {
            // balance is only ever added to: declared a counter, an insert's 0 adds nothing to a row another
            // client created first instead of resetting it
            // ledger (the writer's record of its own increments) stays local
            c.clientParams("&sync.counters=acct.balance&sync.tables=acct,entry");
            List<Client> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                clients.add(c.client("n" + i, SCHEMA));
            }
            Path writerFile = c.file("w", SCHEMA[0], SCHEMA[1], LEDGER);
            TcpProxy writerProxy = c.proxy();
            ClientProcess writer = c.closeWith(ClientProcess.start(c.url("w", writerFile, writerProxy), seed * 31 + 7,
                    runDir.resolve("writer.log")));
            boolean[] online = {true, true, true, true};
            Map<Long, Long> increments = new HashMap<>();
            Set<Long> deleted = new HashSet<>();
            for (int step = 0; step < steps; step++) {
                if (step == steps / 2) {
                    awaitLedgerRows(writerFile, 3);
                    writer.kill();
                    System.out.println("writer killed with " + count(writerFile, "SELECT count(*) FROM ledger")
                            + " committed increments, " + count(writerFile,
                            "SELECT count(*) FROM _sync_outbox WHERE ack IS NULL") + " outbox rows not yet acknowledged");
                    clients.add(c.open("w", writerFile, writerProxy));
                }
                int who = rnd.nextInt(4);
                Client cl = clients.get(who);
                long acct = 1 + rnd.nextInt(12);
                int op = rnd.nextInt(100);
                try {
                    if (op < 20) {
                        cl.exec("INSERT INTO acct (id, name, balance) VALUES (?, ?, 0) ON CONFLICT (id) DO NOTHING",
                                acct, "acct " + acct + " by n" + who);
                    } else if (op < 35) {
                        cl.exec("UPDATE acct SET name = ? WHERE id = ?", "renamed " + step + " by n" + who, acct);
                    } else if (op < 60) {
                        int amount = rnd.nextInt(21) - 10;
                        // the update count, not an earlier SELECT, says whether it happened: the sync client
                        // may apply a remote delete between the two
                        if (amount != 0 && cl.exec("UPDATE acct SET balance = balance + ? WHERE id = ?", amount,
                                acct) == 1) {
                            increments.merge(acct, (long) amount, Long::sum);
                        }
                    } else if (op < 64) {
                        if (cl.exec("DELETE FROM acct WHERE id = ?", acct) > 0) {
                            deleted.add(acct);
                        }
                    } else if (op < 80) {
                        if (exists(cl, acct)) {
                            long id = 1 + rnd.nextInt(40);
                            cl.exec("INSERT INTO entry (id, acct_id, note) VALUES (?, ?, ?)"
                                    + " ON CONFLICT (id) DO UPDATE SET note = excluded.note", id, acct, "step " + step);
                        }
                    } else if (op < 88) {
                        cl.exec("UPDATE entry SET note = ? WHERE id = ?", "edited " + step, 1 + rnd.nextInt(40));
                    } else if (op < 92) {
                        cl.exec("DELETE FROM entry WHERE id = ?", 1 + rnd.nextInt(40));
                    } else if (op < 98) {
                        online[who] = !online[who];
                        if (online[who]) {
                            cl.online();
                        } else {
                            cl.offline();
                        }
                    } else {
                        c.restartRelay();
                    }
                } catch (SQLException e) {
                    throw new AssertionError("seed " + seed + ", step " + step + ": " + e, e);
                }
            }
            for (Client cl : clients) {
                cl.online();
            }
            for (Client cl : clients) {
                cl.awaitSynced();
            }
            for (Map<String, Object> row : clients.get(4).rows("SELECT acct, sum(amount) AS s FROM ledger GROUP BY acct")) {
                increments.merge(((Number) row.get("acct")).longValue(), ((Number) row.get("s")).longValue(), Long::sum);
            }
            Client[] all = clients.toArray(new Client[0]);
            c.awaitConverged(ACCTS, all);
            c.awaitConverged(ENTRIES, all);
            for (Map<String, Object> row : c.pgRows(ACCTS)) {
                long id = (Long) row.get("id");
                if (!deleted.contains(id)) {
                    assertEquals(increments.getOrDefault(id, 0L), row.get("balance"),
                            "seed " + seed + ": balance of account " + id);
                }
            }
        }
    }

    /** Waits until the writer process has committed at least {@code n} increments (read with plain sqlite-jdbc). */
    private static void awaitLedgerRows(Path file, int n) {
        Cluster.eventually(() -> count(file, "SELECT count(*) FROM ledger"), count -> count >= n);
    }

    private static int count(Path file, String sql) throws SQLException {
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file + "?busy_timeout=5000");
             ResultSet rs = plain.createStatement().executeQuery(sql)) {
            return rs.next() ? rs.getInt(1) : 0;
        }
    }

    private static boolean exists(Client cl, long acct) throws SQLException {
        return !cl.rows("SELECT 1 FROM acct WHERE id = " + acct).isEmpty();
    }
}
