package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review from the SQLite side: schema features and DML shapes an application may use on synced tables
 * (its own triggers, views with INSTEAD OF triggers, temporary and attached tables of the same name,
 * foreign-key actions, CTEs, UPDATE ... FROM, RETURNING read in part, identifiers quoted every way SQLite
 * allows, batches failing in a transaction). Each test writes on one device and checks that PostgreSQL and
 * a second client end with what the writing device holds.
 */
class SqliteShapesReviewTest {

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

    /** Waits for convergence and checks that every side holds exactly what the writer held after writing. */
    private static void assertEverywhere(Cluster cluster, String sql, List<Map<String, Object>> written,
                                         Client... clients) throws Exception {
        syncAll(clients);
        assertEquals(written, cluster.pgRows(sql), "PostgreSQL vs what the writing device held: " + sql);
        cluster.awaitConverged(sql, clients);
    }

    // ---------------------------------------------------------------------------------------------
    // Counter inference against statement shapes

    /**
     * {@code UPDATE item SET qty = d.qty + 1 FROM delivery AS d WHERE d.id = item.id} sets each item's qty to
     * its delivery's qty plus one: a plain set. The column read is another table's column that happens to be
     * named like the target. The device holds 51 (50 + 1); PostgreSQL and the other client must too.
     */
    @Test
    void anUpdateFromSettingAnotherTablesSameNamedColumnPlusOneIsASetNotAnIncrement() throws Exception {
        String[] pg = {"CREATE TABLE item (id text PRIMARY KEY, qty int)",
            "CREATE TABLE delivery (id text PRIMARY KEY, qty int)",
            "INSERT INTO item VALUES ('a', 10), ('b', 20)", "INSERT INTO delivery VALUES ('a', 50)"};
        String[] local = {"CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER)",
            "CREATE TABLE delivery (id TEXT PRIMARY KEY, qty INTEGER)"};
        String items = "SELECT id, qty FROM item ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_updfrom", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(items, a, b);
            cluster.awaitConverged("SELECT id, qty FROM delivery", a, b);

            a.exec("UPDATE item SET qty = d.qty + 1 FROM delivery AS d WHERE d.id = item.id");
            // the same shape through another row of the same table
            a.exec("UPDATE item AS t SET qty = s.qty + 5 FROM item AS s WHERE s.id = 'a' AND t.id = 'b'");
            List<Map<String, Object>> written = a.rows(items);
            assertEquals(List.of(row("id", "a", "qty", 51), row("id", "b", "qty", 56)), written, "SQLite's own result");
            assertEverywhere(cluster, items, written, a, b);
            assertEquals(written, a.rows(items), "the writing device kept what it wrote");
        }
    }

    /**
     * Two offline devices each add 1 to every row, then sync: every row must end at 102. Rows are written by
     * {@code statements}, each run once on each device, in order.
     */
    private void incrementOnTwoOfflineDevices(String db, List<String> ids, String... statements) throws Exception {
        StringBuilder seed = new StringBuilder("INSERT INTO item VALUES ");
        for (int i = 0; i < ids.size(); i++) {
            seed.append(i == 0 ? "" : ", ").append("('").append(ids.get(i)).append("', 100)");
        }
        String[] pg = {"CREATE TABLE item (id text PRIMARY KEY, qty int)", seed.toString()};
        String[] local = {"CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER)"};
        String items = "SELECT id, qty FROM item ORDER BY id";
        try (Cluster cluster = Cluster.start(db, dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(items, a, b);
            a.offline();
            b.offline();
            for (Client c : List.of(a, b)) {
                for (String sql : statements) {
                    c.exec(sql);
                }
            }
            java.util.List<Map<String, Object>> each = new java.util.ArrayList<>();
            ids.stream().sorted().forEach(id -> each.add(row("id", id, "qty", 101)));
            assertEquals(each, a.rows(items), "each device added 1 to every row");
            a.online();
            b.online();
            syncAll(a, b);
            cluster.awaitConverged(items, a, b);
            java.util.List<Map<String, Object>> expected = new java.util.ArrayList<>();
            ids.stream().sorted().forEach(id -> expected.add(row("id", id, "qty", 102)));
            assertEquals(expected, cluster.pgRows(items), "two devices added 1 to every row");
        }
    }

    /**
     * The same {@code SET qty = qty + 1} with names quoted in brackets (SQLite's MS-Access form), and with an
     * {@code OR IGNORE} / {@code OR ABORT} conflict clause: the plain form and the backtick-quoted one add
     * up (controls), these merge as plain sets and one device's increment is lost.
     */
    @Test
    void incrementsWithBracketQuotesOrAConflictClauseFromTwoOfflineDevicesAddUp() throws Exception {
        incrementOnTwoOfflineDevices("ssr_ctr_quote", List.of("plain", "backticks", "brackets", "or_ignore", "or_abort"),
                "UPDATE item SET qty = qty + 1 WHERE id = 'plain'",
                "UPDATE `item` SET `qty` = `qty` + 1 WHERE `id` = 'backticks'",
                "UPDATE [item] SET [qty] = [qty] + 1 WHERE [id] = 'brackets'",
                "UPDATE OR IGNORE item SET qty = qty + 1 WHERE id = 'or_ignore'",
                "UPDATE OR ABORT item SET qty = qty + 1 WHERE id = 'or_abort'");
    }

    /**
     * Upserts adding {@code excluded.qty}: with a column list and one row (control) they add up; written
     * without a column list, with several rows in VALUES, or from a SELECT, they merge as plain sets and one
     * device's increment is lost.
     */
    @Test
    void upsertIncrementsWithOrWithoutAColumnListFromTwoOfflineDevicesAddUp() throws Exception {
        incrementOnTwoOfflineDevices("ssr_ctr_upsert", List.of("control", "nocols", "nocolsp"),
                "INSERT INTO item (id, qty) VALUES ('control', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT INTO item VALUES ('nocols', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT INTO [item] VALUES ('nocolsp', 1) ON CONFLICT (id) DO UPDATE SET qty = item.qty + (excluded.qty)");
    }

    @Test
    @Disabled("known limit (DESIGN.md, Known limits): an upsert's DO UPDATE SET c = c + excluded.c counts as an increment"
            + " only with one VALUES row; with several rows or from a SELECT it merges last-writer-wins (one device's"
            + " amount is lost)")
    void upsertIncrementsFromSeveralRowsFromTwoOfflineDevicesAddUp() throws Exception {
        incrementOnTwoOfflineDevices("ssr_ctr_upsert_rows", List.of("multi", "select"),
                "INSERT INTO item (id, qty) VALUES ('multi', 1), ('multi', 0) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty",
                "INSERT INTO item (id, qty) SELECT 'select', 1 WHERE true ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty");
    }

    /**
     * An upsert whose DO UPDATE has a WHERE: the rows it skips change nothing anywhere, the rows it takes add
     * up with another device's increments.
     */
    @Test
    void anUpsertWithAWhereOnDoUpdateAddsOnlyWhereItWrote() throws Exception {
        String[] pg = {"CREATE TABLE item (id text PRIMARY KEY, qty int, cap int)",
            "INSERT INTO item VALUES ('low', 10, 100), ('high', 95, 100)"};
        String[] local = {"CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER, cap INTEGER)"};
        String items = "SELECT id, qty, cap FROM item ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_upsertwhere", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(items, a, b);
            b.offline();
            b.exec("UPDATE item SET qty = qty + 1 WHERE id IN ('low', 'high')");
            String upsert = "INSERT INTO item (id, qty, cap) VALUES (?, ?, 0) ON CONFLICT (id) DO UPDATE"
                    + " SET qty = qty + excluded.qty WHERE qty + excluded.qty <= cap";
            assertEquals(1, a.exec(upsert, "low", 7));
            assertEquals(0, a.exec(upsert, "high", 7));
            assertEquals(1, a.exec(upsert, "new", 3));
            b.online();
            syncAll(a, b);
            cluster.awaitConverged(items, a, b);
            assertEquals(List.of(row("id", "high", "qty", 96, "cap", 100), row("id", "low", "qty", 18, "cap", 100),
                    row("id", "new", "qty", 3, "cap", 0)), cluster.pgRows(items));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Foreign-key actions on the device

    /**
     * With {@code PRAGMA foreign_keys=ON}, a parent's key change cascades into its children
     * ({@code ON UPDATE CASCADE}). PostgreSQL has the same foreign key. The device holds the parent under its
     * new key with its children pointing at it; PostgreSQL and the other client must too.
     */
    @Test
    @Disabled("known limit (DESIGN.md, Known limits): a key change is captured as a delete and an insert, which SQLite's"
            + " ON UPDATE CASCADE orders after the children's updates; PostgreSQL refuses the transaction (23503) and the"
            + " device reverts it")
    void aParentKeyChangeCascadingIntoChildrenOnTheDeviceReachesEveryone() throws Exception {
        String[] pg = {"CREATE TABLE parent (id text PRIMARY KEY, name text)",
            "CREATE TABLE child (id text PRIMARY KEY, pid text REFERENCES parent (id) ON UPDATE CASCADE ON DELETE CASCADE,"
                + " label text)"};
        String[] local = {"CREATE TABLE parent (id TEXT PRIMARY KEY, name TEXT)",
            "CREATE TABLE child (id TEXT PRIMARY KEY, pid TEXT REFERENCES parent (id) ON UPDATE CASCADE ON DELETE CASCADE,"
                + " label TEXT)"};
        String parents = "SELECT id, name FROM parent ORDER BY id";
        String children = "SELECT id, pid, label FROM child ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_onupdate", dir, pg)) {
            Client a = cluster.clientParams("&foreign_keys=true").client("a", local);
            Client b = cluster.clientParams("&foreign_keys=true").client("b", local);
            a.script("INSERT INTO parent VALUES ('p1', 'one'), ('p2', 'two')",
                    "INSERT INTO child VALUES ('c1', 'p1', 'x'), ('c2', 'p1', 'y'), ('c3', 'p2', 'z')");
            syncAll(a, b);
            cluster.awaitConverged(children, a, b);

            a.exec("UPDATE parent SET id = 'p9' WHERE id = 'p1'");
            List<Map<String, Object>> writtenParents = a.rows(parents);
            List<Map<String, Object>> writtenChildren = a.rows(children);
            assertEquals(List.of(row("id", "c1", "pid", "p9", "label", "x"), row("id", "c2", "pid", "p9", "label", "y"),
                    row("id", "c3", "pid", "p2", "label", "z")), writtenChildren, "SQLite's cascade");
            assertEverywhere(cluster, parents, writtenParents, a, b);
            assertEquals(writtenChildren, cluster.pgRows(children), "PostgreSQL children");
            cluster.awaitConverged(children, a, b);
            assertEquals(writtenChildren, a.rows(children), "the writing device kept its children");
        }
    }

    /**
     * {@code ON DELETE CASCADE} two levels deep and {@code ON DELETE SET DEFAULT} on the device: what the
     * device holds after deleting a parent is what PostgreSQL and the other client hold.
     */
    @Test
    void deleteCascadeTwoLevelsAndSetDefaultEndTheSameEverywhere() throws Exception {
        String[] pg = {"CREATE TABLE folder (id text PRIMARY KEY, name text)",
            "CREATE TABLE doc (id text PRIMARY KEY, folder_id text NOT NULL DEFAULT 'inbox'"
                + " REFERENCES folder (id) ON DELETE SET DEFAULT, title text)",
            "CREATE TABLE page (id text PRIMARY KEY, doc_id text REFERENCES doc (id) ON DELETE CASCADE, n int)",
            "CREATE TABLE tag (id text PRIMARY KEY, page_id text REFERENCES page (id) ON DELETE CASCADE, t text)"};
        String[] local = {"CREATE TABLE folder (id TEXT PRIMARY KEY, name TEXT)",
            "CREATE TABLE doc (id TEXT PRIMARY KEY, folder_id TEXT NOT NULL DEFAULT 'inbox'"
                + " REFERENCES folder (id) ON DELETE SET DEFAULT, title TEXT)",
            "CREATE TABLE page (id TEXT PRIMARY KEY, doc_id TEXT REFERENCES doc (id) ON DELETE CASCADE, n INTEGER)",
            "CREATE TABLE tag (id TEXT PRIMARY KEY, page_id TEXT REFERENCES page (id) ON DELETE CASCADE, t TEXT)"};
        String docs = "SELECT id, folder_id, title FROM doc ORDER BY id";
        String pages = "SELECT id, doc_id, n FROM page ORDER BY id";
        String tags = "SELECT id, page_id, t FROM tag ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_fkdelete", dir, pg)) {
            Client a = cluster.clientParams("&foreign_keys=true").client("a", local);
            Client b = cluster.clientParams("&foreign_keys=true").client("b", local);
            a.script("INSERT INTO folder VALUES ('inbox', 'Inbox'), ('f1', 'Work')",
                    "INSERT INTO doc VALUES ('d1', 'f1', 'plan'), ('d2', 'f1', 'notes'), ('d3', 'inbox', 'misc')",
                    "INSERT INTO page VALUES ('p1', 'd1', 1), ('p2', 'd1', 2), ('p3', 'd3', 1)",
                    "INSERT INTO tag VALUES ('t1', 'p1', 'a'), ('t2', 'p2', 'b'), ('t3', 'p3', 'c')");
            syncAll(a, b);
            cluster.awaitConverged(tags, a, b);

            a.transaction("DELETE FROM folder WHERE id = 'f1'", "DELETE FROM doc WHERE id = 'd1'");
            List<Map<String, Object>> wDocs = a.rows(docs);
            List<Map<String, Object>> wPages = a.rows(pages);
            List<Map<String, Object>> wTags = a.rows(tags);
            assertEquals(List.of(row("id", "d2", "folder_id", "inbox", "title", "notes"),
                    row("id", "d3", "folder_id", "inbox", "title", "misc")), wDocs);
            assertEverywhere(cluster, docs, wDocs, a, b);
            assertEquals(wPages, cluster.pgRows(pages), "PostgreSQL pages");
            assertEquals(wTags, cluster.pgRows(tags), "PostgreSQL tags");
            cluster.awaitConverged(pages, a, b);
            cluster.awaitConverged(tags, a, b);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Application triggers and views

    /**
     * The application's triggers chain captures: an insert into {@code line} updates its {@code orders} row
     * (another synced table), whose AFTER UPDATE trigger writes the same row again (a status derived from
     * the total); an INSERT ... SELECT and a delete fire them too. Every
     * trigger skips the sync client's writes, as documented. PostgreSQL and the other client end with the
     * writer's rows.
     */
    @Test
    void chainedApplicationTriggersAcrossAndWithinSyncedTablesLandOnceEverywhere() throws Exception {
        String[] pg = {"CREATE TABLE orders (id text PRIMARY KEY, total int, lines int, status text, origin text)",
            "CREATE TABLE line (id text PRIMARY KEY, order_id text, amount int)"};
        String guard = " WHEN NOT EXISTS (SELECT 1 FROM _sync_applying)";
        String[] local = {"CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER, lines INTEGER, status TEXT, origin TEXT)",
            "CREATE TABLE line (id TEXT PRIMARY KEY, order_id TEXT, amount INTEGER)"};
        String[] triggers = {
            "CREATE TRIGGER line_added AFTER INSERT ON line" + guard + " BEGIN"
                + " UPDATE orders SET total = total + NEW.amount, lines = lines + 1 WHERE id = NEW.order_id; END",
            "CREATE TRIGGER line_removed AFTER DELETE ON line" + guard + " BEGIN"
                + " UPDATE orders SET total = total - OLD.amount, lines = lines - 1 WHERE id = OLD.order_id; END",
            "CREATE TRIGGER order_status AFTER UPDATE OF total ON orders" + guard + " BEGIN"
                + " UPDATE orders SET status = CASE WHEN NEW.total >= 100 THEN 'big' ELSE 'small' END WHERE id = NEW.id; END"};
        String orders = "SELECT id, total, lines, status, origin FROM orders ORDER BY id";
        String lines = "SELECT id, order_id, amount FROM line ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_triggers", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            for (Client c : List.of(a, b)) {
                c.script(triggers);
            }
            a.exec("INSERT INTO orders (id, total, lines, status, origin) VALUES ('o1', 0, 0, 'empty', 'device')");
            a.transaction("INSERT INTO line VALUES ('l1', 'o1', 40)", "INSERT INTO line VALUES ('l2', 'o1', 70)");
            a.exec("INSERT INTO line SELECT 'l3', 'o1', 5");
            a.exec("DELETE FROM line WHERE id = 'l2'");
            List<Map<String, Object>> written = a.rows(orders);
            assertEquals(List.of(row("id", "o1", "total", 45, "lines", 2, "status", "small", "origin", "device")), written);
            assertEverywhere(cluster, orders, written, a, b);
            assertEquals(a.rows(lines), cluster.pgRows(lines));
            cluster.awaitConverged(lines, a, b);
        }
    }

    /**
     * An AFTER INSERT trigger that fills in a column of the row just inserted ({@code UPDATE orders SET origin
     * = 'device' WHERE id = NEW.id}), as applications stamp defaults they cannot declare. Created in the
     * plain file before the driver first opened it (control: {@code pre}), the row reaches PostgreSQL as the
     * device holds it. Created through the driver afterwards (a later migration adding the trigger:
     * {@code post}), SQLite fires it before the capture's AFTER INSERT trigger, so the outbox holds the
     * trigger's update before the insert, whose image is the row before the update: PostgreSQL drops the
     * update (no such row yet) and inserts the row without the trigger's value.
     */
    @Test
    void anAfterInsertTriggerFillingItsOwnRowReachesPostgresWhenCreatedAfterTheFirstOpen() throws Exception {
        String[] pg = {"CREATE TABLE pre (id text PRIMARY KEY, name text, origin text)",
            "CREATE TABLE post (id text PRIMARY KEY, name text, origin text)"};
        String guard = " WHEN NOT EXISTS (SELECT 1 FROM _sync_applying)";
        String[] local = {"CREATE TABLE pre (id TEXT PRIMARY KEY, name TEXT, origin TEXT)",
            "CREATE TABLE post (id TEXT PRIMARY KEY, name TEXT, origin TEXT)",
            "CREATE TRIGGER pre_born AFTER INSERT ON pre BEGIN UPDATE pre SET origin = 'device' WHERE id = NEW.id; END"};
        String preRows = "SELECT id, name, origin FROM pre ORDER BY id";
        String postRows = "SELECT id, name, origin FROM post ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_sameRow", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("CREATE TRIGGER post_born AFTER INSERT ON post" + guard + " BEGIN"
                    + " UPDATE post SET origin = 'device' WHERE id = NEW.id; END");
            a.exec("INSERT INTO pre (id, name) VALUES ('r1', 'x')");
            a.exec("INSERT INTO post (id, name) VALUES ('r1', 'x')");
            List<Map<String, Object>> written = List.of(row("id", "r1", "name", "x", "origin", "device"));
            assertEquals(written, a.rows(preRows));
            assertEquals(written, a.rows(postRows));
            syncAll(a, b);
            assertEquals(written, cluster.pgRows(preRows), "trigger created before the first open (control)");
            assertEquals(written, cluster.pgRows(postRows), "trigger created through the driver after the first open");
            cluster.awaitConverged(postRows, a, b);
        }
    }

    /**
     * A view over two synced tables with INSTEAD OF triggers: inserts, updates (one of them an increment
     * through the view) and deletes through the view reach both tables in PostgreSQL and on the other client.
     */
    @Test
    void writesThroughAViewsInsteadOfTriggersReachEveryone() throws Exception {
        String[] pg = {"CREATE TABLE person (id text PRIMARY KEY, name text)",
            "CREATE TABLE score (person_id text PRIMARY KEY, points int)"};
        String[] local = {"CREATE TABLE person (id TEXT PRIMARY KEY, name TEXT)",
            "CREATE TABLE score (person_id TEXT PRIMARY KEY, points INTEGER)",
            "CREATE VIEW board AS SELECT p.id, p.name, s.points FROM person p JOIN score s ON s.person_id = p.id",
            "CREATE TRIGGER board_ins INSTEAD OF INSERT ON board BEGIN INSERT INTO person VALUES (NEW.id, NEW.name);"
                + " INSERT INTO score VALUES (NEW.id, NEW.points); END",
            "CREATE TRIGGER board_upd INSTEAD OF UPDATE ON board BEGIN UPDATE person SET name = NEW.name WHERE id = OLD.id;"
                + " UPDATE score SET points = NEW.points WHERE person_id = OLD.id; END",
            "CREATE TRIGGER board_del INSTEAD OF DELETE ON board BEGIN DELETE FROM score WHERE person_id = OLD.id;"
                + " DELETE FROM person WHERE id = OLD.id; END"};
        String board = "SELECT p.id, p.name, s.points FROM person p JOIN score s ON s.person_id = p.id ORDER BY p.id";
        try (Cluster cluster = Cluster.start("ssr_view", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("INSERT INTO board (id, name, points) VALUES ('x', 'Xena', 1), ('y', 'Yuri', 2), ('z', 'Zoe', 3)");
            a.exec("UPDATE board SET points = points + 10 WHERE id IN ('x', 'y')");
            a.exec("UPDATE board SET name = upper(name) WHERE points > 10");
            a.exec("DELETE FROM board WHERE id = 'z'");
            List<Map<String, Object>> written = a.rows(board);
            assertEquals(List.of(row("id", "x", "name", "XENA", "points", 11), row("id", "y", "name", "YURI", "points", 12)),
                    written);
            assertEverywhere(cluster, board, written, a, b);
            assertEquals(List.of(row("n", 2)), cluster.pgRows("SELECT count(*) AS n FROM person"));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Temporary and attached tables of a synced table's name

    /**
     * A TEMP table named like a synced table takes unqualified statements: its rows are nobody else's. The
     * main table, written as {@code main.item}, syncs as usual (an increment too, from two devices).
     */
    @Test
    void aTempTableOfASyncedNameStaysLocalAndTheMainTableStillSyncs() throws Exception {
        String[] pg = {"CREATE TABLE item (id text PRIMARY KEY, qty int)", "INSERT INTO item VALUES ('k', 100)"};
        String[] local = {"CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER)"};
        String items = "SELECT id, qty FROM main.item ORDER BY id";
        String pgItems = "SELECT id, qty FROM item ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_temp", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(pgItems, a, b);
            b.offline();
            b.exec("UPDATE item SET qty = qty + 1 WHERE id = 'k'");

            a.exec("CREATE TEMP TABLE item (id TEXT PRIMARY KEY, qty INTEGER)");
            a.exec("INSERT INTO item VALUES ('tmp1', 1), ('k', 555)");
            a.exec("UPDATE item SET qty = qty + 1");
            a.exec("INSERT INTO main.item VALUES ('m1', 7)");
            a.exec("UPDATE main.item SET qty = qty + 10 WHERE id = 'k'");
            a.exec("DELETE FROM item WHERE id = 'tmp1'");
            a.exec("INSERT OR REPLACE INTO item VALUES ('m1', 999)");
            a.connection().setAutoCommit(false);
            a.exec("UPDATE item SET qty = -1");
            a.exec("INSERT INTO main.item SELECT 'm2', qty FROM temp.item WHERE id = 'k'");
            a.connection().commit();
            a.connection().setAutoCommit(true);
            assertEquals(List.of(row("id", "k", "qty", 110), row("id", "m1", "qty", 7), row("id", "m2", "qty", -1)),
                    a.rows(items));
            b.online();
            syncAll(a, b);
            List<Map<String, Object>> merged = List.of(row("id", "k", "qty", 111), row("id", "m1", "qty", 7),
                    row("id", "m2", "qty", -1));
            assertEquals(merged, cluster.pgRows(pgItems));
            Cluster.eventually(() -> a.rows(items), merged::equals);
            Cluster.eventually(() -> b.rows(pgItems), merged::equals);
            assertEquals(List.of(row("id", "k", "qty", -1), row("id", "m1", "qty", -1)),
                    a.rows("SELECT id, qty FROM temp.item ORDER BY id"), "the temp table kept its own rows");
            a.exec("DROP TABLE temp.item");
            a.exec("UPDATE item SET qty = 3 WHERE id = 'm1'");
            syncAll(a, b);
            assertEquals(List.of(row("id", "m1", "qty", 3)), cluster.pgRows("SELECT id, qty FROM item WHERE id = 'm1'"));
        }
    }

    /**
     * An attached file with a table of the same name: writes qualified {@code aux.item} stay in that file;
     * writes qualified {@code main.item}, and an {@code INSERT ... SELECT} from {@code aux.item} into the main
     * table, sync.
     */
    @Test
    void anAttachedTableOfTheSameNameIsNotSyncedAndTheMainOneIs() throws Exception {
        String[] pg = {"CREATE TABLE item (id text PRIMARY KEY, qty int)"};
        String[] local = {"CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER)"};
        String items = "SELECT id, qty FROM item ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_attach", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            Path aux = dir.resolve("aux.db");
            try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + aux);
                 Statement st = plain.createStatement()) {
                st.execute("CREATE TABLE item (id TEXT PRIMARY KEY, qty INTEGER)");
                st.execute("INSERT INTO item VALUES ('imp1', 1), ('imp2', 2)");
            }
            a.exec("ATTACH DATABASE '" + aux + "' AS aux");
            a.exec("INSERT INTO item VALUES ('own', 5)");
            a.exec("INSERT INTO aux.item VALUES ('auxonly', 9)");
            a.exec("UPDATE aux.item SET qty = qty + 100");
            a.exec("INSERT INTO main.item SELECT id, qty FROM aux.item WHERE id LIKE 'imp%'");
            a.exec("UPDATE main.item SET qty = qty * 2 WHERE id IN (SELECT id FROM aux.item)");
            a.exec("DELETE FROM aux.item WHERE id = 'imp1'");
            a.exec("DELETE FROM main.item WHERE id = 'own'");
            a.exec("DETACH DATABASE aux");
            List<Map<String, Object>> written = a.rows(items);
            assertEquals(List.of(row("id", "imp1", "qty", 202), row("id", "imp2", "qty", 204)), written);
            assertEverywhere(cluster, items, written, a, b);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Statement forms

    /**
     * Table and column names quoted every way SQLite accepts, in any case; CTEs in front of UPDATE and
     * DELETE; UPDATE ... FROM an aggregate; multi-row VALUES with expressions; INSERT ... SELECT from another
     * synced table.
     */
    @Test
    void quotedNamesCtesAndUpdateFromReachEveryoneExactly() throws Exception {
        String[] pg = {"CREATE TABLE \"Item\" (\"Id\" text PRIMARY KEY, \"Qty\" int, \"Note\" text)",
            "CREATE TABLE stock_move (id text PRIMARY KEY, item text, n int)"};
        String[] local = {"CREATE TABLE \"Item\" (\"Id\" TEXT PRIMARY KEY, \"Qty\" INTEGER, \"Note\" TEXT)",
            "CREATE TABLE stock_move (id TEXT PRIMARY KEY, item TEXT, n INTEGER)"};
        String items = "SELECT \"Id\" AS id, \"Qty\" AS qty, \"Note\" AS note FROM \"Item\" ORDER BY \"Id\"";
        String moves = "SELECT id, item, n FROM stock_move ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_quoting", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("INSERT INTO \"Item\" (\"Id\", \"Qty\", \"Note\") VALUES ('a', 1, 'dq'), ('b', 2 * 3, 'x' || 'y')");
            a.exec("INSERT INTO [item] ([id], [qty], [note]) VALUES ('c', 3, 'brackets')");
            a.exec("INSERT INTO `ITEM` (`ID`, `QTY`, `NOTE`) VALUES ('d', 4, 'backticks')");
            a.exec("INSERT INTO main.ITEM (id, qty, note) VALUES ('e', 5, 'bare upper')");
            a.exec("INSERT INTO 'Item' ('Id', 'Qty', 'Note') VALUES ('f', 6, 'single quotes')");
            a.exec("INSERT INTO stock_move (id, item, n) SELECT 'm-' || Id, Id, Qty * 10 FROM \"Item\" WHERE Qty > 3");
            a.exec("WITH big(k) AS (SELECT item FROM stock_move WHERE n >= 50)"
                    + " UPDATE [Item] SET Note = 'big' WHERE Id IN big");
            a.exec("WITH gone(k) AS (VALUES ('b'), ('zz')) DELETE FROM `item` WHERE \"id\" IN (SELECT k FROM gone)");
            a.exec("UPDATE item SET qty = m.total FROM (SELECT item, sum(n) AS total FROM stock_move GROUP BY item) AS m"
                    + " WHERE m.item = item.id AND item.id = 'd'");
            a.exec("WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 3)"
                    + " INSERT INTO stock_move (id, item, n) SELECT 'gen' || i, 'a', i FROM seq");
            a.exec("UPDATE \"stock_move\" SET n = -n WHERE \"id\" GLOB 'gen*'");
            List<Map<String, Object>> written = a.rows(items);
            assertEquals(5, written.size(), written.toString());
            assertEverywhere(cluster, items, written, a, b);
            assertEquals(a.rows(moves), cluster.pgRows(moves));
            cluster.awaitConverged(moves, a, b);
        }
    }

    /**
     * DELETE ... RETURNING and UPDATE ... RETURNING (a counter among them) read in part and closed, in
     * auto-commit mode and in a transaction: SQLite has written every row by the first step, so every row the
     * device changed must reach PostgreSQL.
     */
    @Test
    void returningStatementsReadInPartThenClosedSyncEveryRowTheyChanged() throws Exception {
        String[] pg = {"CREATE TABLE job (id int PRIMARY KEY, state text, tries int)"};
        String[] local = {"CREATE TABLE job (id INTEGER PRIMARY KEY, state TEXT, tries INTEGER)"};
        String jobs = "SELECT id, state, tries FROM job ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_returning", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            a.exec("INSERT INTO job VALUES (1, 'new', 0), (2, 'new', 0), (3, 'new', 0), (4, 'new', 0), (5, 'new', 0),"
                    + " (6, 'done', 0), (7, 'done', 0), (8, 'done', 0)");
            syncAll(a, b);
            Connection c = a.connection();
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE job SET tries = tries + ?, state = 'run' WHERE state = 'new' AND id <= 3 RETURNING id")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    assertTrue(rs.next());
                }
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("DELETE FROM job WHERE state = 'done' RETURNING id")) {
                assertTrue(rs.next());
            }
            c.setAutoCommit(false);
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("UPDATE job SET state = 'late' WHERE id IN (4, 5) RETURNING id, state")) {
                assertTrue(rs.next());
            }
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("DELETE FROM job WHERE id IN (1, 2) RETURNING *")) {
                assertTrue(rs.next());
            }
            c.commit();
            c.setAutoCommit(true);
            List<Map<String, Object>> written = a.rows(jobs);
            assertEquals(List.of(row("id", 3, "state", "run", "tries", 1), row("id", 4, "state", "late", "tries", 0),
                    row("id", 5, "state", "late", "tries", 0)), written);
            assertEverywhere(cluster, jobs, written, a, b);
        }
    }

    /**
     * A Statement batch over two synced tables in an explicit transaction, whose middle entry fails: the
     * application catches the failure and commits. What SQLite kept (the entries before the failure) is what
     * PostgreSQL and the other client get; a savepoint rolled back in the same transaction takes its writes
     * away everywhere.
     */
    @Test
    void aFailedBatchInATransactionThenCommitSyncsWhatTheDeviceKept() throws Exception {
        String[] pg = {"CREATE TABLE note (id text PRIMARY KEY, body text NOT NULL)",
            "CREATE TABLE counter (id text PRIMARY KEY, n int)", "INSERT INTO counter VALUES ('c', 0)"};
        String[] local = {"CREATE TABLE note (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE counter (id TEXT PRIMARY KEY, n INTEGER)"};
        String notes = "SELECT id, body FROM note ORDER BY id";
        String counters = "SELECT id, n FROM counter ORDER BY id";
        try (Cluster cluster = Cluster.start("ssr_batchtx", dir, pg)) {
            Client a = cluster.client("a", local);
            Client b = cluster.client("b", local);
            cluster.awaitConverged(counters, a, b);
            Connection c = a.connection();
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.addBatch("INSERT INTO note VALUES ('n1', 'one')");
                st.addBatch("UPDATE counter SET n = n + 5 WHERE id = 'c'");
                st.addBatch("INSERT INTO note VALUES ('n2', NULL)");
                st.addBatch("INSERT INTO note VALUES ('n3', 'three')");
                assertThrows(SQLException.class, st::executeBatch);
            }
            a.exec("SAVEPOINT inner_sp");
            a.exec("INSERT INTO note VALUES ('gone', 'g')");
            a.exec("UPDATE counter SET n = n + 100 WHERE id = 'c'");
            a.exec("ROLLBACK TO inner_sp");
            a.exec("RELEASE inner_sp");
            a.exec("UPDATE note SET body = body || '!' WHERE id = 'n1'");
            c.commit();
            c.setAutoCommit(true);
            List<Map<String, Object>> wNotes = a.rows(notes);
            List<Map<String, Object>> wCounters = a.rows(counters);
            assertEverywhere(cluster, notes, wNotes, a, b);
            assertEquals(wCounters, cluster.pgRows(counters), "PostgreSQL counter");
            cluster.awaitConverged(counters, a, b);
        }
    }
}
