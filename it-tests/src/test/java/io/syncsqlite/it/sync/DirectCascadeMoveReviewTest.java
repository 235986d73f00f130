package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of commit 8d6a087: a child that an offline client moves out of a parent (a column of an ON DELETE
 * CASCADE key set to another non-null value) while the parent is deleted directly in PostgreSQL comes back
 * under the new parent, as it would have stayed there had the move arrived first (TableStatements
 * .movedOutOfTombstone, row_clock.dead_xid; DESIGN.md "A child moved out of a deleted parent"). A row deleted by
 * name in an earlier transaction, or whose parent was not deleted, stays deleted.
 *
 * <p>Every scenario: rows written in PostgreSQL, client b syncs them, goes offline and moves a child; psql
 * deletes; b comes back online; PostgreSQL and b must converge on the state the move-first order gives. The
 * review's first run failed 8 of these: a parent key renamed in the deleting transaction, citext and char
 * keys, a key onto a UNIQUE column, a move into a parent deleted in the same statement, a parent deleted and
 * created again (for client deletes too), and a parent that is not synced (the last a known limit).
 */
class DirectCascadeMoveReviewTest {

    @TempDir
    Path dir;

    static List<Rejection> listen(Client... clients) throws Exception {
        List<Rejection> rejections = new CopyOnWriteArrayList<>();
        for (Client x : clients) {
            x.node().addRejectionListener(rejections::add);
        }
        return rejections;
    }

    /** Runs the statements in ONE PostgreSQL transaction (Cluster.pg runs each in its own). */
    static void pgTx(Cluster c, String... sql) throws Exception {
        try (Connection conn = c.pg()) {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                for (String s : sql) {
                    st.execute(s);
                }
            }
            conn.commit();
        }
    }

    /** b syncs what PostgreSQL holds, then goes offline. */
    private static void syncThenOffline(Cluster c, Client b, String... queries) throws Exception {
        b.awaitSynced();
        for (String q : queries) {
            c.awaitConverged(q, b);
        }
        b.offline();
    }

    private static void backOnline(Cluster c, Client b, String... queries) throws Exception {
        b.online();
        b.awaitSynced();
        for (String q : queries) {
            c.awaitConverged(q, b);
        }
    }

    private static Map<String, Object> task(String id, String list, String title) {
        return row("id", id, "list_id", list, "title", title);
    }

    // ------------------------------------------------------------------------------------------------
    // Plain text keys: guards
    // ------------------------------------------------------------------------------------------------

    private static final String[] LISTS_PG = MergeThroughDeleteReviewTest.LISTS_SCHEMA;
    private static final String LISTS = MergeThroughDeleteReviewTest.LISTS;
    private static final String TASKS = "SELECT id, list_id, title FROM task ORDER BY id";
    private static final String TASKS_A = "SELECT id, list_id, assignee_id, title FROM task ORDER BY id";

    /**
     * Two children of L1, only k1 moved (to L3) by b while psql deletes L1. Expected: k1 back in L3 (as in
     * the move-first order), k2 gone with L1.
     */
    @Test
    void onlyTheMovedOneOfTwoChildrenComesBack() throws Exception {
        try (Cluster c = Cluster.start("dcm_two_children", dir, LISTS_PG)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk'), ('k2', 'L1', NULL, 'bread')");
            Client b = c.client("b", LISTS_PG);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, LISTS, TASKS);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            c.pg("DELETE FROM list WHERE id = 'L1'");
            backOnline(c, b, LISTS, TASKS);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "L3", "title", "three")), c.pgRows(LISTS));
            assertEquals(List.of(task("k1", "L3", "milk")), c.pgRows(TASKS), "k1 moved out of L1 comes back; k2 goes with L1");
        }
    }

    /**
     * A change of a SET NULL key is no move out of the cascading parent: psql deletes L1 (cascade takes k1)
     * while b reassigns k1 to another person. Expected: k1 stays deleted (in the other order L1's delete takes
     * it too).
     */
    @Test
    void aReassignmentThroughASetNullKeyDoesNotBringBackATaskDeletedWithItsList() throws Exception {
        try (Cluster c = Cluster.start("dcm_set_null", dir, LISTS_PG)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')",
                    "INSERT INTO person VALUES ('P1', 'Ann'), ('P2', 'Bob')",
                    "INSERT INTO task VALUES ('k1', 'L1', 'P1', 'milk')");
            Client b = c.client("b", LISTS_PG);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, LISTS, TASKS_A);
            b.exec("UPDATE task SET assignee_id = 'P2' WHERE id = 'k1'");
            c.pg("DELETE FROM list WHERE id = 'L1'");
            backOnline(c, b, LISTS, TASKS_A);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(), c.pgRows(TASKS_A), "a reassignment moves k1 out of no list");
        }
    }

    /**
     * The child is deleted by name in psql, and in the SAME transaction its list's key is changed (L1 renamed
     * to L9: the capture trigger logs a key change as a 'D' of the old key). No list was deleted, so the
     * task was deleted by name only: in the move-first order b's move to L3 lands, then psql deletes k1. b's
     * move must not bring k1 back.
     */
    @Test
    void aTaskDeletedByNameWhileItsListKeyIsRenamedInTheSameTransactionStaysDeleted() throws Exception {
        try (Cluster c = Cluster.start("dcm_rename", dir, LISTS_PG)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')");
            Client b = c.client("b", LISTS_PG);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, LISTS, TASKS);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            pgTx(c, "DELETE FROM task WHERE id = 'k1'", "UPDATE list SET id = 'L9' WHERE id = 'L1'");
            backOnline(c, b, LISTS, TASKS);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "L3", "title", "three"), row("id", "L9", "title", "one")), c.pgRows(LISTS));
            assertEquals(List.of(), c.pgRows(TASKS),
                    "k1 was deleted by name and its list was renamed, not deleted: the delete wins over b's move, "
                            + "as in the move-first order");
        }
    }

    /**
     * psql deletes L1 (cascade takes k1) and creates L1 again before b, which moved k1 to L3, syncs. In the
     * move-first order k1 is in L3 when L1 goes and stays there. Expected: k1 in L3 (both orders alike).
     */
    @Test
    void aTaskMovedOutOfAListDeletedAndRecreatedInPostgresComesBack() throws Exception {
        try (Cluster c = Cluster.start("dcm_recreated", dir, LISTS_PG)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')");
            Client b = c.client("b", LISTS_PG);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, LISTS, TASKS);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            c.pg("DELETE FROM list WHERE id = 'L1'");
            c.pg("INSERT INTO list VALUES ('L1', 'one again')");
            backOnline(c, b, LISTS, TASKS);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(task("k1", "L3", "milk")), c.pgRows(TASKS),
                    "move-first ends with k1 in L3; delete-first (then L1 recreated) must too");
        }
    }

    /**
     * Control for the test above, with the delete and the recreate written by client a (relay mode,
     * row_clock.cascaded): a deletes L1 (it saw k1 there, so the cascade takes k1), then creates L1 again; b,
     * offline, had moved k1 to L3. Expected: k1 in L3. Tells whether the recreated parent case is specific to
     * psql deletes or shared with client deletes.
     */
    @Test
    void controlATaskMovedOutOfAListDeletedAndRecreatedByAClientComesBack() throws Exception {
        try (Cluster c = Cluster.start("dcm_recreated_client", dir, LISTS_PG)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')");
            Client a = c.client("a", LISTS_PG);
            Client b = c.client("b", LISTS_PG);
            List<Rejection> rejections = listen(a, b);
            a.awaitSynced();
            c.awaitConverged(TASKS, a);
            syncThenOffline(c, b, LISTS, TASKS);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            a.exec("DELETE FROM list WHERE id = 'L1'");
            a.awaitSynced();
            a.exec("INSERT INTO list VALUES ('L1', 'one again')");
            a.awaitSynced();
            backOnline(c, b, LISTS, TASKS);
            a.awaitSynced();
            c.awaitConverged(TASKS, a, b);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(task("k1", "L3", "milk")), c.pgRows(TASKS),
                    "move-first ends with k1 in L3; delete-first (then L1 recreated) must too");
        }
    }

    /**
     * b moves k1 from L1 to L3 while ONE psql statement deletes both L1 and L3. In the move-first order k1 is
     * in L3 when L3 goes, so everything is gone. Expected: no list and no task (before this change the move was
     * dropped, which ended the same; bringing k1 back into a deleted L3 must not resurrect L3).
     */
    @Test
    void aTaskMovedIntoAListDeletedInTheSamePsqlStatementStaysDeleted() throws Exception {
        try (Cluster c = Cluster.start("dcm_both_gone", dir, LISTS_PG)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L2', 'two'), ('L3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'L1', NULL, 'milk')");
            Client b = c.client("b", LISTS_PG);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, LISTS, TASKS);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            c.pg("DELETE FROM list WHERE id IN ('L1', 'L3')");
            backOnline(c, b, LISTS, TASKS);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "L2", "title", "two")), c.pgRows(LISTS), "tasks " + c.pgRows(TASKS)
                    + ": L3 was deleted in psql after (move-first) or with k1's list; nothing may resurrect it");
            assertEquals(List.of(), c.pgRows(TASKS));
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Chains and trees
    // ------------------------------------------------------------------------------------------------

    /**
     * Grandparent chain: psql deletes project P1; its cascade takes list L1 and L1's tasks k1, k2. b, offline,
     * moved k1 into L2 (of project P2). Expected: k1 back in L2; k2 gone.
     */
    @Test
    void aTaskMovedOutOfAListWhoseProjectWasDeletedInPostgresComesBack() throws Exception {
        String[] schema = {
            "CREATE TABLE project (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
            "CREATE TABLE list (id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES project (id) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_id TEXT NOT NULL REFERENCES list (id) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String lists = "SELECT id, project_id, title FROM list ORDER BY id";
        try (Cluster c = Cluster.start("dcm_chain", dir, schema)) {
            c.pg("INSERT INTO project VALUES ('P1', 'one'), ('P2', 'two')",
                    "INSERT INTO list VALUES ('L1', 'P1', 'l1'), ('L2', 'P2', 'l2')",
                    "INSERT INTO task VALUES ('k1', 'L1', 'milk'), ('k2', 'L1', 'bread')");
            Client b = c.client("b", schema);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, lists, TASKS);
            b.exec("UPDATE task SET list_id = 'L2' WHERE id = 'k1'");
            c.pg("DELETE FROM project WHERE id = 'P1'");
            backOnline(c, b, lists, TASKS);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "L2", "project_id", "P2", "title", "l2")), c.pgRows(lists));
            assertEquals(List.of(task("k1", "L2", "milk")), c.pgRows(TASKS));
        }
    }

    /**
     * Self-referencing tree: n1 > n2 > n3, and root n9. b moves n3 under n9 while psql deletes n1, whose
     * cascade takes n2 and n3. Expected: n3 back under n9.
     */
    @Test
    void aNodeMovedOutOfASubtreeDeletedInPostgresComesBack() throws Exception {
        String[] schema = {
            "CREATE TABLE node (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES node (id) ON DELETE CASCADE, name TEXT NOT NULL)",
        };
        String nodes = "SELECT id, parent_id, name FROM node ORDER BY id";
        try (Cluster c = Cluster.start("dcm_tree", dir, schema)) {
            c.pg("INSERT INTO node VALUES ('n1', NULL, 'root'), ('n9', NULL, 'other root')",
                    "INSERT INTO node VALUES ('n2', 'n1', 'mid')", "INSERT INTO node VALUES ('n3', 'n2', 'leaf')");
            Client b = c.client("b", schema);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, nodes);
            b.exec("UPDATE node SET parent_id = 'n9' WHERE id = 'n3'");
            c.pg("DELETE FROM node WHERE id = 'n1'");
            backOnline(c, b, nodes);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "n3", "parent_id", "n9", "name", "leaf"), row("id", "n9", "parent_id", null,
                    "name", "other root")), c.pgRows(nodes));
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Key types: the parent key built with jsonb_build_object from the child's dead_row vs the change log
    // ------------------------------------------------------------------------------------------------

    /**
     * Child key columns of other but compatible types: an integer child column onto a bigint parent key, an
     * unconstrained numeric child column holding 1.0 onto a numeric(10,2) parent key holding 1.00, a uuid, and
     * a composite key declared in the other column order than the parent's primary key. psql deletes each
     * first parent; b moved each child to the second. Expected: all four children back under their new parent.
     */
    @Test
    void childrenMovedOutThroughKeysOfOtherCompatibleTypesComeBack() throws Exception {
        String[] pg = {
            "CREATE TABLE pa (id BIGINT PRIMARY KEY)",
            "CREATE TABLE pn (id NUMERIC(10, 2) PRIMARY KEY)",
            "CREATE TABLE pu (id UUID PRIMARY KEY)",
            "CREATE TABLE pc (site INTEGER NOT NULL, num INTEGER NOT NULL, PRIMARY KEY (site, num))",
            "CREATE TABLE ca (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES pa (id) ON DELETE CASCADE)",
            "CREATE TABLE cn (id INTEGER PRIMARY KEY, p NUMERIC NOT NULL REFERENCES pn (id) ON DELETE CASCADE)",
            "CREATE TABLE cu (id INTEGER PRIMARY KEY, p UUID NOT NULL REFERENCES pu (id) ON DELETE CASCADE)",
            "CREATE TABLE cc (id INTEGER PRIMARY KEY, num INTEGER NOT NULL, site INTEGER NOT NULL,"
                    + " FOREIGN KEY (num, site) REFERENCES pc (num, site) ON DELETE CASCADE)",
        };
        String[] local = {
            "CREATE TABLE pa (id INTEGER PRIMARY KEY)",
            "CREATE TABLE pn (id NUMERIC PRIMARY KEY)",
            "CREATE TABLE pu (id TEXT PRIMARY KEY)",
            "CREATE TABLE pc (site INTEGER NOT NULL, num INTEGER NOT NULL, PRIMARY KEY (site, num))",
            "CREATE TABLE ca (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES pa (id) ON DELETE CASCADE)",
            "CREATE TABLE cn (id INTEGER PRIMARY KEY, p NUMERIC NOT NULL REFERENCES pn (id) ON DELETE CASCADE)",
            "CREATE TABLE cu (id INTEGER PRIMARY KEY, p TEXT NOT NULL REFERENCES pu (id) ON DELETE CASCADE)",
            "CREATE TABLE cc (id INTEGER PRIMARY KEY, num INTEGER NOT NULL, site INTEGER NOT NULL,"
                    + " FOREIGN KEY (num, site) REFERENCES pc (num, site) ON DELETE CASCADE)",
        };
        String u1 = "00000000-0000-0000-0000-00000000000a";
        String u2 = "00000000-0000-0000-0000-00000000000b";
        String ca = "SELECT id, p FROM ca ORDER BY id";
        String cn = "SELECT id, CAST(p AS INTEGER) AS p FROM cn ORDER BY id";
        String cu = "SELECT id, CAST(p AS TEXT) AS p FROM cu ORDER BY id";
        String cc = "SELECT id, num, site FROM cc ORDER BY id";
        try (Cluster c = Cluster.start("dcm_types", dir, pg)) {
            c.pg("INSERT INTO pa VALUES (1), (2)", "INSERT INTO pn VALUES (1), (2)",
                    "INSERT INTO pu VALUES ('" + u1 + "'), ('" + u2 + "')", "INSERT INTO pc VALUES (1, 1), (1, 2)",
                    "INSERT INTO ca VALUES (1, 1)", "INSERT INTO cn VALUES (1, 1.0)",
                    "INSERT INTO cu VALUES (1, '" + u1 + "')", "INSERT INTO cc VALUES (1, 1, 1)");
            Client b = c.client("b", local);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, ca, cn, cu, cc);
            b.exec("UPDATE ca SET p = 2 WHERE id = 1");
            b.exec("UPDATE cn SET p = 2 WHERE id = 1");
            b.exec("UPDATE cu SET p = '" + u2 + "' WHERE id = 1");
            b.exec("UPDATE cc SET num = 2 WHERE id = 1");
            c.pg("DELETE FROM pa WHERE id = 1", "DELETE FROM pn WHERE id = 1", "DELETE FROM pu WHERE id = '" + u1 + "'",
                    "DELETE FROM pc WHERE site = 1 AND num = 1");
            backOnline(c, b, ca, cn, cu, cc);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", 1L, "p", 2L)), c.pgRows(ca), "integer onto bigint");
            assertEquals(List.of(row("id", 1L, "p", 2L)), c.pgRows(cn), "numeric 1.0 onto numeric(10,2) 1.00");
            assertEquals(List.of(row("id", 1L, "p", u2)), c.pgRows(cu), "uuid");
            assertEquals(List.of(row("id", 1L, "num", 2L, "site", 1L)), c.pgRows(cc), "composite key in another column order");
        }
    }

    /**
     * A case-insensitive key (citext in PostgreSQL, NOCASE in SQLite): task k1 refers to list 'L1' as 'l1',
     * which PostgreSQL's foreign key accepts (citext equality). b moves k1 to L3 while psql deletes L1, whose
     * cascade takes k1. Expected: k1 back in L3, as for a key spelled the same.
     */
    @Test
    void aTaskReferringToItsListInAnotherCaseThroughCitextComesBack() throws Exception {
        String[] pg = {
            "CREATE EXTENSION IF NOT EXISTS citext",
            "CREATE TABLE list (id CITEXT PRIMARY KEY, title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_id CITEXT NOT NULL REFERENCES list (id) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String[] local = {
            "CREATE TABLE list (id TEXT COLLATE NOCASE PRIMARY KEY, title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_id TEXT COLLATE NOCASE NOT NULL REFERENCES list (id) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String lists = "SELECT CAST(id AS TEXT) AS id, title FROM list ORDER BY 1";
        String tasks = "SELECT id, CAST(list_id AS TEXT) AS list_id, title FROM task ORDER BY id";
        try (Cluster c = Cluster.start("dcm_citext", dir, pg)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'l1', 'milk')", "INSERT INTO task VALUES ('k2', 'L1', 'bread')");
            Client b = c.client("b", local);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, lists, tasks);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id IN ('k1', 'k2')");
            c.pg("DELETE FROM list WHERE id = 'L1'");
            backOnline(c, b, lists, tasks);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "L3", "title", "three")), c.pgRows(lists));
            assertEquals(List.of(task("k1", "L3", "milk"), task("k2", "L3", "bread")), c.pgRows(tasks),
                    "k2 (same spelling as its list's key) and k1 ('l1' for list 'L1') both went with L1 and were moved out");
        }
    }

    /**
     * A char(n) child column onto a varchar parent key: PostgreSQL pads the child's 'L1' to 'L1  ' and the
     * foreign key compares without the padding. b moves k1 to L3 while psql deletes L1. Expected: k1 back in L3.
     */
    @Test
    void aTaskReferringToItsListThroughAPaddedCharColumnComesBack() throws Exception {
        String[] pg = {
            "CREATE TABLE list (id VARCHAR(10) PRIMARY KEY, title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_id CHAR(4) NOT NULL REFERENCES list (id) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String[] local = {
            "CREATE TABLE list (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_id TEXT NOT NULL, title TEXT NOT NULL)",
        };
        String tasks = "SELECT id, TRIM(list_id) AS list_id, title FROM task ORDER BY id";
        try (Cluster c = Cluster.start("dcm_char", dir, pg)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L3', 'three')", "INSERT INTO task VALUES ('k1', 'L1', 'milk')");
            Client b = c.client("b", local);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, LISTS, tasks);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            c.pg("DELETE FROM list WHERE id = 'L1'");
            backOnline(c, b, LISTS, tasks);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(task("k1", "L3", "milk")), c.pgRows(tasks), "k1 went with L1 and was moved out");
        }
    }

    /**
     * A foreign key onto a non-key UNIQUE column (list.code): b, offline, moves k1 from list C1 to C3 and k2
     * from C2 to C3; psql deletes C1 (cascade takes k1) and client a deletes C2 (relay mode: its cascade
     * takes k2, row_clock.cascaded). Expected: both tasks back in C3; a psql delete must not end otherwise
     * than a client's.
     */
    @Test
    void aTaskMovedOutThroughAKeyOntoAUniqueColumnComesBackAsForAClientDelete() throws Exception {
        String[] schema = {
            "CREATE TABLE list (id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_code TEXT NOT NULL REFERENCES list (code) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String lists = "SELECT id, code FROM list ORDER BY id";
        String tasks = "SELECT id, list_code, title FROM task ORDER BY id";
        try (Cluster c = Cluster.start("dcm_unique", dir, schema)) {
            c.pg("INSERT INTO list VALUES ('L1', 'C1', 'one'), ('L2', 'C2', 'two'), ('L3', 'C3', 'three')",
                    "INSERT INTO task VALUES ('k1', 'C1', 'milk'), ('k2', 'C2', 'bread')");
            Client a = c.client("a", schema);
            Client b = c.client("b", schema);
            List<Rejection> rejections = listen(a, b);
            a.awaitSynced();
            c.awaitConverged(tasks, a);
            syncThenOffline(c, b, lists, tasks);
            b.exec("UPDATE task SET list_code = 'C3' WHERE id IN ('k1', 'k2')");
            c.pg("DELETE FROM list WHERE id = 'L1'");
            a.exec("DELETE FROM list WHERE id = 'L2'");
            a.awaitSynced();
            backOnline(c, b, lists, tasks);
            a.awaitSynced();
            c.awaitConverged(tasks, a, b);
            assertEquals(List.of(), rejections);
            List<Map<String, Object>> got = c.pgRows(tasks);
            assertEquals(List.of(row("id", "k1", "list_code", "C3", "title", "milk"), row("id", "k2", "list_code", "C3", "title", "bread")),
                    got, "k2 (list deleted by client a) and k1 (list deleted in psql) were both moved out of their lists");
        }
    }

    /**
     * A parent table that is not synced (no primary key, only a UNIQUE code): psql deletes group G1, whose
     * cascade takes task k1, which b had moved to G2. Expected: k1 back in G2, as in the move-first order.
     */
    @Disabled("Known limit (DESIGN.md, A child moved out of a deleted parent): a direct delete's cascade is told by the"
            + " parent's delete in the change log, which a parent that is not synced does not have")
    @Test
    void aTaskMovedOutOfAnUnsyncedParentDeletedInPostgresComesBack() throws Exception {
        String[] pg = {
            "CREATE TABLE grp (code TEXT NOT NULL UNIQUE, label TEXT)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, grp_code TEXT NOT NULL REFERENCES grp (code) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String[] local = {
            "CREATE TABLE task (id TEXT PRIMARY KEY, grp_code TEXT NOT NULL, title TEXT NOT NULL)",
        };
        String tasks = "SELECT id, grp_code, title FROM task ORDER BY id";
        try (Cluster c = Cluster.start("dcm_unsynced", dir, pg)) {
            c.pg("INSERT INTO grp VALUES ('G1', 'one'), ('G2', 'two')", "INSERT INTO task VALUES ('k1', 'G1', 'milk')");
            Client b = c.client("b", local);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, tasks);
            b.exec("UPDATE task SET grp_code = 'G2' WHERE id = 'k1'");
            c.pg("DELETE FROM grp WHERE code = 'G1'");
            backOnline(c, b, tasks);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(row("id", "k1", "grp_code", "G2", "title", "milk")), c.pgRows(tasks),
                    "k1 went with G1 and was moved out of it");
        }
    }

    /**
     * A parent table whose name needs quoting ("Todo List"): b moves k1 to L3 while psql deletes L1. Expected:
     * k1 back in L3.
     */
    @Test
    void aTaskMovedOutOfAListWithAQuotedTableNameComesBack() throws Exception {
        String[] schema = {
            "CREATE TABLE \"Todo List\" (id TEXT PRIMARY KEY, title TEXT NOT NULL)",
            "CREATE TABLE task (id TEXT PRIMARY KEY, list_id TEXT NOT NULL REFERENCES \"Todo List\" (id) ON DELETE CASCADE,"
                    + " title TEXT NOT NULL)",
        };
        String lists = "SELECT id, title FROM \"Todo List\" ORDER BY id";
        try (Cluster c = Cluster.start("dcm_quoted", dir, schema)) {
            c.pg("INSERT INTO \"Todo List\" VALUES ('L1', 'one'), ('L3', 'three')", "INSERT INTO task VALUES ('k1', 'L1', 'milk')");
            Client b = c.client("b", schema);
            List<Rejection> rejections = listen(b);
            syncThenOffline(c, b, lists, TASKS);
            b.exec("UPDATE task SET list_id = 'L3' WHERE id = 'k1'");
            c.pg("DELETE FROM \"Todo List\" WHERE id = 'L1'");
            backOnline(c, b, lists, TASKS);
            assertEquals(List.of(), rejections);
            assertEquals(List.of(task("k1", "L3", "milk")), c.pgRows(TASKS));
        }
    }
}
