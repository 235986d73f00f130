package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Last-writer-wins per column (docs/DESIGN.md, "Merge rules"): the outcome depends on (hlc, node), never
 * on the order in which transactions reach the relay. Timestamps here are fixed small values, so every
 * row is created by a client, not by a direct write stamped with the current time.
 */
class MergeTest {

    private static RelayFixture f;
    private static TestClient a;
    private static TestClient b;
    private static final AtomicLong txA = new AtomicLong();
    private static final AtomicLong txB = new AtomicLong();

    @BeforeAll
    static void start() {
        f = RelayFixture.start("merge", "CREATE TABLE doc (id int PRIMARY KEY, title text, body text, n int)",
                // An application trigger that deletes the row it was given when its id is negative.
                "CREATE TABLE ghost (id int PRIMARY KEY, v text)",
                "CREATE FUNCTION vanish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        + "DELETE FROM ghost WHERE id = NEW.id; RETURN NULL; END $$",
                "CREATE TRIGGER vanish AFTER INSERT ON ghost FOR EACH ROW WHEN (NEW.id < 0) EXECUTE FUNCTION vanish()",
                // Rows from before the relay installed capture: their columns have no clock.
                "INSERT INTO doc VALUES (100, 't-pre', 'b-pre', 0), (101, 't-pre', 'b-pre', 0)",
                "CREATE TABLE parent (id int PRIMARY KEY, name text)",
                "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE, v text)",
                // An application trigger that writes a synced row as a direct writer would (capture outside
                // relay mode), inside the relay's transaction: its clock row appears under the relay.
                "CREATE TABLE origin (id int PRIMARY KEY)",
                "CREATE TABLE copy (id int PRIMARY KEY, origin_id int REFERENCES origin, v text)",
                "CREATE FUNCTION copy_origin() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE h text := "
                        + "current_setting('syncsqlite.hlc', true); BEGIN PERFORM set_config('syncsqlite.hlc', '', true); "
                        + "INSERT INTO copy VALUES (NEW.id, NEW.id, 'by trigger'); PERFORM set_config('syncsqlite.hlc', h, true); "
                        + "RETURN NULL; END $$",
                "CREATE TRIGGER copy_origin AFTER INSERT ON origin FOR EACH ROW EXECUTE FUNCTION copy_origin()");
        a = f.client("node-a", 0);
        b = f.client("node-b", 0);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long at(long millis) {
        return Hlc.ofMillis(1_000_000 + millis);
    }

    private static void pushA(long hlc, io.syncsqlite.protocol.RowChange... changes) {
        ClientTx t = tx(txA.incrementAndGet(), hlc, changes);
        a.push(t);
        a.awaitAck(t.id());
    }

    private static void pushB(long hlc, io.syncsqlite.protocol.RowChange... changes) {
        ClientTx t = tx(txB.incrementAndGet(), hlc, changes);
        b.push(t);
        b.awaitAck(t.id());
    }

    private static List<String> row(int id) {
        List<List<String>> rows = f.query("SELECT title, body, n FROM doc WHERE id = " + id);
        return rows.isEmpty() ? null : rows.get(0);
    }

    @Test
    void concurrentEditsToDifferentColumnsBothSurvive() {
        pushA(at(1), insert("doc", obj("id", 1), obj("title", "t0", "body", "b0", "n", 0)));
        // Both edited version 0 concurrently; B's is older but touches another column.
        pushA(at(20), update("doc", obj("id", 1), obj("title", "t-from-a")));
        pushB(at(10), update("doc", obj("id", 1), obj("body", "b-from-b")));
        assertEquals(List.of("t-from-a", "b-from-b", "0"), row(1));
    }

    @Test
    void sameColumnTheLaterTimestampWinsWhicheverArrivesFirst() {
        pushA(at(1), insert("doc", obj("id", 2), obj("title", "t0", "n", 0)),
                insert("doc", obj("id", 3), obj("title", "t0", "n", 0)));
        // Row 2: older first, newer second.
        pushA(at(100), update("doc", obj("id", 2), obj("title", "older")));
        pushB(at(200), update("doc", obj("id", 2), obj("title", "newer")));
        // Row 3: newer first, older second.
        pushB(at(200), update("doc", obj("id", 3), obj("title", "newer")));
        pushA(at(100), update("doc", obj("id", 3), obj("title", "older")));
        assertEquals("newer", row(2).get(0));
        assertEquals("newer", row(3).get(0));
    }

    @Test
    void equalTimestampsAreOrderedByNodeId() {
        pushA(at(1), insert("doc", obj("id", 4), obj("title", "t0")), insert("doc", obj("id", 5), obj("title", "t0")));
        pushA(at(300), update("doc", obj("id", 4), obj("title", "a")));
        pushB(at(300), update("doc", obj("id", 4), obj("title", "b")));
        pushB(at(300), update("doc", obj("id", 5), obj("title", "b")));
        pushA(at(300), update("doc", obj("id", 5), obj("title", "a")));
        assertEquals("b", row(4).get(0)); // "node-b" > "node-a"
        assertEquals("b", row(5).get(0));
    }

    @Test
    void aDeleteWinsOverAConcurrentUpdateInEitherOrder() {
        pushA(at(1), insert("doc", obj("id", 6), obj("title", "t0")), insert("doc", obj("id", 7), obj("title", "t0")));
        // Row 6: the update (later timestamp) arrives first, the delete second.
        pushB(at(50), update("doc", obj("id", 6), obj("title", "edited")));
        pushA(at(40), delete("doc", obj("id", 6)));
        // Row 7: the delete arrives first; the update of a deleted row is dropped.
        pushA(at(40), delete("doc", obj("id", 7)));
        pushB(at(50), update("doc", obj("id", 7), obj("title", "edited")));
        assertEquals(null, row(6));
        assertEquals(null, row(7));
    }

    @Test
    void anInsertAfterADeleteRecreatesOnlyIfItIsLater() {
        pushA(at(1), insert("doc", obj("id", 8), obj("title", "v1")), insert("doc", obj("id", 9), obj("title", "v1")));
        pushA(at(100), delete("doc", obj("id", 8)), delete("doc", obj("id", 9)));
        pushB(at(150), insert("doc", obj("id", 8), obj("title", "v2")));
        pushB(at(50), insert("doc", obj("id", 9), obj("title", "stale")));
        assertEquals(List.of("v2"), List.of(row(8).get(0)));
        assertEquals(null, row(9));
    }

    @Test
    void anOlderDeleteArrivingLateStillBeatsTheOlderInsert() {
        // The delete reaches the relay before the insert it deletes (two offline clients): it is
        // recorded, so the insert does not bring the row back.
        pushB(at(500), delete("doc", obj("id", 10)));
        pushA(at(400), insert("doc", obj("id", 10), obj("title", "x")));
        assertEquals(null, row(10));
    }

    @Test
    void aTransactionThatLosesEverywhereStillTellsItsOriginTheOutcome() {
        pushA(at(1), insert("doc", obj("id", 11), obj("title", "t0", "n", 1)));
        pushB(at(600), update("doc", obj("id", 11), obj("n", 2)));
        ClientTx lost = tx(txA.incrementAndGet(), at(590), update("doc", obj("id", 11), obj("n", 3)));
        a.push(lost);
        long seq = a.awaitAck(lost.id()).seq();
        a.awaitCursor(seq);
        List<FeedEntry> atSeq = a.entries().stream().filter(e -> e.seq() == seq).toList();
        assertEquals(1, atSeq.size(), atSeq.toString());
        assertEquals(FeedKind.UPSERT, atSeq.get(0).kind());
        assertEquals(2, atSeq.get(0).row().get("n").asInt());
        assertEquals(at(600), atSeq.get(0).hlc());

        ClientTx lostInsert = tx(txA.incrementAndGet(), at(2), insert("doc", obj("id", 12), obj("title", "x")));
        pushB(at(700), delete("doc", obj("id", 12)));
        a.push(lostInsert);
        long seq2 = a.awaitAck(lostInsert.id()).seq();
        a.awaitCursor(seq2);
        List<FeedEntry> atSeq2 = a.entries().stream().filter(e -> e.seq() == seq2).toList();
        assertEquals(1, atSeq2.size(), atSeq2.toString());
        assertEquals(FeedKind.DELETE, atSeq2.get(0).kind());
    }

    @Test
    void aNewRowKeepsOneClockForAllItsColumnsAndStillMergesPerColumn() {
        pushA(at(1000), insert("doc", obj("id", 15), obj("title", "t0", "body", "b0", "n", 0)));
        assertEquals(List.of(List.of("{}", Long.toString(at(1000)), "node-a")), f.query(
                "SELECT cols::text, alive_hlc, alive_node FROM syncsqlite.row_clock WHERE tbl = 'doc' AND pk = '{\"id\": 15}'"));
        // Each column has the creation clock: an edit from before it loses, a later one wins, column by column.
        pushB(at(990), update("doc", obj("id", 15), obj("title", "older")));
        pushB(at(1010), update("doc", obj("id", 15), obj("body", "newer")));
        assertEquals(List.of("t0", "newer", "0"), row(15));
        assertEquals(List.of(Arrays.asList("[" + at(1010) + ", \"node-b\"]", null)), f.query("SELECT cols -> 'body', "
                + "cols -> 'title' FROM syncsqlite.row_clock WHERE tbl = 'doc' AND pk = '{\"id\": 15}'"));
    }

    @Test
    void anInsertOntoAnExistingRowKeepsTheClocksOfTheColumnsItDoesNotWrite() {
        pushA(at(1100), insert("doc", obj("id", 16), obj("title", "t0", "body", "b0", "n", 0)));
        // B created the same key later, offline, without n: the row's existence clock moves to 1200 ...
        pushB(at(1200), insert("doc", obj("id", 16), obj("title", "from-b", "body", "from-b")));
        assertEquals(List.of("from-b", "from-b", "0"), row(16));
        // ... but n still has its clock of 1100, so an edit of n at 1150 is later and wins.
        pushA(at(1150), update("doc", obj("id", 16), obj("n", 7)));
        pushA(at(1150), update("doc", obj("id", 16), obj("title", "stale")));
        assertEquals(List.of("from-b", "from-b", "7"), row(16));
    }

    @Test
    void aRowAnApplicationTriggerDeletesUnderTheTransactionKeepsItsTombstone() {
        // The application's trigger deletes the new row at once; the capture trigger logs the delete with the
        // transaction's clock and writes the tombstone, which the relay's own clock write must leave alone.
        ClientTx t = tx(txA.incrementAndGet(), at(1300), insert("ghost", obj("id", -1), obj("v", "boo")),
                insert("ghost", obj("id", 1), obj("v", "stays")));
        a.push(t);
        a.awaitAck(t.id());
        assertEquals(List.of(List.of("1")), f.query("SELECT id FROM ghost ORDER BY id"));
        // The row is gone: its tombstone stays, and an insert stamped before the delete does not bring it back.
        String tombstone = "SELECT alive, alive_hlc, alive_node FROM syncsqlite.row_clock WHERE tbl = 'ghost' AND pk = '{\"id\": -1}'";
        assertEquals(List.of(List.of("f", Long.toString(at(1300)), "node-a")), f.query(tombstone));
        pushB(at(1290), insert("ghost", obj("id", -1), obj("v", "older")));
        assertEquals(List.of(List.of("f", Long.toString(at(1300)), "node-a")), f.query(tombstone), "the older insert lost");
    }

    @Test
    void aClockRowThatAppearsUnderTheTransactionRunsItAgainInsteadOfRejecting() {
        // The relay read key copy 1 without a row or a clock, so it inserts its clock without ON CONFLICT;
        // the trigger's direct-mode capture creates that clock row first: a unique violation on row_clock,
        // and the transaction runs again with upserts instead of being rejected.
        ClientTx t = tx(txA.incrementAndGet(), at(1350), insert("origin", obj("id", 1), obj()),
                insert("copy", obj("id", 1), obj("origin_id", 1, "v", "by client")));
        a.push(t);
        a.awaitAck(t.id());
        assertEquals(List.of(List.of("by client")), f.query("SELECT v FROM copy WHERE id = 1"));
    }

    private static List<List<String>> clockAlive(String table, int id) {
        return f.query("SELECT alive FROM syncsqlite.row_clock WHERE tbl = '" + table + "' AND pk = '{\"id\": " + id + "}'");
    }

    @Test
    void aChildDeletedByCascadeInTheTransactionThatWroteItKeepsItsTombstone() {
        pushA(at(1400), insert("parent", obj("id", 1), obj("name", "p")));
        pushA(at(1410), insert("child", obj("id", 10), obj("parent_id", 1, "v", "c")), delete("parent", obj("id", 1)));
        assertEquals(List.of(), f.query("SELECT id FROM child WHERE id = 10"));
        assertEquals(List.of(List.of("f")), clockAlive("child", 10));
    }

    @Test
    void anInsertOntoARowFromBeforeCaptureGivesNoClockToTheColumnsItDoesNotSend() {
        pushA(at(1500), insert("doc", obj("id", 100), obj("title", "from-a")));
        // body's only earlier write has no clock: an edit stamped before A's insert still wins it.
        pushB(at(1450), update("doc", obj("id", 100), obj("body", "from-b")));
        assertEquals(List.of("from-a", "from-b", "0"), row(100));
        // The same after a direct UPDATE gave the row a clock row that keeps "no existence clock".
        f.execute("UPDATE doc SET n = 5 WHERE id = 101");
        pushA(at(1500), insert("doc", obj("id", 101), obj("title", "from-a")));
        pushB(at(1450), update("doc", obj("id", 101), obj("body", "from-b")));
        assertEquals(List.of("from-a", "from-b", "5"), row(101));
    }

    @Test
    void aDirectInsertAfterADeleteDropsTheColumnClocksOfTheDeletedRow() {
        pushA(at(1600), insert("doc", obj("id", 17), obj("title", "t0", "body", "b0", "n", 0)));
        pushA(at(1700), update("doc", obj("id", 17), obj("title", "t1")));
        f.execute("DELETE FROM doc WHERE id = 17");
        f.execute("INSERT INTO doc VALUES (17, 'direct', 'direct', 1)");
        // Stamped before the direct insert (now), after the deleted row's own title clock (1700): it loses.
        pushB(at(1800), update("doc", obj("id", 17), obj("title", "stale")));
        assertEquals(List.of("direct", "direct", "1"), row(17));
    }

    /**
     * A row deleted and created again on one device (A, at 1920) and updated later on another (B, at 1950):
     * the update's column survives in every order: B first, then A's delete and recreate in one
     * transaction (row 18); A first (row 19); B first, then the delete and the recreate in two transactions
     * (row 20). A column the recreate does not send keeps the later value too (n), and the row's clocks say
     * so.
     */
    @Test
    void aRecreatedRowKeepsTheColumnsALaterUpdateWroteWhicheverArrivesFirst() {
        for (int id = 18; id <= 20; id++) {
            pushA(at(1900), insert("doc", obj("id", id), obj("title", "t0", "body", "b0", "n", 0)));
        }
        pushB(at(1950), update("doc", obj("id", 18), obj("body", "late", "n", 9)));
        pushA(at(1920), delete("doc", obj("id", 18)), insert("doc", obj("id", 18), obj("title", "again", "body", "again")));

        pushA(at(1920), delete("doc", obj("id", 19)), insert("doc", obj("id", 19), obj("title", "again", "body", "again")));
        pushB(at(1950), update("doc", obj("id", 19), obj("body", "late", "n", 9)));

        pushB(at(1950), update("doc", obj("id", 20), obj("body", "late", "n", 9)));
        pushA(at(1910), delete("doc", obj("id", 20)));
        pushA(at(1920), insert("doc", obj("id", 20), obj("title", "again", "body", "again")));

        for (int id = 18; id <= 20; id++) {
            assertEquals(List.of("again", "late", "9"), row(id), "row " + id);
            // Existence at the recreate; body and n keep the update's clock, so an edit between the two loses.
            assertEquals(List.of(List.of(Long.toString(at(1920)), "[" + at(1950) + ", \"node-b\"]",
                    "[" + at(1950) + ", \"node-b\"]")), f.query("SELECT alive_hlc, cols -> 'body', cols -> 'n' "
                    + "FROM syncsqlite.row_clock WHERE tbl = 'doc' AND pk = '{\"id\": " + id + "}'"), "row " + id);
            pushA(at(1930), update("doc", obj("id", id), obj("body", "between", "title", "between")));
            assertEquals(List.of("between", "late", "9"), row(id), "row " + id);
        }
    }

    @Test
    void aRecreateLaterThanTheDeletedRowsColumnsWritesThemAll() {
        pushA(at(2000), insert("doc", obj("id", 21), obj("title", "t0", "body", "b0", "n", 0)));
        pushB(at(2050), update("doc", obj("id", 21), obj("body", "late")));
        pushA(at(2060), delete("doc", obj("id", 21)), insert("doc", obj("id", 21), obj("title", "again", "body", "again")));
        assertEquals(Arrays.asList("again", "again", null), row(21));
        assertEquals(List.of(List.of("{}")), f.query(
                "SELECT cols::text FROM syncsqlite.row_clock WHERE tbl = 'doc' AND pk = '{\"id\": 21}'"));
    }

    @Test
    void laterChangesOfOneTransactionOverrideItsEarlierOnes() {
        pushA(at(800), insert("doc", obj("id", 13), obj("title", "first", "n", 1)),
                update("doc", obj("id", 13), obj("title", "second")),
                delete("doc", obj("id", 14)),
                insert("doc", obj("id", 14), obj("title", "re")));
        assertEquals(Arrays.asList("second", null, "1"), row(13));
        assertEquals("re", row(14).get(0));
    }
}
