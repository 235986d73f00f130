package io.syncsqlite.it.sync;

import io.syncsqlite.driver.sync.Rejection;
import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

import java.io.StringReader;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

import static io.syncsqlite.it.harness.Rows.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review from one angle: writes made directly in PostgreSQL (as psql or another program would make them),
 * and unusual PostgreSQL-side statements, and how they reach the SQLite clients. Each scenario writes in
 * PostgreSQL through plain pgjdbc and checks that the clients end with PostgreSQL's rows.
 */
class PgSideReviewTest {

    @TempDir
    Path dir;

    private static final String PG_NOTE = "CREATE TABLE note (id int PRIMARY KEY, title text, body text, n int)";
    private static final String LOCAL_NOTE = "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT, body TEXT, n INTEGER)";
    private static final String NOTES = "SELECT id, title, body, n FROM note ORDER BY id";

    private static List<Rejection> listen(Client... clients) throws Exception {
        return DirectCascadeMoveReviewTest.listen(clients);
    }

    /** Runs the statements in ONE PostgreSQL transaction. */
    private static void pgTx(Cluster c, String... sql) throws Exception {
        DirectCascadeMoveReviewTest.pgTx(c, sql);
    }

    // ------------------------------------------------------------------------------------------------
    // Statements PostgreSQL runs with unusual transition tables
    // ------------------------------------------------------------------------------------------------

    /**
     * An org chart (a table whose foreign key refers to itself, ON UPDATE CASCADE) renumbered in psql with one
     * UPDATE: each row's key changes, and the cascade then changes the boss column of the rows the statement has
     * already changed. PostgreSQL hands the statement trigger those rows twice (once per version) in its
     * transition tables. The statement is valid PostgreSQL; syncing the table must not make it fail, and the
     * clients must get the renumbered chart.
     */
    @Test
    void renumberingASelfReferencingTableWithOnUpdateCascadeInPsql() throws Exception {
        String pg = "CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp (id) ON UPDATE CASCADE ON DELETE CASCADE,"
                + " name text)";
        String local = "CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp (id) ON UPDATE CASCADE"
                + " ON DELETE CASCADE, name TEXT)";
        String q = "SELECT id, boss, name FROM emp ORDER BY id";
        try (Cluster c = Cluster.start("pgr_selfref", dir, pg)) {
            c.pg("INSERT INTO emp VALUES (1, NULL, 'ceo'), (2, 1, 'cto'), (3, 2, 'dev')");
            Client a = c.client("a", local);
            a.awaitSynced();
            c.awaitConverged(q, a);
            // Fails now: ON CONFLICT DO UPDATE command cannot affect row a second time (capture_rows, UPDATE path).
            c.pg("UPDATE emp SET id = id + 10");
            assertEquals(List.of(row("id", 11, "boss", null, "name", "ceo"), row("id", 12, "boss", 11, "name", "cto"),
                    row("id", 13, "boss", 12, "name", "dev")), c.pgRows(q));
            c.awaitConverged(q, a);
        }
    }

    /**
     * A row that refers to itself (a root whose boss is itself) gets a new key in psql: the cascade changes the
     * same row again in the same statement.
     */
    @Test
    void rekeyingASelfReferencingRowInPsql() throws Exception {
        String pg = "CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp (id) ON UPDATE CASCADE, name text)";
        String local = "CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER, name TEXT)";
        String q = "SELECT id, boss, name FROM emp ORDER BY id";
        try (Cluster c = Cluster.start("pgr_selfrow", dir, pg)) {
            c.pg("INSERT INTO emp VALUES (1, 1, 'root'), (2, 1, 'kid')");
            Client a = c.client("a", local);
            a.awaitSynced();
            c.awaitConverged(q, a);
            c.pg("UPDATE emp SET id = 100 WHERE id = 1");
            assertEquals(List.of(row("id", 2, "boss", 100, "name", "kid"), row("id", 100, "boss", 100, "name", "root")),
                    c.pgRows(q));
            c.awaitConverged(q, a);
        }
    }

    /** MERGE (PostgreSQL 15) inserting, updating and deleting synced rows in one statement. */
    @Test
    void mergeInPsqlReachesClients() throws Exception {
        try (Cluster c = Cluster.start("pgr_merge", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1), (2, 'two', 'b2', 2), (3, 'three', 'b3', 3)");
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            c.pg("MERGE INTO note t USING (VALUES (1, 'uno'), (2, NULL), (4, 'cuatro')) AS s (id, title) ON t.id = s.id"
                    + " WHEN MATCHED AND s.title IS NULL THEN DELETE WHEN MATCHED THEN UPDATE SET title = s.title"
                    + " WHEN NOT MATCHED THEN INSERT (id, title, n) VALUES (s.id, s.title, 40)");
            c.awaitConverged(NOTES, a);
            assertEquals(3, a.rows(NOTES).size());
        }
    }

    /** A writable CTE that moves a key and creates a row under the freed key, in one psql statement. */
    @Test
    void writableCteMovingAKeyAndReusingItInPsql() throws Exception {
        try (Cluster c = Cluster.start("pgr_wcte", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1), (2, 'two', 'b2', 2)");
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            c.pg("WITH u AS (UPDATE note SET id = 5 WHERE id = 1 RETURNING *) INSERT INTO note SELECT 1, 'fresh', NULL, 0 FROM u",
                    "WITH d AS (DELETE FROM note WHERE id = 2 RETURNING *) INSERT INTO note SELECT id, 'again', body, n FROM d");
            c.awaitConverged(NOTES, a);
            assertEquals(3, a.rows(NOTES).size());
        }
    }

    /** COPY ... FROM STDIN (pgjdbc's CopyManager) into a synced table. */
    @Test
    void copyFromStdinReachesClients() throws Exception {
        try (Cluster c = Cluster.start("pgr_copy", dir, PG_NOTE)) {
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            StringBuilder data = new StringBuilder();
            for (int i = 1; i <= 500; i++) {
                data.append(i).append("\tt").append(i).append("\t\\N\t").append(i * 2).append('\n');
            }
            try (Connection conn = c.pg()) {
                CopyManager cm = conn.unwrap(PGConnection.class).getCopyAPI();
                cm.copyIn("COPY note (id, title, body, n) FROM STDIN", new StringReader(data.toString()));
            }
            c.awaitConverged(NOTES, a);
            assertEquals(500, a.rows(NOTES).size());
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Transactions
    // ------------------------------------------------------------------------------------------------

    /**
     * A psql transaction writes early, other commits follow, a client takes its first snapshot meanwhile and a
     * second client goes offline in between; the long transaction commits last. Both must get its rows.
     */
    @Test
    void longPsqlTransactionCommittedAfterLaterCommitsReachesEveryone() throws Exception {
        try (Cluster c = Cluster.start("pgr_long", dir, PG_NOTE)) {
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            try (Connection longTx = c.pg()) {
                longTx.setAutoCommit(false);
                try (Statement st = longTx.createStatement()) {
                    st.execute("INSERT INTO note VALUES (100, 'long', 'early', 1)");
                }
                c.pg("INSERT INTO note VALUES (1, 'later', NULL, 1)");
                a.exec("INSERT INTO note VALUES (2, 'client', NULL, 2)");
                a.awaitSynced();
                Client b = c.client("b", LOCAL_NOTE); // snapshot while the long transaction is open
                b.awaitSynced();
                c.awaitConverged(NOTES, a, b);
                a.offline();
                c.pg("INSERT INTO note VALUES (3, 'later still', NULL, 3)");
                c.awaitConverged(NOTES, b);
                try (Statement st = longTx.createStatement()) {
                    st.execute("UPDATE note SET body = 'touched by the long one' WHERE id = 1");
                    st.execute("INSERT INTO note VALUES (101, 'long', 'late', 2)");
                }
                longTx.commit();
                a.online();
                a.awaitSynced();
                c.awaitConverged(NOTES, a, b);
                assertEquals(5, b.rows(NOTES).size());
            }
        }
    }

    /** ROLLBACK TO SAVEPOINT in a direct transaction: only what survives reaches clients, in every arrangement. */
    @Test
    void savepointRollbacksInADirectTransaction() throws Exception {
        try (Cluster c = Cluster.start("pgr_savepoint", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1)");
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            // The transaction's first write (which queues the commit mark) is rolled back; a later one survives.
            pgTx(c, "SAVEPOINT s1", "INSERT INTO note VALUES (10, 'gone', NULL, 0)", "UPDATE note SET title = 'gone too' WHERE id = 1",
                    "ROLLBACK TO SAVEPOINT s1", "INSERT INTO note VALUES (11, 'kept', NULL, 0)");
            // Nested: the surviving write first, then a rolled-back inner savepoint, released outer one.
            pgTx(c, "UPDATE note SET body = 'kept body' WHERE id = 1", "SAVEPOINT s1", "INSERT INTO note VALUES (12, 'kept 12', NULL, 0)",
                    "SAVEPOINT s2", "DELETE FROM note WHERE id = 11", "UPDATE note SET n = 99 WHERE id = 12", "ROLLBACK TO s2",
                    "RELEASE s1");
            // Only writes inside a rolled-back savepoint: nothing changes, and later commits still flow.
            pgTx(c, "SAVEPOINT s1", "DELETE FROM note", "ROLLBACK TO s1");
            c.pg("INSERT INTO note VALUES (13, 'after', NULL, 0)");
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 1, "title", "one", "body", "kept body", "n", 1),
                    row("id", 11, "title", "kept", "body", null, "n", 0),
                    row("id", 12, "title", "kept 12", "body", null, "n", 0),
                    row("id", 13, "title", "after", "body", null, "n", 0)), a.rows(NOTES));
        }
    }

    /**
     * One direct transaction writes a row and deletes it, another deletes a row and writes it again; an online
     * client follows commit by commit, an offline one catches up through compaction.
     */
    @Test
    void writeThenDeleteAndDeleteThenWriteInOneDirectTransaction() throws Exception {
        try (Cluster c = Cluster.start("pgr_wd", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1), (2, 'two', 'b2', 2)");
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            b.offline();
            pgTx(c, "INSERT INTO note VALUES (3, 'brief', NULL, 0)", "UPDATE note SET title = 'briefer' WHERE id = 3",
                    "DELETE FROM note WHERE id = 3");
            pgTx(c, "UPDATE note SET title = 'x' WHERE id = 1", "DELETE FROM note WHERE id = 1");
            pgTx(c, "DELETE FROM note WHERE id = 2", "INSERT INTO note VALUES (2, 'reborn', NULL, 7)");
            c.awaitConverged(NOTES, a);
            b.online();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(row("id", 2, "title", "reborn", "body", null, "n", 7)), b.rows(NOTES));
        }
    }

    /** INSERT ... ON CONFLICT DO UPDATE (and DO NOTHING) in psql. */
    @Test
    void upsertsInPsql() throws Exception {
        try (Cluster c = Cluster.start("pgr_upsert", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1)");
            Client a = c.client("a", LOCAL_NOTE);
            a.awaitSynced();
            c.awaitConverged(NOTES, a);
            c.pg("INSERT INTO note VALUES (1, 'ignored', 'x', 5), (2, 'two', 'b2', 2)"
                            + " ON CONFLICT (id) DO UPDATE SET n = note.n + excluded.n, title = excluded.title || '!'",
                    "INSERT INTO note VALUES (2, 'nothing', NULL, 0), (3, 'three', NULL, 3) ON CONFLICT DO NOTHING",
                    "INSERT INTO note VALUES (3, 'same', NULL, 3) ON CONFLICT (id) DO UPDATE SET n = excluded.n WHERE note.n <> excluded.n");
            c.awaitConverged(NOTES, a);
            assertEquals(List.of(row("id", 1, "title", "ignored!", "body", "b1", "n", 6),
                    row("id", 2, "title", "two", "body", "b2", "n", 2),
                    row("id", 3, "title", "three", "body", null, "n", 3)), a.rows(NOTES));
        }
    }

    /**
     * Primary key changes in psql: one row moved, then every key shifted by one (a deferrable key makes the
     * overlapping shift legal). Clients must see moves, not duplicates; an offline client catches up.
     */
    @Test
    void primaryKeyChangesInPsql() throws Exception {
        String pg = "CREATE TABLE note (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, title text, body text, n int)";
        try (Cluster c = Cluster.start("pgr_pk", dir, pg)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1), (2, 'two', 'b2', 2), (3, 'three', 'b3', 3)");
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            b.offline();
            c.pg("UPDATE note SET id = 10 WHERE id = 3");
            c.awaitConverged(NOTES, a);
            c.pg("UPDATE note SET id = id + 1");
            c.awaitConverged(NOTES, a);
            pgTx(c, "SET CONSTRAINTS ALL DEFERRED", "UPDATE note SET id = 3 - id WHERE id IN (2, 3)"); // swap 2 and 3
            c.awaitConverged(NOTES, a);
            b.online();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(3, b.rows(NOTES).size());
        }
    }

    /** Many small direct transactions interleaved with client pushes of the same rows: everything converges. */
    @Test
    void manySmallDirectTransactionsInterleavedWithClientPushes() throws Exception {
        try (Cluster c = Cluster.start("pgr_many", dir, PG_NOTE)) {
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.awaitSynced();
            b.awaitSynced();
            List<Rejection> rejections = listen(a, b);
            for (int i = 0; i < 60; i++) {
                int id = i % 10;
                switch (i % 4) {
                    case 0 -> c.pg("INSERT INTO note VALUES (" + id + ", 'pg', NULL, " + i + ") ON CONFLICT (id) DO UPDATE SET title = 'pg', n = "
                            + i);
                    case 1 -> a.exec("INSERT INTO note VALUES (?, 'a', NULL, ?) ON CONFLICT (id) DO UPDATE SET title = 'a', n = excluded.n", id + 10, i);
                    case 2 -> c.pg("UPDATE note SET body = 'pg" + i + "' WHERE id IN (" + (id + 10) + ", " + id + ")");
                    default -> b.exec("UPDATE note SET body = 'b" + i + "' WHERE id = ?", id);
                }
            }
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(), rejections);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Column kinds PostgreSQL fills itself
    // ------------------------------------------------------------------------------------------------

    /** An identity key (GENERATED ALWAYS): rows inserted from psql and keyless rows inserted by clients. */
    @Test
    void identityKeysFromPsqlAndClients() throws Exception {
        String pg = "CREATE TABLE item (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)";
        String local = "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";
        String q = "SELECT id, name FROM item ORDER BY id";
        try (Cluster c = Cluster.start("pgr_identity", dir, pg)) {
            c.pg("INSERT INTO item (name) VALUES ('pg1'), ('pg2')");
            Client a = c.client("a", local);
            a.awaitSynced();
            List<Rejection> rejections = listen(a);
            for (int i = 0; i < 5; i++) {
                a.exec("INSERT INTO item (name) VALUES (?)", "a" + i);
                c.pg("INSERT INTO item (name) VALUES ('pg-" + i + "')");
            }
            a.awaitSynced();
            c.awaitConverged(q, a);
            assertEquals(12, a.rows(q).size());
            assertEquals(List.of(), rejections);
        }
    }

    /**
     * Columns PostgreSQL fills itself: a DEFAULT the client table does not have, and a generated column both
     * sides have (SQLite's STORED generated column too). Inserts from psql and from the client.
     */
    @Test
    void defaultAndGeneratedColumns() throws Exception {
        String pg = "CREATE TABLE line (id int PRIMARY KEY, qty int NOT NULL, price int NOT NULL,"
                + " total int GENERATED ALWAYS AS (qty * price) STORED, created timestamptz NOT NULL DEFAULT now(),"
                + " status text NOT NULL DEFAULT 'new')";
        String local = "CREATE TABLE line (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, price INTEGER NOT NULL,"
                + " total INTEGER GENERATED ALWAYS AS (qty * price) STORED, status TEXT NOT NULL DEFAULT 'new')";
        String q = "SELECT id, qty, price, total, status FROM line ORDER BY id";
        try (Cluster c = Cluster.start("pgr_generated", dir, pg)) {
            c.pg("INSERT INTO line (id, qty, price) VALUES (1, 2, 3)");
            Client a = c.client("a", local);
            a.awaitSynced();
            List<Rejection> rejections = listen(a);
            c.awaitConverged(q, a);
            a.exec("INSERT INTO line (id, qty, price) VALUES (2, 4, 5)");
            a.exec("UPDATE line SET qty = 10 WHERE id = 1");
            a.awaitSynced();
            c.pg("UPDATE line SET price = 7, status = 'paid' WHERE id = 2");
            a.awaitSynced();
            c.awaitConverged(q, a);
            assertEquals(List.of(row("id", 1, "qty", 10, "price", 3, "total", 30, "status", "new"),
                    row("id", 2, "qty", 4, "price", 7, "total", 28, "status", "paid")), a.rows(q));
            assertEquals(List.of(), rejections);
        }
    }

    /**
     * Enum, array, domain, numeric and timestamptz values written in psql; the client then edits another
     * column of the row; PostgreSQL's values must stay as psql wrote them.
     */
    @Test
    void typedValuesWrittenDirectlySurviveAClientEditOfAnotherColumn() throws Exception {
        String[] pg = {"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
                "CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
                "CREATE TABLE thing (id int PRIMARY KEY, m mood, tags text[], nums int[], p posint, amount numeric(12, 2),"
                        + " at timestamptz, note text)"};
        String local = "CREATE TABLE thing (id INTEGER PRIMARY KEY, m TEXT, tags TEXT, nums TEXT, p INTEGER, amount NUMERIC,"
                + " at TEXT, note TEXT)";
        String q = "SELECT id, m::text AS m, tags::text AS tags, nums::text AS nums, p::int AS p, amount::text AS amount,"
                + " at::text AS at, note FROM thing ORDER BY id";
        try (Cluster c = Cluster.start("pgr_types", dir, pg)) {
            Client a = c.client("a", local);
            a.awaitSynced();
            List<Rejection> rejections = listen(a);
            c.pg("INSERT INTO thing VALUES (1, 'happy', ARRAY['a b', 'c,d', NULL, '\"q\"'], '{1,2,3}', 5, 1234.50,"
                    + " '2026-03-01 10:00:00.123456+02', 'n')");
            Cluster.eventually(() -> a.rows("SELECT id FROM thing"), r -> r.size() == 1);
            List<Map<String, Object>> before = c.pgRows(q);
            a.exec("UPDATE thing SET note = 'edited' WHERE id = 1");
            a.awaitSynced();
            List<Map<String, Object>> after = c.pgRows(q);
            assertEquals("edited", after.get(0).get("note"));
            after.get(0).put("note", "n");
            assertEquals(before, after);
            // A client insert of a whole row copied from the one it received (as an app duplicating a record).
            a.exec("INSERT INTO thing SELECT 2, m, tags, nums, p, amount, at, 'copy' FROM thing WHERE id = 1");
            a.awaitSynced();
            List<Map<String, Object>> both = c.pgRows(q);
            assertEquals(2, both.size());
            Map<String, Object> copy = both.get(1);
            copy.put("id", 1L);
            copy.put("note", "n");
            assertEquals(before.get(0), copy);
            assertEquals(List.of(), rejections);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Merges with offline clients, cascades
    // ------------------------------------------------------------------------------------------------

    /** psql and an offline client edit different columns of one row: both edits survive everywhere. */
    @Test
    void directWriteAndOfflineClientEditOfOtherColumnsBothSurvive() throws Exception {
        try (Cluster c = Cluster.start("pgr_cols", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1)");
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            b.offline();
            c.pg("UPDATE note SET title = 'psql title' WHERE id = 1");
            c.awaitConverged(NOTES, a);
            b.exec("UPDATE note SET body = 'b body', n = n + 5 WHERE id = 1");
            b.online();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(row("id", 1, "title", "psql title", "body", "b body", "n", 6)), c.pgRows(NOTES));
        }
    }

    /** ON DELETE CASCADE fired by a psql delete (two levels), with an online and an offline client. */
    @Test
    void cascadeDeleteInPsqlReachesClients() throws Exception {
        String[] pg = {"CREATE TABLE list (id text PRIMARY KEY, name text)",
                "CREATE TABLE task (id text PRIMARY KEY, list_id text NOT NULL REFERENCES list (id) ON DELETE CASCADE, title text)",
                "CREATE TABLE sub (id text PRIMARY KEY, task_id text REFERENCES task (id) ON DELETE CASCADE, what text)"};
        String[] local = {"CREATE TABLE list (id TEXT PRIMARY KEY, name TEXT)",
                "CREATE TABLE task (id TEXT PRIMARY KEY, list_id TEXT NOT NULL REFERENCES list (id) ON DELETE CASCADE, title TEXT)",
                "CREATE TABLE sub (id TEXT PRIMARY KEY, task_id TEXT REFERENCES task (id) ON DELETE CASCADE, what TEXT)"};
        String all = "SELECT 'l' AS k, id, name AS v FROM list UNION ALL SELECT 't', id, title FROM task"
                + " UNION ALL SELECT 's', id, what FROM sub ORDER BY 1, 2";
        try (Cluster c = Cluster.start("pgr_cascade", dir, pg)) {
            c.pg("INSERT INTO list VALUES ('L1', 'one'), ('L2', 'two')",
                    "INSERT INTO task VALUES ('k1', 'L1', 'a'), ('k2', 'L1', 'b'), ('k3', 'L2', 'c')",
                    "INSERT INTO sub VALUES ('s1', 'k1', 'x'), ('s2', 'k3', 'y')");
            Client a = c.client("a", local);
            Client b = c.client("b", local);
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(all, a, b);
            b.offline();
            c.pg("DELETE FROM list WHERE id = 'L1'");
            c.awaitConverged(all, a);
            b.online();
            b.awaitSynced();
            c.awaitConverged(all, a, b);
            assertEquals(3, b.rows(all).size());
        }
    }

    private static final String[] PG_ACCT = {"CREATE TABLE acct (id int PRIMARY KEY, email text, locked boolean NOT NULL DEFAULT false,"
            + " touched int NOT NULL DEFAULT 0)",
            "CREATE FUNCTION acct_norm() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " IF NEW.email = 'spam' THEN RETURN NULL; END IF;"
                    + " IF TG_OP = 'UPDATE' AND OLD.locked THEN RETURN NULL; END IF;"
                    + " NEW.email := lower(NEW.email); NEW.touched := coalesce(NEW.touched, 0) + 1; RETURN NEW; END $$",
            "CREATE TRIGGER acct_norm BEFORE INSERT OR UPDATE ON acct FOR EACH ROW EXECUTE FUNCTION acct_norm()"};
    private static final String LOCAL_ACCT = "CREATE TABLE acct (id INTEGER PRIMARY KEY, email TEXT, locked BOOLEAN NOT NULL DEFAULT 0,"
            + " touched INTEGER NOT NULL DEFAULT 0)";
    private static final String ACCTS = "SELECT id, email, locked, touched FROM acct ORDER BY id";

    /**
     * A PostgreSQL BEFORE trigger rewrites a client's values (lower-cases an e-mail, counts the writes in a
     * column the client does not set): the clients get PostgreSQL's values.
     */
    @Test
    void postgresBeforeTriggerRewritingAClientsValues() throws Exception {
        try (Cluster c = Cluster.start("pgr_before_norm", dir, PG_ACCT)) {
            Client a = c.client("a", LOCAL_ACCT);
            Client b = c.client("b", LOCAL_ACCT);
            a.awaitSynced();
            b.awaitSynced();
            a.exec("INSERT INTO acct (id, email) VALUES (1, 'Ann@Example.COM')");
            a.awaitSynced();
            c.awaitConverged(ACCTS, a, b);
            a.exec("UPDATE acct SET email = 'ANN@x.org' WHERE id = 1");
            a.awaitSynced();
            c.awaitConverged(ACCTS, a, b);
            assertEquals(List.of(row("id", 1, "email", "ann@x.org", "locked", 0, "touched", 2)), a.rows(ACCTS));
        }
    }

    /**
     * A PostgreSQL BEFORE INSERT trigger skips a client's row (RETURN NULL: a filter, as a validation trigger
     * might be written). PostgreSQL has no such row, so the writing client must not keep it either.
     */
    @Test
    void clientInsertSkippedByAPostgresBeforeTrigger() throws Exception {
        try (Cluster c = Cluster.start("pgr_before_skip", dir, PG_ACCT)) {
            Client a = c.client("a", LOCAL_ACCT);
            Client b = c.client("b", LOCAL_ACCT);
            a.awaitSynced();
            b.awaitSynced();
            a.exec("INSERT INTO acct (id, email) VALUES (1, 'ok@x.org')");
            a.exec("INSERT INTO acct (id, email) VALUES (2, 'spam')");
            a.awaitSynced();
            c.awaitConverged(ACCTS, b);
            assertEquals(List.of(row("id", 1, "email", "ok@x.org", "locked", 0, "touched", 1)), c.pgRows(ACCTS));
            c.awaitConverged(ACCTS, a); // fails now: a keeps row 2 for good
        }
    }

    /**
     * A PostgreSQL BEFORE UPDATE trigger cancels a client's update of a locked row (RETURN NULL). PostgreSQL keeps
     * the old value, so the writing client must get it back.
     */
    @Test
    void clientUpdateCancelledByAPostgresBeforeTrigger() throws Exception {
        try (Cluster c = Cluster.start("pgr_before_cancel", dir, PG_ACCT)) {
            c.pg("INSERT INTO acct (id, email, locked) VALUES (1, 'old@x.org', true)");
            Client a = c.client("a", LOCAL_ACCT);
            Client b = c.client("b", LOCAL_ACCT);
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(ACCTS, a, b);
            a.exec("UPDATE acct SET email = 'new@x.org' WHERE id = 1");
            a.awaitSynced();
            assertEquals(List.of(row("id", 1, "email", "old@x.org", "locked", 1, "touched", 1)), c.pgRows(ACCTS));
            c.awaitConverged(ACCTS, a, b); // fails now: a keeps new@x.org for good
        }
    }

    /** An offline client and psql insert the same key with different values: both sides converge. */
    @Test
    void offlineClientInsertAndDirectInsertOfTheSameKey() throws Exception {
        try (Cluster c = Cluster.start("pgr_samekey", dir, PG_NOTE)) {
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.awaitSynced();
            b.awaitSynced();
            b.offline();
            b.exec("INSERT INTO note VALUES (1, 'from b', 'b body', NULL)");
            c.pg("INSERT INTO note VALUES (1, 'from psql', NULL, 5)");
            c.awaitConverged(NOTES, a);
            b.online();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(1, c.pgRows(NOTES).size());
        }
    }

    /**
     * A psql transaction holds a row lock (it updated one column) while a client updates another column of the
     * same row; psql commits a few seconds later. Both edits must survive.
     */
    @Test
    void clientEditWaitingBehindAnOpenPsqlTransactionOnTheSameRow() throws Exception {
        try (Cluster c = Cluster.start("pgr_lockwait", dir, PG_NOTE)) {
            c.pg("INSERT INTO note VALUES (1, 'one', 'b1', 1)");
            Client a = c.client("a", LOCAL_NOTE);
            Client b = c.client("b", LOCAL_NOTE);
            a.awaitSynced();
            b.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            List<Rejection> rejections = listen(a, b);
            try (Connection longTx = c.pg()) {
                longTx.setAutoCommit(false);
                try (Statement st = longTx.createStatement()) {
                    st.execute("UPDATE note SET title = 'psql' WHERE id = 1");
                }
                a.exec("UPDATE note SET body = 'a body' WHERE id = 1");
                Thread.sleep(2000); // the relay's apply waits on the row lock meanwhile
                longTx.commit();
            }
            a.awaitSynced();
            c.awaitConverged(NOTES, a, b);
            assertEquals(List.of(row("id", 1, "title", "psql", "body", "a body", "n", 1)), c.pgRows(NOTES));
            assertEquals(List.of(), rejections);
        }
    }
}
