package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import jakarta.persistence.Entity;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.Id;
import jakarta.persistence.LockModeType;
import jakarta.persistence.OptimisticLockException;
import jakarta.persistence.RollbackException;
import jakarta.persistence.SequenceGenerator;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static io.syncsqlite.it.sync.JpaReviewTest.emf;
import static io.syncsqlite.it.sync.JpaReviewTest.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Review of the fixes since 9766896: Hibernate sequence tables kept in the relay's id ranges, ORM version
 * columns merged as counters, wide tables captured through json_quote, and raised JSON read limits.
 */
class FixesReviewTest {

    @TempDir
    Path dir;

    // ---------------------------------------------------------------- entities

    /** The everyday JPA spelling: class {@code Customer}, table {@code customers}, default {@code @GeneratedValue}. */
    @Entity
    @Table(name = "customers")
    public static class Customer {
        @Id @GeneratedValue public Long id;
        public String name;
    }

    static final String CUSTOMERS_PG = "create table customers (id bigint primary key, name varchar(255))";

    /** Default {@code @GeneratedValue}; used with Hibernate's pooled-lo optimizer, and beside plain JDBC inserts. */
    @Entity(name = "Part")
    @Table(name = "part")
    public static class Part {
        @Id @GeneratedValue public Long id;
        public String name;
    }

    static final String PART_PG = "create table part (id bigint primary key, name varchar(255))";
    static final String PART_LOCAL = "create table part (id integer primary key, name varchar(255))";

    /** A sequence without optimizer (allocationSize 1). */
    @Entity(name = "Tick")
    @Table(name = "tick")
    public static class Tick {
        @Id @GeneratedValue(generator = "tick_gen")
        @SequenceGenerator(name = "tick_gen", sequenceName = "tick_SEQ", allocationSize = 1)
        public Long id;
        public String name;
    }

    static final String TICK_PG = "create table tick (id bigint primary key, name varchar(255))";

    @Entity(name = "Memo")
    @Table(name = "memo")
    public static class Memo {
        @Id public String id;
        @Version public int version;
        public String body;
    }

    static final String MEMO_PG = "create table memo (id varchar(255) primary key, version integer not null,"
            + " body varchar(255))";

    // Hibernate set up as in JpaReviewTest (emf, tx).

    private static List<Long> persist(EntityManagerFactory f, Class<?> type, String who, int n) {
        return tx(f, em -> {
            List<Long> ids = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                if (type == Customer.class) {
                    Customer x = new Customer();
                    x.name = who + k;
                    em.persist(x);
                    em.flush();
                    ids.add(x.id);
                } else if (type == Part.class) {
                    Part x = new Part();
                    x.name = who + k;
                    em.persist(x);
                    ids.add(x.id);
                } else {
                    Tick x = new Tick();
                    x.name = who + k;
                    em.persist(x);
                    ids.add(x.id);
                }
            }
            return ids;
        });
    }

    private static Set<String> names(Cluster cl, String table) throws Exception {
        return cl.pgRows("select name from " + table).stream().map(r -> (String) r.get("name"))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    // ---------------------------------------------------------------- 1. sequence tables

    /**
     * The first id a fresh client's sequence hands out, online: the bump waits in Hibernate's isolated
     * transaction (which already read {@code next_val}) for the relay's first range, which the sync thread
     * commits to {@code _sync_idblock} on its own connection; the driver's move of the sequence then writes
     * from a stale WAL snapshot. Four fresh clients each persist one customer; the user expects every persist
     * to succeed (not {@code SQLITE_BUSY_SNAPSHOT} surfacing as a PessimisticLockException) and four rows in
     * PostgreSQL.
     */
    @Test
    void firstSequencedPersistOnAFreshOnlineClientSucceeds() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_cust", dir, CUSTOMERS_PG)) {
            List<String> failures = new ArrayList<>();
            List<Client> clients = new ArrayList<>();
            for (String n : List.of("a", "b", "c", "d")) {
                Client x = cl.client(n);
                clients.add(x);
                try (EntityManagerFactory f = emf(x, Customer.class)) {
                    persist(f, Customer.class, n, 1);
                } catch (RuntimeException e) {
                    Throwable root = e;
                    while (root.getCause() != null) {
                        root = root.getCause();
                    }
                    failures.add(n + ": " + e.getClass().getSimpleName() + " / " + root.getMessage());
                }
            }
            for (Client x : clients) {
                x.awaitSynced();
            }
            assertEquals(List.of(), failures, "persists that failed; PostgreSQL holds " + names(cl, "customers"));
            assertEquals(4, names(cl, "customers").size());
        }
    }

    /**
     * Hibernate's pooled-lo optimizer ({@code hibernate.id.optimizer.pooled.preferred=pooled-lo}) hands out
     * the ids from the value it read upwards ({@code read .. read + 49}), not below it as the driver's
     * check assumes, so the last block of each run reaches 49 ids past it. With {@code sync.idBlock=100}:
     * a persists parts offline until its stock is used up; b, online, inserts 150 rows through plain JDBC
     * (keys from b's ranges). The user expects every row of both devices in PostgreSQL and no id given on
     * both devices.
     */
    @Test
    void pooledLoOptimizerIdsStayInsideTheDevicesRanges() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_polo", dir, PART_PG).clientParams("&sync.idBlock=100")) {
            Client a = cl.client("a", PART_LOCAL);
            Client b = cl.client("b", PART_LOCAL);
            Map<String, String> lo = Map.of("hibernate.id.optimizer.pooled.preferred", "pooled-lo");
            try (EntityManagerFactory fa = emf(a, lo, Part.class)) {
                List<Long> ids = new ArrayList<>(persist(fa, Part.class, "first", 1));
                Thread.sleep(1000); // a's first ranges and top-ups
                a.offline(); // a keeps the ranges it holds; the next range goes to b
                for (int i = 0; i < 150; i++) {
                    b.exec("insert into part (name) values (?)", "b-plain" + i);
                }
                b.awaitSynced();
                long bId = ((Number) b.rows("select min(id) as id from part where name like 'b-plain%'").get(0).get("id")).longValue();
                Set<Long> bIds = b.rows("select id from part where name like 'b-plain%'").stream()
                        .map(r -> ((Number) r.get("id")).longValue()).collect(Collectors.toCollection(TreeSet::new));
                for (int round = 0; round < 100; round++) {
                    try {
                        ids.addAll(persist(fa, Part.class, "a" + round + "_", 10));
                    } catch (RuntimeException outOfIds) {
                                break; // a's stock is used up offline (SY004): expected
                    }
                }
                a.online();
                a.awaitSynced();
                b.awaitSynced();
                a.awaitSynced();
                Set<String> pg = names(cl, "part");
                List<Long> shared = ids.stream().filter(bIds::contains).toList();
                assertTrue(shared.isEmpty() && pg.size() == ids.size() + 150,
                        "PostgreSQL holds " + pg.size() + " of " + (ids.size() + 150) + " parts; ids given on both a"
                                + " (pooled-lo, offline) and b (keyless inserts) " + shared + "; a's ids "
                                + ids.get(0) + ".." + ids.get(ids.size() - 1) + ", b's " + bIds + "; a's ranges left "
                                + a.rows("select lo, hi from _sync_idblock where lower(tbl) = 'part'"));
            }
        }
    }

    /**
     * A sequence table's run is recorded in {@code _sync_state}, but a restart rebuilds the key stock from
     * the table's largest key in each range, so the unused ids of the sequence's run go back to the stock:
     * a plain JDBC insert without key (rewritten by the driver) then takes ids Hibernate's sequence hands
     * out as well. The user expects both kinds of insert on one table to keep working after a restart.
     */
    @Test
    void afterARestartKeylessInsertsDoNotTakeTheSequencesIds() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_seqrw", dir, PART_PG)) {
            Client a = cl.client("a", PART_LOCAL);
            List<Long> ids = new ArrayList<>();
            try (EntityManagerFactory fa = emf(a, Part.class)) {
                ids.addAll(persist(fa, Part.class, "h", 3));
            }
            a.awaitSynced();
            a.reopen();
            for (int i = 0; i < 60; i++) {
                a.exec("insert into part (name) values (?)", "plain" + i);
            }
            try (EntityManagerFactory fa = emf(a, Part.class)) {
                try {
                    ids.addAll(persist(fa, Part.class, "g", 3));
                } catch (RuntimeException e) {
                    fail("persisting after the restart failed; ids " + ids + ", keyless rows took "
                            + a.rows("select min(id) lo, max(id) hi from part where name like 'plain%'")
                            + ", sequence " + a.rows("select * from part_SEQ"), e);
                }
            }
            a.awaitSynced();
            assertEquals(66, cl.pgRows("select id from part").size());
        }
    }

    /**
     * A sequence without optimizer ({@code allocationSize = 1}: each read value is one id): two clients
     * persist three ticks each; the user expects six ticks in PostgreSQL.
     */
    @Test
    void sequenceOfAllocationSizeOneKeepsIdsApart() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_tick", dir, TICK_PG)) {
            Client a = cl.client("a");
            Client b = cl.client("b");
            try (EntityManagerFactory fa = emf(a, Tick.class); EntityManagerFactory fb = emf(b, Tick.class)) {
                List<Long> fromA = persist(fa, Tick.class, "a", 3);
                List<Long> fromB = persist(fb, Tick.class, "b", 3);
                a.awaitSynced();
                b.awaitSynced();
                a.awaitSynced();
                assertEquals(new TreeSet<>(List.of("a0", "a1", "a2", "b0", "b1", "b2")), names(cl, "tick"),
                        "ids on a " + fromA + ", on b " + fromB);
            }
        }
    }

    // ---------------------------------------------------------------- 2. version columns

    /**
     * A compare-and-set of a value that is not a version, on a column whose name merely ends in
     * "version": {@code conversion} (a conversion rate). Hibernate writes exactly this SQL for
     * {@code @OptimisticLocking(type = DIRTY)} with {@code @DynamicUpdate}. a sets 0.10 to 0.25 offline,
     * b sets 0.10 to 0.30; the user expects one of the two values (last writer wins), not their amounts
     * added up (0.45, a rate neither device wrote).
     */
    @Test
    void aColumnNamedConversionIsNotMergedAsAVersion() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_conv", dir,
                "create table campaign (id bigint primary key, conversion double precision)")) {
            String local = "create table campaign (id integer primary key, conversion real)";
            Client a = cl.client("a", local);
            Client b = cl.client("b", local);
            cl.pg("insert into campaign values (1, 0.10)");
            cl.awaitConverged("select id, conversion from campaign", a, b);
            a.offline();
            a.exec("UPDATE campaign SET conversion = ? WHERE id = ? AND conversion = ?", 0.25, 1, 0.10);
            b.exec("UPDATE campaign SET conversion = ? WHERE id = ? AND conversion = ?", 0.30, 1, 0.10);
            b.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            cl.awaitConverged("select id, conversion from campaign", a, b);
            double v = ((Number) cl.pgRows("select conversion from campaign").get(0).get("conversion")).doubleValue();
            assertTrue(v == 0.25 || v == 0.30, "conversion in PostgreSQL is " + v + ", expected 0.25 or 0.30");
        }
    }

    /**
     * {@code @Version int} with JDBC batching ({@code hibernate.jdbc.batch_size=10}): a edits three memos in
     * one transaction, twice, offline (batched versioned updates); b edits memo 1 and force-increments memo 2
     * ({@code OPTIMISTIC_FORCE_INCREMENT}, an update of the version alone). The user expects every version
     * to be the number of edits (3, 3, 2) on both clients and PostgreSQL, bodies last-writer-wins, and a
     * detached copy from before the edits to fail with an optimistic-lock error when merged.
     */
    @Test
    void batchedVersionUpdatesAndForceIncrementAddUp() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_memo", dir, MEMO_PG)) {
            Client a = cl.client("a");
            Client b = cl.client("b");
            Map<String, String> batch = Map.of("hibernate.jdbc.batch_size", "10");
            try (EntityManagerFactory fa = emf(a, batch, Memo.class); EntityManagerFactory fb = emf(b, batch, Memo.class)) {
                tx(fa, em -> {
                    for (String id : List.of("m1", "m2", "m3")) {
                        Memo m = new Memo();
                        m.id = id;
                        m.body = "new";
                        em.persist(m);
                    }
                    return null;
                });
                a.awaitSynced();
                String view = "select id, version, body from memo order by id";
                cl.awaitConverged(view, a, b);
                Memo stale = tx(fb, em -> em.find(Memo.class, "m3"));
                a.offline();
                b.offline();
                for (String round : List.of("a1", "a2")) {
                    tx(fa, em -> {
                        em.createQuery("select m from Memo m", Memo.class).getResultList().forEach(m -> m.body = round);
                        return null;
                    });
                }
                tx(fb, em -> {
                    em.find(Memo.class, "m1").body = "b1";
                    em.find(Memo.class, "m2", LockModeType.OPTIMISTIC_FORCE_INCREMENT);
                    return null;
                });
                b.online();
                b.awaitSynced();
                a.online();
                a.awaitSynced();
                b.awaitSynced();
                cl.awaitConverged(view, a, b);
                Map<String, Object> versions = new LinkedHashMap<>();
                cl.pgRows(view).forEach(r -> versions.put((String) r.get("id"), ((Number) r.get("version")).intValue()));
                assertEquals(Map.of("m1", 3, "m2", 3, "m3", 2), versions, "versions in PostgreSQL " + cl.pgRows(view));
                stale.body = "stale";
                try {
                    tx(fb, em -> em.merge(stale));
                    fail("a detached copy of version 0 merged over version " + versions.get("m3"));
                } catch (OptimisticLockException | RollbackException expected) {
                    // as JPA promises
                } catch (RuntimeException e) {
                    if (!(e.getCause() instanceof OptimisticLockException)
                            && !e.getClass().getSimpleName().contains("StaleObject")) {
                        throw e;
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- 3. wide tables

    /** Columns: id, three oddly named texts, a REAL, a BLOB, then plain texts up to {@code width}. */
    private static List<String[]> wideColumns(int width) {
        List<String[]> cols = new ArrayList<>();
        cols.add(new String[] {"c\"q", "TEXT", "text"});
        cols.add(new String[] {"naïve €", "TEXT", "text"});
        cols.add(new String[] {"it's", "TEXT", "text"});
        cols.add(new String[] {"r", "REAL", "double precision"});
        cols.add(new String[] {"b", "BLOB", "bytea"});
        for (int i = cols.size() + 1; i < width; i++) {
            cols.add(new String[] {"c" + i, "TEXT", "text"});
        }
        return cols;
    }

    private static String q(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    private static String wideDdl(List<String[]> cols, boolean pg) {
        StringBuilder sql = new StringBuilder("CREATE TABLE wide (id " + (pg ? "bigint" : "INTEGER") + " PRIMARY KEY");
        for (String[] c : cols) {
            sql.append(", ").append(q(c[0])).append(' ').append(pg ? c[2] : c[1]);
        }
        return sql.append(')').toString();
    }

    /**
     * A wide table (60 columns: the json_quote path; 50: json_object at its 100 arguments) with a double
     * quote, a non-ASCII name and an apostrophe among its column names, a REAL, a BLOB and NULLs: a row
     * present before the file is first opened through the driver (backfill), a row inserted and one updated
     * through the driver. The user expects PostgreSQL to hold exactly these values.
     */
    @Test
    void wideTablesWithOddNamesRealsBlobsAndNullsSyncExactly() throws Exception {
        for (int width : new int[] {60, 50}) {
            List<String[]> cols = wideColumns(width);
            String last = cols.get(cols.size() - 1)[0];
            java.nio.file.Files.createDirectories(dir.resolve("w" + width));
            try (Cluster cl = Cluster.start("fixrev_wide" + width, dir.resolve("w" + width), wideDdl(cols, true))) {
                Client a = cl.client("a", wideDdl(cols, false),
                        "INSERT INTO wide (id, \"c\"\"q\", \"naïve €\", \"it's\", r, b, " + q(last)
                                + ") VALUES (1, 'q\"1', 'ü', 'it''s', 0.1, x'00ff', 'last1')");
                a.exec("INSERT INTO wide (id, \"c\"\"q\", \"naïve €\", \"it's\", r, b, " + q(last)
                        + ") VALUES (2, ?, ?, ?, ?, ?, NULL)", "{\"json\": 1}", "日本", null, 1e-300, new byte[] {1, 2});
                a.exec("UPDATE wide SET r = ?, b = NULL, \"naïve €\" = ? WHERE id = 1", 0.30000000000000004, "ñ");
                a.awaitSynced();
                List<Map<String, Object>> pg = cl.pgRows("SELECT id, \"c\"\"q\" AS cq, \"naïve €\" AS n, \"it's\" AS i,"
                        + " r, encode(b, 'hex') AS b, c6, " + q(last) + " AS z FROM wide ORDER BY id");
                Map<String, Object> r1 = new java.util.HashMap<>();
                r1.put("id", 1L);
                r1.put("cq", "q\"1");
                r1.put("n", "ñ");
                r1.put("i", "it's");
                r1.put("r", 0.30000000000000004);
                r1.put("b", null);
                r1.put("c6", null);
                r1.put("z", "last1");
                Map<String, Object> r2 = new java.util.HashMap<>();
                r2.put("id", 2L);
                r2.put("cq", "{\"json\": 1}");
                r2.put("n", "日本");
                r2.put("i", null);
                r2.put("r", 1e-300);
                r2.put("b", "0102");
                r2.put("c6", null);
                r2.put("z", null);
                assertEquals(List.of(r1, r2), pg, "width " + width + "; status " + a.node().status());
            }
        }
    }

    // ---------------------------------------------------------------- 4. read limits

    /**
     * A jsonb document PostgreSQL holds whose one property name is 60,000 characters (Jackson's default
     * {@code maxNameLength} is 50,000, which the raised limits left in place while the design says strings
     * are limited only by the frame size), followed by an ordinary row. The user expects the client to
     * receive both rows, or at least the feed not to stop at the first.
     */
    @Test
    void aJsonDocumentWithALongPropertyNameReachesTheClient() throws Exception {
        try (Cluster cl = Cluster.start("fixrev_name", dir, "create table doc (id bigint primary key, body jsonb)")) {
            Client b = cl.client("b", "create table doc (id integer primary key, body text)");
            cl.pg("insert into doc values (1, jsonb_build_object(repeat('k', 60000), 1))");
            cl.pg("insert into doc values (2, '{\"a\": 1}')");
            try {
                Cluster.eventually(() -> b.rows("select id, length(body) as n from doc order by id"), r -> r.size() == 2);
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                fail("the client holds " + b.rows("select id, length(body) as n from doc order by id")
                        + " of PostgreSQL's two rows; status " + b.node().status());
            }
        }
    }
}
