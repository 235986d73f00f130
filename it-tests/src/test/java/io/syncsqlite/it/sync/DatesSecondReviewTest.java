package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.syncsqlite.it.support.ZoneRestore;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.syncsqlite.it.sync.DatesReviewTest.bytes;
import static io.syncsqlite.it.sync.JpaReviewTest.emf;
import static io.syncsqlite.it.sync.JpaReviewTest.read;
import static io.syncsqlite.it.sync.JpaReviewTest.tx;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Second review of "Dates, times and UUIDs" (PgTypes, ClientSession's close for new column types): domains,
 * keys of date/uuid type (lossy conversions, zone changes, key changes, late joiners), local declarations
 * outside DATE/TIMESTAMP/INTEGER/BLOB, sync.schema=server with Hibernate, type migrations and columns added
 * while offline, NULL keys, and the cost of converting a large push.
 */
class DatesSecondReviewTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final ZoneRestore zones = new ZoneRestore();

    private void zone(String id) {
        zones.set(id);
    }

    private static List<Map<String, Object>> noNulls(List<Map<String, Object>> rows) {
        return rows.stream().map(r -> {
            r.values().removeIf(java.util.Objects::isNull);
            return r;
        }).toList();
    }

    // ------------------------------------------------------------------ domains

    /**
     * The schema uses domains, as many PostgreSQL schemas do ({@code CREATE DOMAIN day AS date},
     * {@code CREATE DOMAIN ident AS uuid}); locally the columns are DATE and BLOB, written with setDate and
     * setBytes as for plain date/uuid columns. The user expects the row in PostgreSQL (not rejected and
     * reverted), and a row written in psql to come back as epoch milliseconds and 16 bytes.
     */
    @Test
    void domainsOverDateAndUuidAreConverted() throws Exception {
        zone("UTC");
        UUID u = UUID.fromString("7d444840-9dc0-11d1-b245-5ffdce74fad2");
        try (Cluster cl = Cluster.start("drev2_domain", dir, "CREATE DOMAIN day AS date", "CREATE DOMAIN ident AS uuid",
                "CREATE TABLE ev (id int PRIMARY KEY, d day, u ident, note text)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, d DATE, u BLOB, note TEXT)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev (id, d, u, note) VALUES (1, ?, ?, 'app')")) {
                ps.setDate(1, Date.valueOf("2026-03-04"));
                ps.setBytes(2, bytes(u));
                ps.executeUpdate();
            }
            a.awaitSynced();
            List<Map<String, Object>> pg = cl.pgRows("SELECT id, d::text AS d, u::text AS u FROM ev ORDER BY id");
            String local = a.rows("SELECT id, d, hex(u) AS u FROM ev").toString();
            cl.pg("INSERT INTO ev VALUES (2, '2026-05-06', '" + u + "', 'psql')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev WHERE id = 2"), r -> r.size() == 1);
            List<Map<String, Object>> back = a.rows("SELECT typeof(d) AS d, typeof(u) AS u FROM ev WHERE id = 2");
            assertAll(
                    () -> assertEquals(List.of(Map.of("id", 1L, "d", "2026-03-04", "u", u.toString())), pg,
                            "PostgreSQL's row written by the app; a holds " + local + "; status " + a.node().status()),
                    () -> assertEquals(List.of(Map.of("d", "integer", "u", "blob")), back,
                            "psql's row on a: " + a.rows("SELECT * FROM ev WHERE id = 2")));
        }
    }

    // ------------------------------------------------------------------ keys

    /**
     * A log keyed by day: the app writes the key with {@code new java.sql.Date(System.currentTimeMillis())}
     * (the everyday JDBC idiom, which keeps the time of day in the number), and a tick table keyed by a
     * {@code timestamp(0)} gets a timestamp with milliseconds. PostgreSQL holds one row each (the day; the
     * rounded second). The user expects one row each locally too after the echo, not the original plus a
     * second row under the server's key.
     */
    @Disabled("Known limit (DESIGN.md, known limits, key values in another spelling): a date key holding a time of day, or a timestamp(0) key with milliseconds, comes back as PostgreSQL stored it")
    @Test
    void keysPostgresStoresLessPreciselyStayOneRow() throws Exception {
        zone("Europe/Berlin");
        try (Cluster cl = Cluster.start("drev2_lossykey", dir, "CREATE TABLE daylog (day date PRIMARY KEY, note text)",
                "CREATE TABLE tick (at timestamp(0) PRIMARY KEY, v int)")) {
            Client a = cl.client("a", "CREATE TABLE daylog (day DATE PRIMARY KEY, note TEXT)",
                    "CREATE TABLE tick (at TIMESTAMP PRIMARY KEY, v INTEGER)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO daylog VALUES (?, 'today')")) {
                ps.setDate(1, new Date(Instant.parse("2026-03-04T15:30:00Z").toEpochMilli()));
                ps.executeUpdate();
            }
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO tick VALUES (?, 1)")) {
                ps.setTimestamp(1, Timestamp.valueOf("2026-03-04 05:06:07.250"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            Thread.sleep(500);
            List<Map<String, Object>> pg = cl.pgRows("SELECT (SELECT count(*) FROM daylog) AS days, (SELECT count(*) FROM tick) AS ticks");
            List<Map<String, Object>> local = a.rows("SELECT (SELECT count(*) FROM daylog) AS days, (SELECT count(*) FROM tick) AS ticks");
            String detail = a.rows("SELECT day, note FROM daylog").toString() + a.rows("SELECT at, v FROM tick");
            assertAll(
                    () -> assertEquals(List.of(Map.of("days", 1L, "ticks", 1L)), pg, "PostgreSQL"),
                    () -> assertEquals(pg, local, "a's rows: " + detail));
        }
    }

    /**
     * A device in Tokyo writes a day-keyed row (setDate 2026-03-04) and syncs it; then the JVM's zone
     * becomes New York (the laptop travelled, a zone update), and psql edits the row's note. The user
     * expects the row on the device to show the new note, not a second row next to the old one.
     */
    @Disabled("Known limit (DESIGN.md, known limits, key values in another spelling): a date key stored as epoch milliseconds names another day once the JVM zone changes")
    @Test
    void aDayKeyedRowEditedInPsqlAfterTheZoneChangedStaysOneRow() throws Exception {
        zone("Asia/Tokyo");
        try (Cluster cl = Cluster.start("drev2_zonekey", dir, "CREATE TABLE daylog (day date PRIMARY KEY, note text)")) {
            Client a = cl.client("a", "CREATE TABLE daylog (day DATE PRIMARY KEY, note TEXT)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO daylog VALUES (?, 'written in Tokyo')")) {
                ps.setDate(1, Date.valueOf("2026-03-04"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("day", "2026-03-04")), cl.pgRows("SELECT day::text AS day FROM daylog"));
            zone("America/New_York");
            cl.pg("UPDATE daylog SET note = 'edited in psql'");
            Cluster.eventually(() -> a.rows("SELECT note FROM daylog WHERE note = 'edited in psql'"), r -> r.size() == 1);
            Thread.sleep(300);
            assertEquals(List.of(Map.of("note", "edited in psql")), a.rows("SELECT note FROM daylog"),
                    "a's rows: " + a.rows("SELECT day, note FROM daylog"));
        }
    }

    /**
     * A holiday table keyed by {@code date} and a badge table keyed by {@code uuid}, in New York. The app
     * inserts, renames and deletes; psql moves a holiday to another day (a key change) and deletes a
     * badge; the app, offline, renames a holiday whose note psql changes meanwhile. The user expects both
     * clients and a late joiner to hold PostgreSQL's rows, the merged row with both edits, and the rows
     * found by their day and 16-byte id.
     */
    @Test
    void dateAndUuidKeyedTablesThroughUpdatesDeletesKeyChangesAndALateJoiner() throws Exception {
        zone("America/New_York");
        UUID b1 = UUID.fromString("11111111-2222-3333-4444-555555555555");
        UUID b2 = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        try (Cluster cl = Cluster.start("drev2_keys", dir, "CREATE TABLE holiday (day date PRIMARY KEY, name text, note text)",
                "CREATE TABLE badge (id uuid PRIMARY KEY, label text, since date)")) {
            String h = "CREATE TABLE holiday (day DATE PRIMARY KEY, name TEXT, note TEXT)";
            String bd = "CREATE TABLE badge (id BLOB PRIMARY KEY, label TEXT, since DATE)";
            Client a = cl.client("a", h, bd);
            Client b = cl.client("b", h, bd);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO holiday (day, name) VALUES (?, ?)")) {
                for (String[] d : new String[][] {{"2026-01-01", "new year"}, {"2026-07-04", "independence"},
                        {"2026-12-25", "christmas"}, {"1969-07-20", "moon"}}) {
                    ps.setDate(1, Date.valueOf(d[0]));
                    ps.setString(2, d[1]);
                    ps.executeUpdate();
                }
            }
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO badge VALUES (?, ?, ?)")) {
                ps.setBytes(1, bytes(b1));
                ps.setString(2, "one");
                ps.setDate(3, Date.valueOf("2026-02-01"));
                ps.executeUpdate();
                ps.setBytes(1, bytes(b2));
                ps.setString(2, "two");
                ps.setDate(3, Date.valueOf("2026-02-02"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            try (PreparedStatement ps = a.connection().prepareStatement("UPDATE holiday SET name = 'first day' WHERE day = ?")) {
                ps.setDate(1, Date.valueOf("2026-01-01"));
                assertEquals(1, ps.executeUpdate());
            }
            try (PreparedStatement ps = a.connection().prepareStatement("DELETE FROM holiday WHERE day = ?")) {
                ps.setDate(1, Date.valueOf("1969-07-20"));
                assertEquals(1, ps.executeUpdate());
            }
            try (PreparedStatement ps = a.connection().prepareStatement("UPDATE badge SET label = 'uno' WHERE id = ?")) {
                ps.setBytes(1, bytes(b1));
                assertEquals(1, ps.executeUpdate());
            }
            a.awaitSynced();
            cl.pg("UPDATE holiday SET day = '2026-12-26' WHERE day = '2026-12-25'", "DELETE FROM badge WHERE id = '" + b2 + "'");
            Cluster.eventually(() -> b.rows("SELECT name FROM holiday ORDER BY day"), r -> r.size() == 3
                    && r.get(2).get("name").equals("christmas"));
            b.offline();
            try (PreparedStatement ps = b.connection().prepareStatement("UPDATE holiday SET name = 'july 4th' WHERE day = ?")) {
                ps.setDate(1, Date.valueOf("2026-07-04"));
                assertEquals(1, ps.executeUpdate());
            }
            cl.pg("UPDATE holiday SET note = 'fireworks' WHERE day = '2026-07-04'");
            b.online();
            b.awaitSynced();
            Client c = cl.client("c", h, bd);
            assertEquals(List.of(Map.of("day", "2026-01-01", "name", "first day"),
                            Map.of("day", "2026-07-04", "name", "july 4th", "note", "fireworks"),
                            Map.of("day", "2026-12-26", "name", "christmas")),
                    noNulls(cl.pgRows("SELECT day::text AS day, name, note FROM holiday ORDER BY day")));
            String sql = "SELECT day, name, note FROM holiday ORDER BY day";
            String bsql = "SELECT hex(id) AS id, label, since FROM badge ORDER BY id";
            for (Client x : List.of(a, b, c)) {
                Cluster.eventually(() -> x.rows(sql), r -> r.size() == 3 && "fireworks".equals(r.get(1).get("note"))
                        && "july 4th".equals(r.get(1).get("name")));
                Cluster.eventually(() -> x.rows(bsql), r -> r.size() == 1);
            }
            Thread.sleep(300);
            assertAll(
                    () -> assertEquals(a.rows(sql), b.rows(sql), "b vs a"),
                    () -> assertEquals(a.rows(sql), c.rows(sql), "late joiner vs a"),
                    () -> assertEquals(a.rows(bsql), c.rows(bsql), "late joiner's badges vs a"),
                    () -> assertEquals(a.rows(bsql), b.rows(bsql), "b's badges vs a"));
            for (Client x : List.of(a, b, c)) {
                try (PreparedStatement ps = x.connection().prepareStatement("SELECT name FROM holiday WHERE day = ?")) {
                    ps.setDate(1, Date.valueOf("2026-12-26"));
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next(), x.name() + " finds the moved holiday by its day");
                    }
                }
                try (PreparedStatement ps = x.connection().prepareStatement("SELECT label, since FROM badge WHERE id = ?")) {
                    ps.setBytes(1, bytes(b1));
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next(), x.name() + " finds the badge by its 16 bytes");
                        assertEquals("uno", rs.getString(1));
                        assertEquals(LocalDate.of(2026, 2, 1), rs.getDate(2).toLocalDate());
                    }
                }
            }
        }
    }

    /**
     * A reading table keyed by (sensor BLOB, at TIMESTAMP); a bug in the app inserts a reading with a NULL
     * time (SQLite accepts NULL in a non-INTEGER key). PostgreSQL cannot hold it; the user expects that
     * write rejected and the client to keep syncing: a following correct reading lands in PostgreSQL. The write
     * is refused at once by the capture (it used to be written, refused by the relay, and reverted later).
     */
    @Test
    void aNullInATimestampKeyIsRejectedAndSyncGoesOn() throws Exception {
        zone("UTC");
        UUID sensor = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        try (Cluster cl = Cluster.start("drev2_nullkey", dir,
                "CREATE TABLE reading (sensor uuid, at timestamptz, value int, PRIMARY KEY (sensor, at))")) {
            Client a = cl.client("a", "CREATE TABLE reading (sensor BLOB, at TIMESTAMP, value INTEGER, PRIMARY KEY (sensor, at))");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO reading VALUES (?, ?, ?)")) {
                ps.setBytes(1, bytes(sensor));
                ps.setTimestamp(2, null);
                ps.setInt(3, 1);
                SQLException e = assertThrows(SQLException.class, ps::executeUpdate);
                assertTrue(e.getMessage().contains("primary key column reading.at is NULL"), e.getMessage());
            }
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO reading VALUES (?, ?, ?)")) {
                ps.setBytes(1, bytes(sensor));
                ps.setTimestamp(2, Timestamp.from(Instant.parse("2026-03-04T05:06:07.123Z")));
                ps.setInt(3, 2);
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("value", 2L, "ok", 1L)),
                    cl.pgRows("SELECT value, at = timestamptz '2026-03-04 05:06:07.123+00' AS ok FROM reading"),
                    "status " + a.node().status());
        }
    }

    // ------------------------------------------------------------------ local declarations

    /**
     * The app declares a date column {@code NUMERIC} locally (legal SQLite, common in hand-written schemas:
     * SQLite's own documentation maps DATE to NUMERIC) and writes it with setDate. The driver converts the
     * number up; the user expects PostgreSQL to hold the date and the local value to still be the number
     * getDate reads, after the echo and for a row written in psql.
     */
    @Test
    void aNumericDeclaredDateColumnKeepsNumbers() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev2_numdecl", dir, "CREATE TABLE ev (id int PRIMARY KEY, d date)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, d NUMERIC)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev VALUES (1, ?)")) {
                ps.setDate(1, Date.valueOf("2026-03-04"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            cl.pg("INSERT INTO ev VALUES (2, '2026-05-06')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev"), r -> r.size() == 2);
            Thread.sleep(300);
            List<Map<String, Object>> pg = cl.pgRows("SELECT d::text AS d FROM ev ORDER BY id");
            List<Map<String, Object>> local = a.rows("SELECT d FROM ev ORDER BY id");
            assertAll(
                    () -> assertEquals(List.of(Map.of("d", "2026-03-04"), Map.of("d", "2026-05-06")), pg, "PostgreSQL"),
                    () -> assertEquals(List.of(Map.of("d", Date.valueOf("2026-03-04").getTime()),
                            Map.of("d", Date.valueOf("2026-05-06").getTime())), local, "a's dates"));
        }
    }

    /**
     * The app declares a timestamptz column {@code REAL} locally (or DOUBLE, FLOAT) and writes it with
     * setTimestamp; SQLite stores the milliseconds as a real number. The user expects the row in PostgreSQL
     * with that instant, or at least an error; not the row silently deleted from the device.
     */
    @Test
    void aRealDeclaredTimestampColumnIsNotSilentlyReverted() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev2_realdecl", dir, "CREATE TABLE ev (id int PRIMARY KEY, tz timestamptz, note text)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, tz REAL, note TEXT)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev VALUES (1, ?, 'important')")) {
                ps.setTimestamp(1, Timestamp.from(Instant.parse("2026-03-04T05:06:07.123Z")));
                ps.executeUpdate();
            }
            a.awaitSynced();
            List<Map<String, Object>> pg = cl.pgRows("SELECT note, tz = timestamptz '2026-03-04 05:06:07.123+00' AS ok FROM ev");
            List<Map<String, Object>> local = a.rows("SELECT note FROM ev");
            String status = a.node().status().toString();
            assertAll(
                    () -> assertEquals(List.of(Map.of("note", "important", "ok", 1L)), pg, "PostgreSQL; status " + status),
                    () -> assertEquals(List.of(Map.of("note", "important")), local, "a's rows"));
        }
    }

    /**
     * A day-keyed table declared {@code DATE} locally, where the app writes the key as ISO text
     * ('2026-03-04', what most SQLite apps store and sqlite-jdbc's getDate also reads). DESIGN.md says the
     * value comes back as epoch milliseconds; the user expects that to replace the row's value, keeping one
     * row, not a second row next to the first.
     */
    @Disabled("Known limit (DESIGN.md, known limits, key values in another spelling): a DATE-declared key written as text comes back as epoch milliseconds")
    @Test
    void aDateKeyWrittenAsIsoTextStaysOneRow() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev2_textkey", dir, "CREATE TABLE daylog (day date PRIMARY KEY, note text)")) {
            Client a = cl.client("a", "CREATE TABLE daylog (day DATE PRIMARY KEY, note TEXT)");
            a.exec("INSERT INTO daylog VALUES ('2026-03-04', 'text key')");
            a.awaitSynced();
            Thread.sleep(500);
            assertEquals(List.of(Map.of("day", "2026-03-04")), cl.pgRows("SELECT day::text AS day FROM daylog"));
            assertEquals(List.of(Map.of("n", 1L)), a.rows("SELECT count(*) AS n FROM daylog"),
                    "a's rows: " + a.rows("SELECT day, typeof(day) AS t, note FROM daylog"));
        }
    }

    // ------------------------------------------------------------------ sync.schema=server and Hibernate

    @Entity(name = "SvNote")
    @Table(name = "sv_note")
    public static class SvNote {
        @Id public UUID id;
        public String title;
        @Column(name = "day") public LocalDate day;
    }

    /**
     * {@code sync.schema=server}: the app never creates its tables and uses Hibernate on the tables the driver
     * created (uuid key, date). The user expects em.find to load psql's row by its UUID with its date, and
     * an entity persisted on the device to reach PostgreSQL and stay one row locally.
     */
    @Disabled("Known limit (DESIGN.md, Dates, times and UUIDs): sync.schema=server declares uuid columns TEXT (plain JDBC writes UUIDs as text); Hibernate UUID ids need the application to create the table")
    @Test
    void schemaFromServerThenHibernateWithUuidIds() throws Exception {
        zone("UTC");
        UUID fromPg = UUID.fromString("7d444840-9dc0-11d1-b245-5ffdce74fad2");
        UUID fromApp = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        try (Cluster cl = Cluster.start("drev2_srvjpa", dir,
                "create table sv_note (id uuid primary key, title varchar(255), day date)",
                "insert into sv_note values ('" + fromPg + "', 'from pg', '2026-03-04')")) {
            cl.clientParams("&sync.schema=server");
            Client a = cl.client("a");
            Cluster.eventually(() -> {
                try {
                    return a.rows("SELECT title FROM sv_note");
                } catch (SQLException noTableYet) {
                    return List.<Map<String, Object>>of();
                }
            }, r -> r.size() == 1);
            String declared = a.rows("SELECT name, type FROM pragma_table_info('sv_note')").toString();
            try (EntityManagerFactory fa = emf(a, SvNote.class)) {
                SvNote found = read(fa, em -> em.find(SvNote.class, fromPg));
                Throwable persistError = null;
                try {
                    tx(fa, em -> {
                        SvNote n = new SvNote();
                        n.id = fromApp;
                        n.title = "from app";
                        n.day = LocalDate.of(2026, 5, 6);
                        em.persist(n);
                        return null;
                    });
                } catch (RuntimeException e) {
                    persistError = e;
                }
                Throwable pe = persistError;
                a.awaitSynced();
                Thread.sleep(300);
                List<Map<String, Object>> pg = cl.pgRows("select id::text as id, day::text as day from sv_note order by title");
                List<Map<String, Object>> local = a.rows("SELECT count(*) AS n FROM sv_note");
                String detail = a.rows("SELECT quote(id) AS id, title, day FROM sv_note").toString();
                assertAll(
                        () -> assertEquals(null, pe == null ? null : pe.toString(), "em.persist of a new note"),
                        () -> assertNotNull(found, "em.find of psql's row; columns " + declared + ", rows " + detail),
                        () -> assertEquals(LocalDate.of(2026, 3, 4), found == null ? null : found.day),
                        () -> assertEquals(List.of(Map.of("id", fromApp.toString(), "day", "2026-05-06"),
                                Map.of("id", fromPg.toString(), "day", "2026-03-04")), pg, "PostgreSQL"),
                        () -> assertEquals(List.of(Map.of("n", 2L)), local, "a's rows: " + detail));
            }
        }
    }

    // ------------------------------------------------------------------ schema changes and the 1011 close

    /**
     * PostgreSQL's {@code created} column held epoch milliseconds ({@code bigint}, the app's INTEGER column);
     * a migration turns it into {@code timestamptz} while the device is connected (the CatalogReloadTest kind
     * of online migration). The user expects the app's next write (still epoch milliseconds, as before) to
     * reach PostgreSQL as the instant, as it would after a reconnect, not to be refused and reverted.
     */
    @Test
    void aColumnMigratedFromBigintToTimestamptzWhileConnected() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev2_migrate", dir, "CREATE TABLE ev (id int PRIMARY KEY, created bigint)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, created INTEGER)");
            a.exec("INSERT INTO ev VALUES (1, 1772600767123)");
            a.awaitSynced();
            cl.pg("ALTER TABLE ev ALTER COLUMN created TYPE timestamptz USING to_timestamp(created / 1000.0)");
            awaitRelayType(cl, "ev", "created", "timestamptz"); // the relay's catalog watcher has seen the migration
            a.exec("INSERT INTO ev VALUES (2, 1772600768000)");
            a.awaitSynced();
            List<Map<String, Object>> pg = cl.pgRows("SELECT id, created = timestamptz '2026-03-04 05:06:08+00' AS ok FROM ev ORDER BY id");
            List<Map<String, Object>> local = a.rows("SELECT id, created FROM ev ORDER BY id");
            assertAll(
                    () -> assertEquals(List.of(Map.of("id", 1L, "ok", 0L), Map.of("id", 2L, "ok", 1L)), pg,
                            "PostgreSQL; status " + a.node().status()),
                    () -> assertEquals(List.of(Map.of("id", 1L, "created", 1_772_600_767_123L),
                            Map.of("id", 2L, "created", 1_772_600_768_000L)), local, "a's rows"));
        }
    }

    /**
     * A device in Tokyo writes wall-clock timestamps (setTimestamp) into PostgreSQL's {@code timestamp}
     * column; a migration turns the column into {@code timestamptz} while the device is connected (the usual
     * "store instants" fix). The user expects the next write to land as the instant the device meant
     * (09:00 in Tokyo is 00:00 UTC), as it would after a reconnect, not shifted by the zone difference.
     */
    @Test
    void aColumnMigratedFromTimestampToTimestamptzWhileConnected() throws Exception {
        zone("Asia/Tokyo");
        try (Cluster cl = Cluster.start("drev2_migrate_tz", dir, "CREATE TABLE ev (id int PRIMARY KEY, at timestamp)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, at TIMESTAMP)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev VALUES (1, ?)")) {
                ps.setTimestamp(1, Timestamp.valueOf("2026-03-04 09:00:00"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            cl.pg("ALTER TABLE ev ALTER COLUMN at TYPE timestamptz USING at AT TIME ZONE 'Asia/Tokyo'");
            awaitRelayType(cl, "ev", "at", "timestamptz"); // the relay's catalog watcher has seen the migration
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev VALUES (2, ?)")) {
                ps.setTimestamp(1, Timestamp.valueOf("2026-03-04 09:00:00"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("id", 1L, "at", "2026-03-04 00:00:00+00"), Map.of("id", 2L, "at", "2026-03-04 00:00:00+00")),
                    cl.pgRows("SELECT id, (at AT TIME ZONE 'UTC')::text || '+00' AS at FROM ev ORDER BY id"),
                    "PostgreSQL; status " + a.node().status());
        }
    }

    /**
     * The device is offline when the operator adds a {@code date} and a {@code uuid} column in PostgreSQL;
     * the app's migration adds them locally and it writes rows with setDate/setBytes while still offline. It
     * comes back right away (before the relay's catalog watcher looked). The user expects the queued rows in
     * PostgreSQL, and the client not to be stuck reconnecting.
     */
    @Test
    void columnsAddedWhileOfflineWithRowsQueuedSync() throws Exception {
        zone("Europe/Paris");
        UUID u = UUID.fromString("7d444840-9dc0-11d1-b245-5ffdce74fad2");
        try (Cluster cl = Cluster.start("drev2_offcol", dir, "CREATE TABLE ev (id int PRIMARY KEY, note text)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, note TEXT)");
            a.exec("INSERT INTO ev (id, note) VALUES (1, 'before')");
            a.awaitSynced();
            a.offline();
            cl.pg("ALTER TABLE ev ADD COLUMN d date", "ALTER TABLE ev ADD COLUMN u uuid");
            a.script("ALTER TABLE ev ADD COLUMN d DATE", "ALTER TABLE ev ADD COLUMN u BLOB");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev (id, note, d, u) VALUES (?, 'offline', ?, ?)")) {
                for (int i = 2; i <= 4; i++) {
                    ps.setInt(1, i);
                    ps.setDate(2, Date.valueOf(LocalDate.of(2026, 3, i)));
                    ps.setBytes(3, bytes(u));
                    ps.executeUpdate();
                }
            }
            a.online();
            a.awaitSynced();
            assertEquals(List.of(Map.of("id", 1L, "note", "before"),
                            Map.of("id", 2L, "note", "offline", "d", "2026-03-02", "u", u.toString()),
                            Map.of("id", 3L, "note", "offline", "d", "2026-03-03", "u", u.toString()),
                            Map.of("id", 4L, "note", "offline", "d", "2026-03-04", "u", u.toString())),
                    noNulls(cl.pgRows("SELECT id, note, d::text AS d, u::text AS u FROM ev ORDER BY id")),
                    "status " + a.node().status());
        }
    }

    // ------------------------------------------------------------------ precision

    /**
     * PostgreSQL's columns are {@code timestamp(0)} and {@code timestamptz(3)}; the app writes
     * 05:06:07.750 into both. The user expects PostgreSQL's rounding (05:06:08, and the milliseconds kept)
     * and the device to show what PostgreSQL holds after the echo, readable by getTimestamp.
     */
    @Test
    void timestampPrecisionsRoundAsPostgresDoesAndComeBack() throws Exception {
        zone("Europe/Lisbon");
        try (Cluster cl = Cluster.start("drev2_prec", dir, "CREATE TABLE ev (id int PRIMARY KEY, s timestamp(0), ms timestamptz(3))")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, s TIMESTAMP, ms TIMESTAMP)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev VALUES (1, ?, ?)")) {
                ps.setTimestamp(1, Timestamp.valueOf("2026-07-04 05:06:07.750"));
                ps.setTimestamp(2, Timestamp.from(Instant.parse("2026-07-04T05:06:07.750Z")));
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("s", "2026-07-04 05:06:08", "ok", 1L)),
                    cl.pgRows("SELECT s::text AS s, ms = timestamptz '2026-07-04 05:06:07.750+00' AS ok FROM ev"));
            Cluster.eventually(() -> a.rows("SELECT s FROM ev"), r -> Long.valueOf(Timestamp.valueOf("2026-07-04 05:06:08").getTime())
                    .equals(r.get(0).get("s")));
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT s, ms FROM ev")) {
                rs.next();
                assertEquals(Timestamp.valueOf("2026-07-04 05:06:08"), rs.getTimestamp(1));
                assertEquals(Instant.parse("2026-07-04T05:06:07.750Z"), rs.getTimestamp(2).toInstant());
            }
        }
    }

    // ------------------------------------------------------------------ performance

    /**
     * The app imports 20,000 rows in one transaction into a uuid-keyed table (BLOB key, a date), and the same
     * into a text-keyed one. The user expects the uuid-keyed import to sync in about the same time as the
     * text-keyed one (not several times slower because of the conversions).
     */
    @Test
    void aLargeImportIntoAUuidKeyedTableIsNotMuchSlower() throws Exception {
        zone("UTC");
        int n = 20_000;
        try (Cluster cl = Cluster.start("drev2_perf", dir, "CREATE TABLE pt (id text PRIMARY KEY, d date, v int)",
                "CREATE TABLE pu (id uuid PRIMARY KEY, d date, v int)")) {
            Client a = cl.client("a", "CREATE TABLE pt (id TEXT PRIMARY KEY, d DATE, v INTEGER)",
                    "CREATE TABLE pu (id BLOB PRIMARY KEY, d DATE, v INTEGER)");
            long text = importRows(a, "pt", n, false);
            long uuid = importRows(a, "pu", n, true);
            assertEquals(List.of(Map.of("t", (long) n, "u", (long) n)),
                    cl.pgRows("SELECT (SELECT count(*) FROM pt) AS t, (SELECT count(*) FROM pu) AS u"));
            System.out.printf("DatesSecondReviewTest import of %d rows: text-keyed %d ms, uuid-keyed %d ms%n", n, text, uuid);
            assertTrue(uuid < 2 * text + 5_000, "uuid-keyed " + uuid + " ms vs text-keyed " + text + " ms");
        }
    }

    private static long importRows(Client a, String table, int n, boolean uuid) throws Exception {
        Connection c = a.connection();
        long t0 = System.nanoTime();
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " VALUES (?, ?, ?)")) {
            for (int i = 0; i < n; i++) {
                UUID id = UUID.nameUUIDFromBytes(("row" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                if (uuid) {
                    ps.setBytes(1, bytes(id));
                } else {
                    ps.setString(1, id.toString());
                }
                ps.setDate(2, Date.valueOf(LocalDate.of(2026, 1, 1).plusDays(i % 365)));
                ps.setInt(3, i);
                ps.addBatch();
            }
            ps.executeBatch();
            c.commit();
        } finally {
            c.setAutoCommit(true);
        }
        a.awaitSynced();
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /**
     * Waits until the relay's catalog has PostgreSQL's type {@code type} for the column (its catalog watcher saw
     * the migration; it checks every 2 s): a fixed pause of 3 s was not always enough on a loaded machine. The
     * relay's feed is read through its field, as nothing public shows the catalog.
     */
    private static void awaitRelayType(Cluster cl, String table, String column, String type) {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> {
            var catalog = ((io.syncsqlite.relay.feed.ChangeFeed) field(cl.relay(), "feed")).catalog();
            var t = catalog.table(table);
            return t != null && t.column(column) != null && type.equals(t.column(column).valueType());
        });
    }

    private static Object field(Object target, String name) throws ReflectiveOperationException {
        java.lang.reflect.Field f = target.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(target);
    }
}
