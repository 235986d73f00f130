package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Rows;
import io.syncsqlite.it.support.PostgresFixture;
import io.syncsqlite.it.support.RelayFixture;
import io.syncsqlite.relay.Relay;
import org.junit.jupiter.api.AfterAll;
import io.syncsqlite.it.harness.TcpProxy;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mixed versions, as a deployment upgrading one side at a time meets them: a driver of this version (the
 * one on the test class path) against the relay of the commit before this session's changes
 * ({@code /work/wt-old}, 2062fa0, run as its own process from its runnable jar), and the driver of that
 * commit (its self-contained jar, in its own class loader) against this version's relay. Each syncs both
 * ways with PostgreSQL: writes of every kind, keys granted by the relay, reconnects, a first snapshot, a
 * relay restart, and date/timestamptz/uuid columns, whose values pass unconverted when either side predates
 * {@code columnTypes}.
 *
 * <p>The old artifacts are found by path ({@code /work/wt-old/.../target}, built with {@code mvn package
 * -DskipTests -pl server-relay,driver -am} there); the tests are skipped where they are missing.
 */
class MixedVersionsReviewTest {

    static final Path OLD = Path.of(System.getProperty("syncsqlite.oldTree", "/work/wt-old"));
    static final Path OLD_RELAY_JAR = OLD.resolve("server-relay/target/syncsqlite-relay.jar");
    static final Path OLD_DRIVER_JAR = OLD.resolve("driver/target/syncsqlite-driver-0.1.0-SNAPSHOT-all.jar");

    static final String PG_ITEM = "CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL, qty int)";
    static final String LOCAL_ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, qty INTEGER)";
    static final String PG_EV = "CREATE TABLE ev (id int PRIMARY KEY, d date, tz timestamptz, u uuid, note text)";
    static final String LOCAL_EV = "CREATE TABLE ev (id INTEGER PRIMARY KEY, d DATE, tz DATETIME, u TEXT, note TEXT)";
    static final String UUID1 = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    static final String UUID2 = "b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a22";

    private static URLClassLoader oldDriverLoader;

    @TempDir
    Path dir;

    @AfterAll
    static void closeLoader() throws IOException {
        if (oldDriverLoader != null) {
            oldDriverLoader.close();
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // (a) new client, old relay

    /**
     * A device updated to this version's driver while the relay still runs the previous release: it inserts
     * without keys (ranges from the relay), updates and deletes; psql's writes reach it; a second new device
     * gets the rows in its first snapshot; the first goes offline, writes, and comes back; the relay is
     * restarted and the device keeps syncing. Everything converges with PostgreSQL.
     */
    @Test
    void newClientOnOldRelaySyncsBothWaysThroughKeysReconnectsSnapshotAndRelayRestart() throws Exception {
        assumeOldRelay();
        try (Db db = Db.create("mixed_a_basic", PG_ITEM); OldRelay relay = OldRelay.start(db, dir.resolve("relay.log"));
             TcpProxy pa = new TcpProxy(relay.port()); TcpProxy pb = new TcpProxy(relay.port())) {
            Dev a = Dev.newDriver("a", file("a", LOCAL_ITEM), pa);
            try (a) {
                exerciseBothWays(db, a, pa, () -> Dev.newDriver("b", file("b", LOCAL_ITEM), pb), () -> {
                    int port = relay.restart();
                    pa.target(port);
                    pa.cutAll();
                    pb.target(port);
                    pb.cutAll();
                });
            }
        }
    }

    /**
     * The same device with a table of PostgreSQL {@code date}, {@code timestamptz} and {@code uuid} columns, on
     * the previous relay (no {@code columnTypes}): values pass as before. psql's row arrives as ISO text; the
     * device's ISO-text writes land in PostgreSQL as the values meant; a {@code setDate} (epoch milliseconds)
     * that PostgreSQL refuses is reported as a rejection, not silently dropped, and the device does not loop
     * reconnecting over it. Nothing written as text is lost.
     */
    @Test
    void newClientOnOldRelayPassesDatesAndUuidsUnconvertedWithoutLoopingOrLosingText() throws Exception {
        assumeOldRelay();
        try (Db db = Db.create("mixed_a_dates", PG_EV); OldRelay relay = OldRelay.start(db, dir.resolve("relay.log"));
             TcpProxy pa = new TcpProxy(relay.port())) {
            db.exec("INSERT INTO ev VALUES (1, '2026-03-04', '2026-03-04 05:06:07+00', '" + UUID1 + "', 'psql')");
            try (Dev a = Dev.newDriver("a", file("a", LOCAL_EV), pa)) {
                a.awaitSynced();
                awaitRows(a, "SELECT id FROM ev", 1);
                Map<String, Object> row1 = a.rows("SELECT d, tz, u FROM ev WHERE id = 1").get(0);
                assertEquals("2026-03-04", row1.get("d"), "date from psql, unconverted: " + row1);
                assertEquals(UUID1, row1.get("u"), "uuid from psql, as text: " + row1);
                a.exec("INSERT INTO ev VALUES (2, '2026-05-06', '2026-05-06T07:08:09Z', ?, 'text')", UUID2);
                a.exec("UPDATE ev SET note = 'edited on a' WHERE id = 1");
                a.awaitSynced();
                assertEquals(List.of(Map.of("d", "2026-05-06", "tz", 1L, "u", UUID2)),
                        db.rows("SELECT d::text AS d, (tz = timestamptz '2026-05-06 07:08:09+00')::int AS tz, u::text AS u"
                                + " FROM ev WHERE id = 2"), "a's text row in PostgreSQL; " + a.status());
                assertEquals(List.of(Map.of("d", "2026-03-04", "note", "edited on a")),
                        db.rows("SELECT d::text AS d, note FROM ev WHERE id = 1"));
                // Epoch milliseconds into a date column of a relay that sends no types: refused by PostgreSQL, as
                // before this version; the application must be told.
                int connectionsBefore = pa.connections();
                try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev (id, d, note) VALUES (3, ?, 'millis')")) {
                    ps.setDate(1, java.sql.Date.valueOf(LocalDate.of(2026, 7, 8)));
                    ps.executeUpdate();
                }
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (System.nanoTime() < deadline && a.rejections().isEmpty()
                        && db.rows("SELECT id FROM ev WHERE id = 3").isEmpty()) {
                    Thread.sleep(50);
                }
                Thread.sleep(3000);
                int reconnects = pa.connections() - connectionsBefore;
                assertTrue(reconnects <= 1, reconnects + " new connections in ~3 s after the date write: a reconnect loop;"
                        + " status " + a.status() + "; relay log " + relay.tail());
                // As before this version: refused by PostgreSQL (22008), reverted on the device, and reported.
                assertEquals(List.of(), db.rows("SELECT id FROM ev WHERE id = 3"), "unconverted millis reached PostgreSQL");
                assertEquals(1, a.rejections().size(), "the refused date is reported once; status " + a.status());
                assertTrue(a.rejections().get(0).contains("22008"), a.rejections().toString());
                // The text rows are untouched by what happened to row 3.
                assertEquals(2, db.rows("SELECT id FROM ev WHERE id IN (1, 2)").size());
                assertEquals(2, a.rows("SELECT id FROM ev WHERE id IN (1, 2)").size());
            }
        }
    }

    /**
     * The upgrade of the relay under a device already on this version: the device syncs a date/uuid table
     * through the previous relay (text both ways), the operator replaces that relay with this version's on the
     * same database, and the device reconnects, now gets the column types, converts a {@code setDate} write,
     * and keeps every row it held (text dates stay readable, nothing is reverted).
     */
    @Test
    void newClientSurvivesItsRelayBeingUpgradedUnderIt() throws Exception {
        assumeOldRelay();
        try (Db db = Db.create("mixed_a_upgrade", PG_EV, PG_ITEM); OldRelay relay = OldRelay.start(db, dir.resolve("relay.log"));
             TcpProxy pa = new TcpProxy(relay.port())) {
            db.exec("INSERT INTO ev VALUES (1, '2026-03-04', '2026-03-04 05:06:07+00', '" + UUID1 + "', 'psql')");
            try (Dev a = Dev.newDriver("a", file("a", LOCAL_EV, LOCAL_ITEM), pa)) {
                a.exec("INSERT INTO ev VALUES (2, '2026-05-06', '2026-05-06T07:08:09Z', ?, 'text')", UUID2);
                a.exec("INSERT INTO item (name, qty) VALUES ('before upgrade', 1)");
                a.awaitSynced();
                awaitRows(a, "SELECT id FROM ev", 2);
                relay.stop();
                a.exec("INSERT INTO item (name, qty) VALUES ('during upgrade', 2)");
                RelayFixture on = RelayFixture.on(db.url, List.of());
                try (Relay upgraded = on.startRelay()) {
                    pa.target(upgraded.port());
                    pa.cutAll();
                    try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev (id, d, note) VALUES (3, ?, 'millis')")) {
                        ps.setDate(1, java.sql.Date.valueOf(LocalDate.of(2026, 7, 8)));
                        ps.executeUpdate();
                    }
                    a.exec("UPDATE ev SET note = 'after upgrade' WHERE id = 1");
                    a.exec("INSERT INTO item (name, qty) VALUES ('after upgrade', 3)");
                    a.awaitSynced();
                    assertEquals(List.of(), a.rejections(), "nothing reverted across the upgrade");
                    assertEquals(List.of(Map.of("id", 1L, "d", "2026-03-04", "note", "after upgrade"),
                                    Map.of("id", 2L, "d", "2026-05-06", "note", "text"),
                                    Map.of("id", 3L, "d", "2026-07-08", "note", "millis")),
                            db.rows("SELECT id::bigint AS id, d::text AS d, note FROM ev ORDER BY id"));
                    assertEquals(3, a.rows("SELECT id FROM ev").size());
                    assertEquals(List.of("before upgrade", "during upgrade", "after upgrade"),
                            db.rows("SELECT name FROM item ORDER BY id").stream().map(r -> r.get("name")).toList());
                    awaitConverged(db, "SELECT id, name, qty FROM item ORDER BY id", a);
                }
            }
        }
    }

    /**
     * A first connection of this version's driver to the previous relay over a slow link (about 1 MB/s, a
     * phone on a modest network) for a database of some 20 MB: the relay sends up to four snapshot batches
     * (4 Mi characters each) before it answers the schema request, which the new client waits for, 10 s at
     * most, before it applies anything. The device must still end up with every row.
     */
    @Test
    void newClientsFirstSnapshotOverASlowLinkFromAnOldRelayCompletes() throws Exception {
        assumeOldRelay();
        try (Db db = Db.create("mixed_a_slow", "CREATE TABLE page (id bigint PRIMARY KEY, body text)");
             OldRelay relay = OldRelay.start(db, dir.resolve("relay.log")); TcpProxy pa = new TcpProxy(relay.port())) {
            db.exec("INSERT INTO page SELECT g, repeat(md5(g::text), 125) FROM generate_series(1, 5000) AS g");
            pa.latency(60);
            try (Dev a = Dev.newDriver("a", file("a", "CREATE TABLE page (id INTEGER PRIMARY KEY, body TEXT)"), pa)) {
                awaitRowsCollectingErrors(a, "SELECT count(*) AS n FROM page", 5000, 90, pa);
            }
        }
    }

    /**
     * A device of this version that was away while psql made 3,000 small commits reconnects to the previous
     * relay: the catch-up starts right behind the welcome, before the schema's answer, which the client holds
     * and handles after it. Every commit arrives, in order (the last value of each row wins), nothing held is
     * lost.
     */
    @Test
    void newClientCatchingUpManyCommitsOnAnOldRelayLosesNothingHeldBeforeTheSchema() throws Exception {
        assumeOldRelay();
        try (Db db = Db.create("mixed_a_catchup", PG_ITEM); OldRelay relay = OldRelay.start(db, dir.resolve("relay.log"));
             TcpProxy pa = new TcpProxy(relay.port())) {
            try (Dev a = Dev.newDriver("a", file("a", LOCAL_ITEM), pa)) {
                a.exec("INSERT INTO item (name, qty) VALUES ('seed', 0)");
                a.awaitSynced();
                pa.online(false);
                try (Connection pg = db.connect(); Statement st = pg.createStatement()) {
                    for (int i = 1; i <= 3000; i++) {
                        st.execute("INSERT INTO item (id, name, qty) VALUES (" + (1_000_000 + i % 300) + ", 'c" + i + "', " + i
                                + ") ON CONFLICT (id) DO UPDATE SET name = excluded.name, qty = excluded.qty");
                    }
                    st.execute("DELETE FROM item WHERE id = 1000007");
                }
                pa.online(true);
                a.awaitSynced();
                awaitConverged(db, "SELECT id, name, qty FROM item ORDER BY id", a);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // (b) old client, new relay

    /**
     * The relay upgraded first, devices still on the previous driver: a device of the previous release inserts
     * without keys, updates and deletes; psql's writes reach it; another old device gets a first snapshot; the
     * first goes offline and back; the relay restarts. Everything converges with PostgreSQL.
     */
    @Test
    void oldClientOnNewRelaySyncsBothWaysThroughKeysReconnectsSnapshotAndRelayRestart() throws Exception {
        assumeOldDriver();
        try (RelayFixture f = RelayFixture.start("mixed_b_basic", PG_ITEM); TcpProxy pa = new TcpProxy(f.relay().port());
             TcpProxy pb = new TcpProxy(f.relay().port())) {
            Db db = Db.of(f.dbUrl());
            try (Dev a = Dev.oldDriver("a", file("a", LOCAL_ITEM), pa)) {
                exerciseBothWays(db, a, pa, () -> Dev.oldDriver("b", file("b", LOCAL_ITEM), pb), () -> {
                    f.restart();
                    pa.target(f.relay().port());
                    pa.cutAll();
                    pb.target(f.relay().port());
                    pb.cutAll();
                });
            }
        }
    }

    /**
     * A previous-release device and a device of this version on this version's relay, sharing a table of
     * {@code date}, {@code timestamptz} and {@code uuid} columns. The old device writes ISO text (what the
     * previous release documented) and reads psql's and the new device's values as ISO text, as before; the
     * new device's {@code setDate} value reaches PostgreSQL as the date and the old device as its text. An old
     * device's epoch-millisecond date is refused as before and reported, with no reconnect loop (the relay's
     * column-type check is only for clients that asked for types).
     */
    @Test
    void oldAndNewClientsShareDatesAndUuidsThroughNewRelay() throws Exception {
        assumeOldDriver();
        try (RelayFixture f = RelayFixture.start("mixed_b_dates", PG_EV); TcpProxy po = new TcpProxy(f.relay().port());
             TcpProxy pn = new TcpProxy(f.relay().port())) {
            Db db = Db.of(f.dbUrl());
            db.exec("INSERT INTO ev VALUES (1, '2026-03-04', '2026-03-04 05:06:07+00', '" + UUID1 + "', 'psql')");
            try (Dev old = Dev.oldDriver("old", file("old", LOCAL_EV), po);
                 Dev now = Dev.newDriver("now", file("now", LOCAL_EV), pn)) {
                old.awaitSynced();
                awaitRows(old, "SELECT id FROM ev", 1);
                Map<String, Object> row1 = old.rows("SELECT d, tz, u FROM ev WHERE id = 1").get(0);
                assertEquals("2026-03-04", row1.get("d"), "old device: psql's date as text; " + row1);
                assertEquals(UUID1, row1.get("u"));
                old.exec("INSERT INTO ev VALUES (2, '2026-05-06', '2026-05-06T07:08:09Z', ?, 'old text')", UUID2);
                old.exec("UPDATE ev SET note = 'edited by old' WHERE id = 1");
                old.awaitSynced();
                assertEquals(List.of(), old.rejections(), "old device's text rows; status " + old.status());
                assertEquals(List.of(Map.of("d", "2026-05-06", "tz", 1L, "u", UUID2)),
                        db.rows("SELECT d::text AS d, (tz = timestamptz '2026-05-06 07:08:09+00')::int AS tz, u::text AS u"
                                + " FROM ev WHERE id = 2"));
                try (PreparedStatement ps = now.connection().prepareStatement("INSERT INTO ev (id, d, note) VALUES (3, ?, 'new millis')")) {
                    ps.setDate(1, java.sql.Date.valueOf(LocalDate.of(2026, 7, 8)));
                    ps.executeUpdate();
                }
                now.awaitSynced();
                assertEquals(List.of(Map.of("d", "2026-07-08")), db.rows("SELECT d::text AS d FROM ev WHERE id = 3"),
                        "new device's date converted; rejections " + now.rejections());
                awaitRows(old, "SELECT id FROM ev", 3);
                assertEquals("2026-07-08", old.rows("SELECT d FROM ev WHERE id = 3").get(0).get("d"),
                        "old device reads the new device's date as ISO text");
                awaitRows(now, "SELECT id FROM ev", 3);
                assertEquals(java.sql.Date.valueOf(LocalDate.of(2026, 5, 6)).getTime(),
                        ((Number) now.rows("SELECT d FROM ev WHERE id = 2").get(0).get("d")).longValue(),
                        "new device reads the old device's text date as epoch milliseconds");
                // The previous release's known limit: epoch milliseconds into a date column are refused, and told.
                int before = po.connections();
                try (PreparedStatement ps = old.connection().prepareStatement("INSERT INTO ev (id, d, note) VALUES (4, ?, 'old millis')")) {
                    ps.setDate(1, java.sql.Date.valueOf(LocalDate.of(2026, 9, 10)));
                    ps.executeUpdate();
                }
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (System.nanoTime() < deadline && old.rejections().isEmpty()
                        && db.rows("SELECT id FROM ev WHERE id = 4").isEmpty()) {
                    Thread.sleep(50);
                }
                Thread.sleep(3000);
                int reconnects = po.connections() - before;
                assertTrue(reconnects <= 1, reconnects + " new connections of the old device in ~3 s: a loop; status "
                        + old.status());
                // As with the previous relay: refused by PostgreSQL (22008), reverted on the device, and reported.
                assertEquals(List.of(), db.rows("SELECT id FROM ev WHERE id = 4"), "unconverted millis reached PostgreSQL");
                assertEquals(1, old.rejections().size(), "the refused date is reported once; status " + old.status());
                assertTrue(old.rejections().get(0).contains("22008"), old.rejections().toString());
                assertEquals(3, db.rows("SELECT id FROM ev WHERE id IN (1, 2, 3)").size(), "text rows kept");
            }
        }
    }

    /**
     * The previous release's device over the same slow link as
     * {@link #newClientsFirstSnapshotOverASlowLinkFromAnOldRelayCompletes}, on this version's relay: the
     * control case (the previous driver handles the schema whenever it comes), so a failure of the new
     * client's test is its own.
     */
    @Test
    void oldClientsFirstSnapshotOverASlowLinkFromNewRelayCompletes() throws Exception {
        assumeOldDriver();
        try (RelayFixture f = RelayFixture.start("mixed_b_slow", "CREATE TABLE page (id bigint PRIMARY KEY, body text)");
             TcpProxy pa = new TcpProxy(f.relay().port())) {
            Db db = Db.of(f.dbUrl());
            db.exec("INSERT INTO page SELECT g, repeat(md5(g::text), 125) FROM generate_series(1, 5000) AS g");
            pa.latency(60);
            try (Dev a = Dev.oldDriver("a", file("a", "CREATE TABLE page (id INTEGER PRIMARY KEY, body TEXT)"), pa)) {
                awaitRowsCollectingErrors(a, "SELECT count(*) AS n FROM page", 5000, 90, pa);
            }
        }
    }

    /**
     * This version on both sides, same slow link and database as the two tests above: a new device's first
     * snapshot over a link of about 1 MB/s must complete (the relay's four batches before the schema take
     * longer than the client's 10-second wait for the schema).
     */
    @Test
    void newClientsFirstSnapshotOverASlowLinkFromNewRelayCompletes() throws Exception {
        try (RelayFixture f = RelayFixture.start("mixed_n_slow", "CREATE TABLE page (id bigint PRIMARY KEY, body text)");
             TcpProxy pa = new TcpProxy(f.relay().port())) {
            Db db = Db.of(f.dbUrl());
            db.exec("INSERT INTO page SELECT g, repeat(md5(g::text), 125) FROM generate_series(1, 5000) AS g");
            pa.latency(60);
            try (Dev a = Dev.newDriver("a", file("a", "CREATE TABLE page (id INTEGER PRIMARY KEY, body TEXT)"), pa)) {
                awaitRowsCollectingErrors(a, "SELECT count(*) AS n FROM page", 5000, 90, pa);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // shared scenario

    interface Step {
        void run() throws Exception;
    }

    interface DevFactory {
        Dev open() throws Exception;
    }

    private void exerciseBothWays(Db db, Dev a, TcpProxy pa, DevFactory second, Step restartRelay) throws Exception {
        String all = "SELECT id, name, qty FROM item ORDER BY id";
        // Keyless inserts: keys come from ranges the relay grants.
        for (int i = 0; i < 5; i++) {
            a.exec("INSERT INTO item (name, qty) VALUES (?, ?)", "a" + i, i);
        }
        a.exec("UPDATE item SET qty = 100 WHERE name = 'a1'");
        a.exec("DELETE FROM item WHERE name = 'a2'");
        a.awaitSynced();
        assertEquals(List.of("a0", "a1", "a3", "a4"), db.rows("SELECT name FROM item ORDER BY id").stream()
                .map(r -> r.get("name")).toList(), "a's writes in PostgreSQL; status " + a.status());
        assertEquals(List.of(), a.rejections());
        // psql's writes reach the device.
        db.exec("INSERT INTO item (name, qty) VALUES ('psql', 7)", "UPDATE item SET qty = 101 WHERE name = 'a3'",
                "DELETE FROM item WHERE name = 'a4'");
        awaitConverged(db, all, a);
        // A new device: its first snapshot.
        try (Dev b = second.open()) {
            b.awaitSynced();
            awaitConverged(db, all, a, b);
            b.exec("INSERT INTO item (name, qty) VALUES ('b0', 0)");
            b.awaitSynced();
            awaitConverged(db, all, a, b);
            // Offline writes, then back online.
            pa.online(false);
            a.exec("INSERT INTO item (name, qty) VALUES ('a offline', 9)");
            a.exec("UPDATE item SET qty = qty + 1 WHERE name = 'psql'");
            db.exec("UPDATE item SET name = 'b0 renamed' WHERE name = 'b0'");
            pa.online(true);
            a.awaitSynced();
            awaitConverged(db, all, a, b);
            // The relay restarts; both keep syncing, keyless inserts included.
            restartRelay.run();
            a.exec("INSERT INTO item (name, qty) VALUES ('a after restart', 1)");
            b.exec("INSERT INTO item (name, qty) VALUES ('b after restart', 2)");
            db.exec("INSERT INTO item (name, qty) VALUES ('psql after restart', 3)");
            a.awaitSynced();
            b.awaitSynced();
            awaitConverged(db, all, a, b);
            assertEquals(List.of(), a.rejections());
            assertEquals(List.of(), b.rejections());
            assertEquals(9, db.rows(all).size(), "rows in PostgreSQL: " + db.rows(all));
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // helpers

    private Path file(String name, String... ddl) throws SQLException {
        Path file = dir.resolve(name + ".db");
        try (Connection plain = DriverManager.getConnection("jdbc:sqlite:" + file); Statement st = plain.createStatement()) {
            for (String sql : ddl) {
                st.execute(sql);
            }
        }
        return file;
    }

    private static void assumeOldRelay() {
        Assumptions.assumeTrue(Files.isRegularFile(OLD_RELAY_JAR), "old relay jar not built: " + OLD_RELAY_JAR);
    }

    private static void assumeOldDriver() {
        Assumptions.assumeTrue(Files.isRegularFile(OLD_DRIVER_JAR), "old driver jar not built: " + OLD_DRIVER_JAR);
    }

    private static void awaitConverged(Db db, String sql, Dev... devs) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            List<Map<String, Object>> expected = db.rows(sql);
            List<String> off = new ArrayList<>();
            for (Dev d : devs) {
                List<Map<String, Object>> got = d.rows(sql);
                if (!expected.equals(got)) {
                    off.add(d.name + " holds " + got + " (status " + d.status() + ")");
                }
            }
            if (off.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("PostgreSQL holds " + expected + "; " + off);
            }
            Thread.sleep(50);
        }
    }

    private static void awaitRows(Dev d, String sql, int n) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (d.rows(sql).size() != n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(d.name + " holds " + d.rows(sql) + "; status " + d.status());
            }
            Thread.sleep(50);
        }
    }

    /** Waits for the count, collecting the distinct errors the device's status shows meanwhile. */
    private static void awaitRowsCollectingErrors(Dev d, String countSql, long n, int seconds, TcpProxy p) throws Exception {
        Set<String> errors = new java.util.LinkedHashSet<>();
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        long count = 0;
        while (System.nanoTime() < deadline) {
            count = ((Number) d.rows(countSql).get(0).get("n")).longValue();
            if (count == n) {
                return;
            }
            String e = d.lastError();
            if (e != null) {
                errors.add(e.length() > 200 ? e.substring(0, 200) : e);
            }
            Thread.sleep(100);
        }
        throw new AssertionError(d.name + " holds " + count + " of " + n + " rows after " + seconds + " s, over "
                + p.connections() + " connections; errors seen: " + errors);
    }

    /** A test database, reached directly. */
    static final class Db implements AutoCloseable {
        final String url;

        private Db(String url) {
            this.url = url;
        }

        static Db create(String prefix, String... ddl) throws SQLException {
            Db db = new Db(PostgresFixture.server().newDatabase(prefix));
            db.exec(ddl);
            return db;
        }

        static Db of(String url) {
            return new Db(url);
        }

        Connection connect() throws SQLException {
            return PostgresFixture.server().connect(url);
        }

        void exec(String... sql) throws SQLException {
            try (Connection c = connect(); Statement st = c.createStatement()) {
                for (String s : sql) {
                    st.execute(s);
                }
            }
        }

        List<Map<String, Object>> rows(String sql) throws SQLException {
            try (Connection c = connect()) {
                return Rows.query(c, sql);
            }
        }

        @Override
        public void close() {
        }
    }

    /** The previous release's relay, in its own JVM, from its runnable jar. */
    static final class OldRelay implements AutoCloseable {
        private final Db db;
        private final Path log;
        private Process process;
        private int port;

        private OldRelay(Db db, Path log) {
            this.db = db;
            this.log = log;
        }

        static OldRelay start(Db db, Path log) throws Exception {
            OldRelay r = new OldRelay(db, log);
            r.launch();
            return r;
        }

        int port() {
            return port;
        }

        private void launch() throws Exception {
            PostgresFixture.Server server = PostgresFixture.server();
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + File.separator + "bin"
                    + File.separator + "java", "-Xmx512m", "-jar", OLD_RELAY_JAR.toString(), "--pg-url", db.url,
                    "--pg-user", server.user(), "--host", "127.0.0.1", "--port", String.valueOf(port)));
            if (!server.password().isEmpty()) {
                cmd.add("--pg-password");
                cmd.add(server.password());
            }
            process = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("old relay exited: " + tail());
                }
                try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    return;
                } catch (IOException notYet) {
                    Thread.sleep(50);
                }
            }
            throw new IllegalStateException("old relay did not listen within 60 s: " + tail());
        }

        /** SIGTERM, waited for. */
        void stop() throws InterruptedException {
            if (process != null && process.isAlive()) {
                process.destroy();
                if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor();
                }
            }
        }

        /** Stops the relay and starts it again (another port); returns the new port. */
        int restart() throws Exception {
            stop();
            launch();
            return port;
        }

        String tail() {
            try {
                List<String> lines = Files.readAllLines(log);
                return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
            } catch (IOException e) {
                return "(no log)";
            }
        }

        @Override
        public void close() throws InterruptedException {
            if (process != null) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    /** One device: a file opened through either driver, reached through {@link TcpProxy}. */
    static final class Dev implements AutoCloseable {
        final String name;
        private final Connection conn;
        private final Object node;
        private final List<String> rejections = new CopyOnWriteArrayList<>();

        private Dev(String name, Connection conn, Class<?> syncConnection) throws Exception {
            this.name = name;
            this.conn = conn;
            this.node = syncConnection.getMethod("node").invoke(conn.unwrap(syncConnection));
            Consumer<Object> listener = r -> rejections.add(String.valueOf(r));
            node.getClass().getMethod("addRejectionListener", Consumer.class).invoke(node, listener);
        }

        static String url(String name, Path file, TcpProxy p) {
            return "jdbc:syncsqlite:" + file + "?sync.server=ws://127.0.0.1:" + p.port() + "/sync&sync.node=" + name
                    + "&sync.lingerMs=0&sync.reconnectMaxMs=300";
        }

        static Dev newDriver(String name, Path file, TcpProxy p) throws Exception {
            return new Dev(name, DriverManager.getConnection(url(name, file, p)),
                    io.syncsqlite.driver.jdbc.SyncConnection.class);
        }

        static synchronized Dev oldDriver(String name, Path file, TcpProxy p) throws Exception {
            if (oldDriverLoader == null) {
                oldDriverLoader = new URLClassLoader(new URL[]{OLD_DRIVER_JAR.toUri().toURL()},
                        ClassLoader.getPlatformClassLoader());
            }
            Driver driver = null;
            for (Driver d : ServiceLoader.load(Driver.class, oldDriverLoader)) {
                if (d.getClass().getClassLoader() == oldDriverLoader && d.acceptsURL("jdbc:syncsqlite:x.db")) {
                    driver = d;
                }
            }
            if (driver == null) {
                throw new IllegalStateException("no syncsqlite driver in " + OLD_DRIVER_JAR);
            }
            return new Dev(name, driver.connect(url(name, file, p), new Properties()),
                    oldDriverLoader.loadClass("io.syncsqlite.driver.jdbc.SyncConnection"));
        }

        Connection connection() {
            return conn;
        }

        List<String> rejections() {
            return List.copyOf(rejections);
        }

        int exec(String sql, Object... args) throws SQLException {
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 0; i < args.length; i++) {
                    ps.setObject(i + 1, args[i]);
                }
                return ps.execute() ? -1 : ps.getUpdateCount();
            }
        }

        List<Map<String, Object>> rows(String sql) throws SQLException {
            return Rows.query(conn, sql);
        }

        Object status() throws Exception {
            return call(node, "status");
        }

        String lastError() throws Exception {
            Object s = status();
            return (String) call(s, "lastError");
        }

        void awaitSynced() throws Exception {
            Method m = node.getClass().getMethod("awaitSynced", Duration.class);
            if (!(Boolean) m.invoke(node, Duration.ofSeconds(30))) {
                throw new AssertionError(name + " did not sync within 30 s: " + status() + "; rejections " + rejections);
            }
        }

        private static Object call(Object target, String method) throws Exception {
            try {
                return target.getClass().getMethod(method).invoke(target);
            } catch (InvocationTargetException e) {
                throw e.getCause() instanceof Exception ex ? ex : e;
            }
        }

        @Override
        public void close() throws SQLException {
            conn.close();
        }
    }

}
