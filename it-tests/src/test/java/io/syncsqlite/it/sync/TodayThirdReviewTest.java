package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Review of today's third batch of changes (trigger order, counters, skipped rows, self cascades, NO ACTION guard). */
class TodayThirdReviewTest {

    @TempDir
    Path dir;

    private static void syncAll(Client... clients) throws Exception {
        for (Client c : clients) {
            c.awaitSynced();
        }
        for (Client c : clients) {
            c.awaitSynced();
        }
    }

    /** Two offline devices each run {@code statements} once (each adds 1 to its row); every row must end at 102. */
    private void incrementOnTwoOfflineDevices(String db, String pgTable, String localTable, List<String> ids,
                                              String... statements) throws Exception {
        StringBuilder seed = new StringBuilder("INSERT INTO item (id, qty) VALUES ");
        for (int i = 0; i < ids.size(); i++) {
            seed.append(i == 0 ? "" : ", ").append("('").append(ids.get(i)).append("', 100)");
        }
        String items = "SELECT id, qty FROM item ORDER BY id";
        try (Cluster cluster = Cluster.start(db, dir, pgTable, seed.toString())) {
            Client a = cluster.client("a", localTable);
            Client b = cluster.client("b", localTable);
            cluster.awaitConverged(items, a, b);
            a.offline();
            b.offline();
            for (Client c : List.of(a, b)) {
                for (String sql : statements) {
                    c.exec(sql);
                }
            }
            List<Map<String, Object>> each = new ArrayList<>();
            ids.stream().sorted().forEach(id -> each.add(row("id", id, "qty", 101)));
            assertEquals(each, a.rows(items), "each device added 1 to every row");
            a.online();
            b.online();
            syncAll(a, b);
            cluster.awaitConverged(items, a, b);
            List<Map<String, Object>> expected = new ArrayList<>();
            ids.stream().sorted().forEach(id -> expected.add(row("id", id, "qty", 102)));
            assertEquals(expected, cluster.pgRows(items), "two devices added 1 to every row");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // (2) counters

    /** Brackets inside string literals, in keys, and a conflict clause with brackets: increments must add up. */
    @Test
    void incrementsWithBracketsInsideStringsAddUp() throws Exception {
        incrementOnTwoOfflineDevices("ttr_brkstr", "CREATE TABLE item (id text PRIMARY KEY, qty int, note text)",
                "CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER, note TEXT)",
                List.of("k[1]", "open", "close", "orig"),
                "UPDATE item SET qty = qty + 1 WHERE id = 'k[1]'",
                "UPDATE item SET qty = qty + 1, note = '[' WHERE id = 'open'",
                "UPDATE item SET qty = qty + 1, note = 'a]b' WHERE id = 'close' -- [ a comment",
                "UPDATE OR IGNORE [item] SET [qty] = [item].[qty] + 1, note = '[x]' WHERE [id] = 'orig'");
    }

    /**
     * SQLite's null-safe comparison {@code IS} / {@code IS NOT} with a value (the usual way to compare a nullable
     * column with a parameter) in the WHERE of an increment: SQLite adds 1 on each device, the merge must add up.
     */
    @Test
    void incrementsWhoseWhereUsesSqliteIsComparisonAddUp() throws Exception {
        incrementOnTwoOfflineDevices("ttr_isnot", "CREATE TABLE item (id text PRIMARY KEY, qty int, note text)",
                "CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER, note TEXT)",
                List.of("control", "isnot", "is"),
                "UPDATE item SET qty = qty + 1 WHERE id = 'control' AND note IS NULL",
                "UPDATE item SET qty = qty + 1 WHERE id = 'isnot' AND note IS NOT 'x'",
                "UPDATE item SET qty = qty + 1 WHERE id = 'is' AND note IS (SELECT NULL)");
    }

    /** An upsert without a column list on a table with a generated column between its columns. */
    @Test
    void upsertWithoutColumnsOnATableWithAGeneratedColumnAddsUp() throws Exception {
        incrementOnTwoOfflineDevices("ttr_upsgen",
                "CREATE TABLE item (id text PRIMARY KEY, dbl int GENERATED ALWAYS AS (qty * 2) STORED, qty int)",
                "CREATE TABLE item (id TEXT PRIMARY KEY, dbl INTEGER GENERATED ALWAYS AS (qty * 2) VIRTUAL, qty INTEGER)",
                List.of("gen", "gen2"),
                "INSERT INTO item VALUES ('gen', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT INTO item AS i VALUES ('gen2', 1) ON CONFLICT (id) DO UPDATE SET qty = i.qty + excluded.qty");
    }

    /**
     * {@code INSERT OR REPLACE / OR IGNORE ... ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty}: SQLite runs the
     * upsert's DO UPDATE for the conflict on id (each device holds 101), so it is an increment like the plain upsert.
     */
    @Test
    void upsertsWithAnOrConflictClauseAddUp() throws Exception {
        incrementOnTwoOfflineDevices("ttr_upsor", "CREATE TABLE item (id text PRIMARY KEY, qty int)",
                "CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER)",
                List.of("control", "orrep", "orrepcols", "origncols"),
                "INSERT INTO item (id, qty) VALUES ('control', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT OR REPLACE INTO item VALUES ('orrep', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT OR REPLACE INTO item (id, qty) VALUES ('orrepcols', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT OR IGNORE INTO item (id, qty) VALUES ('origncols', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty");
    }

    /**
     * A column added and an application trigger created inside an application transaction that is rolled back: the
     * table keeps (id, extra, qty); upserts without a column list and the capture must still work afterwards.
     */
    @Test
    void rolledBackDdlLeavesUnnamedUpsertsAndCaptureAsTheyWere() throws Exception {
        String pg = "CREATE TABLE item (id text PRIMARY KEY, extra text, qty int)";
        String local = "CREATE TABLE item (id TEXT PRIMARY KEY, extra TEXT, qty INTEGER)";
        String items = "SELECT id, extra, qty FROM item ORDER BY id";
        String upsert = "INSERT INTO item VALUES ('u', 'e', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty";
        try (Cluster cluster = Cluster.start("ttr_rbddl", dir, pg, "INSERT INTO item VALUES ('u', 'e', 100)")) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(items, a, b);
            for (Client c : List.of(a, b)) {
                Connection conn = c.connection();
                conn.setAutoCommit(false);
                try (Statement st = conn.createStatement()) {
                    st.execute("ALTER TABLE item ADD COLUMN note TEXT");
                    st.execute("CREATE TRIGGER app_t AFTER INSERT ON item BEGIN SELECT 1; END");
                }
                conn.rollback();
                conn.setAutoCommit(true);
            }
            a.offline();
            b.offline();
            a.exec(upsert);
            b.exec(upsert);
            a.exec("INSERT INTO item (id, extra, qty) VALUES ('n', 'x', 5)");
            a.online();
            b.online();
            syncAll(a, b);
            cluster.awaitConverged(items, a, b);
            assertEquals(List.of(row("id", "n", "extra", "x", "qty", 5), row("id", "u", "extra", "e", "qty", 102)),
                    cluster.pgRows(items));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // (1) trigger order

    /** A TEMP trigger (the application's, on its connection) filling its own row: PostgreSQL must get the filled row. */
    @Test
    @Disabled("known limit (DESIGN.md, Known limits): SQLite fires TEMP triggers before the capture's, so a TEMP trigger writing the row its statement wrote is captured first")
    void aTempAfterInsertTriggerFillingItsOwnRowReachesPostgres() throws Exception {
        String pg = "CREATE TABLE post (id text PRIMARY KEY, name text, origin text)";
        String local = "CREATE TABLE post (id TEXT PRIMARY KEY, name TEXT, origin TEXT)";
        String posts = "SELECT id, name, origin FROM post ORDER BY id";
        try (Cluster cluster = Cluster.start("ttr_temptrig", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("CREATE TEMP TRIGGER post_born AFTER INSERT ON main.post BEGIN"
                    + " UPDATE post SET origin = 'device' WHERE id = NEW.id; END");
            a.exec("INSERT INTO post (id, name) VALUES ('r1', 'x')");
            List<Map<String, Object>> written = List.of(row("id", "r1", "name", "x", "origin", "device"));
            assertEquals(written, a.rows(posts));
            syncAll(a, b);
            assertEquals(written, cluster.pgRows(posts));
            cluster.awaitConverged(posts, a, b);
        }
    }

    /** Capture triggers are not installed again at every open or DDL once they are in order (no ping-pong). */
    @Test
    void captureTriggersAreNotReinstalledOnEveryOpenOrDdl() throws Exception {
        String pg = "CREATE TABLE post (id text PRIMARY KEY, name text, origin text)";
        String local = "CREATE TABLE post (id TEXT PRIMARY KEY, name TEXT, origin TEXT)";
        String ours = "SELECT name, rowid AS r FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'post'"
                + " ORDER BY name";
        try (Cluster cluster = Cluster.start("ttr_pingpong", dir, pg)) {
            Client a = cluster.client("a", local);
            a.exec("CREATE TRIGGER post_born AFTER INSERT ON post BEGIN UPDATE post SET origin = 'device' WHERE id = NEW.id; END");
            a.exec("CREATE TRIGGER post_upd BEFORE UPDATE ON post BEGIN SELECT 1; END");
            List<Map<String, Object>> first = a.rows(ours);
            a.exec("CREATE TABLE other (id INTEGER PRIMARY KEY)");
            a.exec("CREATE INDEX post_name ON post (name)");
            assertEquals(first, a.rows(ours), "after DDL");
            a.reopen();
            assertEquals(first, a.rows(ours), "after reopen");
            a.reopen();
            assertEquals(first, a.rows(ours), "after a second reopen");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // (3) skipped rows

    /** A PostgreSQL BEFORE DELETE trigger keeps locked rows: the deleting client must get them back. */
    @Test
    void clientDeleteSkippedByAPostgresBeforeTriggerComesBack() throws Exception {
        String[] pg = {"CREATE TABLE acct (id int PRIMARY KEY, email text, locked boolean NOT NULL DEFAULT false)",
            "CREATE FUNCTION acct_keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " IF OLD.locked THEN RETURN NULL; END IF; RETURN OLD; END $$",
            "CREATE TRIGGER acct_keep BEFORE DELETE ON acct FOR EACH ROW EXECUTE FUNCTION acct_keep()",
            "INSERT INTO acct VALUES (1, 'a', true), (2, 'b', false), (3, 'c', true)"};
        String local = "CREATE TABLE acct (id INTEGER PRIMARY KEY, email TEXT, locked BOOLEAN NOT NULL DEFAULT 0)";
        String accts = "SELECT id, email, locked FROM acct ORDER BY id";
        try (Cluster c = Cluster.start("ttr_delskip", dir, pg)) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            c.awaitConverged(accts, a, b);
            a.exec("DELETE FROM acct");
            a.awaitSynced();
            List<Map<String, Object>> kept = List.of(row("id", 1, "email", "a", "locked", 1),
                    row("id", 3, "email", "c", "locked", 1));
            Cluster.eventually(() -> c.pgRows(accts).size(), n -> n == 2);
            c.awaitConverged(accts, a, b);
            assertEquals(kept, a.rows(accts));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // (4) self-referencing ON UPDATE CASCADE / SET NULL from psql

    @Test
    void psqlRenumberingOfASelfReferencingTreeReachesClients() throws Exception {
        String[] pg = {"CREATE TABLE emp (id int PRIMARY KEY, name text, boss int REFERENCES emp (id) ON UPDATE CASCADE,"
                + " mentor int REFERENCES emp (id) ON UPDATE SET NULL ON DELETE SET NULL)",
            "INSERT INTO emp VALUES (1, 'a', NULL, NULL), (2, 'b', 1, 1), (3, 'c', 2, 1), (4, 'd', 3, 2), (5, 'e', 4, 3)"};
        String local = "CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, boss INTEGER REFERENCES emp (id) ON UPDATE CASCADE,"
                + " mentor INTEGER REFERENCES emp (id) ON UPDATE SET NULL ON DELETE SET NULL)";
        String emps = "SELECT id, name, boss, mentor FROM emp ORDER BY id";
        try (Cluster c = Cluster.start("ttr_selfcasc", dir, pg)) {
            Client a = c.clientParams("&foreign_keys=true").client("a", local);
            Client b = c.clientParams("&foreign_keys=true").client("b", local);
            c.awaitConverged(emps, a, b);
            c.pg("UPDATE emp SET id = id + 10");
            c.awaitConverged(emps, a, b);
            c.pg("UPDATE emp SET id = id * 10, name = upper(name) WHERE id IN (12, 13, 14)");
            c.awaitConverged(emps, a, b);
            c.pg("BEGIN", "DELETE FROM emp WHERE id = 15", "UPDATE emp SET id = 1 WHERE id = 11",
                    "UPDATE emp SET mentor = 1 WHERE mentor IS NULL AND id <> 1", "COMMIT");
            c.awaitConverged(emps, a, b);
            assertEquals(4, c.pgRows(emps).size());
            // a device writes on top of it
            a.exec("UPDATE emp SET name = 'x' WHERE id = 1");
            a.awaitSynced();
            c.awaitConverged(emps, a, b);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // (6) NO ACTION / RESTRICT unseen children

    /**
     * A self-referencing NO ACTION tree: device a deletes a branch (leaf first, as the key demands), device b added
     * a node under the leaf a never saw. The unseen node keeps its ancestors; everyone converges, with the node.
     */
    @Test
    void aBranchDeleteOverAnUnseenDeeperNodeKeepsTheBranchEverywhere() throws Exception {
        String[] pg = {"CREATE TABLE cat (id text PRIMARY KEY, parent text REFERENCES cat (id), name text)",
            "INSERT INTO cat VALUES ('r', NULL, 'root'), ('m', 'r', 'mid'), ('l', 'm', 'leaf'), ('s', 'm', 'sibling')"};
        String local = "CREATE TABLE cat (id TEXT PRIMARY KEY, parent TEXT REFERENCES cat (id), name TEXT)";
        String cats = "SELECT id, parent, name FROM cat ORDER BY id";
        try (Cluster c = Cluster.start("ttr_noaction_tree", dir, pg)) {
            Client a = c.clientParams("&foreign_keys=true").client("a", local);
            Client b = c.clientParams("&foreign_keys=true").client("b", local);
            c.awaitConverged(cats, a, b);
            a.offline();
            b.exec("INSERT INTO cat VALUES ('n', 'l', 'new')");
            b.awaitSynced();
            a.transaction("DELETE FROM cat WHERE id = 'l'", "DELETE FROM cat WHERE id = 's'", "DELETE FROM cat WHERE id = 'm'");
            a.online();
            syncAll(a, b);
            c.awaitConverged(cats, a, b);
            assertEquals(List.of(row("id", "l", "parent", "m", "name", "leaf"), row("id", "m", "parent", "r", "name", "mid"),
                    row("id", "n", "parent", "l", "name", "new"), row("id", "r", "parent", null, "name", "root")),
                    c.pgRows(cats), "the seen sibling s stays deleted; l and m stay for n");
            assertEquals(List.of(row("n", 0)), a.rows("SELECT count(*) AS n FROM _sync_rejected"), "nothing rejected");
        }
    }

    /** A child referencing its parent through a unique non-key code, RESTRICT; plus a CASCADE grandchild. */
    @Test
    @Disabled("known limit (DESIGN.md, Known limits): through a foreign key onto a non-key UNIQUE column without an action, a parent's delete over an unseen child is refused (23503) and reverted")
    void anUnseenChildThroughAUniqueCodeWithRestrictKeepsTheParent() throws Exception {
        String[] pg = {"CREATE TABLE ord (id text PRIMARY KEY, code text UNIQUE NOT NULL, note text)",
            "CREATE TABLE line (id text PRIMARY KEY, ord_code text REFERENCES ord (code) ON DELETE RESTRICT, qty int)",
            "CREATE TABLE part (id text PRIMARY KEY, line_id text REFERENCES line (id) ON DELETE CASCADE)",
            "INSERT INTO ord VALUES ('o1', 'C1', 'x')", "INSERT INTO line VALUES ('l1', 'C1', 1)",
            "INSERT INTO part VALUES ('p1', 'l1')"};
        String[] local = {"CREATE TABLE ord (id TEXT PRIMARY KEY, code TEXT UNIQUE NOT NULL, note TEXT)",
            "CREATE TABLE line (id TEXT PRIMARY KEY, ord_code TEXT REFERENCES ord (code) ON DELETE RESTRICT, qty INTEGER)",
            "CREATE TABLE part (id TEXT PRIMARY KEY, line_id TEXT REFERENCES line (id) ON DELETE CASCADE)"};
        String all = "SELECT 'o' AS t, id, code AS ref FROM ord UNION ALL SELECT 'l', id, ord_code FROM line"
                + " UNION ALL SELECT 'p', id, line_id FROM part ORDER BY 1, 2";
        try (Cluster c = Cluster.start("ttr_restrict_code", dir, pg)) {
            Client a = c.clientParams("&foreign_keys=true").client("a", local);
            Client b = c.clientParams("&foreign_keys=true").client("b", local);
            c.awaitConverged(all, a, b);
            a.offline();
            b.exec("INSERT INTO line VALUES ('l2', 'C1', 2)");
            b.awaitSynced();
            a.transaction("DELETE FROM line WHERE id = 'l1'", "DELETE FROM ord WHERE id = 'o1'");
            a.online();
            syncAll(a, b);
            c.awaitConverged(all, a, b);
            assertEquals(List.of(row("n", 0)), a.rows("SELECT count(*) AS n FROM _sync_rejected"), "nothing rejected");
            assertEquals(List.of(row("t", "l", "id", "l2", "ref", "C1"), row("t", "o", "id", "o1", "ref", "C1")),
                    c.pgRows(all));
        }
    }

    /**
     * An aggregate three levels deep, every foreign key without an action (Hibernate's): device b adds a note under
     * line l1; device a, which never saw it, deletes the aggregate the way Hibernate does (notes, lines, then the
     * order). The unseen note must keep l1 and the order; a's other deletes (l2, its note) stand; nothing rejected.
     */
    @Test
    void anAggregateDeleteOverAnUnseenGrandchildWithNoActionKeysKeepsItsPath() throws Exception {
        String[] pg = {"CREATE TABLE ord (id text PRIMARY KEY, note text)",
            "CREATE TABLE line (id text PRIMARY KEY, ord_id text NOT NULL REFERENCES ord (id), qty int)",
            "CREATE TABLE lnote (id text PRIMARY KEY, line_id text NOT NULL REFERENCES line (id), body text)",
            "INSERT INTO ord VALUES ('o1', 'x')", "INSERT INTO line VALUES ('l1', 'o1', 1), ('l2', 'o1', 2)",
            "INSERT INTO lnote VALUES ('n2', 'l2', 'seen')"};
        String[] local = {"CREATE TABLE ord (id TEXT PRIMARY KEY, note TEXT)",
            "CREATE TABLE line (id TEXT PRIMARY KEY, ord_id TEXT NOT NULL REFERENCES ord (id), qty INTEGER)",
            "CREATE TABLE lnote (id TEXT PRIMARY KEY, line_id TEXT NOT NULL REFERENCES line (id), body TEXT)"};
        String all = "SELECT 'o' AS t, id, NULL AS ref FROM ord UNION ALL SELECT 'l', id, ord_id FROM line"
                + " UNION ALL SELECT 'n', id, line_id FROM lnote ORDER BY 1, 2";
        try (Cluster c = Cluster.start("ttr_noaction_agg", dir, pg)) {
            Client a = c.clientParams("&foreign_keys=true").client("a", local);
            Client b = c.clientParams("&foreign_keys=true").client("b", local);
            c.awaitConverged(all, a, b);
            a.offline();
            b.exec("INSERT INTO lnote VALUES ('n1', 'l1', 'unseen')");
            b.awaitSynced();
            a.transaction("DELETE FROM lnote WHERE id = 'n2'", "DELETE FROM line WHERE id = 'l1'",
                    "DELETE FROM line WHERE id = 'l2'", "DELETE FROM ord WHERE id = 'o1'");
            a.online();
            syncAll(a, b);
            c.awaitConverged(all, a, b);
            assertEquals(List.of(row("t", "l", "id", "l1", "ref", "o1"), row("t", "n", "id", "n1", "ref", "l1"),
                    row("t", "o", "id", "o1", "ref", null)), c.pgRows(all));
            assertEquals(List.of(row("n", 0)), a.rows("SELECT count(*) AS n FROM _sync_rejected"), "nothing rejected");
        }
    }

    /**
     * A device changes the key of a row its own table refers to (boss REFERENCES emp ON UPDATE CASCADE, locally and in
     * PostgreSQL): SQLite moves the children along; PostgreSQL and the other device must end the same.
     */
    @Test
    @Disabled("known limit (DESIGN.md, Known limits): a device's key change of a row whose children follow it by ON UPDATE CASCADE (here in its own table) is refused by PostgreSQL and reverted")
    void deviceKeyChangeOfASelfReferencedRowReachesEveryone() throws Exception {
        String[] pg = {"CREATE TABLE emp (id int PRIMARY KEY, name text, boss int REFERENCES emp (id) ON UPDATE CASCADE)",
            "INSERT INTO emp VALUES (1, 'a', NULL), (2, 'b', 1), (3, 'c', 2), (5, 'e', 1)"};
        String local = "CREATE TABLE emp (id INTEGER PRIMARY KEY, name TEXT, boss INTEGER REFERENCES emp (id) ON UPDATE CASCADE)";
        String emps = "SELECT id, name, boss FROM emp ORDER BY id";
        try (Cluster c = Cluster.start("ttr_selfkey_dev", dir, pg)) {
            Client a = c.clientParams("&foreign_keys=true").client("a", local);
            Client b = c.clientParams("&foreign_keys=true").client("b", local);
            c.awaitConverged(emps, a, b);
            a.exec("UPDATE emp SET id = 100 WHERE id = 1");
            List<Map<String, Object>> written = a.rows(emps);
            syncAll(a, b);
            assertEquals(List.of(row("n", 0)), a.rows("SELECT count(*) AS n FROM _sync_rejected"), "nothing rejected");
            assertEquals(written, c.pgRows(emps));
            c.awaitConverged(emps, a, b);
        }
    }

    /** {@code UPDATE item SET id = id + 10} renumbers keys on a device: a key change, not an increment of a counter. */
    @Test
    void deviceKeyRenumberingByAnAdditionReachesEveryone() throws Exception {
        String pg = "CREATE TABLE item (id int PRIMARY KEY, name text)";
        String local = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)";
        String items = "SELECT id, name FROM item ORDER BY id";
        try (Cluster c = Cluster.start("ttr_renum_dev", dir, pg, "INSERT INTO item VALUES (1, 'a'), (2, 'b')")) {
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            c.awaitConverged(items, a, b);
            a.exec("UPDATE item SET id = id + 10");
            List<Map<String, Object>> written = a.rows(items);
            assertEquals(List.of(row("id", 11, "name", "a"), row("id", 12, "name", "b")), written);
            syncAll(a, b);
            assertEquals(List.of(row("n", 0)), a.rows("SELECT count(*) AS n FROM _sync_rejected"), "nothing rejected");
            assertEquals(written, c.pgRows(items));
            c.awaitConverged(items, a, b);
        }
    }

    private static io.syncsqlite.it.support.TestClient holdSnapshot(Cluster c, String node) {
        io.syncsqlite.it.support.TestClient t = io.syncsqlite.it.support.TestClient.connect(c.relay().uri());
        t.autoProgress(false);
        t.hello(node, 0);
        t.awaitMessage(io.syncsqlite.protocol.Message.Changes.class);
        return t;
    }

    private static io.syncsqlite.protocol.ClientTx insertTx(long tx, long id, String body) {
        return new io.syncsqlite.protocol.ClientTx(tx, io.syncsqlite.protocol.Hlc.ofMillis(System.currentTimeMillis()),
                List.of(io.syncsqlite.it.support.Json.insert("big", io.syncsqlite.it.support.Json.obj("id", id),
                        io.syncsqlite.it.support.Json.obj("body", body))), 0L);
    }

    /**
     * Several sessions wait for a snapshot slot with pushes held; one disconnects while held and reconnects to send
     * its transactions again. Once the slots free up, every transaction is applied exactly once and acknowledged.
     */
    @Test
    void heldPushesOfManyWaitingSessionsAndAReconnectAreAppliedOnce() throws Exception {
        try (Cluster c = Cluster.start("ttr_held", dir, "CREATE TABLE big (id bigint PRIMARY KEY, body text)",
                "INSERT INTO big SELECT g, repeat('x', 100) || g FROM generate_series(1, 6000) g")) {
            io.syncsqlite.it.support.TestClient hold1 = holdSnapshot(c, "held1");
            io.syncsqlite.it.support.TestClient hold2 = holdSnapshot(c, "held2");
            List<io.syncsqlite.it.support.TestClient> waiting = new ArrayList<>();
            try {
                for (int k = 0; k < 4; k++) {
                    io.syncsqlite.it.support.TestClient raw = io.syncsqlite.it.support.TestClient.connect(c.relay().uri());
                    raw.autoProgress(true);
                    raw.hello("w" + k, 0);
                    raw.send(new io.syncsqlite.protocol.Message.SchemaRequest(io.syncsqlite.protocol.Message.FEATURES_VERSION));
                    raw.awaitMessage(io.syncsqlite.protocol.Message.Features.class);
                    raw.push(insertTx(1, 7000 + 10 * k, "w" + k + "t1"));
                    raw.push(insertTx(2, 7001 + 10 * k, "w" + k + "t2"));
                    raw.await(() -> raw.messages().stream().filter(m -> m instanceof io.syncsqlite.protocol.Message.PartReceived)
                            .count() >= 2 ? true : null, "partReceived for both");
                    waiting.add(raw);
                }
                assertEquals(List.of(row("n", 0L)), c.pgRows("SELECT count(*) AS n FROM big WHERE id >= 7000"));
                waiting.get(0).close();
                io.syncsqlite.it.support.TestClient again = io.syncsqlite.it.support.TestClient.connect(c.relay().uri());
                again.autoProgress(true);
                again.hello("w0", 0);
                again.send(new io.syncsqlite.protocol.Message.SchemaRequest(io.syncsqlite.protocol.Message.FEATURES_VERSION));
                again.awaitMessage(io.syncsqlite.protocol.Message.Features.class);
                again.push(insertTx(1, 7000, "w0t1"));
                again.push(insertTx(2, 7001, "w0t2"));
                waiting.set(0, again);
            } finally {
                hold1.close();
                hold2.close();
            }
            try {
                for (io.syncsqlite.it.support.TestClient raw : waiting) {
                    raw.awaitAck(1);
                    raw.awaitAck(2);
                }
                assertEquals(List.of(row("n", 8L)), c.pgRows("SELECT count(*) AS n FROM big WHERE id >= 7000"));
            } finally {
                waiting.forEach(io.syncsqlite.it.support.TestClient::close);
            }
        }
    }

    /** psql renames codes a self-referencing key onto a UNIQUE non-key column follows (ON UPDATE CASCADE). */
    @Test
    void psqlCodeChangeCascadingThroughASelfReferenceOntoAUniqueColumnReachesClients() throws Exception {
        String[] pg = {"CREATE TABLE dept (id int PRIMARY KEY, code text UNIQUE NOT NULL,"
                + " parent_code text REFERENCES dept (code) ON UPDATE CASCADE ON DELETE SET NULL)",
            "INSERT INTO dept VALUES (1, 'A', NULL), (2, 'B', 'A'), (3, 'C', 'B'), (4, 'D', 'A')"};
        String local = "CREATE TABLE dept (id INTEGER PRIMARY KEY, code TEXT UNIQUE NOT NULL,"
                + " parent_code TEXT REFERENCES dept (code) ON UPDATE CASCADE ON DELETE SET NULL)";
        String depts = "SELECT id, code, parent_code FROM dept ORDER BY id";
        try (Cluster c = Cluster.start("ttr_selfcode", dir, pg)) {
            Client a = c.clientParams("&foreign_keys=true").client("a", local);
            Client b = c.clientParams("&foreign_keys=true").client("b", local);
            c.awaitConverged(depts, a, b);
            c.pg("UPDATE dept SET code = lower(code) || id");
            c.awaitConverged(depts, a, b);
            c.pg("UPDATE dept SET code = 'z' || code, id = id + 100 WHERE id IN (1, 2)");
            c.awaitConverged(depts, a, b);
            assertEquals(List.of(row("id", 3, "code", "c3", "parent_code", "zb2"), row("id", 4, "code", "d4", "parent_code", "za1"),
                    row("id", 101, "code", "za1", "parent_code", null), row("id", 102, "code", "zb2", "parent_code", "za1")),
                    a.rows(depts));
        }
    }

    /** An application trigger created in a batch through the driver, followed by an insert in the same batch. */
    @Test
    void anApplicationTriggerCreatedInABatchStillLetsCaptureFireFirst() throws Exception {
        String pg = "CREATE TABLE post (id text PRIMARY KEY, name text, origin text)";
        String local = "CREATE TABLE post (id TEXT PRIMARY KEY, name TEXT, origin TEXT)";
        String posts = "SELECT id, name, origin FROM post ORDER BY id";
        try (Cluster cluster = Cluster.start("ttr_batchtrig", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            try (Statement st = a.connection().createStatement()) {
                st.addBatch("CREATE TRIGGER post_born AFTER INSERT ON post BEGIN"
                        + " UPDATE post SET origin = 'device' WHERE id = NEW.id; END");
                st.addBatch("INSERT INTO post (id, name) VALUES ('r1', 'x')");
                st.executeBatch();
            }
            List<Map<String, Object>> written = List.of(row("id", "r1", "name", "x", "origin", "device"));
            assertEquals(written, a.rows(posts));
            syncAll(a, b);
            assertEquals(written, cluster.pgRows(posts));
            cluster.awaitConverged(posts, a, b);
        }
    }

    /** An application trigger created in an explicit transaction, then a row inserted in the same transaction. */
    @Test
    void anApplicationTriggerCreatedInATransactionStillLetsCaptureFireFirst() throws Exception {
        String pg = "CREATE TABLE post (id text PRIMARY KEY, name text, origin text)";
        String local = "CREATE TABLE post (id TEXT PRIMARY KEY, name TEXT, origin TEXT)";
        String posts = "SELECT id, name, origin FROM post ORDER BY id";
        try (Cluster cluster = Cluster.start("ttr_txtrig", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.transaction("CREATE TRIGGER post_born AFTER INSERT ON post BEGIN"
                    + " UPDATE post SET origin = 'device' WHERE id = NEW.id; END",
                    "INSERT INTO post (id, name) VALUES ('r1', 'x')");
            a.exec("INSERT INTO post (id, name) VALUES ('r2', 'y')");
            List<Map<String, Object>> written = List.of(row("id", "r1", "name", "x", "origin", "device"),
                    row("id", "r2", "name", "y", "origin", "device"));
            assertEquals(written, a.rows(posts));
            syncAll(a, b);
            assertEquals(written, cluster.pgRows(posts));
            cluster.awaitConverged(posts, a, b);
        }
    }
}
