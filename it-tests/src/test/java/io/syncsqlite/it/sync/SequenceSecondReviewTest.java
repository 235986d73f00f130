package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.sync.FixesReviewTest.Part;
import jakarta.persistence.EntityManagerFactory;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;

import static io.syncsqlite.it.sync.JpaReviewTest.emf;
import static io.syncsqlite.it.sync.JpaReviewTest.tx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Second review of Hibernate sequence tables kept in device-reserved id ranges and ORM version columns
 * merged as counters.
 */
class SequenceSecondReviewTest {

    @TempDir
    Path dir;

    static final String PART_PG = FixesReviewTest.PART_PG;
    static final String PART_LOCAL = FixesReviewTest.PART_LOCAL;

    private static List<Long> persistParts(EntityManagerFactory f, String who, int n) {
        return tx(f, em -> {
            List<Long> ids = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                Part x = new Part();
                x.name = who + "-" + k;
                em.persist(x);
                ids.add(x.id);
            }
            return ids;
        });
    }

    private static String root(Throwable e) {
        Throwable r = e;
        while (r.getCause() != null) {
            r = r.getCause();
        }
        return e.getClass().getSimpleName() + " / " + r.getMessage();
    }

    private static Set<Long> ids(List<Map<String, Object>> rows) {
        return rows.stream().map(r -> ((Number) r.get("id")).longValue()).collect(Collectors.toCollection(TreeSet::new));
    }

    // ---------------------------------------------------------------- sequences

    /**
     * Very many bumps: {@code sync.idBlock=100} and the default allocation size 50 give each run one block, so
     * the sequence moves to a new run every 50 ids. On device a two EntityManagerFactories (one file, each
     * with its own pooled optimizer) persist alternately, and plain keyless JDBC inserts go into the same
     * table; device b does the same with one factory. The user expects every row (1,640) in PostgreSQL, no id
     * handed out twice, and both devices converged.
     */
    @Test
    void manyRunsWithTwoFactoriesAndKeylessInsertsLoseNoRow() throws Exception {
        try (Cluster cl = Cluster.start("seq2_many", dir, PART_PG).clientParams("&sync.idBlock=100")) {
            Client a = cl.client("a", PART_LOCAL);
            Client b = cl.client("b", PART_LOCAL);
            List<Long> hib = new ArrayList<>();
            int plain = 0;
            try (EntityManagerFactory fa1 = emf(a, Part.class); EntityManagerFactory fa2 = emf(a, Part.class);
                 EntityManagerFactory fb = emf(b, Part.class)) {
                for (int round = 0; round < 20; round++) {
                    hib.addAll(persistParts(fa1, "a1r" + round, 30));
                    hib.addAll(persistParts(fa2, "a2r" + round, 27));
                    hib.addAll(persistParts(fb, "br" + round, 15));
                    for (int i = 0; i < 5; i++) {
                        a.exec("insert into part (name) values (?)", "ap" + round + "-" + i);
                        b.exec("insert into part (name) values (?)", "bp" + round + "-" + i);
                        plain += 2;
                    }
                }
            }
            a.awaitSynced();
            b.awaitSynced();
            a.awaitSynced();
            Set<Long> distinct = new HashSet<>(hib);
            int expected = hib.size() + plain;
            assertEquals(hib.size(), distinct.size(), "Hibernate handed out " + (hib.size() - distinct.size()) + " ids twice");
            assertEquals(expected, cl.pgRows("select id from part").size(), "rows in PostgreSQL");
            cl.awaitConverged("select id, name from part order by id", a, b);
        }
    }

    /**
     * Non-contiguous grants: the relay draws keys from the PostgreSQL sequence behind the key, and its grant
     * is split into several ranges whenever other writers draw from that sequence too (or the sequence
     * steps by more than one: {@code INCREMENT BY 2}, the odd/even scheme of two writers). Every range here
     * is one id long. Plain keyless inserts work with such ranges; the user expects Hibernate's default
     * {@code @GeneratedValue} on the same table to work too (it needs no consecutive ids with allocation
     * size 50 beyond what the relay hands out), or at least not to throw away the keys keyless inserts use.
     */
    @Disabled("Known limit (DESIGN.md, Integer keys, sequence tables): a sequence needs runs of consecutive keys, which a PostgreSQL sequence with INCREMENT BY 2 never grants")
    @Test
    void sequenceWorksWhenGrantsAreNotContiguous() throws Exception {
        try (Cluster cl = Cluster.start("seq2_frag", dir,
                "create table part (id bigserial primary key, name varchar(255))",
                "alter sequence part_id_seq increment by 2")) {
            Client a = cl.client("a", PART_LOCAL);
            a.exec("insert into part (name) values (?)", "plain0");
            a.awaitSynced();
            String failure = null;
            try (EntityManagerFactory fa = emf(a, Part.class)) {
                persistParts(fa, "h", 3);
            } catch (RuntimeException e) {
                failure = root(e);
            }
            String plainFailure = null;
            try {
                a.exec("insert into part (name) values (?)", "plain1");
            } catch (Exception e) {
                plainFailure = root(e);
            }
            assertEquals(null, failure, "persist with " + a.rows("select count(*) n, sum(hi - lo + 1) ids from _sync_idblock"));
            assertEquals(null, plainFailure, "keyless insert after the persist");
        }
    }

    /**
     * {@code sync.idBlock=60} with the default allocation size 50: the relay grants 60 ids at a time, more
     * than one allocation. The user expects persisting to work (or the driver to ask the relay for enough
     * ids), not every persist failing with SY004.
     */
    @Test
    void smallIdBlockAboveTheAllocationSizeStillPersists() throws Exception {
        try (Cluster cl = Cluster.start("seq2_small", dir, PART_PG).clientParams("&sync.idBlock=60")) {
            Client a = cl.client("a", PART_LOCAL);
            String failure = null;
            try (EntityManagerFactory fa = emf(a, Part.class)) {
                persistParts(fa, "h", 3);
            } catch (RuntimeException e) {
                failure = root(e);
            }
            assertEquals(null, failure, "persist with sync.idBlock=60, allocationSize 50");
            a.awaitSynced();
            assertEquals(3, cl.pgRows("select id from part").size());
        }
    }

    /**
     * An existing application upgraded to syncsqlite: its file already has parts 1..200 (also in
     * PostgreSQL) and Hibernate's {@code part_SEQ} at 251 (pooled: 202..251 were its last block). Device a
     * opens that file, device b is new; each persists 20 parts. The user expects 240 parts in PostgreSQL and
     * the 200 old ones unchanged.
     */
    @Test
    void upgradedFileWithASequenceAlreadyAheadKeepsOldRows() throws Exception {
        try (Cluster cl = Cluster.start("seq2_upg", dir, PART_PG,
                "insert into part select g, 'old' || g from generate_series(1, 200) g")) {
            Client a = cl.client("a", PART_LOCAL,
                    "with recursive s(g) as (select 1 union all select g + 1 from s where g < 200)"
                            + " insert into part select g, 'old' || g from s",
                    "create table part_SEQ (next_val bigint)", "insert into part_SEQ values (251)");
            Client b = cl.client("b", PART_LOCAL);
            List<Long> fromA;
            List<Long> fromB;
            try (EntityManagerFactory fa = emf(a, Part.class); EntityManagerFactory fb = emf(b, Part.class)) {
                fromA = persistParts(fa, "a", 20);
                fromB = persistParts(fb, "b", 20);
            }
            a.awaitSynced();
            b.awaitSynced();
            a.awaitSynced();
            assertEquals(240, cl.pgRows("select id from part").size(), "a's ids " + fromA + ", b's " + fromB);
            assertEquals(200, cl.pgRows("select id from part where name = 'old' || id").size(), "old rows intact;"
                    + " a's ids " + fromA + ", b's " + fromB);
        }
    }

    /**
     * Hibernate's table-sequence protocol through plain JDBC in the application's transaction
     * ({@code select next_val ...}, then {@code update part_SEQ set next_val= ? where next_val=?}, rereading
     * when it changed no row): the transaction whose bump moved the sequence to a new run is rolled back, then
     * allocation goes on. Every read value (and the pooled block below it, 49 ids) must lie in the run
     * recorded for the sequence, and rows inserted with those ids on a plus keyless rows on b must all
     * reach PostgreSQL.
     */
    @Test
    void rollbackAfterTheMoveKeepsAllocationsInsideTheRun() throws Exception {
        try (Cluster cl = Cluster.start("seq2_rb", dir, PART_PG).clientParams("&sync.idBlock=100")) {
            Client a = cl.client("a", PART_LOCAL, "create table part_SEQ (next_val bigint)",
                    "insert into part_SEQ values (1)");
            Client b = cl.client("b", PART_LOCAL);
            Connection c = a.connection();
            List<String> outside = new ArrayList<>();
            Set<Long> used = new TreeSet<>();
            boolean rolledBack = false;
            for (int k = 0; k < 12; k++) {
                c.setAutoCommit(false);
                long value;
                int moves = 0;
                while (true) {
                    try (PreparedStatement r = c.prepareStatement("select next_val as id_val from part_SEQ");
                         ResultSet rs = r.executeQuery()) {
                        rs.next();
                        value = rs.getLong(1);
                    }
                    try (PreparedStatement u = c.prepareStatement("update part_SEQ set next_val= ? where next_val=?")) {
                        u.setLong(1, value + 50);
                        u.setLong(2, value);
                        if (u.executeUpdate() == 1) {
                            break;
                        }
                        moves++;
                    }
                }
                if (moves > 0 && !rolledBack && k > 0) {
                    c.rollback();
                    c.setAutoCommit(true);
                    rolledBack = true;
                    continue;
                }
                c.commit();
                c.setAutoCommit(true);
                String run = (String) a.rows("select v from _sync_state where k = 'sequence:part'").get(0).get("v");
                String[] bounds = run.split(" ");
                if (value - 49 < Long.parseLong(bounds[0]) || value > Long.parseLong(bounds[1])) {
                    outside.add(value + " outside " + run);
                }
                for (long id = value - 49; id <= value; id++) {
                    used.add(id);
                    a.exec("insert into part (id, name) values (?, ?)", id, "s" + id);
                }
                for (int i = 0; i < 20; i++) {
                    b.exec("insert into part (name) values (?)", "b" + k + "-" + i);
                }
            }
            a.awaitSynced();
            b.awaitSynced();
            a.awaitSynced();
            assertTrue(rolledBack, "no move happened");
            assertEquals(List.of(), outside);
            Set<Long> bIds = ids(b.rows("select id from part where name like 'b%'"));
            bIds.retainAll(used);
            assertEquals(Set.of(), bIds, "ids used on both devices");
            assertEquals(used.size() + b.rows("select id from part where name like 'b%'").size(), cl.pgRows("select id from part").size());
        }
    }

    /**
     * Two threads, each with its own EntityManagerFactory on the same file, persist concurrently (an app
     * with two persistence units, or a web app with a pool), online. SQLITE_BUSY between the two isolated
     * sequence transactions is SQLite's own (it happens with plain sqlite-jdbc) and is tolerated; the user
     * expects no persist to fail for want of ids (SY004) while the client is online, and every id distinct.
     */
    @Test
    void twoThreadsBumpingTheSameSequenceConcurrently() throws Exception {
        try (Cluster cl = Cluster.start("seq2_threads", dir, PART_PG).clientParams("&sync.idBlock=100")) {
            Client a = cl.client("a", PART_LOCAL);
            ConcurrentLinkedQueue<Long> all = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            try (EntityManagerFactory f1 = emf(a, Part.class); EntityManagerFactory f2 = emf(a, Part.class)) {
                List<Thread> threads = new ArrayList<>();
                for (EntityManagerFactory f : List.of(f1, f2)) {
                    String who = f == f1 ? "t1" : "t2";
                    threads.add(new Thread(() -> {
                        for (int r = 0; r < 15; r++) {
                            try {
                                all.addAll(persistParts(f, who + "r" + r, 20));
                            } catch (RuntimeException e) {
                                // SQLITE_BUSY / BUSY_SNAPSHOT between Hibernate's isolated read-then-update
                                // transactions is SQLite's own behaviour (plain sqlite-jdbc too): retried.
                                if (root(e).contains("no ids in stock")) {
                                    failures.add(who + " round " + r + ": " + root(e));
                                }
                            }
                        }
                    }));
                }
                threads.forEach(Thread::start);
                for (Thread t : threads) {
                    t.join(50_000);
                }
            }
            a.awaitSynced();
            assertEquals(List.of(), new ArrayList<>(failures));
            assertEquals(all.size(), new HashSet<>(all).size(), "ids handed out twice");
            assertEquals(all.size(), cl.pgRows("select id from part").size());
        }
    }

    // ---------------------------------------------------------------- versions

    static final String MEMO_PG = "create table memo (id varchar(255) primary key, version integer not null,"
            + " hits integer not null default 0, body varchar(255))";
    static final String MEMO_LOCAL = "create table memo (id text primary key, version integer not null,"
            + " hits integer not null default 0, body text)";

    /**
     * A version and an ordinary counter in one statement ({@code SET version = ?, hits = hits + ? WHERE id = ?
     * AND version = ?}): a and b each run it once from version 0, a offline. The user expects version 2
     * (one per edit) and hits 2 + 3 = 5 everywhere.
     */
    @Test
    void versionAndCounterInOneStatementBothAddUp() throws Exception {
        try (Cluster cl = Cluster.start("seq2_vc", dir, MEMO_PG)) {
            Client a = cl.client("a", MEMO_LOCAL);
            Client b = cl.client("b", MEMO_LOCAL);
            cl.pg("insert into memo values ('m', 0, 0, 'x')");
            cl.awaitConverged("select * from memo", a, b);
            a.offline();
            String sql = "UPDATE memo SET version = ?, hits = hits + ? WHERE id = ? AND version = ?";
            assertEquals(1, a.exec(sql, 1, 2, "m", 0));
            assertEquals(1, b.exec(sql, 1, 3, "m", 0));
            b.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            cl.awaitConverged("select * from memo", a, b);
            assertEquals("2/5", cl.pgRows("select version || '/' || hits as v from memo").get(0).get("v"));
        }
    }

    /**
     * A compare-and-set whose WHERE reaches the version column only through OR ({@code WHERE id = ? OR
     * version = ?}) is no optimistic lock: a sets 0 to 5, b sets 0 to 7. The user expects 5 or 7 (last
     * writer wins), not 12.
     */
    @Test
    void versionComparedUnderOrStaysLastWriterWins() throws Exception {
        try (Cluster cl = Cluster.start("seq2_vor", dir, MEMO_PG)) {
            Client a = cl.client("a", MEMO_LOCAL);
            Client b = cl.client("b", MEMO_LOCAL);
            cl.pg("insert into memo values ('m', 0, 0, 'x')");
            cl.awaitConverged("select * from memo", a, b);
            a.offline();
            a.exec("UPDATE memo SET version = ? WHERE id = ? OR version = ?", 5, "m", 0);
            b.exec("UPDATE memo SET version = ? WHERE id = ? OR version = ?", 7, "m", 0);
            b.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            cl.awaitConverged("select * from memo", a, b);
            int v = ((Number) cl.pgRows("select version from memo").get(0).get("version")).intValue();
            assertTrue(v == 5 || v == 7, "version " + v);
        }
    }

    /**
     * Hibernate's {@code @OptimisticLocking(type = DIRTY)} with {@code @DynamicUpdate} compares and sets
     * every changed column: for an entity with an {@code int appVersion} (the build of the app installed on
     * a kiosk, say) that is {@code UPDATE kiosk SET appVersion = ? WHERE id = ? AND appVersion = ?}. a moves it
     * from 3 to 5, b from 3 to 4. The user expects 4 or 5, not 6 (both differences added).
     */
    @Test
    void dirtyLockedColumnNamedLikeAVersionStaysLastWriterWins() throws Exception {
        try (Cluster cl = Cluster.start("seq2_appv", dir,
                "create table kiosk (id bigint primary key, \"appVersion\" integer)")) {
            String local = "create table kiosk (id integer primary key, appVersion integer)";
            Client a = cl.client("a", local);
            Client b = cl.client("b", local);
            cl.pg("insert into kiosk values (1, 3)");
            cl.awaitConverged("select * from kiosk", a, b);
            a.offline();
            a.exec("UPDATE kiosk SET appVersion = ? WHERE id = ? AND appVersion = ?", 5, 1, 3);
            b.exec("UPDATE kiosk SET appVersion = ? WHERE id = ? AND appVersion = ?", 4, 1, 3);
            b.awaitSynced();
            a.online();
            a.awaitSynced();
            b.awaitSynced();
            cl.awaitConverged("select * from kiosk", a, b);
            int v = ((Number) cl.pgRows("select \"appVersion\" as v from kiosk").get(0).get("v")).intValue();
            assertTrue(v == 4 || v == 5, "appVersion " + v);
        }
    }

    /**
     * A memo created offline and edited twice before it was uploaded (insert at version 0, then 0 to 1 and 1
     * to 2): the user expects version 2 in PostgreSQL and locally, not the inserted value plus the amounts.
     */
    @Test
    void versionOfARowCreatedAndEditedOfflineEndsAtTheLocalValue() throws Exception {
        try (Cluster cl = Cluster.start("seq2_vnew", dir, MEMO_PG)) {
            Client a = cl.client("a", MEMO_LOCAL);
            a.awaitSynced();
            a.offline();
            a.exec("insert into memo (id, version, body) values (?, ?, ?)", "n", 0, "x");
            assertEquals(1, a.exec("UPDATE memo SET body = ?, version = ? WHERE id = ? AND version = ?", "y", 1, "n", 0));
            assertEquals(1, a.exec("UPDATE memo SET body = ?, version = ? WHERE id = ? AND version = ?", "z", 2, "n", 1));
            a.online();
            a.awaitSynced();
            cl.awaitConverged("select * from memo", a);
            assertEquals("2/z", cl.pgRows("select version || '/' || body as v from memo").get(0).get("v"));
        }
    }
}
