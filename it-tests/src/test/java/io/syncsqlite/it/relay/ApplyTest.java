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

import java.util.Arrays;
import java.util.List;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Client pushes land in PostgreSQL, are acknowledged after commit, and are never applied twice. */
class ApplyTest {

    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("apply",
                "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL UNIQUE, qty int NOT NULL DEFAULT 0,"
                        + " price numeric(10,2), active boolean, data bytea)",
                // Counts every write the relay makes to items: a second apply of the same transaction,
                // even one that changes no value, would add a row here.
                "CREATE TABLE audit (n bigserial PRIMARY KEY, item int, op text)",
                "CREATE FUNCTION audit_items() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " INSERT INTO audit (item, op) VALUES (coalesce(NEW.id, OLD.id), TG_OP); RETURN NULL; END $$",
                "CREATE TRIGGER audit_items AFTER INSERT OR UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION audit_items()");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long now() {
        return Hlc.ofMillis(System.currentTimeMillis());
    }

    @Test
    void insertUpdateDeleteLandInPostgresAndAreAcknowledgedInOrder() {
        TestClient c = f.client("apply-a", 0);
        long h = now();
        c.push(tx(1, h, insert("items", obj("id", 1), obj("name", "apple", "qty", 3, "price", 1.5))));
        Message.Ack a1 = c.awaitAck(1);
        assertEquals(List.of(List.of("1", "apple", "3", "1.50")), f.query("SELECT id, name, qty, price FROM items WHERE id = 1"));

        c.push(tx(2, h + 1, update("items", obj("id", 1), obj("qty", 4))),
                tx(3, h + 2, delete("items", obj("id", 1))));
        Message.Ack a2 = c.awaitAck(2);
        Message.Ack a3 = c.awaitAck(3);
        assertTrue(a1.seq() < a2.seq() && a2.seq() < a3.seq(), "seqs increase: " + a1 + a2 + a3);
        assertEquals(0, f.queryLong("SELECT count(*) FROM items WHERE id = 1"));

        // The client's own commits come back through the feed, each after its ack.
        c.awaitCursor(a3.seq());
        List<Message> messages = c.messages();
        for (Message.Ack ack : List.of(a1, a2, a3)) {
            int ackAt = messages.indexOf(ack);
            for (int i = 0; i < ackAt; i++) {
                if (messages.get(i) instanceof Message.Changes ch) {
                    assertTrue(ch.entries().stream().noneMatch(e -> e.seq() == ack.seq()),
                            "changes with seq " + ack.seq() + " sent before its ack");
                }
            }
        }
        List<FeedEntry> mine = c.entries().stream().filter(e -> e.table().equals("items") && e.pk().get("id").asInt() == 1).toList();
        assertEquals(3, mine.size(), mine.toString());
        assertEquals(FeedKind.UPSERT, mine.get(0).kind());
        assertEquals(4, mine.get(1).row().get("qty").asInt());
        assertEquals(FeedKind.DELETE, mine.get(2).kind());
        assertEquals(h + 2, mine.get(2).hlc());
    }

    @Test
    void sqliteValuesAreConvertedToPostgresTypes() {
        TestClient c = f.client("apply-values", 0);
        c.push(tx(1, now(), insert("items", obj("id", 20), obj("name", "blob", "active", 1, "data", "\\x00ff10")),
                insert("ITEMS", obj("ID", 21), obj("Name", "blob2", "active", 0, "data", null))));
        c.awaitAck(1);
        assertEquals(List.of(List.of("20", "t", "\\x00ff10"), Arrays.asList("21", "f", null)),
                f.query("SELECT id, active, data FROM items WHERE id IN (20, 21) ORDER BY id"));
    }

    @Test
    void aResentTransactionIsAcknowledgedButNotAppliedAgain() {
        TestClient c = f.client("apply-resend", 0);
        long h = now();
        c.push(tx(1, h, insert("items", obj("id", 30), obj("name", "pear", "qty", 1))),
                tx(2, h + 1, update("items", obj("id", 30), obj("qty", 2))));
        long seq = c.awaitAck(2).seq();
        long changes = f.queryLong("SELECT count(*) FROM syncsqlite.change WHERE tbl = 'items' AND pk = '{\"id\": 30}'");
        long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
        assertEquals(2, f.queryLong("SELECT count(*) FROM audit WHERE item = 30"));

        // The same transactions again on the same connection: acknowledged at the stored position.
        c.push(tx(1, h, insert("items", obj("id", 30), obj("name", "pear", "qty", 1))),
                tx(2, h + 1, update("items", obj("id", 30), obj("qty", 2))));
        c.await(() -> c.messages().stream().filter(m -> m instanceof Message.Ack a && a.tx() == 2).count() == 2 ? true : null,
                "second ack of tx 2");
        assertEquals(changes, f.queryLong("SELECT count(*) FROM syncsqlite.change WHERE tbl = 'items' AND pk = '{\"id\": 30}'"));
        assertEquals(commits, f.queryLong("SELECT count(*) FROM syncsqlite.commit_log"));
        assertEquals(2, f.queryLong("SELECT count(*) FROM audit WHERE item = 30"));

        // And after a relay restart, from a new connection: the welcome says what is applied.
        f.restart();
        TestClient again = f.connect();
        Message.Welcome w = again.hello("apply-resend", c.cursor());
        assertEquals(2, w.appliedTx());
        assertEquals(seq, w.appliedSeq());
        again.push(tx(2, h + 1, update("items", obj("id", 30), obj("qty", 2))));
        assertEquals(seq, again.awaitAck(2).seq());
        again.push(tx(3, h + 2, update("items", obj("id", 30), obj("qty", 3))));
        again.awaitAck(3);
        assertEquals(3, f.queryLong("SELECT count(*) FROM audit WHERE item = 30"));
        assertEquals(3, f.queryLong("SELECT qty FROM items WHERE id = 30"));
    }

    /**
     * A transaction at or below the node's applied id is a resend only with the clock it was applied with:
     * with another it comes from a copy of the node's file, which the relay neither applies nor acknowledges
     * (that would drop it) but closes with 4409. A client's clock check (feature "clocks") finds the first
     * such transaction among those it waits an answer for: by the clock recorded for each id, an id the node
     * never used (every id from its first has a record), and not a transaction refused before PostgreSQL.
     */
    @Test
    void aReusedTransactionIdWithAnotherClockIsACopysAndTheClockCheckFindsIt() {
        TestClient c = f.client("apply-copy", 0);
        long h = now();
        c.push(tx(10, h, insert("items", obj("id", 40), obj("name", "plum", "qty", 1))),
                tx(20, h + 5, update("items", obj("id", 40), obj("qty", 2))),
                tx(30, h + 6, insert("no_such_table", obj("id", 1), obj("id", 1))),
                tx(40, h + 7, update("items", obj("id", 40), obj("qty", 3))));
        c.awaitAck(40);
        assertEquals("42P01", c.awaitReject(30).sqlState());
        long audited = f.queryLong("SELECT count(*) FROM audit WHERE item = 40");

        TestClient again = f.connect();
        assertEquals(40, again.hello("apply-copy", c.cursor()).appliedTx());
        again.send(new Message.SchemaRequest(Message.FEATURES_VERSION));
        assertTrue(again.awaitMessage(Message.Features.class).names().contains(Message.FEATURE_CLOCKS));
        again.awaitMessage(Message.Schema.class);
        // The node's own: the clocks it was applied with, the one refused before PostgreSQL included.
        assertEquals(0, check(again, List.of(10L, 20L, 30L, 40L), List.of(h, h + 5, h + 6, h + 7)));
        // Another clock under an applied id, earlier or later; an id the node never used.
        assertEquals(20, check(again, List.of(10L, 20L, 40L), List.of(h, h + 9, h + 10)));
        assertEquals(20, check(again, List.of(20L), List.of(h + 4)));
        assertEquals(15, check(again, List.of(10L, 15L, 40L), List.of(h, h + 2, h + 7)));
        // A true resend is acknowledged.
        again.push(tx(20, h + 5, update("items", obj("id", 40), obj("qty", 2))));
        again.awaitAck(20);
        // A resend that no longer validates (as after a column was dropped) is acknowledged too, not rejected:
        // PostgreSQL applied it.
        again.push(tx(40, h + 7, update("items", obj("id", 40), obj("no_such_column", 3))));
        assertTrue(again.awaitOutcome(40) instanceof Message.Ack, again.messages().toString());
        assertEquals(0, f.queryLong("SELECT count(*) FROM syncsqlite.rejection WHERE node = 'apply-copy' AND tx = 40"));

        // A copy's transaction 20, stamped otherwise: refused, not acknowledged, not applied.
        TestClient copy = f.connect();
        copy.hello("apply-copy", c.cursor());
        copy.push(tx(20, h + 9, update("items", obj("id", 40), obj("qty", 7))));
        assertEquals(4409, copy.awaitClose());
        assertTrue(copy.messages().stream().noneMatch(m -> m instanceof Message.Ack), copy.messages().toString());
        assertEquals(3, f.queryLong("SELECT qty FROM items WHERE id = 40"));
        assertEquals(audited, f.queryLong("SELECT count(*) FROM audit WHERE item = 40"));
    }

    private static long check(TestClient c, List<Long> txs, List<Long> hlcs) {
        return c.clockCheck(txs, hlcs);
    }
}
