package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.ClientTx;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.syncsqlite.it.support.Json.delete;
import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Transactions that alternate tables and kinds (an order and its line, an update and an insert) are applied
 * with few statements, and always with the result of applying them in their original order: parents before
 * children, a row written twice in order, deletes in place, and a unique value moved between rows.
 */
class MixedTransactionTest {

    private static RelayFixture f;

    @BeforeAll
    static void start() {
        f = RelayFixture.start("mixed",
                "CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total int NOT NULL DEFAULT 0)",
                "CREATE TABLE line (id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders (id) ON DELETE CASCADE,"
                        + " sku text, qty int)",
                "CREATE TABLE account (id int PRIMARY KEY, email text NOT NULL UNIQUE, note text)",
                // Counts statements (not rows) that insert into line: what the regrouping saves.
                "CREATE TABLE stmt_count (n int NOT NULL)",
                "INSERT INTO stmt_count VALUES (0)",
                "CREATE FUNCTION count_stmt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        + " UPDATE stmt_count SET n = n + 1; RETURN NULL; END $$",
                "CREATE TRIGGER count_line_inserts AFTER INSERT ON line FOR EACH STATEMENT EXECUTE FUNCTION count_stmt()",
                "INSERT INTO orders SELECT g, 'old ' || g, 0 FROM generate_series(1000, 1049) g",
                "INSERT INTO account VALUES (1, 'x@example.com', NULL), (3, 'z@example.com', NULL)");
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static long now() {
        return Hlc.ofMillis(System.currentTimeMillis());
    }

    @Test
    void ordersAndLinesInterleavedLandWithFewStatements() {
        List<RowChange> changes = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            changes.add(update("orders", obj("id", 1000 + i), obj("total", i)));        // an existing order
            changes.add(insert("orders", obj("id", i), obj("customer", "c" + i)));        // a new order...
            changes.add(insert("line", obj("id", i), obj("order_id", i, "sku", "s" + i, "qty", 1))); // ...its line
        }
        // The same row twice, in order: inserted, then updated, then its line.
        changes.add(insert("orders", obj("id", 999), obj("customer", "first")));
        changes.add(update("orders", obj("id", 999), obj("customer", "second")));
        changes.add(insert("line", obj("id", 999), obj("order_id", 999, "sku", "last", "qty", 2)));
        TestClient c = f.client("mixed-a", 0);
        c.push(new ClientTx(1, now(), changes));
        c.awaitAck(1);
        assertEquals(51, f.queryLong("SELECT count(*) FROM line"));
        assertEquals(0, f.queryLong("SELECT count(*) FROM line l LEFT JOIN orders o ON o.id = l.order_id WHERE o.id IS NULL"));
        assertEquals(49 * 50 / 2, f.queryLong("SELECT sum(total) FROM orders WHERE id BETWEEN 1000 AND 1049"));
        assertEquals(List.of(List.of("second")), f.query("SELECT customer FROM orders WHERE id = 999"));
        long statements = f.queryLong("SELECT n FROM stmt_count");
        assertTrue(statements <= 3, "line inserts took " + statements + " statements for 51 rows");
    }

    @Test
    void aUniqueValueMovedBetweenRowsStillLandsAsInTheOriginalOrder() {
        long h = now();
        // In order this is valid: 1 gives up x before 4 takes it. Grouped (inserts first) it is not, so the
        // relay must fall back to the original order rather than reject.
        TestClient c = f.client("mixed-b", 0);
        c.push(new ClientTx(1, h, List.of(
                insert("account", obj("id", 2), obj("email", "y@example.com")),
                update("account", obj("id", 1), obj("email", "moved@example.com")),
                insert("account", obj("id", 4), obj("email", "x@example.com")),
                update("account", obj("id", 3), obj("note", "kept")))));
        c.awaitAck(1);
        assertEquals(List.of(List.of("1", "moved@example.com"), List.of("2", "y@example.com"),
                        List.of("3", "z@example.com"), List.of("4", "x@example.com")),
                f.query("SELECT id, email FROM account ORDER BY id"));
        // And a genuinely invalid transaction is still rejected, whatever the order.
        c.push(new ClientTx(2, h + 1, List.of(
                insert("account", obj("id", 5), obj("email", "new@example.com")),
                update("account", obj("id", 3), obj("note", "x")),
                insert("account", obj("id", 6), obj("email", "y@example.com")))));
        assertEquals("23505", c.awaitReject(2).sqlState());
        assertEquals(0, f.queryLong("SELECT count(*) FROM account WHERE id IN (5, 6)"));
    }

    @Test
    void deletesStayInPlace() {
        long h = now();
        TestClient c = f.client("mixed-c", 0);
        c.push(new ClientTx(1, h, List.of(
                insert("orders", obj("id", 500), obj("customer", "gone soon")),
                insert("line", obj("id", 500), obj("order_id", 500, "sku", "a", "qty", 1)),
                update("orders", obj("id", 1049), obj("customer", "renamed")),
                delete("orders", obj("id", 500)),                                      // cascades to line 500
                insert("orders", obj("id", 501), obj("customer", "stays")),
                insert("line", obj("id", 501), obj("order_id", 501, "sku", "b", "qty", 1)))));
        c.awaitAck(1);
        assertEquals(0, f.queryLong("SELECT count(*) FROM orders WHERE id = 500"));
        assertEquals(0, f.queryLong("SELECT count(*) FROM line WHERE id = 500"));
        assertEquals(1, f.queryLong("SELECT count(*) FROM line WHERE id = 501"));
        assertEquals(List.of(List.of("renamed")), f.query("SELECT customer FROM orders WHERE id = 1049"));
    }
}
