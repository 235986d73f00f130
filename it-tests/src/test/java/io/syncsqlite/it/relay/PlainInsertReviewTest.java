package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.FeedEntry;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.Message;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static io.syncsqlite.it.support.Json.update;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the relay's plain INSERT for rows read as absent (61a7cff), which then ran an upsert attempt after any
 * 23505: on a table with a deferrable key or an insert rule PostgreSQL refuses ON CONFLICT outright, so every
 * unique violation left the client's queue stuck; the upsert fired the table's UPDATE triggers (an append-only
 * ledger refused valid transactions); and a second psql insert during that attempt was overwritten. Since, rows are
 * always inserted plainly, and only a conflict on a key (the table's primary key, row_clock) runs the transaction
 * again, on fresh state; an application UNIQUE column is rejected as before.
 */
class PlainInsertReviewTest {

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path dir;

    private static long now() {
        return Hlc.ofMillis(System.currentTimeMillis());
    }

    /**
     * A table whose key is DEFERRABLE (valid, and synced: DirectWriteTest's shift table) with an application UNIQUE
     * column. The plain insert now works; a client insert that takes a used email must be rejected with 23505 and
     * the client's next transaction must apply. The upsert attempt after the 23505 uses ON CONFLICT (id), which
     * PostgreSQL refuses on a deferrable key (55000) whether or not a row conflicts.
     */
    @Test
    void aUniqueViolationOnATableWithADeferrableKeyIsRejected() {
        try (RelayFixture f = RelayFixture.start("pirdef",
                "CREATE TABLE acct (id int PRIMARY KEY DEFERRABLE, email text UNIQUE, age int)")) {
            TestClient c = f.client("pirdef-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "ann@example.org"))));
            c.awaitAck(1);
            Message m = outcomeResending(f, c, "pirdef-a", 2, tx(2, h + 1,
                    insert("acct", obj("id", 2), obj("email", "ann@example.org"))));
            assertTrue(m instanceof Message.Reject, "tx 2 must be rejected: " + m);
            assertEquals("23505", ((Message.Reject) m).sqlState());
            assertEquals(List.of(List.of("1")), f.query("SELECT id FROM acct ORDER BY id"));
        }
    }

    /**
     * Pushes {@code t} and waits for its outcome; when the relay closes the connection instead (1011, "resend
     * later"), connects again and resends, as the driver does, up to three times. Returns the outcome, or a
     * description of the closes.
     */
    private static Message outcomeResending(RelayFixture f, TestClient first, String node, long id, io.syncsqlite.protocol.ClientTx t) {
        TestClient c = first;
        StringBuilder closes = new StringBuilder();
        for (int round = 0; round < 4; round++) {
            c.push(t);
            TestClient cc = c;
            Object o = cc.await(() -> {
                for (Message x : cc.messages()) {
                    if (x instanceof Message.Ack a && a.tx() == id || x instanceof Message.Reject r && r.tx() == id) {
                        return x;
                    }
                }
                return cc.closeCode() != null ? (Object) ("closed " + cc.closeCode() + " " + cc.closeReason()) : null;
            }, "outcome of tx " + id + " or a close");
            if (o instanceof Message m) {
                return m;
            }
            closes.append(o).append("; ");
            c = f.client(node, cc.cursor());
        }
        throw new AssertionError("tx " + id + " never answered, after 3 resends: " + closes);
    }

    /** The same with DEFERRABLE INITIALLY DEFERRED: the unique column is not deferred, the key is. */
    @Test
    void aUniqueViolationOnATableWithAnInitiallyDeferredKeyIsRejected() {
        try (RelayFixture f = RelayFixture.start("pirdef2",
                "CREATE TABLE acct (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, email text UNIQUE, age int)")) {
            TestClient c = f.client("pirdef2-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "ann@example.org"))));
            c.awaitAck(1);
            Message m = outcomeResending(f, c, "pirdef2-a", 2, tx(2, h + 1, update("acct", obj("id", 1), obj("age", 3)),
                    insert("acct", obj("id", 2), obj("email", "ann@example.org"))));
            assertTrue(m instanceof Message.Reject, "tx 2 must be rejected: " + m);
            assertEquals("23505", ((Message.Reject) m).sqlState());
            assertEquals(List.of(Arrays.asList("1", null)), f.query("SELECT id, age FROM acct ORDER BY id"));
        }
    }

    /**
     * Regrouping (inserts before the update that frees the email) meets the unique column; the original order is
     * valid. After the upsert attempt and the in-order attempt, the transaction applies.
     */
    @Test
    void aUniqueValueMovedBetweenRowsStillAppliesAfterTheExtraAttempts() {
        try (RelayFixture f = RelayFixture.start("pirmove",
                "CREATE TABLE acct (id int PRIMARY KEY, email text UNIQUE)")) {
            TestClient c = f.client("pirmove-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "a"))));
            c.awaitAck(1);
            c.push(tx(2, h + 1, insert("acct", obj("id", 2), obj("email", "q")),
                    update("acct", obj("id", 1), obj("email", "z")),
                    insert("acct", obj("id", 3), obj("email", "a"))));
            c.awaitAck(2);
            assertEquals(List.of(List.of("1", "z"), List.of("2", "q"), List.of("3", "a")),
                    f.query("SELECT id, email FROM acct ORDER BY id"));
        }
    }

    /**
     * A child insert whose parent another client deleted (23503, restored by compensation) in the same
     * transaction as an insert taking a used email: rejected with 23505, nothing of it stays.
     */
    @Test
    void aUniqueViolationWithAForeignKeyCompensationIsRejected() {
        try (RelayFixture f = RelayFixture.start("pirfk",
                "CREATE TABLE acct (id int PRIMARY KEY, email text UNIQUE)",
                "CREATE TABLE note (id int PRIMARY KEY, acct int REFERENCES acct (id), body text)")) {
            TestClient a = f.client("pirfk-a", 0);
            TestClient b = f.client("pirfk-b", 0);
            long h = now();
            a.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "a")),
                    insert("acct", obj("id", 2), obj("email", "b"))));
            a.awaitAck(1);
            b.push(tx(1, h + 10, delete("acct", obj("id", 1))));
            b.awaitAck(1);
            a.push(tx(2, h + 5, insert("note", obj("id", 1), obj("acct", 1, "body", "x")),
                    insert("acct", obj("id", 3), obj("email", "b"))),
                    tx(3, h + 6, insert("acct", obj("id", 4), obj("email", "d"))));
            Message.Reject r = a.awaitReject(2);
            assertEquals("23505", r.sqlState());
            a.awaitAck(3);
            assertEquals(0, f.queryLong("SELECT count(*) FROM note"));
            assertEquals(0, f.queryLong("SELECT count(*) FROM acct WHERE id = 3"));
        }
    }

    /** Insert, delete and insert again of one key in one transaction; and a cascade then the child again. */
    @Test
    void insertDeleteInsertAndCascadeThenReinsertInOneTransaction() {
        try (RelayFixture f = RelayFixture.start("piridi",
                "CREATE TABLE p (id int PRIMARY KEY, v text)",
                "CREATE TABLE ch (id int PRIMARY KEY, p int REFERENCES p (id) ON DELETE CASCADE, v text)")) {
            TestClient c = f.client("piridi-a", 0);
            long h = now();
            c.push(tx(1, h, insert("p", obj("id", 1), obj("v", "one")),
                    delete("p", obj("id", 1)),
                    insert("p", obj("id", 1), obj("v", "two"))));
            c.awaitAck(1);
            assertEquals(List.of(List.of("1", "two")), f.query("SELECT id, v FROM p"));
            c.push(tx(2, h + 1, insert("p", obj("id", 2), obj("v", "p2")),
                    insert("ch", obj("id", 10), obj("p", 2, "v", "c"))));
            c.awaitAck(2);
            c.push(tx(3, h + 2, delete("p", obj("id", 2)),
                    insert("p", obj("id", 2), obj("v", "p2b")),
                    insert("ch", obj("id", 10), obj("p", 2, "v", "c2"))));
            c.awaitAck(3);
            assertEquals(List.of(List.of("2", "p2b")), f.query("SELECT id, v FROM p WHERE id = 2"));
            assertEquals(List.of(List.of("10", "2", "c2")), f.query("SELECT id, p, v FROM ch"));
            assertEquals(3, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl IN ('p', 'ch') AND alive"));
        }
    }

    private static final String[] STALL_DDL = {
        "CREATE TABLE t (id int PRIMARY KEY, v text, w text, n bigint NOT NULL DEFAULT 0)",
        "CREATE SCHEMA side",
        "CREATE TABLE side.stall (k int)",
        "CREATE SEQUENCE side.arrived",
        // The relay's insert of a key listed in side.stall waits until the key is taken off the list; each arrival
        // at a listed key counts in a sequence (not rolled back with the relay's attempt).
        "CREATE FUNCTION side.stall_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                + " IF coalesce(current_setting('syncsqlite.node', true), '') <> ''"
                + " AND EXISTS (SELECT FROM side.stall WHERE k = NEW.id) THEN PERFORM nextval('side.arrived'); END IF;"
                + " WHILE coalesce(current_setting('syncsqlite.node', true), '') <> ''"
                + " AND EXISTS (SELECT FROM side.stall WHERE k = NEW.id) LOOP PERFORM pg_sleep(0.05); END LOOP;"
                + " RETURN NEW; END $$",
        "CREATE TRIGGER stall_insert BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION side.stall_insert()",
    };

    private static void awaitArrivals(RelayFixture f, long n) {
        await().atMost(Duration.ofSeconds(20)).until(() ->
                f.queryLong("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM side.arrived") >= n);
    }

    /**
     * The second conflict: psql creates key 1 while the relay's first attempt inserts it (23505, the upsert
     * attempt), then key 2 while the upsert attempt inserts that one. psql wrote a minute after the client: its
     * values must win key 2 as they win key 1 (InsertRaceTest), not be overwritten by ON CONFLICT DO UPDATE.
     */
    @Test
    void aSecondDirectInsertDuringTheUpsertAttemptIsMergedNotOverwritten() {
        try (RelayFixture f = RelayFixture.start("pirrace2", STALL_DDL)) {
            f.execute("INSERT INTO side.stall VALUES (1), (2)");
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            try (TestClient a = f.client("pirrace2-a", 0)) {
                a.push(tx(1, clientHlc, insert("t", obj("id", 1), obj("v", "client", "n", 5)),
                        insert("t", obj("id", 2), obj("v", "client", "n", 5))));
                awaitArrivals(f, 1);
                f.execute("INSERT INTO t (id, v, w, n) VALUES (1, 'psql', 'psql-w', 100)");
                f.execute("DELETE FROM side.stall WHERE k = 1");
                awaitArrivals(f, 2);
                f.execute("INSERT INTO t (id, v, w, n) VALUES (2, 'psql', 'psql-w', 100)");
                f.execute("DELETE FROM side.stall WHERE k = 2");
                a.awaitAck(1);
                assertEquals(List.of(List.of("1", "psql", "psql-w", "100"), List.of("2", "psql", "psql-w", "100")),
                        f.query("SELECT id, v, w, n FROM t ORDER BY id"), "psql's later values are kept");
                // The client hears PostgreSQL's row.
                a.await(() -> {
                    FeedEntry last = a.entries().stream().filter(e -> e.table().equals("t") && e.pk().get("id").asInt() == 2)
                            .reduce((x, y) -> y).orElse(null);
                    return last != null && last.row() != null && "psql".equals(last.row().path("v").asText()) ? true : null;
                }, "key 2 as PostgreSQL has it");
            }
        }
    }

    /** Two clients insert the same new keys at once, each its own column: every row ends with both columns. */
    @Test
    void twoClientsInsertingTheSameNewKeyAtOnceMerge() throws Exception {
        try (RelayFixture f = RelayFixture.start("pirtwo",
                "CREATE TABLE t (id int PRIMARY KEY, v text, w text)")) {
            TestClient a = f.client("pirtwo-a", 0);
            TestClient b = f.client("pirtwo-b", 0);
            long h = now();
            for (int i = 1; i <= 20; i++) {
                a.push(tx(i, h + i, insert("t", obj("id", i), obj("v", "a" + i))));
                b.push(tx(i, h + i, insert("t", obj("id", i), obj("w", "b" + i))));
            }
            a.awaitAck(20);
            b.awaitAck(20);
            assertTrue(a.messages().stream().noneMatch(m -> m instanceof Message.Reject), "a: " + a.messages());
            assertTrue(b.messages().stream().noneMatch(m -> m instanceof Message.Reject), "b: " + b.messages());
            // Equal clocks: node order decides, and an insert stamps every column of the row it creates. b's w wins
            // whichever came first (b > a; a's insert does not name w); a's v survives only where a's insert came
            // first (b's row, created first, has v NULL at b's clock). Each key is one row either way.
            assertEquals(20, f.queryLong("SELECT count(*) FROM t WHERE w = 'b' || id AND (v IS NULL OR v = 'a' || id)"));
            assertEquals(20, f.queryLong("SELECT count(*) FROM t"));
        }
    }

    /**
     * A table with an application rule (an audit row for each insert, DO ALSO): PostgreSQL refuses ON CONFLICT on
     * such a table (0A000), so the upsert attempt after a unique violation fails for another reason than the data.
     */
    @Test
    void aUniqueViolationOnATableWithAnInsertRuleIsRejected() {
        try (RelayFixture f = RelayFixture.start("pirrule",
                "CREATE TABLE acct (id int PRIMARY KEY, email text UNIQUE)",
                "CREATE SCHEMA side",
                "CREATE TABLE side.audit (id int, at timestamptz DEFAULT now())",
                "CREATE RULE acct_audit AS ON INSERT TO acct DO ALSO INSERT INTO side.audit (id) VALUES (NEW.id)")) {
            TestClient c = f.client("pirrule-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "ann@example.org"))));
            c.awaitAck(1);
            Message m = outcomeResending(f, c, "pirrule-a", 2, tx(2, h + 1,
                    insert("acct", obj("id", 2), obj("email", "ann@example.org"))));
            assertTrue(m instanceof Message.Reject, "tx 2 must be rejected: " + m);
            assertEquals("23505", ((Message.Reject) m).sqlState());
            assertEquals(List.of(List.of("1")), f.query("SELECT id FROM acct ORDER BY id"));
        }
    }

    /**
     * A deferrable key, and psql creating key 1 while the relay inserts keys 1 and 2 of one client transaction:
     * the transaction must apply (key 1 merged, key 2 inserted) without the relay dropping the client's
     * connection (the upsert attempt's ON CONFLICT on a deferrable key fails with 55000).
     */
    @Test
    void aDirectInsertRaceOnATableWithADeferrableKeyApplies() {
        String[] ddl = STALL_DDL.clone();
        ddl[0] = "CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, v text, w text, n bigint NOT NULL DEFAULT 0)";
        try (RelayFixture f = RelayFixture.start("pirdefrace", ddl)) {
            f.execute("INSERT INTO side.stall VALUES (1)");
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            try (TestClient a = f.client("pirdefrace-a", 0)) {
                io.syncsqlite.protocol.ClientTx t = tx(1, clientHlc, insert("t", obj("id", 1), obj("v", "client", "n", 5)),
                        insert("t", obj("id", 2), obj("v", "client", "n", 5)));
                a.push(t);
                awaitArrivals(f, 1);
                f.execute("INSERT INTO t (id, v, w, n) VALUES (1, 'psql', 'psql-w', 100)");
                f.execute("DELETE FROM side.stall WHERE k = 1");
                // (Observed: the upsert attempt fails with 55000 and the relay drops the connection once; the resend
                // then applies. Tolerated here: the driver resends.)
                a.await(() -> a.closeCode() != null || a.messages().stream().anyMatch(x -> x instanceof Message.Ack) ? true : null,
                        "ack or close");
                Message m = a.closeCode() == null ? a.awaitOutcome(1) : outcomeResending(f, f.client("pirdefrace-a", 0), "pirdefrace-a", 1, t);
                assertTrue(m instanceof Message.Ack, "acknowledged: " + m);
                assertEquals(List.of(List.of("1", "psql", "psql-w", "100"), Arrays.asList("2", "client", null, "5")),
                        f.query("SELECT id, v, w, n FROM t ORDER BY id"));
            }
        }
    }

    /** INITIALLY DEFERRED key: the relay's insert over psql's key fails only at commit; then it merges. */
    @Test
    void aDirectInsertRaceOnAnInitiallyDeferredKeyMerges() {
        String[] ddl = STALL_DDL.clone();
        ddl[0] = "CREATE TABLE t (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v text, w text, n bigint NOT NULL DEFAULT 0)";
        try (RelayFixture f = RelayFixture.start("pirdefrace2", ddl)) {
            f.execute("INSERT INTO side.stall VALUES (1)");
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            try (TestClient a = f.client("pirdefrace2-a", 0)) {
                a.push(tx(1, clientHlc, insert("t", obj("id", 1), obj("v", "client", "n", 5))));
                awaitArrivals(f, 1);
                f.execute("INSERT INTO t (id, v, w, n) VALUES (1, 'psql', 'psql-w', 100)");
                f.execute("DELETE FROM side.stall WHERE k = 1");
                a.awaitAck(1);
                assertEquals(List.of(List.of("1", "psql", "psql-w", "100")), f.query("SELECT id, v, w, n FROM t ORDER BY id"));
                assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 't' AND alive"));
            }
        }
    }

    /**
     * Identity GENERATED ALWAYS key, a generated column and a UNIQUE index on an expression: a client insert whose
     * lower-cased email is taken is rejected with 23505; one that is not applies with the generated value.
     */
    @Test
    void identityKeyGeneratedColumnAndExpressionIndex() {
        try (RelayFixture f = RelayFixture.start("pirident",
                "CREATE TABLE acct (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text,"
                        + " low text GENERATED ALWAYS AS (lower(email)) STORED)",
                "CREATE UNIQUE INDEX acct_low ON acct (lower(email))")) {
            TestClient c = f.client("pirident-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "Ann@example.org"))));
            c.awaitAck(1);
            c.push(tx(2, h + 1, insert("acct", obj("id", 2), obj("email", "ANN@example.org"))),
                    tx(3, h + 2, insert("acct", obj("id", 3), obj("email", "Bob@example.org"))));
            assertEquals("23505", c.awaitReject(2).sqlState());
            c.awaitAck(3);
            assertEquals(List.of(List.of("1", "ann@example.org"), List.of("3", "bob@example.org")),
                    f.query("SELECT id, low FROM acct ORDER BY id"));
        }
    }

    /**
     * End to end: a device's insert takes an email PostgreSQL already has, on a table whose key is DEFERRABLE. The
     * device must get the rejection (its row reverted) and its later writes must sync. Observed: the relay answers
     * every resend with 55000 and closes; the device's queue is stuck for good.
     */
    @Test
    void endToEndADeviceUniqueViolationOnADeferrableKeyTableIsRevertedAndLaterWritesSync() throws Exception {
        try (io.syncsqlite.it.harness.Cluster c = io.syncsqlite.it.harness.Cluster.start("pire2e", dir,
                "CREATE TABLE acct (id int PRIMARY KEY DEFERRABLE, email text UNIQUE)")) {
            io.syncsqlite.it.harness.Client a = c.client("a", "CREATE TABLE acct (id INTEGER PRIMARY KEY, email TEXT)");
            a.exec("INSERT INTO acct VALUES (1, 'ann')");
            a.awaitSynced();
            a.exec("INSERT INTO acct VALUES (2, 'ann')");
            a.exec("INSERT INTO acct VALUES (3, 'bob')");
            String q = "SELECT id, email FROM acct ORDER BY id";
            c.awaitConverged(q, a);
            assertEquals(List.of(io.syncsqlite.it.harness.Rows.row("id", 1, "email", "ann"),
                    io.syncsqlite.it.harness.Rows.row("id", 3, "email", "bob")), c.pgRows(q));
        }
    }

    /**
     * A composite key (region, id) and a UNIQUE (region, email) (partitioned tables are not synced: only plain
     * tables): a plain insert applies, a taken email is rejected with 23505, and the next transaction applies.
     */
    @Test
    void compositeKeyWithACompositeUniqueColumn() {
        try (RelayFixture f = RelayFixture.start("pirpart",
                "CREATE TABLE acct (region text, id int, email text, PRIMARY KEY (region, id), UNIQUE (region, email))")) {
            TestClient c = f.client("pirpart-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("region", "eu", "id", 1), obj("email", "a")),
                    insert("acct", obj("region", "us", "id", 1), obj("email", "a"))));
            c.awaitAck(1);
            c.push(tx(2, h + 1, insert("acct", obj("region", "eu", "id", 2), obj("email", "a"))),
                    tx(3, h + 2, insert("acct", obj("region", "eu", "id", 3), obj("email", "c"))));
            assertEquals("23505", c.awaitReject(2).sqlState());
            c.awaitAck(3);
            assertEquals(List.of(List.of("eu", "1"), List.of("eu", "3"), List.of("us", "1")),
                    f.query("SELECT region, id FROM acct ORDER BY region, id"));
        }
    }

    /**
     * An append-only ledger (a statement-level BEFORE UPDATE trigger refuses any UPDATE: a common pattern) that the
     * plain insert now lets clients write. One client transaction inserts a ledger entry and a row t.1 that psql
     * creates meanwhile. The 23505 on t runs the transaction again with upserts: the ledger insert, now
     * ON CONFLICT DO UPDATE, fires the statement-level UPDATE trigger and the whole transaction is refused (P0001),
     * although its data is fine and t.1 would merge. Expected: acknowledged, the entry kept, t.1 merged.
     */
    @Test
    void aRaceOnOneTableDoesNotGetAnAppendOnlyLedgerInsertOfTheSameTransactionRefused() {
        String[] ddl = java.util.stream.Stream.concat(java.util.Arrays.stream(STALL_DDL), java.util.stream.Stream.of(
                "CREATE TABLE ledger (id int PRIMARY KEY, amount int)",
                "CREATE FUNCTION side.append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " RAISE EXCEPTION 'ledger is append-only'; END $$",
                "CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger"
                        + " FOR EACH STATEMENT EXECUTE FUNCTION side.append_only()")).toArray(String[]::new);
        try (RelayFixture f = RelayFixture.start("pirledger", ddl)) {
            f.execute("INSERT INTO side.stall VALUES (1)");
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            try (TestClient a = f.client("pirledger-a", 0)) {
                a.push(tx(1, clientHlc, insert("ledger", obj("id", 1), obj("amount", 10)),
                        insert("t", obj("id", 1), obj("v", "client", "n", 5))));
                awaitArrivals(f, 1);
                f.execute("INSERT INTO t (id, v, w, n) VALUES (1, 'psql', 'psql-w', 100)");
                f.execute("DELETE FROM side.stall WHERE k = 1");
                Message m = a.awaitOutcome(1);
                assertTrue(m instanceof Message.Ack, "the transaction applies: " + m);
                assertEquals(List.of(List.of("1", "10")), f.query("SELECT id, amount FROM ledger"));
                assertEquals(List.of(List.of("1", "psql", "psql-w", "100")), f.query("SELECT id, v, w, n FROM t"));
            }
        }
    }

    /**
     * Different spellings of one key in one transaction (numeric scale, uuid case): an insert then an update of the
     * same row must apply as one row (the relay locks canonical keys), not fail the plain insert or the upsert.
     */
    @Test
    void spellingsOfOneKeyInOneTransaction() {
        try (RelayFixture f = RelayFixture.start("pirspell",
                "CREATE TABLE num (id numeric PRIMARY KEY, v text, w text)",
                "CREATE TABLE uid (id uuid PRIMARY KEY, v text, w text)")) {
            TestClient c = f.client("pirspell-a", 0);
            long h = now();
            c.push(tx(1, h, insert("num", obj("id", new java.math.BigDecimal("1.0")), obj("v", "a")),
                    update("num", obj("id", new java.math.BigDecimal("1.00")), obj("w", "b")),
                    insert("uid", obj("id", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), obj("v", "a")),
                    update("uid", obj("id", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), obj("w", "b"))));
            c.awaitAck(1);
            assertEquals(List.of(List.of("a", "b")), f.query("SELECT v, w FROM num"));
            assertEquals(List.of(List.of("a", "b")), f.query("SELECT v, w FROM uid"));
            assertEquals(2, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl IN ('num', 'uid') AND alive"));
        }
    }

    /**
     * A valid transaction on a table with a DEFERRABLE key: a unique email moved from row 1 to new row 3. Regrouped
     * (inserts before the update) it meets the UNIQUE column: 23505, so the next attempts upsert, and ON CONFLICT on
     * the deferrable key fails with 55000 on every resend. Expected: applied, as on a table with a plain key.
     */
    @Test
    void aValidTransactionMovingAUniqueValueOnADeferrableKeyTableApplies() {
        try (RelayFixture f = RelayFixture.start("pirdefmove",
                "CREATE TABLE acct (id int PRIMARY KEY DEFERRABLE, email text UNIQUE)")) {
            TestClient c = f.client("pirdefmove-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "a"))));
            c.awaitAck(1);
            Message m = outcomeResending(f, c, "pirdefmove-a", 2, tx(2, h + 1, insert("acct", obj("id", 2), obj("email", "q")),
                    update("acct", obj("id", 1), obj("email", "z")),
                    insert("acct", obj("id", 3), obj("email", "a"))));
            assertTrue(m instanceof Message.Ack, "applied: " + m);
            assertEquals(List.of(List.of("1", "z"), List.of("2", "q"), List.of("3", "a")),
                    f.query("SELECT id, email FROM acct ORDER BY id"));
        }
    }

    /**
     * No race at all: a valid transaction that writes an append-only ledger entry and moves a unique email from
     * row 1 to new row 3. Regrouping meets the UNIQUE column (23505), the next attempts upsert, and the ledger's
     * insert as ON CONFLICT DO UPDATE fires its statement-level UPDATE trigger: the transaction is refused (P0001)
     * and the device reverts both writes. Expected: applied in its original order, as before 23505 meant upserts.
     */
    @Test
    void aValidTransactionWithALedgerEntryAndAMovedUniqueValueApplies() {
        try (RelayFixture f = RelayFixture.start("pirledger2",
                "CREATE TABLE acct (id int PRIMARY KEY, email text UNIQUE)",
                "CREATE TABLE ledger (id int PRIMARY KEY, amount int)",
                "CREATE SCHEMA side",
                "CREATE FUNCTION side.append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " RAISE EXCEPTION 'ledger is append-only'; END $$",
                "CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger"
                        + " FOR EACH STATEMENT EXECUTE FUNCTION side.append_only()")) {
            TestClient c = f.client("pirledger2-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "a"))));
            c.awaitAck(1);
            c.push(tx(2, h + 1, insert("acct", obj("id", 2), obj("email", "q")),
                    update("acct", obj("id", 1), obj("email", "z")),
                    insert("acct", obj("id", 3), obj("email", "a")),
                    insert("ledger", obj("id", 1), obj("amount", 10))));
            Message m = c.awaitOutcome(2);
            assertTrue(m instanceof Message.Ack, "applied: " + m);
            assertEquals(List.of(List.of("1", "z"), List.of("2", "q"), List.of("3", "a")),
                    f.query("SELECT id, email FROM acct ORDER BY id"));
            assertEquals(List.of(List.of("1", "10")), f.query("SELECT id, amount FROM ledger"));
        }
    }

    /**
     * A valid transaction whose regrouping meets a UNIQUE column (so it runs again upserting, then in order) and
     * that deletes a parent (ON DELETE CASCADE takes its child) and inserts the child again under another parent.
     * Everything applies; PostgreSQL's rows and the alive clocks agree, and a second client's feed ends equal.
     */
    @Test
    void upsertAndInOrderAttemptsWithACascadeAndAReinsertedChild() {
        try (RelayFixture f = RelayFixture.start("pircasc",
                "CREATE TABLE acct (id int PRIMARY KEY, email text UNIQUE)",
                "CREATE TABLE p (id int PRIMARY KEY, v text)",
                "CREATE TABLE ch (id int PRIMARY KEY, p int REFERENCES p (id) ON DELETE CASCADE, v text)")) {
            TestClient c = f.client("pircasc-a", 0);
            long h = now();
            c.push(tx(1, h, insert("acct", obj("id", 1), obj("email", "a")),
                    insert("p", obj("id", 1), obj("v", "p1")), insert("p", obj("id", 2), obj("v", "p2")),
                    insert("ch", obj("id", 10), obj("p", 1, "v", "c"))));
            c.awaitAck(1);
            c.push(tx(2, h + 1, insert("acct", obj("id", 2), obj("email", "q")),
                    update("acct", obj("id", 1), obj("email", "z")),
                    insert("acct", obj("id", 3), obj("email", "a")),
                    delete("p", obj("id", 1)),
                    insert("ch", obj("id", 10), obj("p", 2, "v", "c2"))));
            c.awaitAck(2);
            assertEquals(List.of(List.of("1", "z"), List.of("2", "q"), List.of("3", "a")),
                    f.query("SELECT id, email FROM acct ORDER BY id"));
            assertEquals(List.of(List.of("2")), f.query("SELECT id FROM p"));
            assertEquals(List.of(List.of("10", "2", "c2")), f.query("SELECT id, p, v FROM ch"));
            for (String tbl : List.of("acct", "p", "ch")) {
                assertEquals(f.queryLong("SELECT count(*) FROM " + tbl),
                        f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = '" + tbl + "' AND alive"),
                        "alive clocks of " + tbl);
            }
            long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
            TestClient b = f.client("pircasc-b", 0);
            b.awaitCursor(head);
            java.util.Map<String, FeedEntry> last = new java.util.TreeMap<>();
            for (FeedEntry e : b.entries()) {
                last.put(e.table() + e.pk(), e);
            }
            List<String> alive = last.values().stream().filter(e -> e.row() != null)
                    .map(e -> e.table() + e.pk()).sorted().toList();
            assertEquals(List.of("acct{\"id\":1}", "acct{\"id\":2}", "acct{\"id\":3}", "ch{\"id\":10}", "p{\"id\":2}"),
                    alive, "the feed's rows");
        }
    }

    /**
     * psql deletes row 1 while the relay's first attempt holds it (updated, locked) and is inserting key 2, which
     * psql also creates: the 23505 rolls the attempt back, the delete commits, and the upsert attempt decides on
     * that state. psql's writes are a minute newer: row 1 stays deleted, key 2 has psql's values; the client's feed
     * ends as PostgreSQL.
     */
    @Test
    void aDirectDeleteWaitingOnTheFirstAttemptAndARaceOnAnotherKeyConverge() throws Exception {
        try (RelayFixture f = RelayFixture.start("pirdel", STALL_DDL)) {
            f.execute("INSERT INTO t (id, v) VALUES (1, 'old')", "INSERT INTO side.stall VALUES (2)");
            long clientHlc = Hlc.ofMillis(System.currentTimeMillis() - 60_000);
            try (TestClient a = f.client("pirdel-a", 0)) {
                a.push(tx(1, clientHlc, update("t", obj("id", 1), obj("v", "client")),
                        insert("t", obj("id", 2), obj("v", "client", "n", 5))));
                awaitArrivals(f, 1);
                java.util.concurrent.CompletableFuture<Void> del = java.util.concurrent.CompletableFuture.runAsync(
                        () -> f.execute("DELETE FROM t WHERE id = 1"));
                await().atMost(Duration.ofSeconds(20)).until(() -> f.queryLong("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock'") >= 1);
                f.execute("INSERT INTO t (id, v, w, n) VALUES (2, 'psql', 'psql-w', 100)");
                f.execute("DELETE FROM side.stall");
                a.awaitAck(1);
                del.get(20, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(List.of(List.of("2", "psql", "psql-w", "100")), f.query("SELECT id, v, w, n FROM t ORDER BY id"));
                long head = f.queryLong("SELECT max(seq) FROM syncsqlite.commit_log");
                a.awaitCursor(head);
                java.util.Map<Integer, FeedEntry> last = new java.util.TreeMap<>();
                for (FeedEntry e : a.entries()) {
                    last.put(e.pk().get("id").asInt(), e);
                }
                assertTrue(last.get(1) != null && last.get(1).row() == null, "row 1 deleted on the client: " + last);
                assertEquals("psql", last.get(2).row().get("v").asText(), last.toString());
                assertEquals(1, f.queryLong("SELECT count(*) FROM syncsqlite.row_clock WHERE tbl = 't' AND alive"));
            }
        }
    }
}
