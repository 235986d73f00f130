package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writes made straight to PostgreSQL (psql, other services) reach clients and take part in the merge. */
class DirectWriteTest {

    private static final long HOUR = 3_600_000;
    /** Ahead of the clock, within the ten minutes the relay accepts. */
    private static final long AHEAD = 300_000;
    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("direct",
                "CREATE TABLE item (id int PRIMARY KEY, name text, qty int)",
                "CREATE TABLE bulk (id int PRIMARY KEY, v text)",
                // Deferrable, so that a statement may move keys onto each other.
                "CREATE TABLE shift (id int PRIMARY KEY DEFERRABLE, name text, qty int)",
                "CREATE TABLE sized (id int PRIMARY KEY, v int)");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long head() {
        return f.queryLong("SELECT coalesce(max(seq), 0) FROM syncsqlite.commit_log");
    }

    private static List<FeedEntry> itemEntries(TestClient c, int... ids) {
        return c.entries().stream().filter(e -> e.table().equals("item")
                && java.util.Arrays.stream(ids).anyMatch(id -> id == e.pk().get("id").asInt())).toList();
    }

    @Test
    void directInsertUpdateDeleteReachAConnectedClientInCommitOrder() {
        TestClient c = f.client("direct-watch", head());
        long before = System.currentTimeMillis();
        f.execute("INSERT INTO item VALUES (1, 'one', 0)",
                "UPDATE item SET qty = 5 WHERE id = 1",
                "INSERT INTO item VALUES (2, 'two', 0)",
                "DELETE FROM item WHERE id = 1",
                "UPDATE item SET id = 3 WHERE id = 2");
        c.awaitCursor(head());
        List<FeedEntry> e = itemEntries(c, 1, 2, 3);
        assertEquals(6, e.size(), e.toString());
        assertEquals(List.of("U1", "U1", "U2", "D1", "D2", "U3"), e.stream()
                .map(x -> (x.kind() == FeedKind.UPSERT ? "U" : "D") + x.pk().get("id").asInt()).toList());
        assertEquals(5, e.get(1).row().get("qty").asInt());
        for (int i = 1; i < 5; i++) {
            assertTrue(e.get(i).seq() > e.get(i - 1).seq(), "one commit each: " + e);
        }
        assertEquals(e.get(4).seq(), e.get(5).seq(), "a key change is one commit: delete + upsert");
        assertTrue(Hlc.unpack(e.get(0).hlc()).millis() >= before - 1000, "direct writes are stamped with the time");
    }

    @Test
    void oneTransactionIsOneCommitAlsoAcrossStatementsAndRolledBackSavepoints() throws Exception {
        TestClient c = f.client("direct-savepoint", head());
        long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
        try (java.sql.Connection conn = f.connection(); java.sql.Statement st = conn.createStatement()) {
            conn.setAutoCommit(false);
            st.execute("INSERT INTO item SELECT g, 'sp' || g, 0 FROM generate_series(40, 49) AS g");
            st.execute("SAVEPOINT a");
            st.execute("INSERT INTO item VALUES (50, 'gone', 0)");
            st.execute("ROLLBACK TO SAVEPOINT a");
            st.execute("UPDATE item SET qty = 1 WHERE id BETWEEN 40 AND 44");
            conn.commit();
            // Only a rolled-back savepoint wrote: the next write still marks the commit.
            st.execute("SAVEPOINT b");
            st.execute("INSERT INTO item VALUES (51, 'gone', 0)");
            st.execute("ROLLBACK TO SAVEPOINT b");
            st.execute("DELETE FROM item WHERE id = 49");
            conn.commit();
        }
        assertEquals(commits + 2, f.queryLong("SELECT count(*) FROM syncsqlite.commit_log"));
        c.awaitCursor(head());
        List<FeedEntry> e = c.entries().stream().filter(x -> x.table().equals("item")).toList();
        assertEquals(16, e.size(), e.toString());
        assertEquals(1, e.subList(0, 15).stream().map(FeedEntry::seq).distinct().count(), "one commit: " + e);
        assertTrue(e.get(15).seq() > e.get(14).seq());
        assertTrue(e.stream().noneMatch(x -> x.pk().get("id").asInt() >= 50), "rolled back rows are not in the feed");
        assertEquals(FeedKind.DELETE, e.get(15).kind());
        assertEquals(0, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk IN ('{\"id\": 50}', '{\"id\": 51}')"));
    }

    @Test
    void statementsOfEverySizeOnOneConnectionAreEachCapturedOnce() throws Exception {
        // PL/pgSQL plans the capture's queries once per session, for the size of the first statement's transition
        // table. Without these two settings, a 5,000-row statement after a one-row one on the same connection was
        // joined by nested loops (quadratic: 10,000 rows took 20 s instead of 0.3 s), and each one-row statement
        // after a big one was JIT-compiled (0.5-1 s each). The times are the bench module's (DirectWriteBench).
        assertEquals(List.of(List.of("t")), f.query("SELECT proconfig @> ARRAY['enable_nestloop=off', 'jit=off']"
                + " FROM pg_proc WHERE proname = 'capture_rows' AND pronamespace = 'syncsqlite'::regnamespace"));
        long from = f.queryLong("SELECT coalesce(max(id), 0) FROM syncsqlite.change");
        try (Connection c = f.connection(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO sized VALUES (0, 0)");
            st.execute("INSERT INTO sized SELECT g, g FROM generate_series(1, 5000) AS g");
            st.execute("UPDATE sized SET v = v + 1 WHERE id = 0");
            st.execute("UPDATE sized SET v = v + 1");
            st.execute("UPDATE sized SET v = v + 1 WHERE id = 0");
            st.execute("DELETE FROM sized WHERE id > 2500");
            st.execute("DELETE FROM sized WHERE id = 0");
        }
        String logged = "FROM syncsqlite.change WHERE tbl = 'sized' AND id > " + from;
        assertEquals(List.of(List.of("D", "2501", "2501"), List.of("U", "10004", "5001")), f.query(
                "SELECT kind, count(*), count(DISTINCT pk) " + logged + " GROUP BY kind ORDER BY kind"));
        assertEquals(List.of(List.of("0,1,2,3")), f.query("SELECT string_agg(\"row\" ->> 'v', ',' ORDER BY id) "
                + logged + " AND kind = 'U' AND pk = '{\"id\": 0}'"));
        assertEquals(2500, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 'sized' AND alive"));
        assertEquals(List.of(List.of("2500", "3128750")), f.query("SELECT count(*), sum(v) FROM sized"));
    }

    @Test
    void aMultiRowKeyShiftKeepsEveryKeyThatStillExistsAlive() {
        TestClient c = f.client("direct-shift", head());
        f.execute("INSERT INTO shift VALUES (60, 'a', 1), (61, 'b', 2), (62, 'c', 3)");
        long before = f.queryLong("SELECT coalesce((cols -> 'name' ->> 0)::bigint, alive_hlc) FROM syncsqlite.row_clock WHERE tbl = 'shift' AND pk = '{\"id\": 61}'");
        f.execute("UPDATE shift SET id = id + 1 WHERE id BETWEEN 60 AND 62");
        c.awaitCursor(head());
        List<FeedEntry> shift = c.entries().stream().filter(x -> x.table().equals("shift") && x.seq() == head()).toList();
        // 60 is gone; 61 and 62 hold other rows now; 63 is new.
        assertEquals(List.of("D60", "U61", "U62", "U63"), shift.stream()
                .map(x -> (x.kind() == FeedKind.UPSERT ? "U" : "D") + x.pk().get("id").asInt()).sorted().toList());
        assertEquals(FeedKind.DELETE, shift.get(0).kind(), "deletes come first");
        assertEquals(List.of(List.of("60", "f"), List.of("61", "t"), List.of("62", "t"), List.of("63", "t")),
                f.query("SELECT pk::jsonb ->> 'id', alive FROM syncsqlite.row_clock WHERE tbl = 'shift'"
                        + " AND (pk::jsonb ->> 'id')::int BETWEEN 60 AND 63 ORDER BY 1"));
        assertTrue(f.queryLong("SELECT coalesce((cols -> 'name' ->> 0)::bigint, alive_hlc) FROM syncsqlite.row_clock WHERE tbl = 'shift' AND pk = '{\"id\": 61}'") > before,
                "the changed value of a kept key is stamped");
    }

    @Test
    void aDirectWriteMergesWithClientWritesByTimestamp() {
        f.execute("INSERT INTO item VALUES (10, 'ten', 1)");
        TestClient c = f.client("direct-merge", head());
        long now = System.currentTimeMillis();

        c.push(tx(1, Hlc.ofMillis(now - HOUR), update("item", obj("id", 10), obj("qty", 2))));
        long lostAt = c.awaitAck(1).seq();
        assertEquals(1, f.queryLong("SELECT qty FROM item WHERE id = 10"), "an older client write loses");
        c.awaitCursor(lostAt);
        assertEquals(1, c.entries().stream().filter(e -> e.seq() == lostAt).findFirst().orElseThrow()
                .row().get("qty").asInt(), "and its origin hears the surviving value");

        long future = Hlc.ofMillis(now + AHEAD);
        c.push(tx(2, future, update("item", obj("id", 10), obj("qty", 3))));
        c.awaitAck(2);
        assertEquals(3, f.queryLong("SELECT qty FROM item WHERE id = 10"), "a newer client write wins");

        // A direct write is stamped past the row's clocks even when a client clock runs ahead ...
        f.execute("UPDATE item SET qty = 4 WHERE id = 10");
        long qtyClock = f.queryLong("SELECT coalesce((cols -> 'qty' ->> 0)::bigint, alive_hlc) FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 10}'");
        assertTrue(qtyClock > future, "stamped after the client's clock");
        // ... and stamps only the columns it changed.
        long nameClock = f.queryLong("SELECT coalesce((cols -> 'name' ->> 0)::bigint, alive_hlc) FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 10}'");
        assertTrue(nameClock < future, "name was not changed by the direct update");

        c.push(tx(3, Hlc.ofMillis(now + AHEAD / 2), update("item", obj("id", 10), obj("qty", 5, "name", "x"))));
        c.push(tx(4, Hlc.ofMillis(now + AHEAD / 2) + 1, update("item", obj("id", 10), obj("name", "renamed"))));
        c.awaitAck(4);
        assertEquals(List.of(List.of("renamed", "4")), f.query("SELECT name, qty FROM item WHERE id = 10"));
    }

    @Test
    void directInsertsAndDeletesAreStampedPastTheRowsClocksAndLogTheClockTheyGot() {
        f.execute("INSERT INTO item VALUES (120, 'twenty', 1)");
        TestClient c = f.client("direct-reinsert", head());
        long future = Hlc.ofMillis(System.currentTimeMillis() + AHEAD);
        c.push(tx(1, future, delete("item", obj("id", 120))));
        c.awaitAck(1);
        assertEquals(0, f.queryLong("SELECT count(*) FROM item WHERE id = 120"));

        // One statement: new keys around the tombstoned one.
        f.execute("INSERT INTO item VALUES (123, 'a', 1), (120, 'back', 2), (121, 'b', 3)");
        long alive = f.queryLong("SELECT alive_hlc FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 120}' AND alive");
        assertTrue(alive > future, "stamped after the tombstone's clock, which runs ahead of the relay's");
        assertEquals(alive, f.queryLong("SELECT hlc FROM syncsqlite.change WHERE tbl = 'item' AND pk = '{\"id\": 120}'"
                + " ORDER BY id DESC LIMIT 1"), "the log carries the clock the row got");
        long fresh = f.queryLong("SELECT alive_hlc FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 121}'");
        assertTrue(fresh < future, "a key without a clock row gets the relay's time");
        assertEquals(List.of(List.of("123"), List.of("120"), List.of("121")), f.query("SELECT pk ->> 'id' FROM syncsqlite.change"
                + " WHERE xid = (SELECT xid FROM syncsqlite.change ORDER BY xid DESC LIMIT 1) ORDER BY id"), // max(xid8): PostgreSQL 15+
                "logged in the statement's order");

        // A direct delete, likewise: its tombstone orders after every clock the row had (a client's update
        // stamped ahead here), and the log carries it.
        long updatedAt = Hlc.ofMillis(System.currentTimeMillis() + AHEAD) + 5;
        c.push(tx(2, updatedAt, update("item", obj("id", 121), obj("qty", 9))));
        c.awaitAck(2);
        f.execute("DELETE FROM item WHERE id IN (121, 123)");
        long dead = f.queryLong("SELECT alive_hlc FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 121}' AND NOT alive");
        assertTrue(dead > updatedAt, "the delete orders after the client's update");
        assertEquals(dead, f.queryLong("SELECT hlc FROM syncsqlite.change WHERE tbl = 'item' AND pk = '{\"id\": 121}'"
                + " AND kind = 'D' ORDER BY id DESC LIMIT 1"));
        assertTrue(f.queryLong("SELECT alive_hlc FROM syncsqlite.row_clock WHERE tbl = 'item' AND pk = '{\"id\": 123}' AND NOT alive")
                < updatedAt, "a row with only its creation clock gets the relay's time");
    }

    @Test
    void aCommitTooBigForOneMessageArrivesInPartsEndingOnItsBoundary() {
        TestClient c = f.client("direct-bulk", head());
        f.execute("INSERT INTO bulk SELECT g, 'v' || g FROM generate_series(1, 2500) AS g");
        long seq = head();
        c.awaitCursor(seq);
        List<Message.Changes> parts = c.changes().stream()
                .filter(ch -> ch.entries().stream().anyMatch(e -> e.seq() == seq)).toList();
        assertEquals(3, parts.size());
        assertEquals(List.of(0L, 0L, seq), parts.stream().map(Message.Changes::through).toList());
        assertEquals(2500, parts.stream().mapToInt(ch -> ch.entries().size()).sum());
        assertEquals(2500, c.entries().stream().filter(e -> e.table().equals("bulk")).map(e -> e.pk().get("id").asInt())
                .distinct().count());
    }

    @Test
    void aClientBehindTheMemoryBufferCatchesUpFromPostgres() {
        long cursor = head();
        f.execute("INSERT INTO item VALUES (20, 'a', 1)", "INSERT INTO item VALUES (21, 'b', 1)",
                "UPDATE item SET qty = 2 WHERE id = 20");
        long last = head();
        // A restarted relay has an empty buffer: everything before its start is read from PostgreSQL.
        f.restart();
        TestClient c = f.client("direct-catchup", cursor);
        c.awaitCursor(last);
        List<FeedEntry> e = c.entries();
        // Catch-up is compacted to the latest image of each row, each at its own commit's position.
        assertEquals(2, e.size(), e.toString());
        assertEquals(List.of(21, 20), e.stream().map(x -> x.pk().get("id").asInt()).toList());
        assertEquals(2, e.get(1).row().get("qty").asInt());
        assertTrue(e.stream().allMatch(x -> x.seq() > cursor && x.seq() <= last));
        assertTrue(e.get(0).seq() < e.get(1).seq());
    }
}
