package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review "edge and bad values": unusual and invalid values written on a device or in psql, followed end to
 * end (device -> PostgreSQL -> other device, psql -> devices). Each value must either round-trip faithfully
 * or be refused clearly (an SQLException at the write, or a rejection told to the listener and reverted
 * locally) without losing other data and without holding up later writes.
 */
@Timeout(120)
class EdgeValuesReviewTest {

    @TempDir
    Path dir;

    private static final Duration WAIT = Duration.ofSeconds(20);

    // ------------------------------------------------------------------ JSON scalar documents

    private static final String DOC_PG = "CREATE TABLE doc (id int PRIMARY KEY, jb jsonb, note text)";
    private static final String DOC_LOCAL = "CREATE TABLE doc (id INTEGER PRIMARY KEY, jb TEXT, note TEXT)";

    /**
     * A device stores JSON documents that are scalars (a JSON string, {@code true}, a string holding digits,
     * {@code null}) in a TEXT column mapped to {@code jsonb}. The docs promise a document's JSON text comes
     * back ("the document's JSON text (jsonb normalised)").
     *
     * <p>Found: PostgreSQL stores them right ({@code "abc"}, {@code true}, {@code "123"}), except the JSON
     * document {@code null}, which the relay turns into SQL NULL ({@code Validation.convert} parses it to a
     * NullNode). On the way back the client writes a JSON scalar as its value, not as its JSON text
     * ({@code LocalStore.bind}: a JSON string is bound as the bare string, {@code true} as the integer 1), so
     * the writer's own value silently changes after the echo ({@code "abc"} becomes {@code abc},
     * {@code true} becomes {@code 1}, {@code "123"} becomes {@code 123}, {@code null} becomes NULL) and the
     * other device receives the changed text.
     */
    @Test
    void jsonScalarDocumentsWrittenOnADeviceKeepTheirJsonText() throws Exception {
        try (Cluster cluster = Cluster.start("edge_json_up", dir, DOC_PG)) {
            Client a = cluster.client("a", DOC_LOCAL);
            Client b = cluster.client("b", DOC_LOCAL);
            // The document null is left out: jsonNullDocumentsAndTheScaleOfNumbersInDocuments (a known limit).
            a.exec("INSERT INTO doc (id, jb) VALUES (1, ?), (2, ?), (3, ?), (4, ?), (5, ?)",
                    "\"abc\"", "true", "\"123\"", "[false, \"x\"]", "{\"a\":1}");
            a.awaitSynced();
            Map<Long, Object> expected = new LinkedHashMap<>();
            expected.put(1L, "\"abc\"");
            expected.put(2L, "true");
            expected.put(3L, "\"123\"");
            expected.put(4L, "[false, \"x\"]");
            expected.put(5L, "{\"a\": 1}");
            await().atMost(WAIT).until(() -> b.rows("SELECT id FROM doc").size() == 5);
            a.awaitSynced();
            Map<String, Object> seen = new LinkedHashMap<>();
            seen.put("postgres", byId(cluster.pgRows("SELECT id, jb::text AS v FROM doc ORDER BY id")));
            seen.put("writer a", byId(a.rows("SELECT id, jb AS v FROM doc ORDER BY id")));
            seen.put("device b", byId(b.rows("SELECT id, jb AS v FROM doc ORDER BY id")));
            Map<String, Object> want = new LinkedHashMap<>();
            want.put("postgres", expected);
            want.put("writer a", expected);
            want.put("device b", expected);
            assertEquals(want.toString().replace(" ", ""), seen.toString().replace(" ", ""),
                    "PostgreSQL holds the documents the device wrote (a JSON null is not SQL NULL), and each device"
                            + " keeps their JSON text (spaces ignored)");
        }
    }

    /**
     * psql writes jsonb scalars: a string holding digits, {@code true}, a string {@code "true"}, the JSON
     * document {@code null}, SQL NULL, and {@code 1.50}. A device should receive each document's JSON text,
     * and writing the row back unchanged (an {@code INSERT OR REPLACE} of what it read, as ORMs and
     * "save the whole row" code do) must not change PostgreSQL's documents.
     *
     * <p>Found: the device receives {@code 123}, {@code 1}, {@code true}, NULL, NULL and {@code 1.5}: the JSON
     * string {@code "123"} cannot be told from the number 123, {@code true} from 1, the string
     * {@code "true"} from the boolean, and the document {@code null} from SQL NULL. Writing the row back then
     * silently changes PostgreSQL's documents' types (the string {@code "123"} becomes the number 123, the
     * boolean true the number 1, the string "true" the boolean, the document null SQL NULL).
     * Cause: {@code LocalStore.bind} (scalars bound as values, not JSON text, in a column the relay maps to
     * json/jsonb) and {@code Validation.convert} (the text {@code null} becomes SQL NULL).
     */
    @Test
    void jsonScalarDocumentsWrittenInPsqlReachDevicesAsTheirJsonTextAndSurviveARewrite() throws Exception {
        try (Cluster cluster = Cluster.start("edge_json_down", dir, DOC_PG)) {
            Client a = cluster.client("a", DOC_LOCAL);
            // The document null and 1.50 are left out: jsonNullDocumentsAndTheScaleOfNumbersInDocuments.
            cluster.pg("INSERT INTO doc (id, jb) VALUES (1, '\"123\"'), (2, 'true'), (3, '\"true\"'), (4, '\"\"'),"
                    + " (5, NULL), (6, '-2.5e-3')");
            String pgText = "SELECT id, jb::text AS v FROM doc ORDER BY id";
            Map<Long, Object> before = byId(cluster.pgRows(pgText));
            await().atMost(WAIT).until(() -> a.rows("SELECT id FROM doc").size() == 6);
            Map<Long, Object> device = byId(a.rows("SELECT id, jb AS v FROM doc ORDER BY id"));
            a.exec("INSERT OR REPLACE INTO doc (id, jb, note) SELECT id, jb, 'saved' FROM doc");
            a.awaitSynced();
            Map<Long, Object> after = byId(cluster.pgRows(pgText));
            assertEquals(before.toString() + " / " + before, device.toString() + " / " + after,
                    "device's text of PostgreSQL's documents / PostgreSQL's documents after the device saved the row");
        }
    }

    /**
     * Known limits (docs/DESIGN.md, "Known limits"), kept as the review found them: the JSON document {@code null}
     * becomes SQL NULL both ways (a row image, {@code to_jsonb} of the row, cannot tell them apart, and
     * {@code jsonb_populate_recordset} takes a JSON null as SQL NULL), and a number's trailing zeros in a document
     * ({@code 1.50}) are dropped on the way to a device (the shared mapper reads decimals stripped).
     */
    @Test
    @org.junit.jupiter.api.Disabled("known limit: a jsonb null document is SQL NULL in a row image; documents lose trailing zeros")
    void jsonNullDocumentsAndTheScaleOfNumbersInDocuments() throws Exception {
        try (Cluster cluster = Cluster.start("edge_json_null", dir, DOC_PG)) {
            Client a = cluster.client("a", DOC_LOCAL);
            a.exec("INSERT INTO doc (id, jb) VALUES (1, 'null')");
            cluster.pg("INSERT INTO doc (id, jb) VALUES (2, 'null'), (3, '1.50')");
            await().atMost(WAIT).until(() -> a.rows("SELECT id FROM doc").size() == 3);
            a.awaitSynced();
            assertEquals("{1=null, 2=null, 3=1.50}", byId(cluster.pgRows("SELECT id, jb::text AS v FROM doc ORDER BY id")).toString());
            assertEquals("{1=null, 2=null, 3=1.50}", byId(a.rows("SELECT id, jb AS v FROM doc ORDER BY id")).toString());
        }
    }

    // ------------------------------------------------------------------ U+0000

    private static final String NOTE_PG = "CREATE TABLE note (id text PRIMARY KEY, body text)";
    private static final String NOTE_LOCAL = "CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT)";

    /**
     * PostgreSQL's text cannot hold U+0000; SQLite can. A device's update and insert carrying a NUL must be
     * refused clearly (at the write, or by a rejection told to the app and reverted) while the other data
     * and later writes keep syncing. Regression test: this works (22P05 rejection, row reverted).
     */
    @Test
    void nulInATextValueIsRefusedAndRevertedAndLaterWritesSync() throws Exception {
        try (Cluster cluster = Cluster.start("edge_nul_value", dir, NOTE_PG)) {
            Client a = cluster.client("a", NOTE_LOCAL);
            Client b = cluster.client("b", NOTE_LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            a.exec("INSERT INTO note VALUES ('n1', 'ok')");
            a.awaitSynced();
            boolean refusedAtWrite1 = refused(() -> a.exec("UPDATE note SET body = ? WHERE id = 'n1'", "a\u0000b"));
            boolean refusedAtWrite2 = refused(() -> a.exec("INSERT INTO note VALUES ('n2', ?)", "x\u0000"));
            a.exec("INSERT INTO note VALUES ('n3', 'later 😀')");
            a.awaitSynced();
            int expectedRejections = (refusedAtWrite1 ? 0 : 1) + (refusedAtWrite2 ? 0 : 1);
            await().atMost(WAIT).until(() -> told.size() >= expectedRejections);
            List<Map<String, Object>> want = List.of(row("id", "n1", "body", "ok"), row("id", "n3", "body", "later 😀"));
            assertEquals(want, cluster.pgRows("SELECT id, body FROM note ORDER BY id"));
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", a, b);
            assertEquals(expectedRejections, told.size(), "each refused transaction is told once: " + told);
            for (Rejection r : told) {
                assertTrue(r.sqlState() != null && r.sqlState().startsWith("22"), r.toString());
            }
        }
    }

    /**
     * A text key holding U+0000 (SQLite keeps it; PostgreSQL cannot). Like a NULL key, it must be refused
     * at the write, or rejected and the row removed on the device; later writes must sync.
     *
     * <p>Found: the relay rejects the transaction (22P05) and the app is told, but the rejection carries no
     * current row for the key (PostgreSQL cannot parse it, {@code PostgresChangeApplier.currentRows} skips it),
     * and the client reverts only rows a rejection carries ({@code LocalStore.reject}), so the row
     * stays on the device for good: the device holds a row PostgreSQL and every other device never get, and
     * the app was told it was reverted.
     */
    @Test
    void nulInATextKeyDoesNotLeaveARowOnlyOnTheDevice() throws Exception {
        try (Cluster cluster = Cluster.start("edge_nul_key", dir, NOTE_PG)) {
            Client a = cluster.client("a", NOTE_LOCAL);
            Client b = cluster.client("b", NOTE_LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            a.exec("INSERT INTO note VALUES ('n1', 'ok')");
            a.awaitSynced();
            boolean refusedAtWrite = refused(() -> a.exec("INSERT INTO note VALUES (?, 'bad key')", "k\u0000x"));
            a.exec("INSERT INTO note VALUES ('n2', 'later')");
            a.awaitSynced();
            if (!refusedAtWrite) {
                await().atMost(WAIT).until(() -> !told.isEmpty());
            }
            List<Map<String, Object>> want = List.of(row("id", "n1", "body", "ok"), row("id", "n2", "body", "later"));
            assertEquals(want, cluster.pgRows("SELECT id, body FROM note ORDER BY id"));
            cluster.awaitConverged("SELECT id, body FROM note ORDER BY id", b);
            assertEquals(want, a.rows("SELECT id, body FROM note ORDER BY id"),
                    "the writer keeps no row that PostgreSQL refused (rejections told: " + told + ")");
        }
    }

    /**
     * A transaction that edits two rows and inserts a key PostgreSQL cannot parse (U+0000) among others: the whole
     * transaction is rejected, the two edited rows come back to PostgreSQL's values and the new rows go, the
     * unparseable one included. The relay reads the current rows of the table's keys together, and when that read
     * fails on the bad key, in halves down to it (before: all of the table's keys were skipped, so the edits stayed
     * on the device alone too).
     */
    @Test
    void aRejectedTransactionWithAnUnparseableKeyRevertsEveryRowItWrote() throws Exception {
        try (Cluster cluster = Cluster.start("edge_nul_key_tx", dir, NOTE_PG)) {
            Client a = cluster.client("a", NOTE_LOCAL);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            a.exec("INSERT INTO note VALUES ('n1', 'one'), ('n2', 'two')");
            a.awaitSynced();
            java.sql.Connection c = a.connection();
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO note VALUES (?, 'new')")) {
                c.createStatement().executeUpdate("UPDATE note SET body = body || ' edited'");
                for (String key : List.of("n3", "k\u0000x", "n4", "n5")) {
                    ps.setString(1, key);
                    ps.executeUpdate();
                }
                c.commit();
            } finally {
                c.setAutoCommit(true);
            }
            a.exec("INSERT INTO note VALUES ('n6', 'later')");
            a.awaitSynced();
            await().atMost(WAIT).until(() -> !told.isEmpty());
            List<Map<String, Object>> want = List.of(row("id", "n1", "body", "one"), row("id", "n2", "body", "two"),
                    row("id", "n6", "body", "later"));
            assertEquals(want, cluster.pgRows("SELECT id, body FROM note ORDER BY id"));
            assertEquals(want, a.rows("SELECT id, body FROM note ORDER BY id"), "rejections told: " + told);
        }
    }

    // ------------------------------------------------------------------ values SQLite keeps, PostgreSQL refuses

    /**
     * Values SQLite keeps but PostgreSQL's column types refuse: text in an INTEGER column, 2 and -1 in a
     * BOOLEAN column, a counter incremented past Long.MAX_VALUE (SQLite turns the sum into a REAL), plus the
     * text 'true' in a BOOLEAN column (PostgreSQL takes it). Each must be refused clearly (rejection told,
     * reverted) or land as PostgreSQL holds it; the devices must converge with PostgreSQL and later writes
     * must sync. Regression test: works (22P02 four times, 22003 for the overflow, each told once and
     * reverted; 'true' lands as true and comes back as 1).
     */
    @Test
    void valuesPostgresRefusesAreRejectedRevertedAndLaterWritesSync() throws Exception {
        String pg = "CREATE TABLE item (id int PRIMARY KEY, qty integer, flag boolean, n bigint)";
        String local = "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INTEGER, flag BOOLEAN, n BIGINT)";
        try (Cluster cluster = Cluster.start("edge_refused", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            List<Rejection> told = new CopyOnWriteArrayList<>();
            a.node().addRejectionListener(told::add);
            a.exec("INSERT INTO item VALUES (1, 5, 1, ?)", Long.MAX_VALUE - 1);
            a.awaitSynced();
            a.exec("UPDATE item SET qty = 'abc' WHERE id = 1");
            a.exec("INSERT INTO item VALUES (2, 'x', 0, 0)");
            a.exec("UPDATE item SET flag = 2 WHERE id = 1");
            a.exec("UPDATE item SET flag = -1 WHERE id = 1");
            a.exec("UPDATE item SET n = n + ? WHERE id = 1", 5L);
            a.exec("INSERT INTO item VALUES (3, 1, 'true', 0)");
            a.exec("UPDATE item SET qty = 7 WHERE id = 1");
            a.awaitSynced();
            await().atMost(WAIT).until(() -> told.size() >= 5);
            String all = "SELECT id, qty, flag, n FROM item ORDER BY id";
            List<Map<String, Object>> pgRows = cluster.pgRows(all);
            assertEquals(7L, pgRows.get(0).get("qty"), "the later write landed: " + pgRows);
            assertFalse(pgRows.stream().anyMatch(r -> r.get("id").equals(2L)), "the row with text in an int column: " + pgRows);
            cluster.awaitConverged(all, a, b);
            assertEquals(List.of("22P02", "22P02", "22P02", "22P02", "22003"),
                    told.stream().map(Rejection::sqlState).toList(), "each refused write is told: " + told);
        }
    }

    // ------------------------------------------------------------------ empty vs NULL, bytes-like text

    /**
     * Empty string vs NULL and empty BLOB vs NULL, both ways (device -> PostgreSQL -> device, psql ->
     * devices), with an emoji and a character outside the BMP in a key. Regression test: works.
     */
    @Test
    void emptyStringsAndEmptyBlobsStayDistinctFromNull() throws Exception {
        String pg = "CREATE TABLE e (id text PRIMARY KEY, t text, b bytea)";
        String local = "CREATE TABLE e (id TEXT PRIMARY KEY, t TEXT, b BLOB)";
        try (Cluster cluster = Cluster.start("edge_empty", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("INSERT INTO e VALUES ('1', '', x''), ('2', NULL, NULL), ('😀𝄞', '𝄞', x'00')");
            cluster.pg("INSERT INTO e VALUES ('3', '', '\\x'::bytea), ('4', NULL, NULL)");
            a.awaitSynced();
            String local4 = "SELECT id, typeof(t) AS tt, length(t) AS lt, typeof(b) AS tb, length(b) AS lb FROM e ORDER BY id";
            List<Map<String, Object>> want = List.of(
                    row("id", "1", "tt", "text", "lt", 0L, "tb", "blob", "lb", 0L),
                    row("id", "2", "tt", "null", "lt", null, "tb", "null", "lb", null),
                    row("id", "3", "tt", "text", "lt", 0L, "tb", "blob", "lb", 0L),
                    row("id", "4", "tt", "null", "lt", null, "tb", "null", "lb", null),
                    row("id", "😀𝄞", "tt", "text", "lt", 1L, "tb", "blob", "lb", 1L));
            await().atMost(WAIT).until(() -> b.rows("SELECT id FROM e").size() == 5);
            a.awaitSynced();
            assertEquals(want, a.rows(local4), "writer");
            assertEquals(want, b.rows(local4), "other device");
            assertEquals(List.of(
                    row("id", "1", "tn", 0L, "lt", 0L, "bn", 0L, "lb", 0L),
                    row("id", "2", "tn", 1L, "lt", null, "bn", 1L, "lb", null),
                    row("id", "3", "tn", 0L, "lt", 0L, "bn", 0L, "lb", 0L),
                    row("id", "4", "tn", 1L, "lt", null, "bn", 1L, "lb", null),
                    row("id", "😀𝄞", "tn", 0L, "lt", 1L, "bn", 0L, "lb", 1L)).toString(),
                    cluster.pgRows("SELECT id, t IS NULL AS tn, length(t) AS lt, b IS NULL AS bn, length(b) AS lb"
                            + " FROM e ORDER BY id COLLATE \"C\"").toString());
        }
    }

    /**
     * An untyped SQLite column (BLOB affinity, common in hand-written SQLite schemas) mapped to PostgreSQL
     * {@code text}, holding text that happens to look like PostgreSQL's bytea spelling ({@code \xcafe},
     * {@code \x}, a Windows-ish path {@code \xab}). PostgreSQL stores the text; devices must keep text.
     *
     * <p>Found: the client turns any text of the form {@code \x<hex>} into bytes in a BLOB-affinity column
     * ({@code LocalStore.bind}), without asking whether PostgreSQL's column is bytea (the relay sends column
     * types, but {@code PgTypes} keeps only date/time/uuid ones). The writer's own text becomes a BLOB after
     * the echo, and so does psql's on every device.
     */
    @Test
    @org.junit.jupiter.api.Disabled("known limit: text of the form \\x<hex> in an untyped (BLOB affinity) column is taken for bytes on devices")
    void textLookingLikeByteaInAnUntypedColumnStaysText() throws Exception {
        try (Cluster cluster = Cluster.start("edge_hex_text", dir, "CREATE TABLE u (id int PRIMARY KEY, note text)")) {
            String local = "CREATE TABLE u (id INTEGER PRIMARY KEY, note)";
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("INSERT INTO u VALUES (1, ?), (2, ?)", "\\xcafe", "\\x");
            cluster.pg("INSERT INTO u VALUES (3, '\\xab')");
            a.awaitSynced();
            await().atMost(WAIT).until(() -> b.rows("SELECT id FROM u").size() == 3);
            a.awaitSynced();
            String q = "SELECT id, typeof(note) AS k, CAST(note AS TEXT) AS note FROM u ORDER BY id";
            List<Map<String, Object>> want = List.of(row("id", 1L, "k", "text", "note", "\\xcafe"),
                    row("id", 2L, "k", "text", "note", "\\x"), row("id", 3L, "k", "text", "note", "\\xab"));
            assertEquals(List.of(row("id", 1L, "note", "\\xcafe"), row("id", 2L, "note", "\\x"), row("id", 3L, "note", "\\xab")),
                    cluster.pgRows("SELECT id, note FROM u ORDER BY id"));
            Map<String, Object> seen = new LinkedHashMap<>();
            seen.put("writer a", a.rows(q));
            seen.put("device b", b.rows(q));
            Map<String, Object> both = new LinkedHashMap<>();
            both.put("writer a", want);
            both.put("device b", want);
            assertEquals(both.toString(), seen.toString());
        }
    }

    // ------------------------------------------------------------------ numbers

    /**
     * Extreme numbers both ways: Long.MIN_VALUE/MAX_VALUE in bigint, the largest and the smallest
     * (subnormal) double in double precision, a 38-digit numeric with 30 decimals kept in a TEXT column,
     * 1e-30 in a NUMERIC column. Regression test for what works.
     */
    @Test
    void extremeNumbersRoundTripBothWays() throws Exception {
        String pg = "CREATE TABLE num (id int PRIMARY KEY, i8 bigint, d double precision, n numeric, nt numeric)";
        String local = "CREATE TABLE num (id INTEGER PRIMARY KEY, i8 BIGINT, d DOUBLE, n NUMERIC, nt TEXT)";
        String big = "12345678901234567890123456789012345678.123456789012345678901234567891";
        try (Cluster cluster = Cluster.start("edge_numbers", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO num VALUES (?, ?, ?, ?, ?)")) {
                ps.setInt(1, 1);
                ps.setLong(2, Long.MIN_VALUE);
                ps.setDouble(3, Double.MAX_VALUE);
                ps.setDouble(4, 1e-30);
                ps.setString(5, big);
                ps.executeUpdate();
                ps.setInt(1, 2);
                ps.setLong(2, Long.MAX_VALUE);
                ps.setDouble(3, Double.MIN_VALUE);
                ps.setDouble(4, -1.7976931348623157E308);
                ps.setString(5, "-0.000000000000000000000000000001");
                ps.executeUpdate();
            }
            cluster.pg("INSERT INTO num VALUES (3, -9223372036854775808, '-4.9e-324', 0.1, '-" + big + "')");
            a.awaitSynced();
            await().atMost(WAIT).until(() -> b.rows("SELECT id FROM num").size() == 3);
            a.awaitSynced();
            assertEquals(List.of("1 -9223372036854775808 1.7976931348623157e+308 " + big,
                            "2 9223372036854775807 5e-324 -0.000000000000000000000000000001",
                            "3 -9223372036854775808 -5e-324 -" + big),
                    cluster.pgRows("SELECT id || ' ' || i8 || ' ' || d || ' ' || nt AS v FROM num ORDER BY id")
                            .stream().map(r -> r.get("v")).toList());
            for (Client c : List.of(a, b)) {
                try (ResultSet rs = c.connection().createStatement().executeQuery("SELECT i8, d, n, nt FROM num ORDER BY id")) {
                    List<String> got = new ArrayList<>();
                    while (rs.next()) {
                        got.add(rs.getLong(1) + " " + rs.getDouble(2) + " " + rs.getDouble(3) + " " + rs.getString(4));
                    }
                    assertEquals(List.of(
                            Long.MIN_VALUE + " " + Double.MAX_VALUE + " " + 1e-30 + " " + big,
                            Long.MAX_VALUE + " " + Double.MIN_VALUE + " " + -1.7976931348623157E308 + " -0.000000000000000000000000000001",
                            Long.MIN_VALUE + " " + -Double.MIN_VALUE + " " + 0.1 + " -" + big), got, c.name());
                }
            }
        }
    }

    /**
     * A numeric's scale, written in psql ({@code numeric(12,2)} 1.50, 100.00), into a local TEXT column: the
     * docs say "a TEXT column gets the decimal's every digit as text".
     *
     * <p>Found: the device receives {@code 1.5} and {@code 100} in the TEXT column, and the documents
     * {@code {"p":1.5}} and {@code [1E+2]}: the JSON readers of the feed (the shared mapper of
     * {@code MessageCodec.mapper}, Jackson's node factory normalising decimals, i.e. stripping trailing zeros)
     * drop the scale, {@code LocalStore.bind} writes {@code toPlainString()} of what is left, and
     * {@code JsonTrees.text} writes a stripped decimal in exponent form. Values stay numerically equal, but
     * the text an app displays (prices, amounts) differs from PostgreSQL's, against the docs' "every digit".
     */
    @Test
    @org.junit.jupiter.api.Disabled("known limit: decimals from the feed lose trailing zeros (1.50 arrives as 1.5)")
    void numericScaleFromPsqlIsKeptInATextColumnAndInDocuments() throws Exception {
        String pg = "CREATE TABLE price (id int PRIMARY KEY, amount numeric(12,2), doc jsonb)";
        String local = "CREATE TABLE price (id INTEGER PRIMARY KEY, amount TEXT, doc TEXT)";
        try (Cluster cluster = Cluster.start("edge_scale", dir, pg)) {
            Client a = cluster.client("a", local);
            cluster.pg("INSERT INTO price VALUES (1, 1.50, '{\"p\": 1.50}'), (2, 100.00, '[100.00]')");
            await().atMost(WAIT).until(() -> a.rows("SELECT id FROM price").size() == 2);
            assertEquals(cluster.pgRows("SELECT id, amount::text AS amount, doc::text AS doc FROM price ORDER BY id").toString()
                            .replace(" ", ""),
                    a.rows("SELECT id, amount, doc FROM price ORDER BY id").toString().replace(" ", ""));
        }
    }

    /**
     * PostgreSQL's NaN (double precision and numeric), written in psql. SQLite cannot store a REAL NaN (it
     * binds as NULL), so the device keeps what it can; saving the row back must not change PostgreSQL's NaN.
     * Regression test: the device holds the text 'NaN' (getDouble reads 0.0, getString "NaN") and the save
     * keeps NaN in PostgreSQL.
     */
    @Test
    void nanWrittenInPsqlSurvivesADeviceSavingTheRow() throws Exception {
        String pg = "CREATE TABLE m (id int PRIMARY KEY, d double precision, n numeric, note text)";
        String local = "CREATE TABLE m (id INTEGER PRIMARY KEY, d DOUBLE, n NUMERIC, note TEXT)";
        try (Cluster cluster = Cluster.start("edge_nan", dir, pg)) {
            Client a = cluster.client("a", local);
            cluster.pg("INSERT INTO m VALUES (1, 'NaN', 'NaN', NULL)");
            await().atMost(WAIT).until(() -> a.rows("SELECT id FROM m").size() == 1);
            assertEquals(List.of(row("d", "NaN", "n", "NaN")), a.rows("SELECT CAST(d AS TEXT) AS d, CAST(n AS TEXT) AS n FROM m"));
            a.exec("INSERT OR REPLACE INTO m (id, d, n, note) SELECT id, d, n, 'saved' FROM m");
            a.awaitSynced();
            assertEquals(List.of(row("d", "NaN", "n", "NaN", "note", "saved")),
                    cluster.pgRows("SELECT d::text AS d, n::text AS n, note FROM m"));
        }
    }

    /**
     * Numbers beyond double precision inside JSON documents (a 40-digit decimal, a 30-digit integer), both
     * ways. Regression test: every digit survives.
     */
    @Test
    void jsonNumbersBeyondDoublePrecisionKeepEveryDigit() throws Exception {
        try (Cluster cluster = Cluster.start("edge_json_digits", dir, DOC_PG)) {
            Client a = cluster.client("a", DOC_LOCAL);
            Client b = cluster.client("b", DOC_LOCAL);
            String n = "12345678901234567890.12345678901234567891";
            String i = "123456789012345678901234567890";
            a.exec("INSERT INTO doc (id, jb) VALUES (1, ?)", "{\"n\":" + n + ",\"i\":" + i + "}");
            cluster.pg("INSERT INTO doc (id, jb) VALUES (2, '{\"n\": -" + n + ", \"i\": -" + i + "}')");
            a.awaitSynced();
            await().atMost(WAIT).until(() -> b.rows("SELECT id FROM doc").size() == 2);
            a.awaitSynced();
            assertEquals(List.of(row("n", n, "i", i), row("n", "-" + n, "i", "-" + i)),
                    cluster.pgRows("SELECT jb->>'n' AS n, jb->>'i' AS i FROM doc ORDER BY id"));
            List<Object> docs = cluster.pgRows("SELECT jb::text AS jb FROM doc ORDER BY id").stream()
                    .map(r -> (Object) ((String) r.get("jb")).replace(" ", "")).toList();
            for (Client c : List.of(a, b)) {
                assertEquals(docs, c.rows("SELECT jb FROM doc ORDER BY id").stream()
                        .map(r -> (Object) ((String) r.get("jb")).replace(" ", "")).toList(), c.name());
            }
        }
    }

    // ------------------------------------------------------------------ odd dates written in psql

    /**
     * Date and time values psql can write that have no epoch-millisecond form on the device (BC dates,
     * {@code -infinity}, {@code 24:00:00}), and a timestamptz written with an offset, in Hibernate-style
     * DATE/TIME/TIMESTAMP columns: they reach the device, and the device saving the whole row back
     * ({@code INSERT OR REPLACE} of what it read) leaves PostgreSQL's values as they were. Regression test:
     * works (BC, infinities and 24:00 stay PostgreSQL's text on the device, the offset timestamptz becomes
     * the same instant in epoch milliseconds).
     */
    @Test
    void oddDatesWrittenInPsqlSurviveADeviceSavingTheRow() throws Exception {
        String pg = "CREATE TABLE ev (id int PRIMARY KEY, d date, t time, ts timestamp, tz timestamptz, note text)";
        String local = "CREATE TABLE ev (id INTEGER PRIMARY KEY, d DATE, t TIME, ts TIMESTAMP, tz TIMESTAMP, note TEXT)";
        try (Cluster cluster = Cluster.start("edge_dates", dir, pg)) {
            Client a = cluster.client("a", local);
            cluster.pg("INSERT INTO ev VALUES (1, '0044-03-15 BC', '24:00:00', '0044-03-15 10:00:00 BC',"
                            + " '2026-01-01 10:00:00+05:30', NULL),"
                            + " (2, '-infinity', '12:00:00', 'infinity', '-infinity', NULL)");
            String pgText = "SELECT id, d::text AS d, t::text AS t, ts::text AS ts, tz::text AS tz FROM ev ORDER BY id";
            List<Map<String, Object>> before;
            try (java.sql.Connection pgc = cluster.pg()) {
                pgc.createStatement().execute("SET TIME ZONE 'UTC'");
                before = io.syncsqlite.it.harness.Rows.query(pgc, pgText);
            }
            await().atMost(WAIT).until(() -> a.rows("SELECT id FROM ev").size() == 2);
            a.exec("INSERT OR REPLACE INTO ev (id, d, t, ts, tz, note) SELECT id, d, t, ts, tz, 'saved' FROM ev");
            a.awaitSynced();
            assertEquals(2, cluster.pgRows("SELECT id FROM ev WHERE note = 'saved'").size(), "the saves landed");
            try (java.sql.Connection pgc = cluster.pg()) {
                pgc.createStatement().execute("SET TIME ZONE 'UTC'");
                assertEquals(before, io.syncsqlite.it.harness.Rows.query(pgc, pgText));
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    private static Map<Long, Object> byId(List<Map<String, Object>> rows) {
        Map<Long, Object> out = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            out.put((Long) r.get("id"), r.get("v") == null ? "<SQL NULL>" : r.get("v"));
        }
        return out;
    }

    private interface Write {
        void run() throws SQLException;
    }

    /** Runs {@code w}; true if the driver refused it with an SQLException carrying an SQLState. */
    private static boolean refused(Write w) {
        try {
            w.run();
            return false;
        } catch (SQLException e) {
            assertTrue(e.getSQLState() != null, "refused with an SQLState: " + e);
            return true;
        }
    }
}
