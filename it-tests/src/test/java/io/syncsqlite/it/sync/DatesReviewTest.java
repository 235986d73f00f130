package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import jakarta.persistence.CollectionTable;
import jakarta.persistence.Column;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.syncsqlite.it.support.ZoneRestore;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Time;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static io.syncsqlite.it.sync.JpaReviewTest.emf;
import static io.syncsqlite.it.sync.JpaReviewTest.read;
import static io.syncsqlite.it.sync.JpaReviewTest.tx;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of "Dates, times and UUIDs" (PgTypes): sqlite-jdbc's epoch milliseconds and Hibernate's 16-byte
 * UUIDs against PostgreSQL's date/time/uuid columns, in the situations a demanding user meets: other time
 * zones, DST, old and far dates, sub-millisecond values, URL settings, schema changes, schema from the
 * server, rejections, offline merges, snapshots, Hibernate entities with UUID keys and foreign keys.
 */
class DatesReviewTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final ZoneRestore zones = new ZoneRestore();

    private void zone(String id) {
        zones.set(id);
    }

    static byte[] bytes(UUID u) {
        return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array();
    }

    static final String PG_EV = "CREATE TABLE ev (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, note text)";
    static final String LOCAL_EV = "CREATE TABLE ev (id INTEGER PRIMARY KEY, d DATE, ts TIMESTAMP, tz DATETIME, note TEXT)";

    private static void insertEv(Client c, int id, Date d, Timestamp ts, Timestamp tz) throws SQLException {
        try (PreparedStatement ps = c.connection().prepareStatement("INSERT INTO ev (id, d, ts, tz) VALUES (?, ?, ?, ?)")) {
            ps.setInt(1, id);
            ps.setDate(2, d);
            ps.setTimestamp(3, ts);
            ps.setTimestamp(4, tz);
            ps.executeUpdate();
        }
    }

    private static Object one(Client c, String sql) throws SQLException {
        List<Map<String, Object>> rows = c.rows(sql);
        return rows.isEmpty() ? null : rows.get(0).values().iterator().next();
    }

    // ------------------------------------------------------------------ URL settings

    /**
     * The user opens the file with sqlite-jdbc's {@code date_precision=SECONDS} in the URL (the way sqlite-jdbc
     * documents it), so sqlite-jdbc stores seconds. DESIGN.md says date_precision=SECONDS is followed: the user
     * expects PostgreSQL to hold the date and timestamp written, not a day in January 1970.
     */
    @Test
    void datePrecisionSecondsGivenInTheUrlIsFollowed() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_prec", dir, PG_EV)) {
            cl.clientParams("&date_precision=SECONDS");
            Client a = cl.client("a", LOCAL_EV);
            insertEv(a, 1, Date.valueOf("2026-03-04"), Timestamp.valueOf("2026-03-04 05:06:07"),
                    Timestamp.from(Instant.parse("2026-03-04T05:06:07Z")));
            assertEquals(1_772_582_400L, one(a, "SELECT d FROM ev"), "sqlite-jdbc stored seconds");
            a.awaitSynced();
            assertEquals(List.of(Map.of("d", "2026-03-04", "ts", "2026-03-04 05:06:07", "tz", 1L)),
                    cl.pgRows("SELECT d::text AS d, ts::text AS ts, tz = timestamptz '2026-03-04 05:06:07+00' AS tz FROM ev"),
                    "PostgreSQL's row; status " + a.node().status());
            // And back: a date written in psql is read back by getDate as that date.
            cl.pg("INSERT INTO ev (id, d) VALUES (2, '2027-01-02')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev WHERE id = 2"), r -> r.size() == 1);
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT d FROM ev WHERE id = 2")) {
                rs.next();
                assertEquals(LocalDate.of(2027, 1, 2), rs.getDate(1).toLocalDate(), "stored " + one(a, "SELECT d FROM ev WHERE id = 2"));
            }
        }
    }

    /**
     * The user opens the file with {@code date_class=TEXT} in the URL: sqlite-jdbc writes dates as text, and
     * DESIGN.md says values then pass as they are. The user expects PostgreSQL's dates to stay text in the
     * file (as every date the application wrote is), not to turn into epoch milliseconds.
     */
    @Test
    void dateClassTextGivenInTheUrlKeepsDatesAsText() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_dctext", dir, PG_EV)) {
            cl.clientParams("&date_class=TEXT");
            Client a = cl.client("a", LOCAL_EV);
            insertEv(a, 1, Date.valueOf("2026-03-04"), Timestamp.valueOf("2026-03-04 05:06:07"),
                    Timestamp.from(Instant.parse("2026-03-04T05:06:07Z")));
            assertEquals("text", one(a, "SELECT typeof(d) FROM ev WHERE id = 1"), "sqlite-jdbc wrote text");
            a.awaitSynced();
            assertEquals("2026-03-04", cl.pgRows("SELECT d::text AS d FROM ev").get(0).get("d"));
            cl.pg("INSERT INTO ev (id, d, ts) VALUES (2, '2027-01-02', '2027-01-02 03:04:05')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev WHERE id = 2"), r -> r.size() == 1);
            assertEquals(List.of(Map.of("d", "text", "ts", "text")),
                    a.rows("SELECT typeof(d) AS d, typeof(ts) AS ts FROM ev WHERE id = 2"),
                    "the row from PostgreSQL: " + a.rows("SELECT * FROM ev WHERE id = 2"));
        }
    }

    // ------------------------------------------------------------------ old and far dates

    /**
     * A genealogy app in Germany (JVM zone Europe/Berlin) stores a birth date of 1880-05-01 with
     * {@code setDate(Date.valueOf(...))} (which is what Hibernate does for a {@code LocalDate}). The user
     * expects PostgreSQL to hold 1880-05-01 and the app to read 1880-05-01 after the row came back.
     */
    @Test
    void aDateBefore1893InBerlinKeepsItsDay() throws Exception {
        zone("Europe/Berlin");
        try (Cluster cl = Cluster.start("drev_lmt", dir, PG_EV)) {
            Client a = cl.client("a", LOCAL_EV);
            insertEv(a, 1, Date.valueOf("1880-05-01"), Timestamp.valueOf("1880-05-01 12:00:00"), null);
            a.awaitSynced();
            assertEquals(List.of(Map.of("d", "1880-05-01", "ts", "1880-05-01 12:00:00")),
                    cl.pgRows("SELECT d::text AS d, ts::text AS ts FROM ev"), "PostgreSQL's row");
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT d FROM ev")) {
                rs.next();
                assertEquals(LocalDate.of(1880, 5, 1), rs.getDate(1).toLocalDate(), "the writer's own date after the echo");
            }
        }
    }

    /**
     * A historian's app (any zone, here UTC) stores 1500-03-01 with {@code setDate(Date.valueOf(...))}, and
     * another row holds 1400-06-01 written in psql. The user expects the same calendar day on both sides
     * (sqlite-jdbc's {@code java.sql.Date} counts in the Julian calendar before 1582, PostgreSQL and java.time
     * in the proleptic Gregorian one).
     */
    @Test
    void aDateBeforeTheGregorianReformKeepsItsDay() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_julian", dir, PG_EV)) {
            Client a = cl.client("a", LOCAL_EV);
            insertEv(a, 1, Date.valueOf("1500-03-01"), null, null);
            a.awaitSynced();
            cl.pg("INSERT INTO ev (id, d) VALUES (2, '1400-06-01')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev WHERE id = 2"), r -> r.size() == 1);
            String pg = (String) cl.pgRows("SELECT d::text AS d FROM ev WHERE id = 1").get(0).get("d");
            LocalDate local;
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT d FROM ev WHERE id = 2")) {
                rs.next();
                local = rs.getDate(1).toLocalDate();
            }
            LocalDate fin = local;
            assertAll(() -> assertEquals("1500-03-01", pg, "PostgreSQL's date of the app's 1500-03-01"),
                    () -> assertEquals(LocalDate.of(1400, 6, 1), fin, "getDate of psql's 1400-06-01"));
        }
    }

    /**
     * Dates before 1970 and far in the future (1960-02-29, 9999-12-31), in India's zone: the user expects
     * them in PostgreSQL as written and back on a second client.
     */
    @Test
    void datesBefore1970AndFarFutureRoundTrip() throws Exception {
        zone("Asia/Kolkata");
        try (Cluster cl = Cluster.start("drev_far", dir, PG_EV)) {
            Client a = cl.client("a", LOCAL_EV);
            Client b = cl.client("b", LOCAL_EV);
            insertEv(a, 1, Date.valueOf("1960-02-29"), Timestamp.valueOf("1960-02-29 23:59:59.999"),
                    Timestamp.from(Instant.parse("1960-02-29T23:59:59.999Z")));
            insertEv(a, 2, Date.valueOf("9999-12-31"), Timestamp.valueOf("9999-12-31 23:59:59"),
                    Timestamp.from(Instant.parse("9999-12-30T23:59:59Z")));
            a.awaitSynced();
            assertEquals(List.of(Map.of("d", "1960-02-29", "ts", "1960-02-29 23:59:59.999", "tz", 1L),
                            Map.of("d", "9999-12-31", "ts", "9999-12-31 23:59:59", "tz", 1L)),
                    cl.pgRows("SELECT d::text AS d, ts::text AS ts, tz = CASE id WHEN 1 THEN timestamptz"
                            + " '1960-02-29 23:59:59.999+00' ELSE timestamptz '9999-12-30 23:59:59+00' END AS tz FROM ev ORDER BY id"));
            Cluster.eventually(() -> b.rows("SELECT id FROM ev"), r -> r.size() == 2);
            assertEquals(a.rows("SELECT id, d, ts, tz FROM ev ORDER BY id"), b.rows("SELECT id, d, ts, tz FROM ev ORDER BY id"));
        }
    }

    // ------------------------------------------------------------------ zones and DST

    /**
     * In Europe/Berlin, PostgreSQL holds the ambiguous wall-clock time 2026-10-25 02:30 (DST ends) in a
     * {@code timestamp}, and both instants that read 02:30 that night in {@code timestamptz}; in
     * America/Santiago, 2026-09-06 has no midnight. The user expects getTimestamp/getDate to give those values,
     * and values written on the client to reach PostgreSQL unchanged.
     */
    @Test
    void dstOverlapAndAMissingMidnight() throws Exception {
        zone("Europe/Berlin");
        try (Cluster cl = Cluster.start("drev_dst", dir, PG_EV)) {
            Client a = cl.client("a", LOCAL_EV);
            cl.pg("INSERT INTO ev (id, ts, tz) VALUES (1, '2026-10-25 02:30', '2026-10-25 00:30+00'),"
                    + " (2, '2026-10-25 02:30', '2026-10-25 01:30+00')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev"), r -> r.size() == 2);
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT ts, tz FROM ev ORDER BY id")) {
                rs.next();
                assertEquals(LocalDateTime.of(2026, 10, 25, 2, 30), rs.getTimestamp(1).toLocalDateTime());
                assertEquals(Instant.parse("2026-10-25T00:30:00Z"), rs.getTimestamp(2).toInstant());
                rs.next();
                assertEquals(Instant.parse("2026-10-25T01:30:00Z"), rs.getTimestamp(2).toInstant());
            }
            insertEv(a, 3, Date.valueOf("2026-10-25"), Timestamp.valueOf("2026-10-25 02:30:00"),
                    Timestamp.from(Instant.parse("2026-10-25T01:30:00Z")));
            a.awaitSynced();
            assertEquals(List.of(Map.of("d", "2026-10-25", "ts", "2026-10-25 02:30:00", "tz", 1L)),
                    cl.pgRows("SELECT d::text AS d, ts::text AS ts, tz = timestamptz '2026-10-25 01:30+00' AS tz FROM ev WHERE id = 3"));
        }
        zone("America/Santiago");
        try (Cluster cl = Cluster.start("drev_dst2", dir, PG_EV)) {
            Client a = cl.client("s", LOCAL_EV);
            insertEv(a, 1, Date.valueOf("2026-09-06"), null, null);
            cl.pg("INSERT INTO ev (id, d) VALUES (2, '2026-09-06')");
            a.awaitSynced();
            Cluster.eventually(() -> a.rows("SELECT id FROM ev"), r -> r.size() == 2);
            assertEquals(List.of(Map.of("d", "2026-09-06"), Map.of("d", "2026-09-06")),
                    cl.pgRows("SELECT d::text AS d FROM ev ORDER BY id"));
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT d FROM ev ORDER BY id")) {
                while (rs.next()) {
                    assertEquals(LocalDate.of(2026, 9, 6), rs.getDate(1).toLocalDate());
                }
            }
        }
    }

    // ------------------------------------------------------------------ Hibernate

    @Entity(name = "RvTrip")
    @Table(name = "rv_trip")
    public static class Trip {
        @Id @GeneratedValue(strategy = GenerationType.UUID) public UUID id;
        @Version public long version;
        public String title;
        @Column(name = "day") public LocalDate day;
        @Column(name = "starts_at") public LocalDateTime startsAt;
        @Column(name = "created_at") public Instant createdAt;
        @Column(name = "booked") public OffsetDateTime booked;
        @Column(name = "departs") public LocalTime departs;
        @ElementCollection(fetch = FetchType.EAGER)
        @CollectionTable(name = "rv_trip_holiday", joinColumns = @JoinColumn(name = "trip_id"))
        @Column(name = "holiday", nullable = false)
        public Set<LocalDate> holidays = new HashSet<>();
    }

    @Entity(name = "RvStop")
    @Table(name = "rv_stop")
    public static class Stop {
        @Id @GeneratedValue(strategy = GenerationType.UUID) public UUID id;
        public String name;
        @ManyToOne @JoinColumn(name = "trip_id") public Trip trip;
    }

    static final String TRIP_PG = "create table rv_trip (id uuid primary key, version bigint not null, title varchar(255),"
            + " day date, starts_at timestamp(6), created_at timestamp(6) with time zone,"
            + " booked timestamp(6) with time zone, departs time(6))";
    static final String STOP_PG = "create table rv_stop (id uuid primary key, name varchar(255),"
            + " trip_id uuid references rv_trip (id) on delete cascade)";
    static final String HOLIDAY_PG = "create table rv_trip_holiday (trip_id uuid not null references rv_trip (id)"
            + " on delete cascade, holiday date not null, primary key (trip_id, holiday))";

    /**
     * A JPA team in New York: a trip (UUID id, LocalDate, LocalDateTime, Instant, OffsetDateTime, LocalTime,
     * {@code @Version}, an {@code @ElementCollection} of dates) and two stops referencing it by UUID. Persisted
     * on a, the user expects the values in PostgreSQL, then em.find and JPQL on b ({@code where t.day = :d},
     * stops by trip id) to find them; a date changed in psql is found by JPQL with the new date on a, and an
     * edit of the title on b reaches PostgreSQL without touching the dates.
     */
    @Test
    void hibernateEntitiesWithUuidKeysAndTemporalsRoundTripInNewYork() throws Exception {
        zone("America/New_York");
        try (Cluster cl = Cluster.start("drev_jpa", dir, TRIP_PG, STOP_PG, HOLIDAY_PG)) {
            Client a = cl.client("a");
            Client b = cl.client("b");
            try (EntityManagerFactory fa = emf(a, Trip.class, Stop.class); EntityManagerFactory fb = emf(b, Trip.class, Stop.class)) {
                LocalDate day = LocalDate.of(2026, 3, 8); // the day DST starts in New York
                LocalDateTime starts = LocalDateTime.of(2026, 3, 8, 1, 30, 15, 250_000_000);
                Instant created = Instant.parse("2026-03-08T06:59:59.999Z");
                OffsetDateTime booked = OffsetDateTime.parse("2026-03-01T09:00:00+01:00");
                LocalTime departs = LocalTime.of(23, 45, 30);
                UUID id = tx(fa, em -> {
                    Trip t = new Trip();
                    t.title = "spring";
                    t.day = day;
                    t.startsAt = starts;
                    t.createdAt = created;
                    t.booked = booked;
                    t.departs = departs;
                    t.holidays.add(LocalDate.of(2026, 3, 9));
                    t.holidays.add(LocalDate.of(1969, 7, 20));
                    em.persist(t);
                    for (String n : List.of("first", "second")) {
                        Stop s = new Stop();
                        s.name = n;
                        s.trip = t;
                        em.persist(s);
                    }
                    return t.id;
                });
                a.awaitSynced();
                assertEquals(List.of(Map.of("title", "spring", "day", "2026-03-08", "starts", "2026-03-08 01:30:15.25",
                                "created", 1L, "booked", 1L, "departs", "23:45:30")),
                        cl.pgRows("select title, day::text as day, starts_at::text as starts,"
                                + " created_at = timestamptz '2026-03-08 06:59:59.999+00' as created,"
                                + " booked = timestamptz '2026-03-01 08:00:00+00' as booked, departs::text as departs from rv_trip"),
                        "PostgreSQL's trip; status " + a.node().status() + "; a's schema " + a.rows(
                                "select name, type from pragma_table_info('rv_trip')"));
                assertEquals(List.of(Map.of("n", 2L)), cl.pgRows("select count(*) as n from rv_stop where trip_id = '" + id + "'"));
                assertEquals("1969-07-20,2026-03-09", cl.pgRows("select string_agg(holiday::text, ',' order by holiday) as h"
                        + " from rv_trip_holiday where trip_id = '" + id + "'").get(0).get("h"), "a's schema: "
                        + a.rows("select sql from sqlite_master where name like 'rv%'"));

                Trip seen = Cluster.eventually(() -> read(fb, em -> em.find(Trip.class, id)),
                        t -> t != null && t.holidays.size() == 2);
                assertAll(
                        () -> assertEquals(day, seen.day),
                        () -> assertEquals(starts, seen.startsAt),
                        () -> assertEquals(created, seen.createdAt),
                        () -> assertTrue(booked.isEqual(seen.booked), "booked " + seen.booked),
                        () -> assertEquals(departs, seen.departs),
                        () -> assertEquals(Set.of(LocalDate.of(2026, 3, 9), LocalDate.of(1969, 7, 20)), seen.holidays));
                List<Trip> byDay = read(fb, em -> em.createQuery("select t from RvTrip t where t.day = :d", Trip.class)
                        .setParameter("d", day).getResultList());
                assertEquals(1, byDay.size(), "JPQL by day on b");
                Long stops = Cluster.eventually(() -> read(fb, em -> em.createQuery(
                        "select count(s) from RvStop s where s.trip.id = :id", Long.class).setParameter("id", id).getSingleResult()),
                        n -> n == 2);
                assertEquals(2L, stops);
                List<Trip> byStart = read(fb, em -> em.createQuery("select t from RvTrip t where t.startsAt < :s and t.createdAt = :c",
                        Trip.class).setParameter("s", starts.plusSeconds(1)).setParameter("c", created).getResultList());
                assertEquals(1, byStart.size(), "JPQL by timestamp and instant on b");

                // psql moves the trip; JPQL on a finds it by the new day.
                cl.pg("update rv_trip set day = '2026-11-01', departs = '00:15' where id = '" + id + "'");
                List<Trip> moved = Cluster.eventually(() -> read(fa, em -> em.createQuery(
                        "select t from RvTrip t where t.day = :d", Trip.class).setParameter("d", LocalDate.of(2026, 11, 1))
                        .getResultList()), l -> l.size() == 1);
                assertEquals(LocalTime.of(0, 15), moved.get(0).departs);

                // b renames it (after it saw the move); the dates in PostgreSQL stay as they are.
                Cluster.eventually(() -> read(fb, em -> em.find(Trip.class, id)), t -> LocalDate.of(2026, 11, 1).equals(t.day));
                tx(fb, em -> {
                    em.find(Trip.class, id).title = "autumn";
                    return null;
                });
                b.awaitSynced();
                assertEquals(List.of(Map.of("title", "autumn", "day", "2026-11-01", "starts", "2026-03-08 01:30:15.25",
                                "created", 1L, "departs", "00:15:00")),
                        cl.pgRows("select title, day::text as day, starts_at::text as starts,"
                                + " created_at = timestamptz '2026-03-08 06:59:59.999+00' as created, departs::text as departs from rv_trip"));
                // Deleting in psql cascades to the stops and holidays; both clients lose them.
                cl.pg("delete from rv_trip where id = '" + id + "'");
                for (Client c : List.of(a, b)) {
                    Cluster.eventually(() -> c.rows("select count(*) as n from rv_stop"), r -> Long.valueOf(0).equals(r.get(0).get("n")));
                    Cluster.eventually(() -> c.rows("select count(*) as n from rv_trip_holiday"), r -> Long.valueOf(0).equals(r.get(0).get("n")));
                }
            }
        }
    }

    // ------------------------------------------------------------------ schema changes

    /**
     * While the client runs, the operator adds a {@code date} and a {@code uuid} column in PostgreSQL and the
     * app's migration adds them locally (DATE, BLOB), as CatalogReloadTest does with text. The user expects a
     * row written with {@code setDate}/{@code setBytes} to reach PostgreSQL, not to be rejected.
     */
    @Test
    void dateAndUuidColumnsAddedWhileConnectedSync() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_addcol", dir, "CREATE TABLE ev (id int PRIMARY KEY, note text)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, note TEXT)");
            a.exec("INSERT INTO ev (id, note) VALUES (1, 'before')");
            a.awaitSynced();
            cl.pg("ALTER TABLE ev ADD COLUMN d date", "ALTER TABLE ev ADD COLUMN u uuid");
            a.script("ALTER TABLE ev ADD COLUMN d DATE", "ALTER TABLE ev ADD COLUMN u BLOB");
            UUID u = UUID.fromString("7d444840-9dc0-11d1-b245-5ffdce74fad2");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev (id, note, d, u) VALUES (2, 'after', ?, ?)")) {
                ps.setDate(1, Date.valueOf("2026-03-04"));
                ps.setBytes(2, bytes(u));
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("id", 1L, "note", "before"), Map.of("id", 2L, "note", "after", "d", "2026-03-04",
                            "u", u.toString())),
                    cl.pgRows("SELECT id, note, d::text AS d, u::text AS u FROM ev ORDER BY id").stream()
                            .map(r -> { r.values().removeIf(java.util.Objects::isNull); return r; }).toList(),
                    "PostgreSQL's rows; a holds " + a.rows("SELECT id, note, d, hex(u) AS u FROM ev ORDER BY id"));
        }
    }

    /**
     * While the client runs, a new table keyed by {@code uuid} with a {@code date} column appears in PostgreSQL
     * and in the app (BLOB key, DATE column). The user expects the app's row in PostgreSQL.
     */
    @Test
    void aUuidKeyedTableCreatedWhileConnectedSyncs() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_addtbl", dir, "CREATE TABLE ev (id int PRIMARY KEY, note text)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, note TEXT)");
            a.exec("INSERT INTO ev (id, note) VALUES (1, 'before')");
            a.awaitSynced();
            cl.pg("CREATE TABLE tag (id uuid PRIMARY KEY, d date, name text)");
            a.script("CREATE TABLE tag (id BLOB PRIMARY KEY, d DATE, name TEXT)");
            UUID u = UUID.fromString("7d444840-9dc0-11d1-b245-5ffdce74fad2");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO tag (id, d, name) VALUES (?, ?, 'new')")) {
                ps.setBytes(1, bytes(u));
                ps.setDate(2, Date.valueOf("2026-03-04"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            assertEquals(List.of(Map.of("id", u.toString(), "d", "2026-03-04", "name", "new")),
                    cl.pgRows("SELECT id::text AS id, d::text AS d, name FROM tag"),
                    "PostgreSQL's tag rows; a holds " + a.rows("SELECT hex(id) AS id, d, name FROM tag"));
        }
    }

    /**
     * {@code sync.schema=server}: the app never creates its tables; PostgreSQL's table has a {@code date}, a
     * {@code timestamp} and a {@code uuid}. The user reads the server's row with {@code getDate}/{@code
     * getTimestamp} and writes one with {@code setDate}/{@code setTimestamp}, as on any sqlite-jdbc table, and
     * expects both to work.
     */
    @Test
    void schemaFromServerDatesWorkThroughJdbc() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_srv", dir, "CREATE TABLE ev (id int PRIMARY KEY, d date, ts timestamp, note text)",
                "INSERT INTO ev VALUES (1, '2026-03-04', '2026-03-04 05:06:07', 'from pg')")) {
            cl.clientParams("&sync.schema=server");
            Client a = cl.client("a");
            Cluster.eventually(() -> {
                try {
                    return a.rows("SELECT id FROM ev");
                } catch (SQLException noTableYet) {
                    return List.<Map<String, Object>>of();
                }
            }, r -> r.size() == 1);
            String declared = a.rows("SELECT name, type FROM pragma_table_info('ev')").toString();
            Throwable readError = null;
            LocalDate d = null;
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT d, ts FROM ev")) {
                rs.next();
                d = rs.getDate(1).toLocalDate();
            } catch (SQLException e) {
                readError = e;
            }
            insertEvLight(a);
            a.awaitSynced();
            List<Map<String, Object>> pg = cl.pgRows("SELECT id, d::text AS d, ts::text AS ts FROM ev WHERE id = 2");
            LocalDate fd = d;
            Throwable fe = readError;
            assertAll(
                    () -> assertEquals(LocalDate.of(2026, 3, 4), fd, "getDate of the server's date (local columns "
                            + declared + ", values " + a.rows("SELECT * FROM ev WHERE id = 1") + "): " + fe),
                    () -> assertEquals(List.of(Map.of("id", 2L, "d", "2027-01-02", "ts", "2027-01-02 03:04:05")), pg,
                            "the app's setDate row in PostgreSQL; status " + a.node().status() + "; a holds "
                                    + a.rows("SELECT * FROM ev ORDER BY id")));
        }
    }

    private static void insertEvLight(Client a) throws SQLException {
        try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO ev (id, d, ts) VALUES (2, ?, ?)")) {
            ps.setDate(1, Date.valueOf("2027-01-02"));
            ps.setTimestamp(2, Timestamp.valueOf("2027-01-02 03:04:05"));
            ps.executeUpdate();
        }
    }

    // ------------------------------------------------------------------ rejections

    static final String PG_CHECKED = "CREATE TABLE appt (id uuid PRIMARY KEY, d date CHECK (d >= '2000-01-01'), note text)";
    static final String LOCAL_CHECKED = "CREATE TABLE appt (id BLOB PRIMARY KEY, d DATE, note TEXT)";

    /**
     * A UUID-keyed row with a date; the app changes the date to one PostgreSQL's CHECK refuses. The user
     * expects the row reverted to the server's date (epoch milliseconds, readable by getDate), one row, found
     * by its 16-byte key: first with the rejection arriving normally, then with the rejection lost with the
     * connection (the relay repeats it in the next welcome).
     */
    @Test
    void rejectedDateChangeRevertsToTheServersDateEvenWhenTheRejectionWasLost() throws Exception {
        zone("Europe/Paris");
        UUID id = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        long good = Date.valueOf("2026-03-04").getTime();
        try (Cluster cl = Cluster.start("drev_rej", dir, PG_CHECKED)) {
            Client a = cl.client("a", LOCAL_CHECKED);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO appt VALUES (?, ?, 'x')")) {
                ps.setBytes(1, bytes(id));
                ps.setDate(2, Date.valueOf("2026-03-04"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            setDate(a, id, "1999-01-01");
            a.awaitSynced();
            Cluster.eventually(() -> a.rows("SELECT d, typeof(id) AS t FROM appt"),
                    r -> r.equals(List.of(Map.of("d", good, "t", "blob"))));

            // The same, with the rejection lost: the push reaches the relay, its answer is cut off.
            a.proxy().latency(800);
            setDate(a, id, "1998-02-02");
            Thread.sleep(1300);
            a.proxy().cutAll();
            a.proxy().latency(0);
            a.awaitSynced();
            assertEquals(List.of(Map.of("d", "2026-03-04")), cl.pgRows("SELECT d::text AS d FROM appt"));
            List<Map<String, Object>> local = Cluster.eventually(() -> a.rows("SELECT hex(id) AS id, typeof(id) AS t, d FROM appt"),
                    r -> r.size() != 1 || !r.get(0).get("d").equals(Date.valueOf("1998-02-02").getTime()));
            assertEquals(List.of(Map.of("id", "A0EEBC999C0B4EF8BB6D6BB9BD380A11", "t", "blob", "d", good)), local,
                    "a's rows after the lost rejection was repeated");
        }
    }

    private static void setDate(Client a, UUID id, String day) throws SQLException {
        try (PreparedStatement ps = a.connection().prepareStatement("UPDATE appt SET d = ? WHERE id = ?")) {
            ps.setDate(1, Date.valueOf(day));
            ps.setBytes(2, bytes(id));
            assertEquals(1, ps.executeUpdate());
        }
    }

    // ------------------------------------------------------------------ sub-millisecond, infinity, NULL

    /**
     * A sensor table keyed by (uuid, timestamptz); PostgreSQL's own ingest wrote a reading at microsecond
     * precision (now()). The app corrects that reading's value. The user expects PostgreSQL to hold one
     * reading with the corrected value, not a second reading or a rejection.
     */
    @Test
    void aRowKeyedByAMicrosecondTimestampCanBeUpdated() throws Exception {
        zone("UTC");
        UUID sensor = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        try (Cluster cl = Cluster.start("drev_micro", dir,
                "CREATE TABLE reading (sensor uuid, at timestamptz, value int, PRIMARY KEY (sensor, at))")) {
            Client a = cl.client("a", "CREATE TABLE reading (sensor BLOB, at TIMESTAMP, value INTEGER, PRIMARY KEY (sensor, at))");
            cl.pg("INSERT INTO reading VALUES ('" + sensor + "', '2026-03-04 05:06:07.123456+00', 1)");
            Cluster.eventually(() -> a.rows("SELECT value FROM reading"), r -> r.size() == 1);
            a.exec("UPDATE reading SET value = 2");
            a.awaitSynced();
            assertEquals(List.of(Map.of("at", "2026-03-04 05:06:07.123456+00", "value", 2L)),
                    cl.pgRows("SELECT at::text AS at, value FROM reading ORDER BY at"),
                    "PostgreSQL's readings; status " + a.node().status() + "; a holds "
                            + a.rows("SELECT hex(sensor) AS s, at, value FROM reading"));
            cl.awaitConverged("SELECT count(*) AS n FROM reading", a);
        }
    }

    /**
     * PostgreSQL holds {@code infinity} dates, a microsecond timestamp and NULLs; the app edits only the note.
     * The user expects PostgreSQL to keep infinity, the microseconds and the NULLs, and the app to read the
     * NULLs as NULL; setting a date to NULL on the client clears it in PostgreSQL.
     */
    @Test
    void infinityMicrosecondsAndNullsSurviveAnEditOfAnotherColumn() throws Exception {
        zone("Australia/Lord_Howe"); // a half-hour DST shift
        try (Cluster cl = Cluster.start("drev_inf", dir, PG_EV)) {
            Client a = cl.client("a", LOCAL_EV);
            cl.pg("INSERT INTO ev VALUES (1, 'infinity', '-infinity', NULL, 'n'),"
                    + " (2, NULL, '2026-03-04 05:06:07.123456', '2026-03-04 05:06:07.654321+00', 'n')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev"), r -> r.size() == 2);
            a.exec("UPDATE ev SET note = 'edited'");
            a.exec("UPDATE ev SET tz = NULL WHERE id = 2");
            a.awaitSynced();
            assertEquals(List.of(Map.of("d", "infinity", "ts", "-infinity", "note", "edited"),
                            Map.of("ts", "2026-03-04 05:06:07.123456", "note", "edited")),
                    cl.pgRows("SELECT d::text AS d, ts::text AS ts, tz::text AS tz, note FROM ev ORDER BY id").stream()
                            .map(r -> { r.values().removeIf(java.util.Objects::isNull); return r; }).toList());
            try (ResultSet rs = a.connection().createStatement().executeQuery("SELECT d, tz FROM ev WHERE id = 2")) {
                rs.next();
                assertEquals(null, rs.getDate(1));
                assertEquals(null, rs.getTimestamp(2));
            }
        }
    }

    // ------------------------------------------------------------------ offline, merge, snapshot

    static final String PG_TASK = "CREATE TABLE task (id uuid PRIMARY KEY, parent uuid REFERENCES task (id), due date,"
            + " done_at timestamptz, starts time, title text, hits int NOT NULL DEFAULT 0)";
    static final String LOCAL_TASK = "CREATE TABLE task (id BLOB PRIMARY KEY, parent BLOB REFERENCES task (id), due DATE,"
            + " done_at DATETIME, starts TIME, title TEXT, hits INTEGER NOT NULL DEFAULT 0)";

    /**
     * Two UUID-keyed tasks (a child referencing its parent by uuid). Client b goes offline and changes the
     * child's due date and title while psql sets done_at and starts on the same row, and a counter column
     * {@code hits} is incremented on both sides. The user expects the merged row everywhere (b's due and
     * title, PostgreSQL's done_at and starts, both increments), read back as dates by getDate/getTimestamp/getTime.
     */
    @Test
    void offlineEditOfAUuidKeyedRowMergesWithPostgresChanges() throws Exception {
        zone("America/Sao_Paulo");
        UUID parent = UUID.fromString("11111111-2222-3333-4444-555555555555");
        UUID child = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        try (Cluster cl = Cluster.start("drev_merge", dir, PG_TASK)) {
            cl.clientParams("&sync.counters=task.hits");
            Client a = cl.client("a", LOCAL_TASK);
            Client b = cl.client("b", LOCAL_TASK);
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO task (id, parent, due, title) VALUES (?, ?, ?, ?)")) {
                ps.setBytes(1, bytes(parent));
                ps.setBytes(2, null);
                ps.setDate(3, Date.valueOf("2026-03-01"));
                ps.setString(4, "parent");
                ps.executeUpdate();
                ps.setBytes(1, bytes(child));
                ps.setBytes(2, bytes(parent));
                ps.setDate(3, Date.valueOf("2026-03-02"));
                ps.setString(4, "child");
                ps.executeUpdate();
            }
            a.awaitSynced();
            Cluster.eventually(() -> b.rows("SELECT title FROM task"), r -> r.size() == 2);
            b.offline();
            try (PreparedStatement ps = b.connection().prepareStatement(
                    "UPDATE task SET due = ?, title = 'child (b)', hits = hits + 1 WHERE id = ?")) {
                ps.setDate(1, Date.valueOf("2026-04-05"));
                ps.setBytes(2, bytes(child));
                assertEquals(1, ps.executeUpdate());
            }
            cl.pg("UPDATE task SET done_at = '2026-03-03 10:00:00.5+00', starts = '08:30', hits = hits + 10 WHERE id = '" + child + "'");
            b.online();
            b.awaitSynced();
            String sql = "SELECT due::text AS due, done_at = timestamptz '2026-03-03 10:00:00.5+00' AS done,"
                    + " starts::text AS starts, title, hits, parent::text AS parent FROM task WHERE id = '" + child + "'";
            assertEquals(List.of(Map.of("due", "2026-04-05", "done", 1L, "starts", "08:30:00", "title", "child (b)", "hits", 11L,
                    "parent", parent.toString())), cl.pgRows(sql), "PostgreSQL's merged child; status " + b.node().status());
            for (Client c : List.of(a, b)) {
                Cluster.eventually(() -> c.rows("SELECT title, hits FROM task WHERE title LIKE 'child%'"),
                        r -> r.equals(List.of(Map.of("title", "child (b)", "hits", 11L))));
                try (PreparedStatement ps = c.connection().prepareStatement(
                        "SELECT due, done_at, starts FROM task WHERE id = ? AND parent = ?")) {
                    ps.setBytes(1, bytes(child));
                    ps.setBytes(2, bytes(parent));
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next(), c.name() + " finds the child by its and its parent's 16-byte ids: "
                                + c.rows("SELECT hex(id) AS id, hex(parent) AS p, due, done_at, starts FROM task"));
                        assertEquals(LocalDate.of(2026, 4, 5), rs.getDate(1).toLocalDate(), c.name());
                        assertEquals(Instant.parse("2026-03-03T10:00:00.500Z"), rs.getTimestamp(2).toInstant(), c.name());
                        assertEquals(Time.valueOf("08:30:00"), rs.getTime(3), c.name());
                    }
                }
            }
        }
    }

    /**
     * Rows created offline before the client ever reached the relay (the relay unreachable when the app
     * opened the file), with dates and UUIDs. The user expects them in PostgreSQL once it connects, and a
     * client that joins later (cursor 0, a snapshot) to read the same dates and find the rows by their
     * 16-byte ids.
     */
    @Test
    void rowsQueuedBeforeTheFirstConnectionAndALateJoiner() throws Exception {
        zone("Asia/Tokyo");
        UUID parent = UUID.fromString("11111111-2222-3333-4444-555555555555");
        try (Cluster cl = Cluster.start("drev_queued", dir, PG_TASK)) {
            Path file = cl.file("a", LOCAL_TASK);
            TcpProxy p = cl.proxy();
            p.online(false);
            Client a = cl.open("a", file, p);
            try (PreparedStatement ps = a.connection().prepareStatement(
                    "INSERT INTO task (id, parent, due, done_at, starts, title) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (int k = 0; k < 5; k++) {
                    UUID id = k == 0 ? parent : UUID.nameUUIDFromBytes(new byte[] {(byte) k});
                    ps.setBytes(1, bytes(id));
                    ps.setBytes(2, k == 0 ? null : bytes(parent));
                    ps.setDate(3, Date.valueOf(LocalDate.of(2026, 1, 1).plusDays(k)));
                    ps.setTimestamp(4, Timestamp.from(Instant.parse("2026-01-01T00:00:00.001Z").plusSeconds(k)));
                    ps.setTime(5, Time.valueOf(LocalTime.of(9, k)));
                    ps.setString(6, "t" + k);
                    ps.executeUpdate();
                }
            }
            Thread.sleep(500);
            p.online(true);
            a.awaitSynced();
            assertEquals(List.of(Map.of("due", "2026-01-01", "starts", "09:00:00", "ok", 1L),
                            Map.of("due", "2026-01-05", "starts", "09:04:00", "ok", 1L)),
                    cl.pgRows("SELECT due::text AS due, starts::text AS starts,"
                            + " done_at = timestamptz '2026-01-01 00:00:00.001+00' + (due - date '2026-01-01') * interval '1 s' AS ok"
                            + " FROM task WHERE title IN ('t0', 't4') ORDER BY title"),
                    "PostgreSQL's rows; status " + a.node().status());
            Client c = cl.client("c", LOCAL_TASK);
            Cluster.eventually(() -> c.rows("SELECT id FROM task"), r -> r.size() == 5);
            String sql = "SELECT hex(id) AS id, hex(parent) AS parent, due, done_at, starts, title FROM task ORDER BY title";
            assertEquals(a.rows(sql), c.rows(sql), "the late joiner holds what the writer holds");
            try (PreparedStatement ps = c.connection().prepareStatement("SELECT count(*) FROM task WHERE parent = ? AND due > ?")) {
                ps.setBytes(1, bytes(parent));
                ps.setDate(2, Date.valueOf("2026-01-02"));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    assertEquals(3, rs.getInt(1), "children due after Jan 2 on the late joiner");
                }
            }
        }
    }

    /**
     * A {@code timetz} column (PostgreSQL) declared TIME locally, in New York: the app writes 05:06:07 with
     * {@code setTime}, psql writes 23:00+02. The user expects PostgreSQL to hold 05:06:07-05 and a second
     * client to read both times as the first one does.
     */
    @Test
    void timeWithTimeZoneRoundTrips() throws Exception {
        zone("America/New_York");
        try (Cluster cl = Cluster.start("drev_timetz", dir, "CREATE TABLE shift (id int PRIMARY KEY, starts timetz)")) {
            Client a = cl.client("a", "CREATE TABLE shift (id INTEGER PRIMARY KEY, starts TIME)");
            Client b = cl.client("b", "CREATE TABLE shift (id INTEGER PRIMARY KEY, starts TIME)");
            try (PreparedStatement ps = a.connection().prepareStatement("INSERT INTO shift VALUES (1, ?)")) {
                ps.setTime(1, Time.valueOf("05:06:07"));
                ps.executeUpdate();
            }
            a.awaitSynced();
            cl.pg("INSERT INTO shift VALUES (2, '23:00:00+02')");
            assertEquals(List.of(Map.of("ok", 1L)), cl.pgRows("SELECT starts = timetz '05:06:07-05' AS ok FROM shift WHERE id = 1"));
            for (Client c : List.of(a, b)) {
                Cluster.eventually(() -> c.rows("SELECT id FROM shift"), r -> r.size() == 2);
                assertEquals(List.of("integer", "integer"), c.rows("SELECT typeof(starts) AS t FROM shift ORDER BY id").stream()
                        .map(r -> r.get("t")).toList(), c.name() + " holds " + c.rows("SELECT * FROM shift ORDER BY id"));
                try (ResultSet rs = c.connection().createStatement().executeQuery("SELECT starts FROM shift ORDER BY id")) {
                    rs.next();
                    assertEquals(Time.valueOf("05:06:07"), rs.getTime(1), c.name());
                    rs.next();
                    assertEquals(Time.valueOf("16:00:00"), rs.getTime(1), c.name() + ": 21:00Z in New York (1970-01-01, EST)");
                }
            }
        }
    }

    // ------------------------------------------------------------------ local declarations

    /**
     * The app keeps epoch milliseconds in a column it declares {@code INTEGER} ({@code System.currentTimeMillis()}),
     * PostgreSQL's column is {@code timestamptz}. The driver converts the number to a timestamp on the way up;
     * the user expects the app's own column to still hold the number it wrote after its row came back (and a
     * row written in psql to arrive as a number too), not ISO text in an INTEGER column.
     */
    @Test
    void epochMillisInAnIntegerColumnStayNumbers() throws Exception {
        zone("UTC");
        try (Cluster cl = Cluster.start("drev_intcol", dir, "CREATE TABLE ev (id int PRIMARY KEY, created timestamptz)")) {
            Client a = cl.client("a", "CREATE TABLE ev (id INTEGER PRIMARY KEY, created INTEGER)");
            a.exec("INSERT INTO ev VALUES (1, 1772600767123)");
            a.awaitSynced();
            assertEquals(List.of(Map.of("ok", 1L)),
                    cl.pgRows("SELECT created = timestamptz '2026-03-04 05:06:07.123+00' AS ok FROM ev"));
            cl.pg("INSERT INTO ev VALUES (2, '2026-03-04 05:06:08+00')");
            Cluster.eventually(() -> a.rows("SELECT id FROM ev"), r -> r.size() == 2);
            Thread.sleep(300);
            assertEquals(List.of(Map.of("created", 1_772_600_767_123L, "t", "integer"),
                            Map.of("created", 1_772_600_768_000L, "t", "integer")),
                    a.rows("SELECT created, typeof(created) AS t FROM ev ORDER BY id"));
        }
    }

    /** Keeps the static import of assertArrayEquals/assertNotNull used (helpers for ad-hoc checks). */
    @SuppressWarnings("unused")
    private static void unused(byte[] x, Object o) {
        assertArrayEquals(x, x);
        assertNotNull(o);
    }
}
