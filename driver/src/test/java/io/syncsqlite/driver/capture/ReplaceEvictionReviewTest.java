package io.syncsqlite.driver.capture;

import static io.syncsqlite.driver.capture.ReplaceEvictionTest.exec;
import static io.syncsqlite.driver.capture.ReplaceEvictionTest.mark;
import static io.syncsqlite.driver.capture.ReplaceEvictionTest.query;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of REPLACE evictions (commit a2b15cf). The oracle throughout: starting from the keys a table held
 * before a statement, replaying what the driver captured afterwards (op 1/2: the key exists, op 3: it is
 * gone) must give exactly the keys the table holds now (no missed delete, no phantom delete), and the
 * {@code _sync_replacing} flag must be empty between statements. Key column is always the first, "id".
 * The first run failed 14 of 22: missed deletes (Statement batches, RETURNING in a transaction, a table
 * created in the same transaction, a unique index created later, an application trigger's inner insert, a
 * long WITH clause) and phantom deletes (an upsert clause after OR REPLACE, RAISE(IGNORE), a dropped
 * index); 3 remain known limits.
 */
class ReplaceEvictionReviewTest {

    @TempDir
    Path dir;

    private Connection open() throws SQLException {
        return DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("app.db") + "?sync.lingerMs=0");
    }

    private Connection raw() throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
    }

    /** The keys of {@code table} now. */
    private static TreeSet<String> keys(Connection c, String table) throws SQLException {
        return new TreeSet<>(query(c, "SELECT id FROM \"" + table + "\""));
    }

    /** What the driver captured for {@code table} after {@code mark}, as "op key". */
    private static List<String> captured(Connection c, String table, long mark) throws SQLException {
        return query(c, "SELECT op, coalesce(json_extract(pk, '$.id'), v0, json_extract(vals, '$.id')) FROM _sync_outbox"
                + " WHERE seq > " + mark + " AND tbl = '" + table + "' ORDER BY seq");
    }

    /** A snapshot of one table before a statement: its keys and the outbox position. */
    private record Before(String table, TreeSet<String> keys, long mark) {
    }

    private static Before before(Connection c, String table) throws SQLException {
        return new Before(table, keys(c, table), mark(c));
    }

    /** Replays what was captured since {@code b} over its keys and compares with the table. */
    private static void assertReplays(Connection c, Before b, String what) throws SQLException {
        TreeSet<String> replay = new TreeSet<>(b.keys());
        List<String> ops = captured(c, b.table(), b.mark());
        for (String op : ops) {
            String[] p = op.split(" ", 2);
            if (p[0].equals("3")) {
                replay.remove(p[1]);
            } else {
                replay.add(p[1]);
            }
        }
        assertEquals(keys(c, b.table()), replay, what + ": the captured ops " + ops + " over the keys before "
                + b.keys() + " must give the table's keys now (" + b.table() + ")");
        assertEquals(List.of("0"), query(c, "SELECT count(*) FROM _sync_replacing"), what + ": the flag is cleared");
    }

    private static final String USERS = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT)";

    // ---------------------------------------------------------------- entry points that do not set the flag

    /** {@code Statement.addBatch} of an INSERT OR REPLACE that evicts u1 through email: u1's delete is captured. */
    @Test
    void aStatementBatchOfReplaceCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            try (Statement st = c.createStatement()) {
                st.addBatch("INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
                st.executeBatch();
            }
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "Statement.executeBatch of INSERT OR REPLACE");
        }
    }

    /** A prepared REPLACE batch in auto-commit mode, the second entry evicting the first one's row and u1. */
    @Test
    void aPreparedReplaceBatchCapturesEveryEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, phone TEXT UNIQUE)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'p1')");
            Before b = before(c, "users");
            try (PreparedStatement ps = c.prepareStatement("REPLACE INTO users VALUES (?, ?, ?)")) {
                ps.setString(1, "u2"); ps.setString(2, "y@e"); ps.setString(3, "p2"); ps.addBatch();
                ps.setString(1, "u3"); ps.setString(2, "y@e"); ps.setString(3, "p1"); ps.addBatch();
                ps.executeBatch();
            }
            assertEquals(List.of("u3"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "prepared REPLACE batch");
        }
    }

    /**
     * The same prepared REPLACE batch in a file where some unrelated application trigger says ROLLBACK:
     * {@code runBatch} then runs the batch unwrapped, and must still capture the evictions.
     */
    @Disabled("Known limit (DESIGN.md, known limits, REPLACE): such a batch runs unwrapped in auto-commit mode, where the eviction flag would be seen by every connection")
    @Test
    void aPreparedReplaceBatchInAFileWhoseSchemaSaysRollbackCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT)",
                    "CREATE TRIGGER audit_keep BEFORE DELETE ON audit BEGIN SELECT RAISE(ROLLBACK, 'kept'); END",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO users VALUES (?, ?, ?)")) {
                ps.setString(1, "u2"); ps.setString(2, "x@e"); ps.setString(3, "Bob"); ps.addBatch();
                ps.executeBatch();
            }
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "prepared REPLACE batch, schema says ROLLBACK");
        }
    }

    /** INSERT OR REPLACE ... RETURNING through executeQuery inside a JDBC transaction (documented as covered). */
    @Test
    void aReplaceReturningQueryInsideATransactionCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob') RETURNING id");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertEquals("u2", rs.getString(1));
            }
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "executeQuery of INSERT OR REPLACE ... RETURNING in a transaction");
        }
    }

    /** Two statements in one execute, the first an INSERT OR REPLACE that evicts u1. */
    @Test
    void aReplaceFollowedByAnotherStatementInOneExecuteCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "CREATE TABLE other (id INTEGER PRIMARY KEY)", "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            try (Statement st = c.createStatement()) {
                st.executeUpdate("INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob'); INSERT INTO other VALUES (1)");
            }
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "two statements in one executeUpdate");
        }
    }

    /** A short CTE before INSERT OR REPLACE is classified as REPLACE: eviction captured. */
    @Test
    void aShortWithBeforeInsertOrReplaceCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            exec(c, "WITH v (a, b, c) AS (VALUES ('u2', 'x@e', 'Bob')) INSERT OR REPLACE INTO users SELECT a, b, c FROM v");
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "short WITH ... INSERT OR REPLACE");
        }
    }

    /** A CTE longer than the classifier's 48 head tokens before INSERT OR REPLACE: eviction still captured. */
    @Test
    void aLongWithBeforeInsertOrReplaceCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            StringBuilder rows = new StringBuilder("('u2', 'x@e', 'Bob')");
            for (int i = 3; i < 12; i++) {
                rows.append(", ('u").append(i).append("', 'e").append(i).append("', 'n')");
            }
            exec(c, "WITH v (a, b, c) AS (VALUES " + rows + ") INSERT OR REPLACE INTO users SELECT a, b, c FROM v");
            assertEquals(10, keys(c, "users").size());
            assertReplays(c, b, "long WITH ... INSERT OR REPLACE");
        }
    }

    /** CREATE TABLE and a REPLACE that evicts in one application transaction: the eviction is captured. */
    @Test
    void aReplaceInTheTransactionThatCreatedTheTableCapturesTheEviction() throws SQLException {
        try (Connection c = open()) {
            c.setAutoCommit(false);
            exec(c, USERS, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')",
                    "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            c.commit();
            c.setAutoCommit(true);
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, new Before("users", new TreeSet<>(), 0), "CREATE TABLE + REPLACE in one transaction");
        }
    }

    // ---------------------------------------------------------------- schema changes after the table was synced

    /** A unique index created after the table was synced, then a REPLACE through it: the eviction is captured. */
    @Test
    void aUniqueIndexCreatedAfterSyncingIsFollowed() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')",
                    "CREATE UNIQUE INDEX users_email ON users (email)");
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "REPLACE through a unique index created after syncing");
        }
    }

    /** The same after reopening the file: the installer's drift check adds the eviction triggers. */
    @Test
    void aUniqueIndexCreatedAfterSyncingIsFollowedAfterReopening() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')",
                    "CREATE UNIQUE INDEX users_email ON users (email)");
        }
        try (Connection c = open()) {
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            assertEquals(List.of("u2"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "REPLACE through a unique index created before reopening");
        }
    }

    /**
     * A unique index dropped after syncing (the file reopened in between, so its eviction triggers are
     * installed): two rows may now share the value and a REPLACE evicts neither, so no delete may be captured.
     */
    @Test
    void aDroppedUniqueIndexCapturesNoPhantomDeletes() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT)",
                    "CREATE UNIQUE INDEX users_email ON users (email)");
        }
        try (Connection c = open()) {
            assertEquals(List.of("1"), query(c, "SELECT count(*) FROM sqlite_schema WHERE name = '_sync_evi_users'"),
                    "precondition: the eviction trigger is installed");
            exec(c, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')",
                    "DROP INDEX users_email",
                    "INSERT INTO users VALUES ('u2', 'x@e', 'Bob')");
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u3', 'x@e', 'Cid')");
            assertEquals(List.of("u1", "u2", "u3"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "REPLACE after the unique index was dropped");
        }
    }

    // ---------------------------------------------------------------- REPLACE that does not evict after all

    /**
     * An application BEFORE INSERT trigger that skips the row (RAISE(IGNORE)), created before the file was
     * first opened through the driver: SQLite evicts nothing, so no delete may be captured.
     */
    @Test
    void anApplicationTriggerThatSkipsTheRowCapturesNoPhantomDelete() throws SQLException {
        try (Connection r = raw()) {
            exec(r, USERS, "CREATE TRIGGER skip_bob BEFORE INSERT ON users WHEN NEW.name = 'Bob' BEGIN SELECT RAISE(IGNORE); END",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
        }
        try (Connection c = open()) {
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            assertEquals(List.of("u1"), List.copyOf(keys(c, "users")), "SQLite skipped the row");
            assertReplays(c, b, "REPLACE skipped by the application's RAISE(IGNORE)");
        }
    }

    /**
     * An application BEFORE INSERT trigger that skips the row (RAISE(IGNORE)), created through the driver;
     * then ALTER TABLE ADD COLUMN makes the driver rewrite its triggers. SQLite evicts nothing: no delete.
     */
    @Test
    void anApplicationTriggerThatSkipsTheRowAfterTheCaptureTriggersWereRewritten() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "CREATE TRIGGER skip_bob BEFORE INSERT ON users WHEN NEW.name = 'Bob' BEGIN SELECT RAISE(IGNORE); END",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob')");
            assertReplays(c, b, "REPLACE skipped by RAISE(IGNORE), trigger created after capture");
            exec(c, "ALTER TABLE users ADD COLUMN note TEXT");
            b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u3', 'x@e', 'Bob', NULL)");
            assertEquals(List.of("u1"), List.copyOf(keys(c, "users")), "SQLite skipped the row");
            assertReplays(c, b, "REPLACE skipped by RAISE(IGNORE), capture triggers rewritten by ADD COLUMN");
        }
    }

    /** INSERT OR REPLACE with an upsert clause on the conflicting column: the upsert wins, nothing is evicted. */
    @Test
    void insertOrReplaceWithAnUpsertClauseCapturesNoPhantomDelete() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'x@e', 'Bob') ON CONFLICT (email) DO NOTHING");
            assertEquals(List.of("u1"), List.copyOf(keys(c, "users")), "the upsert clause resolved the conflict");
            assertReplays(c, b, "INSERT OR REPLACE ... ON CONFLICT DO NOTHING");
        }
    }

    /**
     * An application trigger that upserts (ON CONFLICT DO NOTHING) into another synced table with a unique
     * key, fired by a REPLACE: the flag is on, but the inner upsert evicts nothing.
     */
    @Test
    void anApplicationTriggersUpsertIntoAnotherTableCapturesNoPhantomDelete() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "CREATE TABLE tags (id TEXT PRIMARY KEY, code TEXT UNIQUE)",
                    "CREATE TRIGGER tag_user AFTER INSERT ON users BEGIN"
                            + " INSERT INTO tags VALUES ('t-' || NEW.id, NEW.name) ON CONFLICT (code) DO NOTHING; END",
                    "INSERT INTO tags VALUES ('t0', 'Bob')");
            Before b = before(c, "tags");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u2', 'y@e', 'Bob')");
            assertEquals(List.of("t0"), List.copyOf(keys(c, "tags")));
            assertReplays(c, b, "trigger's upsert under an outer REPLACE");
        }
    }

    /**
     * A REPLACE on a table without unique keys whose application trigger inserts into a table with one:
     * SQLite applies the outer OR REPLACE to the trigger's INSERT, which then evicts; compared with the table.
     */
    @Test
    void aReplaceWhoseApplicationTriggerEvictsInAnotherTableIsCaptured() throws SQLException {
        try (Connection c = open()) {
            exec(c, USERS, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
                    "CREATE TRIGGER note_user AFTER INSERT ON notes BEGIN"
                            + " INSERT INTO users VALUES ('n' || NEW.id, 'x@e', NEW.body); END",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            try {
                exec(c, "INSERT OR REPLACE INTO notes VALUES (1, 'hi')");
            } catch (SQLException e) {
                // SQLite refused the inner insert: nothing happened, the oracle below still holds
            }
            assertReplays(c, b, "an outer REPLACE on a table without unique keys, evicting through its trigger");
        }
    }

    /** A keyless REPLACE into an integer-keyed table whose evicted row has id -1. */
    @Disabled("Known limit (DESIGN.md, known limits, REPLACE): a keyless insert has NEW.id -1 in a BEFORE trigger, so a row with key -1 counts as the new row itself")
    @Test
    void aKeylessReplaceEvictingTheRowWithIdMinusOneIsCaptured() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE item (id INTEGER PRIMARY KEY, code TEXT UNIQUE)", "INSERT INTO item VALUES (-1, 'a')");
            Before b = before(c, "item");
            exec(c, "INSERT OR REPLACE INTO item (code) VALUES ('a')");
            assertEquals(1, keys(c, "item").size());
            assertReplays(c, b, "keyless REPLACE evicting id -1");
        }
    }

    // ---------------------------------------------------------------- comparisons

    /** Type affinity: '5' into an INTEGER unique column is 5 and evicts; into an untyped one it is not 5. */
    @Test
    void affinityDecidesWhatIsEvicted() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE n (id INTEGER PRIMARY KEY, num INTEGER UNIQUE, any UNIQUE)",
                    "INSERT INTO n VALUES (1, 5, 7), (2, 6, 8)");
            Before b = before(c, "n");
            exec(c, "INSERT OR REPLACE INTO n VALUES (3, '5', '7')");
            assertEquals(List.of("2", "3"), List.copyOf(keys(c, "n")));
            assertReplays(c, b, "INSERT OR REPLACE with text into INTEGER and untyped unique columns");
            b = before(c, "n");
            exec(c, "UPDATE OR REPLACE n SET num = '6' WHERE id = 3");
            assertEquals(List.of("3"), List.copyOf(keys(c, "n")));
            assertReplays(c, b, "UPDATE OR REPLACE with text into an INTEGER unique column");
        }
    }

    /** A WITHOUT ROWID table, a NOCASE column, a composite key with NULLs (which never conflict). */
    @Test
    void withoutRowidNocaseColumnAndCompositeKeyWithNulls() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE slot (id TEXT PRIMARY KEY, room TEXT, hour INTEGER, tag TEXT COLLATE NOCASE UNIQUE,"
                            + " UNIQUE (room, hour)) WITHOUT ROWID",
                    "INSERT INTO slot VALUES ('a', 'A', NULL, 'x'), ('b', 'A', NULL, 'Y'), ('c', 'B', 1, 'z')");
            Before b = before(c, "slot");
            exec(c, "INSERT OR REPLACE INTO slot VALUES ('d', 'A', NULL, 'y')");
            assertEquals(List.of("a", "c", "d"), List.copyOf(keys(c, "slot")));
            assertReplays(c, b, "NOCASE eviction, NULLs in a composite key");
            b = before(c, "slot");
            exec(c, "UPDATE OR REPLACE slot SET room = 'B', hour = 1 WHERE id = 'a'");
            assertEquals(List.of("a", "d"), List.copyOf(keys(c, "slot")));
            assertReplays(c, b, "UPDATE OR REPLACE through a composite key");
        }
    }

    /** Multi-row VALUES and INSERT ... SELECT, one row conflicting with several rows through several keys. */
    @Test
    void multiRowAndSelectReplacesThroughSeveralKeys() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, phone TEXT UNIQUE)",
                    "INSERT INTO users VALUES ('u1', 'x', 'p1'), ('u2', 'y', 'p2'), ('u3', 'z', 'p3')");
            Before b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u4', 'x', 'p2'), ('u5', 'z', 'p4'), ('u6', 'w', 'p4')");
            assertEquals(List.of("u4", "u6"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "multi-row INSERT OR REPLACE");
            b = before(c, "users");
            exec(c, "INSERT OR REPLACE INTO users SELECT 'u7', email, 'p9' FROM users WHERE id = 'u6'");
            assertEquals(List.of("u4", "u7"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "INSERT OR REPLACE ... SELECT");
            b = before(c, "users");
            exec(c, "UPDATE OR REPLACE users SET id = 'u8', email = 'x' WHERE id = 'u7'");
            assertEquals(List.of("u8"), List.copyOf(keys(c, "users")));
            assertReplays(c, b, "UPDATE OR REPLACE changing the key and taking a unique value");
            exec(c, "INSERT INTO users VALUES ('u1', 'a', 'q1'), ('u2', 'b', 'q2'), ('u3', 'c', 'q3')");
            b = before(c, "users");
            exec(c, "UPDATE OR REPLACE users SET phone = 'same' WHERE id IN ('u1', 'u2', 'u3')");
            assertEquals(1 + 1, keys(c, "users").size());
            assertReplays(c, b, "UPDATE OR REPLACE of several rows onto one value");
        }
    }

    // ---------------------------------------------------------------- the flag

    /**
     * The flag never outlives its statement: after a failing REPLACE in a savepoint, a rolled-back one, a
     * failing batch and a committed one, non-REPLACE statements that meet the same conflict capture nothing.
     */
    @Test
    void theFlagDoesNotLeakIntoLaterStatements() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL)",
                    "INSERT INTO users VALUES ('u1', 'x@e', 'Ann')");
            Before b = before(c, "users");
            c.setAutoCommit(false);
            exec(c, "SAVEPOINT s");
            assertThrows(SQLException.class, () -> exec(c, "REPLACE INTO users VALUES ('u2', 'x@e', NULL)"));
            exec(c, "INSERT OR REPLACE INTO users VALUES ('u3', 'x@e', 'Cid')", "ROLLBACK TO s", "RELEASE s");
            exec(c, "INSERT OR IGNORE INTO users VALUES ('u4', 'x@e', 'Dan')");
            c.rollback();
            c.setAutoCommit(true);
            try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO users VALUES (?, ?, ?)")) {
                ps.setString(1, "u5"); ps.setString(2, "y@e"); ps.setString(3, "Eve"); ps.addBatch();
                ps.setString(1, "u6"); ps.setString(2, "x@e"); ps.setNull(3, java.sql.Types.VARCHAR); ps.addBatch();
                assertThrows(SQLException.class, ps::executeBatch);
            }
            exec(c, "INSERT OR IGNORE INTO users VALUES ('u7', 'x@e', 'Gus')",
                    "INSERT INTO users VALUES ('u8', 'y@e', 'Hal') ON CONFLICT (email) DO UPDATE SET name = excluded.name");
            assertReplays(c, b, "statements after failing and rolled-back REPLACEs");
        }
    }

    /** Classification: the word replace as a function, a table, a column, in a comment, is no REPLACE. */
    @Test
    void theWordReplaceElsewhereIsNoReplace() throws SQLException {
        try (Connection c = open()) {
            exec(c, "CREATE TABLE \"replace\" (id TEXT PRIMARY KEY, \"replace\" TEXT UNIQUE)",
                    "INSERT INTO \"replace\" VALUES ('r1', 'x')");
            Before b = before(c, "replace");
            exec(c, "INSERT OR IGNORE INTO replace VALUES ('r2', 'x')",
                    "/* REPLACE INTO */ INSERT OR IGNORE INTO replace (id, replace) SELECT 'r3', replace('y', 'y', 'x')",
                    "INSERT OR IGNORE INTO replace -- OR REPLACE\n VALUES ('r4', 'x')",
                    "UPDATE OR IGNORE replace SET replace = 'x' WHERE id = 'r5'");
            assertEquals(List.of("x"), query(c, "SELECT replace('y', 'y', 'x')"));
            assertEquals(List.of("r1"), List.copyOf(keys(c, "replace")));
            assertReplays(c, b, "the word replace outside a conflict clause");
            exec(c, "REPLACE INTO \"replace\" VALUES ('r6', 'x')");
            assertReplays(c, b, "REPLACE INTO a table named replace");
        }
    }
}
