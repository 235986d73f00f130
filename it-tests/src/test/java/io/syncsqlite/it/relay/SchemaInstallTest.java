package io.syncsqlite.it.relay;

import io.syncsqlite.it.support.PostgresFixture;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.it.support.TestClient;
import io.syncsqlite.protocol.Hlc;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.syncsqlite.it.support.Json.insert;
import static io.syncsqlite.it.support.Json.obj;
import static io.syncsqlite.it.support.Json.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Installing the relay's schema is idempotent, and several relays can serve one database. */
class SchemaInstallTest {

    private static RelayFixture fresh(String prefix, List<String> tables, String... ddl) {
        String url = PostgresFixture.server().newDatabase(prefix);
        RelayFixture f = RelayFixture.on(url, tables);
        f.execute(ddl);
        return f;
    }

    @Test
    void twoRelaysStartAtOnceOnAFreshDatabaseAndServeItTogether() throws Exception {
        RelayFixture f = fresh("install", List.of(),
                "CREATE TABLE a (id int PRIMARY KEY, v text)",
                "CREATE TABLE b (k text, n int, PRIMARY KEY (k, n))",
                "CREATE TABLE no_key (v text)");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Relay>> starts = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            starts.add(pool.submit(() -> {
                go.await();
                return f.startRelay();
            }));
        }
        go.countDown();
        try (Relay one = starts.get(0).get(60, TimeUnit.SECONDS); Relay two = starts.get(1).get(60, TimeUnit.SECONDS)) {
            pool.shutdown();
            assertEquals(List.of(List.of("a", "5"), List.of("b", "5")), triggers(f));

            // A client of one relay writes; a client of the other hears it.
            TestClient writer = TestClient.connect(one.uri());
            TestClient reader = TestClient.connect(two.uri());
            try {
                writer.hello("install-writer", 0);
                reader.hello("install-reader", 0);
                writer.push(tx(1, Hlc.ofMillis(System.currentTimeMillis()),
                        insert("b", obj("k", "x", "n", 1), obj())));
                long seq = writer.awaitAck(1).seq();
                reader.awaitCursor(seq);
                assertEquals("x", reader.entries().get(reader.entries().size() - 1).pk().get("k").asText());
            } finally {
                writer.close();
                reader.close();
            }
        }
        // Once more, sequentially: nothing is created twice.
        try (Relay again = f.startRelay()) {
            assertTrue(again.port() > 0);
            assertEquals(List.of(List.of("a", "5"), List.of("b", "5")), triggers(f));
            assertEquals(1, f.queryLong("SELECT count(*) FROM pg_proc WHERE proname = 'capture_rows'"
                    + " AND pronamespace = 'syncsqlite'::regnamespace"));
        }
    }

    @Test
    void triggersOfTheRowLevelVersionAreReplaced() {
        RelayFixture f = fresh("upgrade", List.of(), "CREATE TABLE u (id int PRIMARY KEY, v text)");
        try (Relay r = f.startRelay()) {
            assertTrue(r.port() > 0);
        }
        // What an earlier version installed: one row-level capture trigger, a commit trigger without WHEN, both
        // calling trigger functions of that version (stand-ins here: the capture function's body does not matter).
        f.execute("DROP FUNCTION syncsqlite.capture()",
                "CREATE FUNCTION syncsqlite.capture() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$",
                "DROP TRIGGER syncsqlite_capture_insert ON u", "DROP TRIGGER syncsqlite_capture_update ON u",
                "DROP TRIGGER syncsqlite_capture_delete ON u",
                "CREATE TRIGGER syncsqlite_capture AFTER INSERT OR UPDATE OR DELETE ON u FOR EACH ROW"
                        + " EXECUTE FUNCTION syncsqlite.capture('id')",
                "CREATE CONSTRAINT TRIGGER syncsqlite_commit AFTER INSERT OR UPDATE OR DELETE ON u"
                        + " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION syncsqlite.commit_mark_trigger()");
        try (Relay r = f.startRelay()) {
            assertTrue(r.port() > 0);
            assertEquals(List.of(List.of("u", "5")), triggers(f));
            assertEquals(List.of(List.of("syncsqlite_capture_delete", "f"), List.of("syncsqlite_capture_insert", "f"),
                    List.of("syncsqlite_capture_truncate", "f"), List.of("syncsqlite_capture_truncated", "f"),
                    List.of("syncsqlite_capture_update", "f")),
                    f.query("SELECT tgname, tgqual IS NOT NULL FROM pg_trigger WHERE tgrelid = 'u'::regclass"
                            + " AND tgname LIKE 'syncsqlite%' ORDER BY 1"));
            // The commit mark is one trigger, on the change log, with its WHEN clause.
            assertEquals(List.of(List.of("syncsqlite_commit", "t")), f.query("SELECT tgname, tgqual IS NOT NULL"
                    + " FROM pg_trigger WHERE tgrelid = 'syncsqlite.change'::regclass AND tgname LIKE 'syncsqlite%'"));
            long commits = f.queryLong("SELECT count(*) FROM syncsqlite.commit_log");
            f.execute("INSERT INTO u SELECT g, 'v' FROM generate_series(1, 3) AS g");
            assertEquals(commits + 1, f.queryLong("SELECT count(*) FROM syncsqlite.commit_log"));
            assertEquals(3, f.queryLong("SELECT count(*) FROM syncsqlite.change WHERE tbl = 'u'"));
            assertEquals("void", f.query("SELECT prorettype::regtype::text FROM pg_proc WHERE oid = 'syncsqlite.capture()'::regprocedure")
                    .get(0).get(0), "the earlier capture function is fenced off");
        }
    }

    @Test
    void aTableListLimitsWhatIsSyncedAndIsChecked() {
        RelayFixture f = fresh("tables", List.of("A_Table"),
                "CREATE TABLE a_table (id int PRIMARY KEY)",
                "CREATE TABLE other (id int PRIMARY KEY)",
                "CREATE TABLE no_key (v text)");
        try (Relay r = f.startRelay()) {
            assertTrue(r.port() > 0);
            assertEquals(List.of(List.of("a_table", "5")), triggers(f));
        }
        RelayFixture missing = RelayFixture.on(f.dbUrl(), List.of("nope"));
        IllegalArgumentException e1 = assertThrows(IllegalArgumentException.class, () -> startUnwrapped(missing));
        assertTrue(e1.getMessage().contains("nope"));
        RelayFixture keyless = RelayFixture.on(f.dbUrl(), List.of("no_key"));
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> startUnwrapped(keyless));
        assertTrue(e2.getMessage().contains("primary key"));
    }

    /**
     * The install runs at every relay start and every time the watcher sees the schema change (any DDL, say a
     * new table). With its objects in place it must take no lock on them: `ALTER TABLE ... ADD COLUMN IF NOT
     * EXISTS` locks the table ACCESS EXCLUSIVE and `CREATE INDEX IF NOT EXISTS` SHARE even when there is
     * nothing to do, so the install queued behind a long reader of the change log or clocks (a snapshot, a
     * history read) and behind any open write, and every writer of every synced table queued behind it, for
     * as long as the longest of them. Here a reader and a writer stay open while a table is created: the
     * watcher must sync the new table, and a second writer must not wait.
     */
    @Test
    void theWatchersInstallTakesNoLockThatWritersWaitFor() throws Exception {
        try (RelayFixture f = RelayFixture.start("installlocks", "CREATE TABLE t (id int PRIMARY KEY, v int)");
             java.sql.Connection reader = f.connection(); java.sql.Connection writer = f.connection();
             java.sql.Connection second = f.connection()) {
            reader.setAutoCommit(false);
            for (String table : List.of("change", "row_clock", "client", "commit_log")) {
                reader.createStatement().execute("SELECT count(*) FROM syncsqlite." + table);
            }
            writer.setAutoCommit(false);
            writer.createStatement().execute("INSERT INTO t VALUES (1, 1)");
            f.execute("CREATE TABLE other (id int PRIMARY KEY)");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(15))
                    .until(() -> triggers(f).contains(List.of("other", "5")));
            second.createStatement().execute("SET lock_timeout = 3000");
            second.createStatement().execute("INSERT INTO t VALUES (2, 2)");
            writer.commit();
            reader.commit();
            assertEquals(2, f.queryLong("SELECT count(*) FROM t"));
        }
    }

    /**
     * What the install still locks it locks strongly: CREATE TRIGGER on a table synced for the first time
     * takes SHARE ROW EXCLUSIVE, which waits for the table's open writers, and every writer after it queued
     * behind the waiting install for as long as the open transaction ran. A relay starting on a table an
     * application keeps writing must hold writers up by at most its lock bound per attempt (2 s), and start
     * once the long transaction is over.
     */
    @Test
    void aStartOnABusyTableHoldsWritersUpBrieflyAndInstallsOnceItCan() throws Exception {
        RelayFixture f = fresh("installbusy", List.of(), "CREATE TABLE t (id int PRIMARY KEY, v int)");
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (java.sql.Connection open = f.connection(); java.sql.Connection second = f.connection()) {
            open.setAutoCommit(false);
            open.createStatement().execute("INSERT INTO t VALUES (1, 1)"); // an application's long transaction
            Future<Relay> starting = pool.submit(f::startRelay);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> f.queryLong(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            + " AND application_name = 'syncsqlite-relay install' AND wait_event_type = 'Lock'") == 1);
            second.createStatement().execute("SET lock_timeout = 4000");
            long t0 = System.nanoTime();
            second.createStatement().execute("INSERT INTO t VALUES (2, 2)"); // queued behind the install, briefly
            long waitedMs = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(waitedMs < 3500, "a writer waited " + waitedMs + " ms behind the install");
            Thread.sleep(3000); // the start keeps trying meanwhile
            assertTrue(!starting.isDone(), "no relay without its triggers");
            open.commit();
            try (Relay relay = starting.get(20, TimeUnit.SECONDS)) {
                assertTrue(relay.port() > 0);
                assertEquals(List.of(List.of("t", "5")), triggers(f));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void startUnwrapped(RelayFixture f) throws Exception {
        Relay.start(f.config()).close();
    }

    private static List<List<String>> triggers(RelayFixture f) {
        return f.query("SELECT c.relname, count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                + " WHERE t.tgname LIKE 'syncsqlite%' AND c.relnamespace <> 'syncsqlite'::regnamespace"
                + " GROUP BY c.relname ORDER BY c.relname");
    }
}
