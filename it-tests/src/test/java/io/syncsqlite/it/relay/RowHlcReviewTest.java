package io.syncsqlite.it.relay;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.MessageCodec;
import io.syncsqlite.relay.schema.Sql;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of d3ca566: the relay's own statements (snapshot, logCurrent, backfill) read a row's newest clock
 * with Sql.rowHlc; each must give what syncsqlite.row_hlc gives, for awkward column names and wide tables.
 */
class RowHlcReviewTest {

    /** Names that need quoting, escaping, or that JDBC's parser could misread outside a literal. */
    static final List<String> ODD = List.of("it's", "back\\slash", "ends\\", "a\\'b", "Upper", "\u00fcn\u00ef\ud83d\ude00",
            "q?", "{fn now()}", "$1", "two  spaces", "x\"y");

    static String ddl(String table, List<String> cols) {
        return "CREATE TABLE " + table + " (id int PRIMARY KEY, "
                + cols.stream().map(c -> Sql.ident(c) + " int").collect(Collectors.joining(", ")) + ")";
    }

    /** Row k (1..n): every column clocked at base, column k at base + 10k; row n+1 also has a key the table lacks. */
    static Map<Integer, Long> setClocks(Connection c, String table, List<String> cols, long base) throws Exception {
        Map<Integer, Long> expected = new TreeMap<>();
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO syncsqlite.row_clock (tbl, pk, alive, alive_hlc, alive_node, cols)"
                + " VALUES (?, ?, true, ?, 'n', ?::jsonb) ON CONFLICT (tbl, pk) DO UPDATE SET alive_hlc = excluded.alive_hlc,"
                + " cols = excluded.cols")) {
            for (int k = 1; k <= cols.size() + 1; k++) {
                ObjectNode o = MessageCodec.JSON.createObjectNode();
                for (int i = 0; i < cols.size(); i++) {
                    o.putArray(cols.get(i)).add(i + 1 == k ? base + 10L * k : base).add("n");
                }
                long want = k <= cols.size() ? base + 10L * k : base + 999;
                if (k > cols.size()) {
                    o.putArray("not a column").add(base + 999).add("n");
                }
                ps.setString(1, table);
                ps.setString(2, "{\"id\": " + k + "}");
                ps.setLong(3, base - 1000);
                ps.setString(4, o.toString());
                ps.executeUpdate();
                expected.put(k, want);
            }
        }
        return expected;
    }

    static void insertRows(Connection c, String table, int n) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute("INSERT INTO " + table + " (id) SELECT g FROM generate_series(1, " + n + ") AS g");
        }
    }

    static Map<Integer, Long> hlcs(List<FeedEntry> entries, String table) {
        Map<Integer, Long> m = new TreeMap<>();
        for (FeedEntry e : entries) {
            if (e.table().equals(table)) {
                m.put(e.pk().get("id").asInt(), e.hlc());
            }
        }
        return m;
    }

    @Test
    void snapshotAndLogCurrentGiveRowHlcForOddColumnNames() throws Exception {
        try (RelayFixture f = RelayFixture.start("revodd", ddl("odd", ODD))) {
            long base = Hlc.ofMillis(System.currentTimeMillis() + 300_000);
            Map<Integer, Long> expected;
            try (Connection c = f.connection()) {
                insertRows(c, "odd", ODD.size() + 2);
                expected = setClocks(c, "odd", ODD, base);
                c.createStatement().execute("DELETE FROM syncsqlite.row_clock WHERE tbl = 'odd' AND pk = '{\"id\": " + (ODD.size() + 2) + "}'");
            }
            expected.put(ODD.size() + 2, 0L);
            assertEquals(expected.toString(), f.query("SELECT jsonb_object_agg(g, coalesce(syncsqlite.row_hlc(rc.alive_hlc, rc.cols), 0))"
                    + " FROM generate_series(1, " + (ODD.size() + 2) + ") AS g LEFT JOIN syncsqlite.row_clock AS rc"
                    + " ON rc.tbl = 'odd' AND rc.pk = jsonb_build_object('id', g)::text").get(0).get(0)
                    .replace("\"", "").replace(": ", "="), "the fixture itself");

            TestClient snap = f.client("revodd-snap", 0);
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            snap.awaitCursor(head);
            assertEquals(expected, hlcs(snap.entries(), "odd"), "snapshot hlc = row_hlc");

            // Client writes that lose on every column: the relay logs each row's current image (logCurrent).
            List<io.syncsqlite.protocol.RowChange> ups = new ArrayList<>();
            for (int k = 1; k <= ODD.size() + 1; k++) {
                ups.add(update("odd", obj("id", k), obj("Upper", 7)));
            }
            TestClient w = f.client("revodd-w", head);
            w.push(tx(1, Hlc.ofMillis(System.currentTimeMillis()), ups.toArray(new io.syncsqlite.protocol.RowChange[0])));
            long seq = w.awaitAck(1).seq();
            w.awaitCursor(seq);
            Map<Integer, Long> logged = hlcs(w.entries().stream().filter(e -> e.seq() == seq).toList(), "odd");
            Map<Integer, Long> want = new TreeMap<>(expected);
            want.remove(ODD.size() + 2);
            assertEquals(want, logged, "logCurrent hlc = row_hlc");
        }
    }

    @Test
    void backfillGivesRowHlcForOddColumnNames() throws Exception {
        try (RelayFixture f = RelayFixture.start("revbf", "CREATE TABLE plain (id int PRIMARY KEY)")) {
            f.execute("INSERT INTO syncsqlite.client (node) VALUES ('revbf-c')"); // backfill is for existing clients
            long base = Hlc.ofMillis(System.currentTimeMillis());
            Map<Integer, Long> expected;
            try (Connection c = f.connection()) {
                c.setAutoCommit(false);
                c.createStatement().execute(ddl("late", ODD));
                insertRows(c, "late", ODD.size() + 1);
                expected = setClocks(c, "late", ODD, base);
                c.commit();
            }
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    f.queryLong("SELECT count(*) FROM syncsqlite.change WHERE tbl = 'late'") == ODD.size() + 1);
            Map<Integer, Long> got = new TreeMap<>();
            for (List<String> r : f.query("SELECT (pk ->> 'id')::int, hlc FROM syncsqlite.change WHERE tbl = 'late'")) {
                got.put(Integer.parseInt(r.get(0)), Long.parseLong(r.get(1)));
            }
            assertEquals(expected, got, "backfill hlc = row_hlc");
        }
    }

    @Test
    void aWideTableSnapshotsWithRowHlc() throws Exception {
        List<String> cols = new ArrayList<>();
        for (int i = 1; i < 1500; i++) {
            cols.add("c" + i);
        }
        try (RelayFixture f = RelayFixture.start("revwide", ddl("wide", cols))) {
            long base = Hlc.ofMillis(System.currentTimeMillis() + 300_000);
            try (Connection c = f.connection()) {
                insertRows(c, "wide", 3);
                c.createStatement().execute("UPDATE syncsqlite.row_clock SET cols = jsonb_build_object('c1499', jsonb_build_array("
                        + (base + 77) + ", 'n')) WHERE tbl = 'wide' AND pk = '{\"id\": 2}'");
                c.createStatement().execute("UPDATE wide SET c7 = 1 WHERE id = 3"); // capture over 1500 columns
            }
            TestClient snap = f.client("revwide-snap", 0);
            snap.awaitCursor(f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log"));
            Map<Integer, Long> got = hlcs(snap.entries().stream().filter(e -> e.seq() == 0).toList(), "wide");
            Map<String, String> want = new TreeMap<>();
            for (List<String> r : f.query("SELECT (pk::jsonb ->> 'id'), syncsqlite.row_hlc(alive_hlc, cols) FROM syncsqlite.row_clock WHERE tbl = 'wide'")) {
                want.put(r.get(0), r.get(1));
            }
            assertEquals(want.toString(), got.entrySet().stream().collect(Collectors.toMap(e -> e.getKey().toString(),
                    e -> e.getValue().toString(), (a, b) -> a, TreeMap::new)).toString());
            assertEquals(base + 77, got.get(2));
        }
    }
}
