package io.syncsqlite.it.relay;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;

import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static io.syncsqlite.it.harness.Rows.row;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Review of PostgreSQL-side (direct) writes and the change feed, end to end: real SQLite files through the
 * driver, real relays, real PostgreSQL. Each test asserts the exact rows PostgreSQL and every client end with.
 */
class DirectWriteReviewTest {

    @TempDir
    Path dir;
    private Cluster cluster;

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    private Cluster cluster(String name, String... pgDdl) {
        cluster = Cluster.start(name, dir, pgDdl);
        return cluster;
    }

    /** Like {@link Cluster#awaitConverged} with a longer deadline, for bulk work on a shared 2-core machine. */
    private void awaitConverged(Duration atMost, String sql, Client... on) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            List<Map<String, Object>> expected = cluster.pgRows(sql);
            for (Client c : on) {
                assertEquals(expected, c.rows(sql), c.name() + " vs PostgreSQL");
            }
        });
    }

    /**
     * Server first, clients later: a column added in PostgreSQL and filled there (psql, a back-office job)
     * while the app's table lacks it; then the app's upgrade adds the column. The values PostgreSQL already
     * holds must reach the client, or the replica differs from PostgreSQL for good (until each row is
     * written again).
     */
    @Test
    void aColumnTheAppAddsAfterPostgresFilledItGetsPostgresValues() throws Exception {
        Cluster c = cluster("dwr_addcol", "CREATE TABLE item (id int PRIMARY KEY, name text)");
        Client a = c.client("a", "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)");
        c.pg("INSERT INTO item VALUES (1, 'one')");
        c.awaitConverged("SELECT id, name FROM item ORDER BY id", a);

        c.pg("ALTER TABLE item ADD COLUMN note text");
        c.pg("UPDATE item SET note = 'from psql' WHERE id = 1", "INSERT INTO item VALUES (2, 'two', 'n2')");
        c.awaitConverged("SELECT id, name FROM item ORDER BY id", a);

        // The app's migration catches up with the server's.
        a.exec("ALTER TABLE item ADD COLUMN note TEXT");
        c.pg("INSERT INTO item VALUES (3, 'three', 'n3')");
        c.awaitConverged("SELECT id, name, note FROM item ORDER BY id", a);
        assertEquals(List.of(row("id", 1L, "name", "one", "note", "from psql"), row("id", 2L, "name", "two", "note", "n2"),
                row("id", 3L, "name", "three", "note", "n3")), a.rows("SELECT id, name, note FROM item ORDER BY id"));
    }

    /**
     * App first, server later: the app's table already has the column when PostgreSQL's migration adds it
     * with a default. PostgreSQL fills every existing row with the default without firing any trigger, so
     * nothing is logged: the clients keep NULL where PostgreSQL holds the default, for good.
     */
    @Test
    void aColumnAddedInPostgresWithADefaultReachesClientsThatAlreadyHaveIt() throws Exception {
        Cluster c = cluster("dwr_adddefault", "CREATE TABLE item (id int PRIMARY KEY, name text)");
        Client a = c.client("a", "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, status TEXT)");
        c.pg("INSERT INTO item VALUES (1, 'one'), (2, 'two')");
        c.awaitConverged("SELECT id, name FROM item ORDER BY id", a);
        c.pg("ALTER TABLE item ADD COLUMN status text NOT NULL DEFAULT 'active'");
        c.pg("INSERT INTO item VALUES (3, 'three', 'new')");
        String all = "SELECT id, name, status FROM item ORDER BY id";
        c.awaitConverged(all, a);
        assertEquals(List.of(row("id", 1L, "name", "one", "status", "active"), row("id", 2L, "name", "two", "status", "active"),
                row("id", 3L, "name", "three", "status", "new")), a.rows(all));
    }

    /**
     * Large rows written in psql: a dozen 1 MB values in one commit (more than one 4 MiB message) and one
     * value of 6 million multi-byte characters (18 MB of UTF-8); a live client and one catching up after
     * an outage both end with every character.
     */
    @Test
    void largeDirectRowsArriveWholeLiveAndOnCatchUp() throws Exception {
        Cluster c = cluster("dwr_large", "CREATE TABLE doc (id int PRIMARY KEY, body text, tag text)");
        String local = "CREATE TABLE doc (id INTEGER PRIMARY KEY, body TEXT, tag TEXT)";
        Client live = c.client("live", local);
        Client late = c.client("late", local);
        c.pg("INSERT INTO doc VALUES (0, 'small', 't')");
        c.awaitConverged("SELECT id, body, tag FROM doc", live, late);
        late.offline();
        c.pg("INSERT INTO doc SELECT g, repeat(chr(64 + g), 1048576), 'big' FROM generate_series(1, 12) AS g");
        c.pg("INSERT INTO doc VALUES (13, repeat('€', 6000000), 'huge')");
        c.pg("UPDATE doc SET tag = 'edited' WHERE id IN (1, 13)");
        String shape = "SELECT id, length(body) AS len, substr(body, 1, 3) AS head, substr(body, length(body) - 2, 3) AS tail, tag"
                + " FROM doc ORDER BY id";
        awaitConverged(Duration.ofSeconds(90), shape, live);
        late.online();
        awaitConverged(Duration.ofSeconds(90), shape, late);
        String pgHuge = c.pgRows("SELECT body FROM doc WHERE id = 13").get(0).get("body").toString();
        for (Client x : List.of(live, late)) {
            assertEquals(pgHuge, x.rows("SELECT body FROM doc WHERE id = 13").get(0).get("body"), x.name());
            assertEquals(c.pgRows("SELECT body FROM doc WHERE id = 7").get(0).get("body"),
                    x.rows("SELECT body FROM doc WHERE id = 7").get(0).get("body"), x.name());
        }
    }

    /**
     * Property 6 under load: three clients going offline and online at random and a psql writer race on the
     * same rows and columns (updates, deletes, re-inserts, delete and re-insert in one transaction, key
     * moves). Once everyone is online and synced, every replica equals PostgreSQL.
     */
    @Test
    void directWritesRacingOfflineClientsOnTheSameColumnsConverge() throws Exception {
        Cluster c = cluster("dwr_race", "CREATE TABLE item (id int PRIMARY KEY, a text, b int)");
        String local = "CREATE TABLE item (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)";
        List<Client> clients = List.of(c.client("r1", local), c.client("r2", local), c.client("r3", local));
        java.util.Random rnd = new java.util.Random(42);
        c.pg("INSERT INTO item SELECT g, 'init' || g, g FROM generate_series(1, 12) AS g");
        String all = "SELECT id, a, b FROM item ORDER BY id";
        c.awaitConverged(all, clients.toArray(new Client[0]));
        for (int step = 0; step < 240; step++) {
            int k = 1 + rnd.nextInt(12);
            int v = rnd.nextInt(1000);
            int who = rnd.nextInt(5);
            if (who < 3) {
                Client cl = clients.get(who);
                switch (rnd.nextInt(6)) {
                    case 0 -> cl.offline();
                    case 1 -> cl.online();
                    case 2 -> cl.exec("DELETE FROM item WHERE id = ?", k);
                    case 3 -> cl.exec("INSERT INTO item (id, a, b) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET a = excluded.a",
                            k, cl.name() + "-" + v, v);
                    default -> cl.exec("UPDATE item SET " + (rnd.nextBoolean() ? "a = ?" : "b = ?") + " WHERE id = ?",
                            rnd.nextBoolean() ? (Object) (cl.name() + "-" + v) : (Object) v, k);
                }
            } else {
                switch (rnd.nextInt(5)) {
                    case 0 -> c.pg("DELETE FROM item WHERE id = " + k);
                    case 1 -> c.pg("INSERT INTO item VALUES (" + k + ", 'pg-" + v + "', " + v + ") ON CONFLICT (id) DO UPDATE SET b = excluded.b");
                    case 2 -> c.pg("BEGIN; DELETE FROM item WHERE id = " + k + "; INSERT INTO item VALUES (" + k + ", 'pg-re-" + v + "', " + v + "); COMMIT");
                    case 3 -> c.pg("UPDATE item SET id = " + (20 + rnd.nextInt(5)) + " WHERE id = " + k
                            + " AND NOT EXISTS (SELECT 1 FROM item WHERE id BETWEEN 20 AND 24)");
                    default -> c.pg("UPDATE item SET " + (rnd.nextBoolean() ? "a = 'pg-" + v + "'" : "b = " + v) + " WHERE id = " + k);
                }
            }
            if (step % 40 == 39) {
                Thread.sleep(200); // let some of it flow while others stay offline
            }
        }
        for (Client cl : clients) {
            cl.online();
        }
        for (Client cl : clients) {
            cl.awaitSynced();
        }
        awaitConverged(Duration.ofSeconds(60), all, clients.toArray(new Client[0]));
    }

    /**
     * {@code SET CONSTRAINTS ALL IMMEDIATE} in a psql transaction (to check deferred foreign keys early, a
     * common pattern) also fires the deferred commit-mark trigger at once: the transaction draws its feed
     * position and holds the commit-order lock for the rest of its life. Every other writer of a synced
     * table, psql or relay, then waits at its commit until that transaction ends.
     */
    @Disabled("Known limit (OPERATIONS.md, direct writes): SET CONSTRAINTS ALL IMMEDIATE takes the commit-order lock at once and holds it until the transaction ends")
    @Test
    void setConstraintsImmediateInOneOpenTransactionDoesNotBlockEveryOtherWriter() throws Exception {
        Cluster c = cluster("dwr_setconstr", "CREATE TABLE item (id int PRIMARY KEY, v text)");
        Client a = c.client("a", "CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)");
        String all = "SELECT id, v FROM item ORDER BY id";
        try (Connection open = c.pg(); Statement st = open.createStatement()) {
            open.setAutoCommit(false);
            st.execute("INSERT INTO item VALUES (1, 'long')");
            st.execute("SET CONSTRAINTS ALL IMMEDIATE");
            st.execute("INSERT INTO item VALUES (2, 'long')");
            // The transaction stays open (a migration script, a batch job between steps).
            // statement_timeout does not cover the commit's deferred triggers; lock_timeout does.
            java.util.concurrent.CompletableFuture<Long> shortTx = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                long t0 = System.nanoTime();
                try (Connection other = c.pg(); Statement o = other.createStatement()) {
                    o.execute("SET lock_timeout = '5s'");
                    o.execute("INSERT INTO item VALUES (3, 'short')");
                } catch (java.sql.SQLException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
                return (System.nanoTime() - t0) / 1_000_000;
            });
            try {
                long ms = shortTx.get(20, java.util.concurrent.TimeUnit.SECONDS);
                org.junit.jupiter.api.Assertions.assertTrue(ms < 2000, "a one-row autocommit insert took " + ms + " ms");
                a.exec("INSERT INTO item VALUES (4, 'client')");
                await().atMost(Duration.ofSeconds(5)).until(() -> c.pgRows("SELECT id FROM item WHERE id = 4").size() == 1);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new AssertionError("a short psql transaction failed while another transaction, which ran"
                        + " SET CONSTRAINTS ALL IMMEDIATE, stays open: " + e.getCause(), e.getCause());
            } finally {
                open.commit();
            }
        }
        c.awaitConverged(all, a);
        assertEquals(4, a.rows(all).size());
    }

    /**
     * New clients join (snapshot, then the live feed) while a psql writer commits without pause: the
     * hand-over from snapshot to feed must neither lose nor repeat a commit.
     */
    @Test
    void clientsJoiningDuringContinuousDirectWritesConverge() throws Exception {
        Cluster c = cluster("dwr_join", "CREATE TABLE item (id int PRIMARY KEY, v int)");
        String local = "CREATE TABLE item (id INTEGER PRIMARY KEY, v INTEGER)";
        c.pg("INSERT INTO item SELECT g, 0 FROM generate_series(1, 2000) AS g");
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try (Connection pg = c.pg(); Statement st = pg.createStatement()) {
                for (int i = 1; !stop.get(); i++) {
                    st.execute("UPDATE item SET v = v + 1 WHERE id % 50 = " + (i % 50));
                    st.execute("INSERT INTO item VALUES (" + (10000 + i) + ", " + i + ")");
                    if (i % 7 == 0) {
                        st.execute("DELETE FROM item WHERE id = " + (10000 + i - 3));
                    }
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        writer.start();
        List<Client> joined = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            joined.add(c.client("j" + i, local));
            Cluster.eventually(() -> joined.get(joined.size() - 1).rows("SELECT count(*) AS n FROM item").get(0).get("n"),
                    n -> ((Long) n) > 0);
        }
        stop.set(true);
        writer.join(30_000);
        assertNull(failed.get());
        awaitConverged(Duration.ofSeconds(60), "SELECT id, v FROM item ORDER BY id", joined.toArray(new Client[0]));
    }

    /**
     * A migration that rebuilds a synced table in PostgreSQL (create a new one, copy the rows it keeps, drop
     * the old one, rename). Same name, columns and key: the relay must still notice it is another table,
     * capture it, and clients must get its rows (later writes to it included). Before the fix the table
     * silently stopped syncing in both directions. The rows the rebuild left out stay on clients until their
     * next resync (OPERATIONS.md: dropping rows with the table is not seen).
     */
    @Test
    void aTableRebuiltByAMigrationInPostgresKeepsSyncingWithExactlyItsRows() throws Exception {
        Cluster c = cluster("dwr_rebuild", "CREATE TABLE item (id int PRIMARY KEY, v text)");
        Client a = c.client("a", "CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)");
        c.pg("INSERT INTO item SELECT g, 'v' || g FROM generate_series(1, 10) AS g");
        String all = "SELECT id, v FROM item ORDER BY id";
        c.awaitConverged(all, a);
        c.pg("BEGIN; CREATE TABLE item_new (id int PRIMARY KEY, v text);"
                + " INSERT INTO item_new SELECT id, upper(v) FROM item WHERE id <= 5;"
                + " DROP TABLE item; ALTER TABLE item_new RENAME TO item;"
                + " ALTER INDEX item_new_pkey RENAME TO item_pkey; COMMIT");
        c.pg("INSERT INTO item VALUES (11, 'after')");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertEquals(
                1, a.rows("SELECT v FROM item WHERE id = 11").size(), "a psql insert into the rebuilt table reached the client"));
        String kept = "SELECT id, v FROM item WHERE id <= 5 OR id > 10 ORDER BY id";
        c.awaitConverged(kept, a);
        assertEquals(List.of(row("id", 1L, "v", "V1"), row("id", 2L, "v", "V2"), row("id", 3L, "v", "V3"),
                row("id", 4L, "v", "V4"), row("id", 5L, "v", "V5"), row("id", 11L, "v", "after")), a.rows(kept));
        a.exec("UPDATE item SET v = 'from a' WHERE id = 2");
        a.awaitSynced();
        assertEquals(List.of(row("v", "from a")), c.pgRows("SELECT v FROM item WHERE id = 2"), "and back to PostgreSQL");
    }

    /**
     * A uuid key written by a client in upper case (as .NET, SQL Server or a user types it) is stored by
     * PostgreSQL in canonical lower case, and the feed's image carries that. The client must still hold one
     * row, and a later psql update of it must reach that row.
     */
    @Disabled("Known limit (DESIGN.md, known limits): a key PostgreSQL stores in another spelling (uuid case) comes back as another row")
    @Test
    void anUpperCaseUuidKeyFromAClientStaysOneRowAndTakesDirectUpdates() throws Exception {
        Cluster c = cluster("dwr_uuid", "CREATE TABLE doc (id uuid PRIMARY KEY, v text)");
        Client a = c.client("a", "CREATE TABLE doc (id TEXT PRIMARY KEY, v TEXT)");
        Client b = c.client("b", "CREATE TABLE doc (id TEXT PRIMARY KEY, v TEXT)");
        a.exec("INSERT INTO doc VALUES ('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'client')");
        Cluster.eventually(() -> c.pgRows("SELECT count(*) AS n FROM doc"), r -> r.get(0).get("n").equals(1L));
        c.pg("UPDATE doc SET v = 'psql'");
        String sql = "SELECT lower(CAST(id AS TEXT)) AS id, v FROM doc ORDER BY 1, 2";
        c.awaitConverged(sql, a, b);
        assertEquals(List.of(row("id", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "v", "psql")), a.rows(sql));
    }

    /** The same for a timestamptz key written by a client with an offset: one instant, one row. */
    @Disabled("Known limit (DESIGN.md, known limits): a key PostgreSQL stores in another spelling (timestamptz offset) comes back as another row")
    @Test
    void aTimestamptzKeyFromAClientWithAnOffsetStaysOneRow() throws Exception {
        Cluster c = cluster("dwr_tskey", "CREATE TABLE ev (at timestamptz PRIMARY KEY, v text)");
        Client a = c.client("a", "CREATE TABLE ev (at TEXT PRIMARY KEY, v TEXT)");
        a.exec("INSERT INTO ev VALUES ('2026-11-22 15:45:30+02:00', 'client')");
        Cluster.eventually(() -> c.pgRows("SELECT count(*) AS n FROM ev"), r -> r.get(0).get("n").equals(1L));
        c.pg("UPDATE ev SET v = 'psql'");
        c.awaitConverged("SELECT count(*) AS n, max(v) AS v FROM ev", a);
        assertEquals(List.of(row("n", 1L, "v", "psql")), a.rows("SELECT count(*) AS n, max(v) AS v FROM ev"));
    }

    /**
     * An array column written in psql arrives as JSON text; an app that writes that same text back (copying
     * a row, or saving the form it was shown) must not have its write refused.
     */
    @Test
    void anArrayValueReceivedFromPostgresCanBeWrittenBackAsReceived() throws Exception {
        Cluster c = cluster("dwr_array", "CREATE TABLE tagged (id int PRIMARY KEY, tags text[], nums int[])");
        Client a = c.client("a", "CREATE TABLE tagged (id INTEGER PRIMARY KEY, tags TEXT, nums TEXT)");
        c.pg("INSERT INTO tagged VALUES (1, '{a,b}', '{1,2}')");
        Cluster.eventually(() -> a.rows("SELECT tags, nums FROM tagged WHERE id = 1"), r -> !r.isEmpty());
        Map<String, Object> got = a.rows("SELECT tags, nums FROM tagged WHERE id = 1").get(0);
        a.exec("INSERT INTO tagged (id, tags, nums) VALUES (2, ?, ?)", got.get("tags"), got.get("nums"));
        a.exec("UPDATE tagged SET tags = ? WHERE id = 1", got.get("tags"));
        a.exec("UPDATE tagged SET tags = ?, nums = ? WHERE id = 1", "[\"c\"]", "[3]");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertEquals(2L,
                c.pgRows("SELECT count(*) AS n FROM tagged").get(0).get("n"),
                "the client's copy of row 1 (tags " + got.get("tags") + ") reached PostgreSQL instead of being rejected"));
        assertEquals(List.of(row("id", 1L, "tags", "{c}", "nums", "{3}"), row("id", 2L, "tags", "{a,b}", "nums", "{1,2}")),
                c.pgRows("SELECT id, tags::text AS tags, nums::text AS nums FROM tagged ORDER BY id"));
        assertEquals(List.of(row("id", 1L, "tags", "[\"c\"]"), row("id", 2L, "tags", got.get("tags"))),
                a.rows("SELECT id, tags FROM tagged ORDER BY id"));
    }

    /** A numeric(20,2) amount written in psql must arrive with every digit (the type table: "exact for the scale"). */
    @Test
    void aDecimalWithMoreThanFifteenDigitsArrivesExactly() throws Exception {
        Cluster c = cluster("dwr_numeric", "CREATE TABLE ledger (id int PRIMARY KEY, amount numeric(20,2), note text)");
        // SQLite's NUMERIC affinity keeps 15 significant digits of a decimal, whoever writes it (DESIGN.md,
        // types): a column that must keep more is declared TEXT, which now gets every digit.
        Client a = c.client("a", "CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount TEXT, note TEXT)");
        c.pg("INSERT INTO ledger VALUES (1, 123456789012345678.91, 'x'), (2, 0.10, 'y')");
        Cluster.eventually(() -> a.rows("SELECT id FROM ledger"), r -> r.size() == 2);
        try (Statement st = a.connection().createStatement();
             ResultSet rs = st.executeQuery("SELECT amount FROM ledger ORDER BY id")) {
            rs.next();
            assertEquals(new BigDecimal("123456789012345678.91"), rs.getBigDecimal(1).setScale(2, java.math.RoundingMode.UNNECESSARY));
            rs.next();
            assertEquals(new BigDecimal("0.10"), rs.getBigDecimal(1).setScale(2));
        }
        // A client edit of another column must not write a rounded amount back.
        a.exec("UPDATE ledger SET note = 'edited' WHERE id = 1");
        a.awaitSynced();
        assertEquals(List.of(List.of("123456789012345678.91", "edited")), textRows(c, "SELECT amount::text, note FROM ledger WHERE id = 1"));
    }

    private static List<List<String>> textRows(Cluster c, String sql) throws Exception {
        List<List<String>> out = new ArrayList<>();
        try (Connection pg = c.pg(); Statement st = pg.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                List<String> r = new ArrayList<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    r.add(rs.getString(i));
                }
                out.add(r);
            }
        }
        return out;
    }

    /**
     * One psql transaction over two tables with a foreign key: a parent's key update that cascades to its
     * children, a delete and re-insert of one key, an upsert that adds, COPY, an insert then key change.
     */
    @Test
    void aMultiStatementTransactionWithCascadesUpsertsAndCopyReachesEveryClientExactly() throws Exception {
        Cluster c = cluster("dwr_multi", "CREATE TABLE parent (id int PRIMARY KEY, name text)",
                "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON UPDATE CASCADE ON DELETE CASCADE,"
                        + " qty int, label text)");
        String[] local = {"CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)",
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent ON UPDATE CASCADE"
                        + " ON DELETE CASCADE, qty INTEGER, label TEXT)"};
        Client a = c.client("a", local);
        Client b = c.client("b", local);
        c.pg("INSERT INTO parent VALUES (1, 'one'), (2, 'two'), (9, 'nine')",
                "INSERT INTO child VALUES (10, 1, 1, 'a'), (11, 1, 2, 'b'), (12, 2, 3, 'c'), (19, 9, 9, 'z')");
        String parents = "SELECT id, name FROM parent ORDER BY id";
        String children = "SELECT id, parent_id, qty, label FROM child ORDER BY id";
        c.awaitConverged(children, a, b);

        try (Connection pg = c.pg(); Statement st = pg.createStatement()) {
            pg.setAutoCommit(false);
            st.execute("UPDATE parent SET id = 3 WHERE id = 1");
            st.execute("DELETE FROM child WHERE id = 12");
            st.execute("INSERT INTO child VALUES (12, 2, 99, 'c2')");
            st.execute("INSERT INTO child VALUES (10, 3, 5, 'ignored') ON CONFLICT (id) DO UPDATE SET qty = child.qty + excluded.qty");
            st.execute("INSERT INTO child VALUES (11, 3, 0, 'x') ON CONFLICT (id) DO NOTHING");
            pg.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY child FROM STDIN WITH (FORMAT csv)",
                    new StringReader("13,3,7,copied\n14,2,8,\"with, comma\"\n"));
            st.execute("INSERT INTO parent VALUES (4, 'four')");
            st.execute("UPDATE parent SET id = 5, name = 'five' WHERE id = 4");
            st.execute("DELETE FROM parent WHERE id = 9");
            st.execute("INSERT INTO parent VALUES (9, 'nine again')");
            pg.commit();
        }
        List<Map<String, Object>> expectedParents = List.of(row("id", 2L, "name", "two"), row("id", 3L, "name", "one"),
                row("id", 5L, "name", "five"), row("id", 9L, "name", "nine again"));
        List<Map<String, Object>> expectedChildren = List.of(
                row("id", 10L, "parent_id", 3L, "qty", 6L, "label", "a"),
                row("id", 11L, "parent_id", 3L, "qty", 2L, "label", "b"),
                row("id", 12L, "parent_id", 2L, "qty", 99L, "label", "c2"),
                row("id", 13L, "parent_id", 3L, "qty", 7L, "label", "copied"),
                row("id", 14L, "parent_id", 2L, "qty", 8L, "label", "with, comma"));
        assertEquals(expectedParents, c.pgRows(parents));
        assertEquals(expectedChildren, c.pgRows(children));
        c.awaitConverged(parents, a, b);
        c.awaitConverged(children, a, b);
        assertEquals(expectedParents, b.rows(parents));
        assertEquals(expectedChildren, b.rows(children));
    }

    /**
     * A psql key update racing a client's offline edit of the old key: by the merge rules the key change is
     * a delete (later) and the edit of the old key is dropped. Every side must end with the same single row.
     */
    @Test
    void aDirectKeyUpdateAgainstAnOfflineEditOfTheOldKeyConverges() throws Exception {
        Cluster c = cluster("dwr_pkmove", "CREATE TABLE item (id int PRIMARY KEY, name text, qty int)");
        Client a = c.client("a", "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)");
        Client b = c.client("b", "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)");
        c.pg("INSERT INTO item VALUES (1, 'one', 1), (2, 'two', 2)");
        String all = "SELECT id, name, qty FROM item ORDER BY id";
        c.awaitConverged(all, a, b);
        a.offline();
        a.exec("UPDATE item SET name = 'edited offline' WHERE id = 1");
        a.exec("DELETE FROM item WHERE id = 2");
        // psql, later: moves key 1, and deletes and re-creates key 2 in one transaction.
        c.pg("BEGIN; UPDATE item SET id = 100 WHERE id = 1; DELETE FROM item WHERE id = 2;"
                + " INSERT INTO item VALUES (2, 'two again', 20); COMMIT");
        c.awaitConverged(all, b);
        a.online();
        a.awaitSynced();
        c.awaitConverged(all, a, b);
        assertEquals(List.of(row("id", 2L, "name", "two again", "qty", 20L), row("id", 100L, "name", "one", "qty", 1L)),
                a.rows(all));
    }

    /**
     * A relay restarted twice while a psql writer commits row after row, and a 50,000-row transaction with
     * a later update of some of its rows: a connected client follows live, an offline one catches up from
     * history afterwards; both end with exactly PostgreSQL's rows.
     */
    @Test
    void directWritesAcrossRelayRestartsAndA50kRowCommitReachLiveAndCatchingUpClients() throws Exception {
        Cluster c = cluster("dwr_bulk", "CREATE TABLE item (id int PRIMARY KEY, v text)",
                "CREATE TABLE bulk (id int PRIMARY KEY, v text)");
        String[] local = {"CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT)", "CREATE TABLE bulk (id INTEGER PRIMARY KEY, v TEXT)"};
        Client live = c.client("live", local);
        Client late = c.client("late", local);
        c.pg("INSERT INTO item VALUES (0, 'start')");
        c.awaitConverged("SELECT id, v FROM item", live, late);
        late.offline();

        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try (Connection pg = c.pg(); Statement st = pg.createStatement()) {
                for (int i = 1; i <= 300; i++) {
                    st.execute("INSERT INTO item VALUES (" + i + ", 'v" + i + "')");
                    if (i % 3 == 0) {
                        st.execute("UPDATE item SET v = v || '+' WHERE id = " + (i - 1));
                    }
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        writer.start();
        c.restartRelay();
        c.pg("INSERT INTO bulk SELECT g, repeat('x', g % 50) || 'é' FROM generate_series(1, 50000) AS g");
        c.restartRelay();
        c.pg("UPDATE bulk SET v = 'updated' WHERE id % 1000 = 0", "DELETE FROM bulk WHERE id % 5000 = 1");
        writer.join(120_000);
        assertNull(failed.get());

        String items = "SELECT id, v FROM item ORDER BY id";
        String bulk = "SELECT count(*) AS n, sum(id) AS s, sum(length(v)) AS l, sum(CASE WHEN v = 'updated' THEN 1 ELSE 0 END) AS u FROM bulk";
        awaitConverged(Duration.ofSeconds(120), items, live);
        awaitConverged(Duration.ofSeconds(120), bulk, live);
        late.online();
        awaitConverged(Duration.ofSeconds(120), items, late);
        awaitConverged(Duration.ofSeconds(120), bulk, late);
        assertEquals(301, late.rows(items).size());
        assertEquals(49990L, late.rows(bulk).get(0).get("n"));
        assertEquals(50L, late.rows(bulk).get(0).get("u"));
    }
}
