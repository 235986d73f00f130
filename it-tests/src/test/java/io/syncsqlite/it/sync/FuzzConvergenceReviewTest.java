package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.protocol.ChangeKind;
import io.syncsqlite.protocol.RowChange;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review: randomized, seeded convergence over a parent table and a child table ({@code ON DELETE CASCADE},
 * enforced on the devices with {@code foreign_keys=true}), with a counter on each, a nullable text column and
 * a UNIQUE column on the parent. Three devices and a direct PostgreSQL writer make random inserts, single
 * column updates, counter increments ({@code SET n = n + ?}), deletes, deletes and re-inserts of the same key
 * (in one transaction), deletes of a parent while another device adds or edits its children, moves of
 * children, and key changes of children ({@code UPDATE child SET id = ?}); between rounds devices go offline
 * and online at random. At the end every replica equals PostgreSQL, no child is without its parent anywhere,
 * every counter of a row that was never deleted (nor involved in a rejected counter write or key change)
 * equals the sum of the amounts inserted and added into it, and no client holds unsent changes.
 *
 * <p>Knobs (system properties): {@code fuzz.seed=N} replays one seed; {@code fuzz.ops} (400) operations per seed;
 * {@code fuzz.soak=M} runs M seeds derived from each parameter (from {@code fuzz.soakFrom}, 0); {@code fuzz.round} (10) operations between partition
 * changes; {@code fuzz.checkpoint} (5) rounds between full checks with every device online (0: only at the end);
 * {@code fuzz.settle} (0) percent of rounds after which online devices settle first; {@code fuzz.mixedFk=true}
 * leaves foreign keys unenforced on the third device. The op log of each run (statements, their outcomes,
 * rejections, final rows) is written to {@code target/fuzz-review/seed-N-OPS.log}.
 */
class FuzzConvergenceReviewTest {

    private static final String[] PG = {
        "CREATE TABLE parent (id bigint PRIMARY KEY, name text NOT NULL, note text, n bigint NOT NULL DEFAULT 0,"
                + " code text UNIQUE)",
        "CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id) ON DELETE CASCADE,"
                + " note text, hits bigint NOT NULL DEFAULT 0)",
    };
    private static final String[] LOCAL = {
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT, n INTEGER NOT NULL DEFAULT 0,"
                + " code TEXT UNIQUE)",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE,"
                + " note TEXT, hits INTEGER NOT NULL DEFAULT 0)",
    };
    private static final String PARENTS = "SELECT id, name, note, n, code FROM parent ORDER BY id";
    private static final String CHILDREN = "SELECT id, parent_id, note, hits FROM child ORDER BY id";
    private static final String ORPHANS = "SELECT c.id FROM child c LEFT JOIN parent p ON p.id = c.parent_id"
            + " WHERE p.id IS NULL ORDER BY c.id";

    /** Parents 1..STABLE are never deleted by anyone: their counters are always checked. */
    private static final int PARENT_KEYS = 8;
    private static final int STABLE = 3;
    /** Children 1..STABLE_CHILDREN live only under stable parents and are never deleted nor re-keyed. */
    private static final int STABLE_CHILDREN = 6;
    private static final int CHILD_KEYS = 20;
    private static final int OPS_PER_ROUND = Integer.getInteger("fuzz.round", 10);
    /** The first of the seeds a soak derives from each parameter ({@code fuzz.soakFrom}, 0): to run seeds not run before. */
    private static final int SOAK_FROM = Integer.getInteger("fuzz.soakFrom", 0);
    /** How often online devices settle at a round's end (the rest of the time they race on). */
    /** Every so many rounds all devices come online and every invariant is checked (0: only at the end). */
    private static final int CHECKPOINT = Integer.getInteger("fuzz.checkpoint", 5);
    private static final int SETTLE_PERCENT = Integer.getInteger("fuzz.settle", 0);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {101, 202, 303, 404, 505})
    void replicasConvergeWithParentsChildrenCountersAndKeyChanges(long seed) throws Exception {
        String replay = System.getProperty("fuzz.seed");
        int ops = Integer.getInteger("fuzz.ops", 400);
        long s = replay != null ? Long.parseLong(replay) : seed;
        int soak = Integer.getInteger("fuzz.soak", 1);
        List<String> failed = new ArrayList<>();
        Throwable first = null;
        for (int i = 0; i < soak; i++) {
            long run = soak == 1 ? s : s * 1000 + SOAK_FROM + i;
            try {
                new Run(run, ops).run();
            } catch (Throwable t) {
                failed.add(run + ": " + t.getMessage());
                // Kept under its own name: a replay of the same seed writes the op log again.
                Path opLog = Path.of("target", "fuzz-review", "seed-" + run + "-" + ops + ".log");
                if (Files.exists(opLog)) {
                    Files.copy(opLog, opLog.resolveSibling(opLog.getFileName() + ".failed-" + System.currentTimeMillis()));
                }
                System.out.println("FUZZ FAILED seed " + run + " (" + ops + " ops): " + t);
                first = first == null ? t : first;
            }
        }
        if (first != null) {
            throw new AssertionError("seeds failed (" + ops + " ops): " + failed, first);
        }
    }

    /** One seeded run, with its oracle. */
    private final class Run {
        final long seed;
        final int ops;
        final Random rnd;
        final List<String> log = new ArrayList<>();
        final Map<Long, Long> parentSum = new HashMap<>();
        final Map<Long, Long> childSum = new HashMap<>();
        final Set<Long> parentInserted = new HashSet<>();
        final Set<Long> childInserted = new HashSet<>();
        final Set<Long> parentTainted = new HashSet<>();
        final Set<Long> childTainted = new HashSet<>();
        final Map<Long, Set<Long>> childParents = new HashMap<>();
        final ConcurrentLinkedQueue<String> rejections = new ConcurrentLinkedQueue<>();
        final Set<Long> rejectedParents = Collections.synchronizedSet(new HashSet<>());
        final Set<Long> rejectedChildren = Collections.synchronizedSet(new HashSet<>());
        /** Amounts of rejected (reverted) counter updates, per key: taken out of the expected sums. */
        final Map<Long, Long> rejectedParentAmounts = Collections.synchronizedMap(new HashMap<>());
        final Map<Long, Long> rejectedChildAmounts = Collections.synchronizedMap(new HashMap<>());
        volatile int step;
        Runnable relayRestart;

        Run(long seed, int ops) {
            this.seed = seed;
            this.ops = ops;
            this.rnd = new Random(seed);
        }

        void run() throws Exception {
            System.out.println("fuzz convergence review: seed " + seed + ", " + ops + " ops");
            Path runDir = Files.createTempDirectory(dir, "seed" + seed);
            Path logFile = Path.of("target", "fuzz-review", "seed-" + seed + "-" + ops + ".log");
            try (Cluster c = Cluster.start("rv_fuzz", runDir, PG)) {
                List<Client> devices = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    // with -Dfuzz.mixedFk=true the third device does not enforce foreign keys (SQLite's default)
                    boolean fk = i < 2 || !Boolean.getBoolean("fuzz.mixedFk");
                    c.clientParams((fk ? "&foreign_keys=true" : "") + "&sync.counters=parent.n,child.hits");
                    Client d = c.client("d" + i, LOCAL);
                    String name = d.name();
                    d.node().addRejectionListener(r -> onRejection(name, r));
                    devices.add(d);
                }
                boolean[] online = {true, true, true};
                relayRestart = c::restartRelay;
                try (Connection pg = c.pg()) {
                    pg.setAutoCommit(true);
                    for (step = 0; step < ops; step++) {
                        if (CHECKPOINT > 0 && step > 0 && step % (OPS_PER_ROUND * CHECKPOINT) == 0) {
                            log.add("-- checkpoint at step " + step + ": all online");
                            for (int i = 0; i < 3; i++) {
                                online[i] = true;
                                devices.get(i).online();
                            }
                            settle(c, devices);
                        }
                        if (step % OPS_PER_ROUND == 0) {
                            // round boundary: online devices settle, then the partition changes
                            boolean settle = rnd.nextInt(100) < SETTLE_PERCENT;
                            for (int i = 0; i < 3; i++) {
                                if (settle && online[i]) {
                                    devices.get(i).awaitSynced();
                                }
                            }
                            for (int i = 0; i < 3; i++) {
                                if (rnd.nextInt(100) < 35) {
                                    online[i] = !online[i];
                                    if (online[i]) {
                                        devices.get(i).online();
                                    } else {
                                        devices.get(i).offline();
                                    }
                                    log.add("-- step " + step + ": d" + i + (online[i] ? " online" : " offline"));
                                }
                            }
                        }
                        int who = rnd.nextInt(3);
                        int other = (who + 1 + rnd.nextInt(2)) % 3;
                        op(devices.get(who), devices.get(other), pg);
                    }
                } finally {
                    Files.createDirectories(logFile.getParent());
                    Files.write(logFile, log);
                }
                log.add("-- all online");
                for (Client d : devices) {
                    d.online();
                }
                try {
                    settle(c, devices);
                } finally {
                    log.add("-- rejections: " + rejections);
                    log.add("-- PostgreSQL parents: " + c.pgRows(PARENTS));
                    log.add("-- PostgreSQL children: " + c.pgRows(CHILDREN));
                    for (Client d : devices) {
                        log.add("-- " + d.name() + " parents: " + d.rows(PARENTS));
                        log.add("-- " + d.name() + " children: " + d.rows(CHILDREN));
                    }
                    Files.write(logFile, log);
                    System.out.println("fuzz convergence review: seed " + seed + " log in " + logFile.toAbsolutePath()
                            + "; rejections: " + rejections.size());
                }
            }
        }

        /** All devices online: waits for convergence and checks every invariant. */
        void settle(Cluster c, List<Client> devices) throws Exception {
            for (Client d : devices) {
                d.awaitSynced();
            }
            Client[] all = devices.toArray(new Client[0]);
            c.awaitConverged(PARENTS, all);
            c.awaitConverged(CHILDREN, all);
            check(c, devices);
        }

        void onRejection(String device, Rejection r) {
            StringBuilder changes = new StringBuilder();
            for (RowChange ch : r.changes()) {
                changes.append(' ').append(ch.kind()).append(' ').append(ch.table()).append(ch.pk()).append(ch.values())
                        .append(ch.deltas().isEmpty() ? "" : " +" + ch.deltas());
            }
            rejections.add(device + " tx " + r.tx() + " " + r.sqlState() + " " + r.reason() + ":" + changes
                    + " (test at step " + step + ")");
            for (RowChange ch : r.changes()) {
                long key = ch.pk().path("id").asLong();
                boolean parent = ch.table().equalsIgnoreCase("parent");
                if (ch.kind() == ChangeKind.INSERT) {
                    (parent ? rejectedParents : rejectedChildren).add(key);
                } else if (!ch.deltas().isEmpty()) {
                    long amount = ch.deltas().path(parent ? "n" : "hits").asLong();
                    (parent ? rejectedParentAmounts : rejectedChildAmounts).merge(key, amount, Long::sum);
                }
            }
        }

        void check(Cluster c, List<Client> devices) throws Exception {
            assertEquals(List.of(), c.pgRows(ORPHANS), "orphans in PostgreSQL");
            for (Client d : devices) {
                assertEquals(List.of(), d.rows(ORPHANS), "orphans on " + d.name());
                assertEquals(List.of(), d.rows("PRAGMA foreign_key_check"), "foreign_key_check on " + d.name());
                assertEquals(0, d.node().status().unsettled(), "unsettled transactions on " + d.name());
                assertEquals(0, unsentRows(d), "unsent outbox rows on " + d.name());
            }
            Map<Long, Long> pgN = new HashMap<>();
            for (Map<String, Object> row : c.pgRows(PARENTS)) {
                pgN.put((Long) row.get("id"), (Long) row.get("n"));
            }
            Map<Long, Long> pgHits = new HashMap<>();
            for (Map<String, Object> row : c.pgRows(CHILDREN)) {
                pgHits.put((Long) row.get("id"), (Long) row.get("hits"));
            }
            List<String> wrong = new ArrayList<>();
            int checkedParents = 0;
            for (long k : parentInserted) {
                if (parentTainted.contains(k) || rejectedParents.contains(k)) {
                    continue;
                }
                checkedParents++;
                Long expected = parentSum.getOrDefault(k, 0L) - rejectedParentAmounts.getOrDefault(k, 0L);
                if (!expected.equals(pgN.get(k))) {
                    wrong.add("parent " + k + ".n: expected " + expected + ", PostgreSQL has " + pgN.get(k));
                }
            }
            int checkedChildren = 0;
            for (long k : childInserted) {
                if (childTainted.contains(k) || rejectedChildren.contains(k)) {
                    continue;
                }
                boolean parentDeleted = false;
                for (long p : childParents.getOrDefault(k, Set.of())) {
                    parentDeleted |= parentTainted.contains(p) || rejectedParents.contains(p);
                }
                if (parentDeleted) {
                    continue;
                }
                checkedChildren++;
                Long expected = childSum.getOrDefault(k, 0L) - rejectedChildAmounts.getOrDefault(k, 0L);
                if (!expected.equals(pgHits.get(k))) {
                    wrong.add("child " + k + ".hits: expected " + expected + ", PostgreSQL has " + pgHits.get(k));
                }
            }
            log.add("-- counters checked: " + checkedParents + " parents, " + checkedChildren + " children");
            System.out.println("seed " + seed + ": counters checked on " + checkedParents + " parents, " + checkedChildren
                    + " children");
            assertTrue(wrong.isEmpty(), "counters: " + wrong);
        }

        long unsentRows(Client d) throws SQLException {
            try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + d.file());
                 Statement st = raw.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM _sync_outbox WHERE op <> 0 AND (hlc IS NULL"
                         + " OR ack IS NULL OR ack > coalesce((SELECT v FROM _sync_state WHERE k = 'cursor'), 0))")) {
                return rs.next() ? rs.getLong(1) : -1;
            }
        }

        // ---------------------------------------------------------------- operations

        long parentKey() {
            return 1 + rnd.nextInt(PARENT_KEYS);
        }

        long deletableParent() {
            return STABLE + 1 + rnd.nextInt(PARENT_KEYS - STABLE);
        }

        long volatileChild() {
            return STABLE_CHILDREN + 1 + rnd.nextInt(CHILD_KEYS - STABLE_CHILDREN);
        }

        String note() {
            return rnd.nextInt(10) < 3 ? null : "note " + step;
        }

        void associate(long child, long parent) {
            childParents.computeIfAbsent(child, x -> new HashSet<>()).add(parent);
        }

        void op(Client d, Client other, Connection pg) throws SQLException {
            int op = rnd.nextInt(100);
            long p = parentKey();
            long p2 = parentKey();
            long dp = deletableParent();
            long sp = 1 + rnd.nextInt(STABLE);
            long sk = 1 + rnd.nextInt(STABLE_CHILDREN);
            long vk = volatileChild();
            long k2 = volatileChild();
            boolean stableChild = rnd.nextInt(10) < 4;
            // a stable child is written only under a stable parent; destructive operations take volatile ones
            long k = stableChild ? sk : vk;
            long cp = stableChild ? sp : p;
            int amount = rnd.nextInt(11) - 5;
            if (amount == 0) {
                amount = 7;
            }
            int start = rnd.nextInt(6);
            String note = note();
            String code = rnd.nextInt(5) == 0 ? null : "c" + (1 + rnd.nextInt(3));
            boolean alsoBump = rnd.nextBoolean();
            int what = rnd.nextInt(3);
            int acc = 0;
            if (op < (acc += 6)) {
                if (exec(d, "INSERT INTO parent (id, name, note, n) VALUES (?, ?, ?, ?)", p, "p" + p + " by " + d.name(),
                        note, start) == 1) {
                    parentInserted.add(p);
                    parentSum.merge(p, (long) start, Long::sum);
                }
            } else if (op < (acc += 3)) {
                if (exec(d, "INSERT INTO parent (id, name, n) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET n = n + excluded.n",
                        p, "up" + p + " by " + d.name(), start) == 1) {
                    parentInserted.add(p);
                    parentSum.merge(p, (long) start, Long::sum);
                }
            } else if (op < (acc += 4)) {
                exec(d, "UPDATE parent SET note = ? WHERE id = ?", note, p);
            } else if (op < (acc += 2)) {
                exec(d, "UPDATE parent SET name = ? WHERE id = ?", "renamed " + step + " by " + d.name(), p);
            } else if (op < (acc += 10)) {
                if (exec(d, "UPDATE parent SET n = n + ? WHERE id = ?", amount, p) == 1) {
                    parentSum.merge(p, (long) amount, Long::sum);
                }
            } else if (op < (acc += 2)) {
                // an increment and a unique value in one transaction: a rejection reverts both
                int[] counts = tx(d, new Object[][] {
                    {"UPDATE parent SET n = n + ? WHERE id = ?", amount, p},
                    {"UPDATE parent SET code = ? WHERE id = ?", code, p},
                });
                if (counts != null && counts[0] == 1) {
                    parentSum.merge(p, (long) amount, Long::sum);
                }
            } else if (op < (acc += 2)) {
                for (long id : returning(d, "UPDATE parent SET n = n + ? WHERE id IN (?, ?) RETURNING id", amount, p, p2)) {
                    parentSum.merge(id, (long) amount, Long::sum);
                }
            } else if (op < (acc += 5)) {
                exec(d, "UPDATE parent SET code = ? WHERE id = ?", code, p);
            } else if (op < (acc += 3)) {
                parentTainted.add(dp);
                exec(d, "DELETE FROM parent WHERE id = ?", dp);
            } else if (op < (acc += 3)) {
                parentTainted.add(dp);
                tx(d, new Object[][] {
                    {"DELETE FROM parent WHERE id = ?", dp},
                    {"INSERT INTO parent (id, name, note, n) VALUES (?, ?, ?, ?)", dp, "again " + step, note, start},
                });
            } else if (op < (acc += 2)) {
                parentTainted.add(dp);
                exec(d, "INSERT OR REPLACE INTO parent (id, name, n) VALUES (?, ?, ?)", dp, "replaced " + step, start);
            } else if (op < (acc += 9)) {
                associate(k, cp);
                if (alsoBump) {
                    int[] counts = tx(d, new Object[][] {
                        {"INSERT INTO child (id, parent_id, note, hits) VALUES (?, ?, ?, ?)", k, cp, note, start},
                        {"UPDATE parent SET n = n + ? WHERE id = ?", amount, cp},
                    });
                    if (counts != null && counts[0] == 1) {
                        childInserted.add(k);
                        childSum.merge(k, (long) start, Long::sum);
                        if (counts[1] == 1) {
                            parentSum.merge(cp, (long) amount, Long::sum);
                        }
                    }
                } else if (exec(d, "INSERT INTO child (id, parent_id, note, hits) VALUES (?, ?, ?, ?)", k, cp, note,
                        start) == 1) {
                    childInserted.add(k);
                    childSum.merge(k, (long) start, Long::sum);
                }
            } else if (op < (acc += 3)) {
                exec(d, "UPDATE child SET note = ? WHERE id = ?", note, k);
            } else if (op < (acc += 5)) {
                if (exec(d, "UPDATE child SET hits = hits + ? WHERE id = ?", amount, k) == 1) {
                    childSum.merge(k, (long) amount, Long::sum);
                }
            } else if (op < (acc += 2)) {
                associate(k, cp);
                if (exec(d, "INSERT INTO child (id, parent_id, hits) VALUES (?, ?, ?)"
                        + " ON CONFLICT (id) DO UPDATE SET hits = hits + excluded.hits", k, cp, start) == 1) {
                    childInserted.add(k);
                    childSum.merge(k, (long) start, Long::sum);
                }
            } else if (op < (acc += 2)) {
                for (long id : returning(d, "UPDATE child SET hits = hits + ? WHERE parent_id = ? RETURNING id", amount, p)) {
                    childSum.merge(id, (long) amount, Long::sum);
                }
            } else if (op < (acc += 3)) {
                associate(k, cp);
                exec(d, "UPDATE child SET parent_id = ? WHERE id = ?", cp, k);
            } else if (op < (acc += 3)) {
                childTainted.add(vk);
                exec(d, "DELETE FROM child WHERE id = ?", vk);
            } else if (op < (acc += 4)) {
                childTainted.add(vk);
                childTainted.add(k2);
                exec(d, "UPDATE child SET id = ? WHERE id = ?", k2, vk);
            } else if (op < (acc += 1)) {
                // several children of a deletable parent change keys in one statement (into 21..40 and back)
                for (long id = STABLE_CHILDREN + 1; id <= 2L * CHILD_KEYS; id++) {
                    childTainted.add(id);
                }
                exec(d, "UPDATE child SET id = CASE WHEN id > ? THEN id - ? ELSE id + ? END WHERE parent_id = ?",
                        CHILD_KEYS, CHILD_KEYS, CHILD_KEYS, dp);
            } else if (op < (acc += 1)) {
                for (long id = STABLE + 1; id <= PARENT_KEYS; id++) {
                    parentTainted.add(id);
                }
                returning(d, "DELETE FROM parent WHERE id > ? AND n < ? RETURNING id", STABLE, amount);
            } else if (op < (acc += 2)) {
                childTainted.add(vk);
                associate(vk, p);
                tx(d, new Object[][] {
                    {"DELETE FROM child WHERE id = ?", vk},
                    {"INSERT INTO child (id, parent_id, note, hits) VALUES (?, ?, ?, ?)", vk, p, note, start},
                });
            } else if (op < (acc += 5)) {
                // a parent deleted on one device while another adds, edits or moves in its children
                parentTainted.add(dp);
                associate(vk, dp);
                exec(d, "DELETE FROM parent WHERE id = ?", dp);
                if (what == 0) {
                    if (exec(other, "INSERT INTO child (id, parent_id, note, hits) VALUES (?, ?, ?, ?)", vk, dp, note,
                            start) == 1) {
                        childInserted.add(vk);
                        childSum.merge(vk, (long) start, Long::sum);
                    }
                } else if (what == 1) {
                    exec(other, "UPDATE child SET note = ? WHERE parent_id = ?", "edited under " + dp + " at " + step, dp);
                } else {
                    exec(other, "UPDATE child SET parent_id = ? WHERE id = ?", dp, vk);
                }
            } else if (op < (acc += 1)) {
                log.add(step + " " + d.name() + ": reopen");
                d.reopen();
                String name = d.name();
                d.node().addRejectionListener(r -> onRejection(name, r));
            } else if (op < (acc += 4)) {
                if (pgExec(pg, "UPDATE parent SET n = n + ? WHERE id = ?", amount, p) == 1) {
                    parentSum.merge(p, (long) amount, Long::sum);
                }
            } else if (op < (acc += 1)) {
                pgExec(pg, "UPDATE parent SET note = ? WHERE id = ?", note, p);
            } else if (op < (acc += 1)) {
                log.add(step + " relay restart");
                relayRestart.run();
            } else if (op < (acc += 1)) {
                if (pgExec(pg, "INSERT INTO parent (id, name, note, n) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                        p, "p" + p + " by psql", note, start) == 1) {
                    parentInserted.add(p);
                    parentSum.merge(p, (long) start, Long::sum);
                }
            } else if (op < (acc += 1)) {
                parentTainted.add(dp);
                pgExec(pg, "DELETE FROM parent WHERE id = ?", dp);
            } else if (op < (acc += 2)) {
                associate(k, cp);
                if (pgExec(pg, "INSERT INTO child (id, parent_id, note, hits) VALUES (?, ?, ?, ?)"
                        + " ON CONFLICT (id) DO NOTHING", k, cp, note, start) == 1) {
                    childInserted.add(k);
                    childSum.merge(k, (long) start, Long::sum);
                }
            } else if (op < (acc += 2)) {
                if (pgExec(pg, "UPDATE child SET hits = hits + ? WHERE id = ?", amount, k) == 1) {
                    childSum.merge(k, (long) amount, Long::sum);
                }
            } else if (op < (acc += 1)) {
                pgExec(pg, "UPDATE child SET note = ? WHERE id = ?", note, k);
            } else if (op < (acc += 1)) {
                childTainted.add(vk);
                pgExec(pg, "DELETE FROM child WHERE id = ?", vk);
            } else if (op < (acc += 1)) {
                childTainted.add(vk);
                childTainted.add(k2);
                pgExec(pg, "UPDATE child SET id = ? WHERE id = ?", k2, vk);
            } else if (op < (acc += 1)) {
                pgExec(pg, "UPDATE parent SET code = ? WHERE id = ?", code, p);
            } else {
                associate(k, cp);
                pgExec(pg, "UPDATE child SET parent_id = ? WHERE id = ?", cp, k);
            }
        }

        /** Runs a query (an UPDATE ... RETURNING id) in auto-commit mode: the ids it returned. */
        List<Long> returning(Client d, String sql, Object... args) {
            List<Long> ids = new ArrayList<>();
            try (PreparedStatement ps = d.connection().prepareStatement(sql)) {
                for (int i = 0; i < args.length; i++) {
                    ps.setObject(i + 1, args[i]);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getLong(1));
                    }
                }
                log.add(step + " " + d.name() + ": " + show(sql, args) + " -> " + ids);
            } catch (SQLException e) {
                log.add(step + " " + d.name() + ": " + show(sql, args) + " -> " + e.getMessage());
                ids.clear();
            }
            return ids;
        }

        int exec(Client d, String sql, Object... args) {
            try {
                int n = d.exec(sql, args);
                log.add(step + " " + d.name() + ": " + show(sql, args) + " -> " + n);
                return n;
            } catch (SQLException e) {
                log.add(step + " " + d.name() + ": " + show(sql, args) + " -> " + e.getMessage());
                return -1;
            }
        }

        /** Runs the statements in one transaction; their update counts, or null when it failed (rolled back). */
        int[] tx(Client d, Object[][] stmts) {
            Connection conn = d.connection();
            int[] counts = new int[stmts.length];
            StringBuilder text = new StringBuilder("BEGIN; ");
            try {
                conn.setAutoCommit(false);
                for (int i = 0; i < stmts.length; i++) {
                    Object[] args = java.util.Arrays.copyOfRange(stmts[i], 1, stmts[i].length);
                    text.append(show((String) stmts[i][0], args)).append("; ");
                    try (PreparedStatement ps = conn.prepareStatement((String) stmts[i][0])) {
                        for (int j = 0; j < args.length; j++) {
                            ps.setObject(j + 1, args[j]);
                        }
                        counts[i] = ps.executeUpdate();
                    }
                }
                conn.commit();
                log.add(step + " " + d.name() + ": " + text + "COMMIT -> " + java.util.Arrays.toString(counts));
                return counts;
            } catch (SQLException e) {
                try {
                    conn.rollback();
                } catch (SQLException ignored) {
                    // reported below
                }
                log.add(step + " " + d.name() + ": " + text + "ROLLBACK -> " + e.getMessage());
                return null;
            } finally {
                try {
                    conn.setAutoCommit(true);
                } catch (SQLException e) {
                    log.add(step + " " + d.name() + ": setAutoCommit(true) failed: " + e);
                }
            }
        }

        int pgExec(Connection pg, String sql, Object... args) {
            try (PreparedStatement ps = pg.prepareStatement(sql)) {
                for (int i = 0; i < args.length; i++) {
                    ps.setObject(i + 1, args[i]);
                }
                int n = ps.executeUpdate();
                log.add(step + " psql: " + show(sql, args) + " -> " + n);
                return n;
            } catch (SQLException e) {
                log.add(step + " psql: " + show(sql, args) + " -> " + e.getMessage());
                return -1;
            }
        }

        String show(String sql, Object[] args) {
            StringBuilder out = new StringBuilder();
            int a = 0;
            for (char ch : sql.toCharArray()) {
                if (ch == '?' && a < args.length) {
                    Object v = args[a++];
                    out.append(v instanceof String s ? "'" + s + "'" : String.valueOf(v));
                } else {
                    out.append(ch);
                }
            }
            return out.toString();
        }
    }
}
