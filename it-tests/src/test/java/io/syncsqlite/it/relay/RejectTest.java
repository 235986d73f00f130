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
import java.util.Comparator;
import java.util.List;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PostgreSQL refuses a transaction: only that one is rejected, with the rows to revert to. */
class RejectTest {

    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("reject",
                "CREATE TABLE account (id int PRIMARY KEY, email text NOT NULL UNIQUE, age int CHECK (age >= 0))",
                "CREATE TABLE note (id int PRIMARY KEY, account int NOT NULL REFERENCES account (id), body text)");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long now() {
        return Hlc.ofMillis(System.currentTimeMillis());
    }

    @Test
    void aUniqueViolationIsRejectedWithTheCurrentRowsAndTheNextTransactionStillApplies() {
        TestClient c = f.client("reject-unique", 0);
        long h = now();
        c.push(tx(1, h, insert("account", obj("id", 1), obj("email", "ann@example.org"))));
        c.awaitAck(1);
        c.push(tx(2, h + 1, update("account", obj("id", 1), obj("age", 30)),
                        insert("account", obj("id", 2), obj("email", "ann@example.org"))),
                tx(3, h + 2, insert("account", obj("id", 3), obj("email", "bob@example.org"))));

        Message.Reject r = c.awaitReject(2);
        assertEquals("23505", r.sqlState());
        assertTrue(r.reason().contains("account_email_key"), r.reason());
        List<FeedEntry> current = r.current().stream().sorted(Comparator.comparing(e -> e.pk().get("id").asInt())).toList();
        assertEquals(2, current.size(), current.toString());
        assertEquals(FeedKind.UPSERT, current.get(0).kind());
        assertTrue(current.get(0).row().get("age").isNull(), "the update of row 1 was rolled back: " + current.get(0));
        assertEquals(FeedKind.DELETE, current.get(1).kind());
        assertEquals(0, current.get(1).seq());

        c.awaitAck(3);
        assertEquals(List.of(Arrays.asList("1", null), Arrays.asList("3", null)).toString(),
                f.query("SELECT id, age FROM account WHERE id IN (1, 2, 3) ORDER BY id").toString());

        // The rejection is recorded: a resend is answered, not retried.
        TestClient again = f.connect();
        assertEquals(3, again.hello("reject-unique", c.cursor()).appliedTx());
        again.push(tx(2, h + 1, update("account", obj("id", 1), obj("age", 30)),
                insert("account", obj("id", 2), obj("email", "ann@example.org"))));
        again.awaitAck(2);
        assertEquals(0, f.queryLong("SELECT count(*) FROM account WHERE id = 2"));
    }

    @Test
    void dataAndForeignKeyErrorsAreRejectedToo() {
        TestClient c = f.client("reject-data", 0);
        long h = now();
        c.push(tx(1, h, insert("account", obj("id", 10), obj("email", "x@example.org", "age", "not a number"))),
                tx(2, h + 1, insert("note", obj("id", 1), obj("account", 999, "body", "orphan"))),
                tx(3, h + 2, insert("account", obj("id", 11), obj("email", "y@example.org", "age", -1))),
                tx(4, h + 3, insert("account", obj("id", 12), obj("email", "z@example.org", "age", 5))));
        assertEquals("22P02", c.awaitReject(1).sqlState());
        assertEquals("23503", c.awaitReject(2).sqlState());
        assertEquals("23514", c.awaitReject(3).sqlState());
        c.awaitAck(4);
        assertEquals(List.of(List.of("12")), f.query("SELECT id FROM account WHERE id BETWEEN 10 AND 12"));
    }

    @Test
    void unknownTablesColumnsAndIncompleteKeysAreRejectedWithoutTouchingPostgres() {
        TestClient c = f.client("reject-names", 0);
        long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
        long h = now();
        c.push(tx(1, h, insert("nope", obj("id", 1), obj("x", 1))),
                tx(2, h + 1, insert("account", obj("id", 20), obj("email", "q@example.org", "nickname", "q"))),
                tx(3, h + 2, insert("account", obj("email", "q@example.org"), obj("age", 1))),
                tx(4, h + 3, insert("account", obj("id", 21), obj("email", "r@example.org"))));
        assertEquals("42P01", c.awaitReject(1).sqlState());
        assertEquals("42703", c.awaitReject(2).sqlState());
        assertEquals("42703", c.awaitReject(3).sqlState());
        c.awaitAck(4);
        assertEquals(commits + 1, f.queryLong("SELECT count(*) FROM syncsqlite.commit_log"));
        assertEquals(0, f.queryLong("SELECT count(*) FROM account WHERE id = 20"));
    }
}
