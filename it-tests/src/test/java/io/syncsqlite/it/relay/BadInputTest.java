package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A misbehaving connection is closed with the protocol's close code, changes nothing in PostgreSQL, and
 * does not disturb another client connected at the same time.
 */
class BadInputTest {

    private static RelayFixture f;
    private static TestClient good;
    private static final AtomicLong goodTx = new AtomicLong();
    private long commitsBefore;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("bad", "CREATE TABLE t (id int PRIMARY KEY, v text)");
        good = f.client("good", 0);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @BeforeEach
    void countCommits() {
        commitsBefore = commits();
    }

    @AfterEach
    void postgresUnchangedAndTheOtherClientStillWorks() {
        assertEquals(commitsBefore, commits(), "the bad connection changed nothing");
        long id = goodTx.incrementAndGet();
        good.push(tx(id, Hlc.ofMillis(System.currentTimeMillis()), insert("t", obj("id", (int) id), obj("v", "ok"))));
        good.awaitAck(id);
        assertEquals(null, good.closeCode());
    }

    private static long commits() {
        return f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
    }

    private static Message.Push validPush() {
        return new Message.Push(java.util.List.of(tx(1, Hlc.ofMillis(System.currentTimeMillis()),
                insert("t", obj("id", 1000), obj("v", "bad")))));
    }

    @Test
    void garbageTextClosesWith1002AndTheReasonSaysWhy() {
        TestClient c = f.connect();
        c.sendText("{this is not json");
        assertEquals(1002, c.awaitClose());
        assertTrue(c.closeReason().startsWith("malformed message"), c.closeReason());
        assertTrue(c.closeReason().getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= 123);
    }

    @Test
    void aTransactionStampedFarInTheFutureIsNotAppliedAndTheReasonSaysWhy() {
        // It would win every last-writer-wins decision on its rows until the clocks caught up with it.
        TestClient c = f.client("bad-clock", 0);
        long dayAhead = Hlc.ofMillis(System.currentTimeMillis() + 86_400_000L);
        c.push(tx(1, dayAhead, insert("t", obj("id", 2000), obj("v", "from the future"))));
        assertEquals(1008, c.awaitClose());
        assertTrue(c.closeReason().startsWith("transaction clock is 86"), c.closeReason());
        assertTrue(c.closeReason().endsWith("s ahead of the relay's: check the device clock"), c.closeReason());
        assertTrue(c.messages().stream().noneMatch(m -> m instanceof Message.Ack || m instanceof Message.Reject),
                "neither applied nor rejected: the client keeps it and resends once the clocks agree");
        assertEquals(0, f.queryLong("SELECT count(*) FROM syncsqlite.client WHERE node = 'bad-clock' AND applied_tx > 0"));
    }

    @Test
    void aResendOfATransactionAlreadyAppliedIsAcknowledgedWhateverItsClock() {
        // Applied before relays bounded clocks, its acknowledgement lost: it must be answered, not refused.
        f.execute("INSERT INTO syncsqlite.client (node, applied_tx, applied_seq) VALUES ('old-clock', 1, 0)");
        TestClient c = f.client("old-clock", 0);
        c.push(tx(1, Hlc.ofMillis(System.currentTimeMillis() + 86_400_000L), insert("t", obj("id", 2001), obj("v", "x"))));
        c.awaitAck(1);
        assertEquals(null, c.closeCode());
        assertEquals(0, f.queryLong("SELECT count(*) FROM t WHERE id = 2001"));
    }

    @Test
    void aMessageFloodClosesWith1008() {
        TestClient c = f.client("bad-flood", 0);
        try {
            // Far above the per-client rate; stop once the relay has closed, as a client would.
            for (int i = 0; i < 5000 && c.closeCode() == null; i++) {
                c.sendProgress(0);
            }
        } catch (IllegalStateException closedMeanwhile) {
            // the relay closed the connection part-way through the flood, as it should
        }
        int code = c.awaitClose();
        if (code == -1) {
            // The relay closed while this client was still writing: the JDK client reports the broken pipe
            // instead of the close frame. Only valid progress messages were sent, so only a flood guard closes.
            assertTrue(c.errors().stream().anyMatch(e -> e.contains("Broken pipe") || e.contains("Connection reset")),
                    () -> "errors: " + c.errors());
        } else {
            assertEquals(1008, code, () -> "errors: " + c.errors());
            // Whichever guard trips first: the per-client rate, or the bound on messages waiting to be handled.
            assertTrue(java.util.Set.of("message rate exceeded", "too many messages waiting to be applied")
                    .contains(c.closeReason()), c.closeReason());
        }
    }

    @Test
    void anUnknownMessageTypeClosesWith1002() {
        TestClient c = f.client("bad-type", 0);
        c.sendText("{\"type\":\"shout\",\"text\":\"hi\"}");
        assertEquals(1002, c.awaitClose());
    }

    @Test
    void aBinaryFrameClosesWith1003() {
        TestClient c = f.client("bad-binary", 0);
        c.sendBinary(new byte[]{1, 2, 3});
        assertEquals(1003, c.awaitClose());
    }

    @Test
    void aPushBeforeHelloClosesWith1002() {
        TestClient c = f.connect();
        c.send(validPush());
        assertEquals(1002, c.awaitClose());
        assertEquals(0, f.queryLong("SELECT count(*) FROM t WHERE id = 1000"));
    }

    @Test
    void aWrongProtocolVersionOrASecondHelloClosesWith1002() {
        TestClient c = f.connect();
        c.send(new Message.Hello(2, "bad-version", 0));
        assertEquals(1002, c.awaitClose());

        TestClient twice = f.client("bad-twice", 0);
        twice.send(new Message.Hello(Message.PROTOCOL_VERSION, "bad-twice", 0));
        assertEquals(1002, twice.awaitClose());
    }

    @Test
    void aRelayMessageSentByAClientClosesWith1002() {
        TestClient c = f.client("bad-ack", 0);
        c.send(new Message.Ack(1, 1));
        assertEquals(1002, c.awaitClose());
    }

    @Test
    void theReservedNodeIdOfDirectWritesIsRefused() {
        TestClient c = f.connect();
        c.send(new Message.Hello(Message.PROTOCOL_VERSION, "~pg", 0));
        assertEquals(1002, c.awaitClose());
    }

    @Test
    void anUnknownTableIsRejectedAndTheConnectionStaysUsable() {
        TestClient c = f.client("bad-table", 0);
        c.push(tx(1, Hlc.ofMillis(System.currentTimeMillis()), insert("pg_authid", obj("oid", 1), obj("rolname", "x"))));
        Message.Reject r = c.awaitReject(1);
        assertEquals("42P01", r.sqlState());
        assertEquals(null, c.closeCode());
    }

    /**
     * A transaction in parts (Message.PushPart) is applied when its last part arrives, as one; anything else
     * between its parts, or a part of another transaction, closes with 1002 and applies nothing of it.
     */
    @Test
    void partsOfATransactionAreAppliedWholeAndNothingMayComeBetweenThem() {
        long now = Hlc.ofMillis(System.currentTimeMillis());
        TestClient ok = f.client("parts-ok", 0);
        ok.send(new Message.PushPart(tx(1, now, insert("t", obj("id", 9001), obj("v", "p1"))), false));
        ok.send(new Message.PushPart(tx(1, now, insert("t", obj("id", 9002), obj("v", "p2"))), false));
        ok.send(new Message.PushPart(tx(1, now, insert("t", obj("id", 9003), obj("v", "p3"))), true));
        ok.awaitAck(1);
        assertEquals(List.of(List.of("3", "1")), f.query(
                "SELECT count(*), count(DISTINCT xmin::text) FROM t WHERE id BETWEEN 9001 AND 9003"));
        commitsBefore = commits(); // that one was meant to commit; the bad ones below must not

        TestClient push = f.client("parts-push-between", 0);
        push.send(new Message.PushPart(tx(1, now, insert("t", obj("id", 9011), obj("v", "p1"))), false));
        push.push(tx(2, now, insert("t", obj("id", 9012), obj("v", "whole"))));
        assertEquals(1002, push.awaitClose());
        assertTrue(push.closeReason().contains("transaction 1 is missing its last part"), push.closeReason());

        TestClient other = f.client("parts-other-tx", 0);
        other.send(new Message.PushPart(tx(1, now, insert("t", obj("id", 9021), obj("v", "p1"))), false));
        other.send(new Message.PushPart(tx(2, now, insert("t", obj("id", 9022), obj("v", "p2"))), true));
        assertEquals(1002, other.awaitClose());
        assertEquals(List.of(List.of("0")), f.query("SELECT count(*) FROM t WHERE id BETWEEN 9011 AND 9022"));
    }

    @Test
    void aFrameOverTheLimitClosesWith1009() throws SQLException, IOException {
        try (Relay small = Relay.start(f.config().withMaxFrameBytes(64 * 1024))) {
            TestClient c = TestClient.connect(small.uri());
            try {
                c.hello("bad-big", 0);
                try {
                    c.sendText("{\"type\":\"progress\",\"cursor\":1" + " ".repeat(100_000) + "}");
                } catch (IllegalStateException e) {
                    // The relay may close before the client has finished sending.
                }
                assertEquals(1009, c.awaitClose());
            } finally {
                c.close();
            }
        }
    }
}
