package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.FeedKind;
import io.syncsqlite.protocol.Hlc;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.List;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client's feed carries the images of its own writes as PostgreSQL stored them, even where they only
 * repeat what it sent: the client relies on them to set its rows straight (EchoReviewTest,
 * EchoSecondReviewTest: a counter shown with its pending amount, a row removed by a UNIQUE collision, a
 * write whose transaction was refused before PostgreSQL). Other clients get the same entries.
 */
class EchoTest {

    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("echo",
                "CREATE TABLE plain (id int PRIMARY KEY, name text, qty int, note text, flag boolean)",
                "CREATE TABLE typed (id int PRIMARY KEY, price numeric(10,2), at timestamptz)",
                "CREATE TABLE shouted (id int PRIMARY KEY, name text)",
                "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " NEW.name := upper(NEW.name); RETURN NEW; END $$",
                "CREATE TRIGGER shout BEFORE INSERT ON shouted FOR EACH ROW EXECUTE FUNCTION shout()",
                "CREATE TABLE defaulted (id int PRIMARY KEY, name text, made text DEFAULT 'server')");
        // A first commit, so that every client here can start at a head above 0 (see atHead).
        f.execute("INSERT INTO defaulted (id, name) VALUES (0, 'seed')");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long now() {
        return Hlc.ofMillis(System.currentTimeMillis());
    }

    /** A client that starts at the feed's head: no snapshot, whose rows would stand in for the feed's entries. */
    private static TestClient atHead(String node) {
        return f.client(node, f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log"));
    }

    /** The entries {@code c} received for {@code table} row {@code id} at feed position {@code seq}. */
    private static List<FeedEntry> entries(TestClient c, long seq, String table, int id) {
        return c.entries().stream()
                .filter(e -> e.seq() == seq && e.table().equals(table) && e.pk().get("id").asInt() == id).toList();
    }

    @Test
    void ownInsertsAndDeletesComeBackAndReachOthers() {
        TestClient a = atHead("echo-a");
        TestClient b = atHead("echo-b");
        long h = now();
        a.push(tx(1, h, insert("plain", obj("id", 1), obj("id", 1, "name", "tab\t\"quoted\" ünï", "qty", 3,
                "note", null, "flag", true))));
        long s1 = a.awaitAck(1).seq();
        a.push(tx(2, h + 1, delete("plain", obj("id", 1))));
        long s2 = a.awaitAck(2).seq();

        a.awaitCursor(s2);
        b.awaitCursor(s2);
        for (TestClient c : List.of(a, b)) {
            FeedEntry inserted = entries(c, s1, "plain", 1).get(0);
            assertEquals("tab\t\"quoted\" ünï", inserted.row().get("name").asText());
            assertEquals(h, inserted.hlc());
            FeedEntry deleted = entries(c, s2, "plain", 1).get(0);
            assertEquals(FeedKind.DELETE, deleted.kind());
            assertEquals(h + 1, deleted.hlc());
        }
    }

    @Test
    void whatPostgresChangedComesBack() {
        TestClient a = atHead("echo-c");
        long h = now();
        a.push(tx(1, h,
                insert("typed", obj("id", 1), obj("id", 1, "price", new BigDecimal("1.5"), "at", null)),
                insert("typed", obj("id", 2), obj("id", 2, "price", null, "at", "2026-01-02 03:04:05")),
                insert("shouted", obj("id", 1), obj("id", 1, "name", "quiet")),
                insert("defaulted", obj("id", 1), obj("id", 1, "name", "x"))));
        long s = a.awaitAck(1).seq();
        a.awaitCursor(s);
        // 1.50 in PostgreSQL (this client's JSON reader reads it as 1.5: it only shows the entry came back)
        assertEquals(0, new BigDecimal("1.5").compareTo(entries(a, s, "typed", 1).get(0).row().get("price").decimalValue()));
        assertEquals("2026-01-02T03:04:05+00:00", entries(a, s, "typed", 2).get(0).row().get("at").asText());
        assertEquals("QUIET", entries(a, s, "shouted", 1).get(0).row().get("name").asText());
        assertEquals("server", entries(a, s, "defaulted", 1).get(0).row().get("made").asText());
    }

    @Test
    void anInsertMergedIntoNewerValuesComesBackAsMerged() {
        f.execute("INSERT INTO plain (id, name, qty) VALUES (10, 'server', 9)");
        TestClient a = atHead("echo-d");
        // Older than the direct write: PostgreSQL keeps its values.
        long old = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
        a.push(tx(1, old, insert("plain", obj("id", 10), obj("id", 10, "name", "client", "qty", 1, "note", null, "flag", null))));
        long s = a.awaitAck(1).seq();
        a.awaitCursor(s);
        List<FeedEntry> back = entries(a, s, "plain", 10);
        assertEquals(1, back.size(), back.toString());
        assertEquals("server", back.get(0).row().get("name").asText());
        assertEquals(9, back.get(0).row().get("qty").asInt());
    }

    @Test
    void aDeleteThatLostComesBackWithTheRow() {
        f.execute("INSERT INTO plain (id, name, qty) VALUES (20, 'kept', 1)");
        TestClient a = atHead("echo-e");
        long old = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
        a.push(tx(1, old, delete("plain", obj("id", 20))));
        long s = a.awaitAck(1).seq();
        a.awaitCursor(s);
        assertEquals(1, f.queryLong("SELECT count(*) FROM plain WHERE id = 20"));
        List<FeedEntry> back = entries(a, s, "plain", 20);
        assertEquals(1, back.size(), back.toString());
        assertEquals(FeedKind.UPSERT, back.get(0).kind());
        assertEquals("kept", back.get(0).row().get("name").asText());
    }

    @Test
    void updatesAndKeysWrittenTwiceComeBack() {
        TestClient a = atHead("echo-f");
        long h = now();
        a.push(tx(1, h, insert("plain", obj("id", 30), obj("id", 30, "name", "a", "qty", 1, "note", null, "flag", null))));
        long s1 = a.awaitAck(1).seq();
        a.push(tx(2, h + 1, update("plain", obj("id", 30), obj("qty", 2))));
        long s2 = a.awaitAck(2).seq();
        a.push(tx(3, h + 2,
                insert("plain", obj("id", 31), obj("id", 31, "name", "b", "qty", 1, "note", null, "flag", null)),
                update("plain", obj("id", 31), obj("name", "c"))));
        long s3 = a.awaitAck(3).seq();
        a.awaitCursor(s3);
        assertEquals(1, entries(a, s1, "plain", 30).size());
        assertEquals(2, entries(a, s2, "plain", 30).get(0).row().get("qty").asInt());
        List<FeedEntry> twice = entries(a, s3, "plain", 31);
        assertTrue(!twice.isEmpty(), "a key named twice in one transaction is echoed");
        assertEquals("c", twice.get(twice.size() - 1).row().get("name").asText());
    }
}
