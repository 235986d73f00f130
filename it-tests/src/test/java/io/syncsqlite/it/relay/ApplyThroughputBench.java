package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Apply throughput of the relay, next to plain pgjdbc batched upserts into an identical table without
 * triggers, and direct (psql-style) writes into a synced table next to the same table unsynced.
 * Disabled by default; run with
 * {@code SYNCSQLITE_BENCH=1 mvn -o -pl it-tests verify -Dtest=ApplyThroughputBench -Dsurefire.failIfNoSpecifiedTests=false}.
 * Each figure is the median of {@link #RUNS} runs on fresh tables, after one warm-up run.
 */
@EnabledIfEnvironmentVariable(named = "SYNCSQLITE_BENCH", matches = "1")
class ApplyThroughputBench {

    private static final int ROWS = 20_000;
    private static final int TX_ROWS = 100;
    private static final int TXS_PER_PUSH = 10;
    private static final int RUNS = 5;
    private static final String COLUMNS = "(id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, price numeric(10,2), note text)";

    @Test
    void applyThroughput() throws Exception {
        List<String> ddl = new ArrayList<>(List.of("CREATE SCHEMA plain"));
        for (int r = 0; r <= RUNS; r++) {
            ddl.add("CREATE TABLE bench" + r + " " + COLUMNS);
            ddl.add("CREATE TABLE direct" + r + " " + COLUMNS);
            ddl.add("CREATE TABLE plain.bench" + r + " " + COLUMNS);
            ddl.add("CREATE TABLE plain.direct" + r + " " + COLUMNS);
        }
        try (RelayFixture f = RelayFixture.start("bench", ddl.toArray(String[]::new))) {
            double[] relay = new double[RUNS];
            double[] plain = new double[RUNS];
            double[] direct = new double[RUNS];
            double[] directPlain = new double[RUNS];
            double[] directUpdate = new double[RUNS];
            double[] directUpdatePlain = new double[RUNS];
            for (int r = 0; r <= RUNS; r++) {
                double a = relayRun(f, r);
                double b = pgjdbcRun(f, r);
                double[] d = directRun(f, "direct" + r);
                double[] p = directRun(f, "plain.direct" + r);
                System.out.printf("run %d: relay %.0f rows/s, pgjdbc %.0f rows/s, direct insert %.0f (unsynced %.0f),"
                        + " direct update %.0f (unsynced %.0f)%n", r, a, b, d[0], p[0], d[1], p[1]);
                if (r > 0) {
                    relay[r - 1] = a;
                    plain[r - 1] = b;
                    direct[r - 1] = d[0];
                    directPlain[r - 1] = p[0];
                    directUpdate[r - 1] = d[1];
                    directUpdatePlain[r - 1] = p[1];
                }
            }
            System.out.printf("MEDIAN of %d: relay apply %.0f rows/s; pgjdbc batched upserts %.0f rows/s (%.0f%%);"
                            + " direct INSERT ... SELECT %.0f rows/s (unsynced %.0f); direct UPDATE %.0f rows/s (unsynced %.0f)%n",
                    RUNS, median(relay), median(plain), 100 * median(relay) / median(plain), median(direct),
                    median(directPlain), median(directUpdate), median(directUpdatePlain));
        }
    }

    /** 20k inserts in 100-row client transactions, timed from the first push to the last ack. */
    private static double relayRun(RelayFixture f, int run) {
        String table = "bench" + run;
        // Starting at the head: no snapshot of the earlier runs' rows.
        try (TestClient c = f.client("bench-node-" + run,
                f.queryLong("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log"))) {
            long h = Hlc.ofMillis(System.currentTimeMillis());
            List<ClientTx> txs = new ArrayList<>();
            int id = 0;
            for (int t = 1; t <= ROWS / TX_ROWS; t++) {
                RowChange[] changes = new RowChange[TX_ROWS];
                for (int i = 0; i < TX_ROWS; i++) {
                    id++;
                    changes[i] = insert(table, obj("id", id), obj("name", "name " + id, "qty", id % 100,
                            "price", id * 0.25, "note", "some note text " + id));
                }
                txs.add(new ClientTx(t, h + t, List.of(changes)));
            }
            long start = System.nanoTime();
            for (int i = 0; i < txs.size(); i += TXS_PER_PUSH) {
                c.push(txs.subList(i, Math.min(txs.size(), i + TXS_PER_PUSH)).toArray(ClientTx[]::new));
            }
            c.awaitAck(txs.size());
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(ROWS, f.queryLong("SELECT count(*) FROM " + table));
            return ROWS / seconds;
        }
    }

    /** The same rows as pgjdbc batched upserts, 100 per transaction, into a table without triggers. */
    private static double pgjdbcRun(RelayFixture f, int run) throws SQLException {
        String table = "plain.bench" + run;
        try (Connection c = f.connection()) {
            c.setAutoCommit(false);
            long start = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table
                    + " (id, name, qty, price, note) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                    + " name = excluded.name, qty = excluded.qty, price = excluded.price, note = excluded.note")) {
                int id = 0;
                for (int t = 0; t < ROWS / TX_ROWS; t++) {
                    for (int i = 0; i < TX_ROWS; i++) {
                        id++;
                        ps.setInt(1, id);
                        ps.setString(2, "name " + id);
                        ps.setInt(3, id % 100);
                        ps.setBigDecimal(4, java.math.BigDecimal.valueOf(id * 0.25));
                        ps.setString(5, "some note text " + id);
                        ps.addBatch();
                    }
                    ps.executeBatch();
                    c.commit();
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertEquals(ROWS, f.queryLong("SELECT count(*) FROM " + table));
            return ROWS / seconds;
        }
    }

    /** A direct bulk write: one INSERT ... SELECT of 20k rows, then one UPDATE of all of them; rows/s each. */
    private static double[] directRun(RelayFixture f, String table) throws SQLException {
        try (Connection c = f.connection(); Statement st = c.createStatement()) {
            long start = System.nanoTime();
            st.execute("INSERT INTO " + table + " SELECT g, 'name ' || g, g % 100, g * 0.25, 'some note text ' || g"
                    + " FROM generate_series(1, " + ROWS + ") AS g");
            double ins = ROWS / ((System.nanoTime() - start) / 1e9);
            start = System.nanoTime();
            st.execute("UPDATE " + table + " SET qty = qty + 1");
            double upd = ROWS / ((System.nanoTime() - start) / 1e9);
            return new double[]{ins, upd};
        }
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
