package io.syncsqlite.driver.sql;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The INSERT rewrite that supplies integer keys, checked by running every rewritten statement on a real
 * SQLite file through plain sqlite-jdbc and reading back which keys the rows got.
 */
class KeyRewriterTest {

    private static final List<String> COLUMNS = List.of("id", "name", "qty");

    @TempDir
    Path dir;
    private Connection db;

    @BeforeEach
    void open() throws SQLException {
        db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("k.db"));
        try (Statement st = db.createStatement()) {
            st.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty INTEGER DEFAULT 0)");
        }
    }

    @AfterEach
    void close() throws SQLException {
        db.close();
    }

    private static KeyRewriter.KeyedInsert rewrite(String sql) throws SQLException {
        return KeyRewriter.rewrite(sql, "id", COLUMNS);
    }

    /** Prepares the rewrite, binds the application's values then the keys, runs it. */
    private void run(KeyRewriter.KeyedInsert k, List<Object> appValues, long... keys) throws SQLException {
        try (PreparedStatement ps = db.prepareStatement(k.preparedSql())) {
            for (int i = 0; i < appValues.size(); i++) {
                ps.setObject(i + 1, appValues.get(i));
            }
            for (int r = 0; r < keys.length; r++) {
                ps.setLong(k.keyParameter(r), keys[r]);
            }
            ps.executeUpdate();
        }
    }

    private List<String> rows() throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT id, name, qty FROM item ORDER BY id")) {
            while (rs.next()) {
                out.add(rs.getLong(1) + ":" + rs.getString(2) + ":" + rs.getObject(3));
            }
        }
        return out;
    }

    @Test
    void hibernateIdentityInsertGetsTheKeyAppended() throws SQLException {
        KeyRewriter.KeyedInsert k = rewrite("insert into item (name, qty) values (?, ?)");
        assertEquals("insert into item (name, qty, \"id\") values (?1, ?2, ?3)", k.preparedSql());
        assertEquals(1, k.keys());
        run(k, List.of("a", 5), 1001);
        assertEquals(List.of("1001:a:5"), rows());
        try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT last_insert_rowid()")) {
            rs.next();
            assertEquals(1001, rs.getLong(1), "the application reads the supplied key as the generated one");
        }
    }

    @Test
    void multiRowValuesGetOneKeyPerRowAndParametersKeepTheirIndexes() throws SQLException {
        KeyRewriter.KeyedInsert k = rewrite("INSERT INTO item(name, qty) VALUES (?, ?), (?, 7), ('lit?', ?)");
        assertEquals(3, k.keys());
        assertEquals(4, k.appParameters());
        run(k, List.of("a", 1, "b", 3), 10, 11, 12);
        assertEquals(List.of("10:a:1", "11:b:7", "12:lit?:3"), rows());
    }

    @Test
    void nullKeyLiteralBecomesAParameter() throws SQLException {
        KeyRewriter.KeyedInsert k = rewrite("INSERT INTO item (id, name) VALUES (NULL, ?)");
        assertEquals("INSERT INTO item (id, name) VALUES (?2, ?1)", k.preparedSql());
        run(k, List.of("x"), 77);
        KeyRewriter.KeyedInsert noList = rewrite("insert into item values (null, 'y', 2)");
        run(noList, List.of(), 78);
        assertEquals(List.of("77:x:0", "78:y:2"), rows());
    }

    @Test
    void upsertReturningCommentsAndQuotedNamesAreKept() throws SQLException {
        run(rewrite("INSERT INTO item (name) VALUES ('a')"), List.of(), 5);
        KeyRewriter.KeyedInsert k = rewrite("/* ? */ INSERT INTO \"item\" AS i (\"name\", qty) -- why?\n"
                + "VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET qty = i.qty + ? RETURNING id");
        try (PreparedStatement ps = db.prepareStatement(k.preparedSql())) {
            ps.setString(1, "a");
            ps.setInt(2, 1);
            ps.setInt(3, 40);
            ps.setLong(k.keyParameter(0), 6);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertEquals(5, rs.getLong(1), "the conflicting row keeps its key");
            }
        }
        assertEquals(List.of("5:a:40"), rows());
    }

    @Test
    void defaultValuesAndWithAndOrReplace() throws SQLException {
        run(rewrite("INSERT INTO item DEFAULT VALUES"), List.of(), 30);
        run(rewrite("INSERT OR REPLACE INTO main.item (name) VALUES (?)"), List.of("r"), 31);
        run(rewrite("REPLACE INTO item (name) VALUES ('s')"), List.of(), 32);
        assertEquals(List.of("30:null:0", "31:r:0", "32:s:0"), rows());
    }

    @Test
    void literalKeysForPlainStatements() throws SQLException {
        KeyRewriter.KeyedInsert k = rewrite("INSERT INTO item (name) VALUES ('a'), ('b')");
        try (Statement st = db.createStatement()) {
            st.executeUpdate(k.withKeys(new long[] {900, 901}));
        }
        assertEquals(List.of("900:a:0", "901:b:0"), rows());
    }

    @Test
    void statementsThatGiveTheKeyAreLeftAlone() throws SQLException {
        assertNull(rewrite("INSERT INTO item (ID, name) VALUES (5, 'x')"));
        assertNull(rewrite("INSERT INTO item (id, name) SELECT 1, 'x'"));
        assertNull(rewrite("INSERT INTO item SELECT * FROM item"));
    }

    @Test
    void formsThatCannotGetKeysRowByRowAreRefused() {
        for (String sql : List.of("INSERT INTO item (name) SELECT name FROM other",
                "WITH n(x) AS (SELECT 1) INSERT INTO item (name) VALUES ('a')",
                "INSERT INTO item (name) VALUES (:name)",
                "INSERT INTO item (name, qty) VALUES (?, ?2)")) {
            SQLException e = assertThrows(SQLException.class, () -> rewrite(sql), sql);
            assertEquals("0A000", e.getSQLState(), sql);
        }
    }

    /**
     * A key bound as a parameter is the application's, unless it is bound NULL (jOOQ's values(null, ...)): then
     * SQLite would pick max(rowid) + 1, the same on two devices, so the driver's key goes in instead.
     */
    @Test
    void aKeyBoundAsAParameterIsTheApplicationsUnlessBoundNull() throws SQLException {
        KeyRewriter.KeyedInsert k = rewrite("INSERT INTO item (id, name) VALUES (?, ?)");
        assertEquals("INSERT INTO item (id, name) VALUES (coalesce(?1, ?3), ?2)", k.preparedSql());
        assertEquals(List.of(1), k.guards());
        try (PreparedStatement ps = db.prepareStatement(k.preparedSql())) {
            ps.setLong(1, 7);
            ps.setString(2, "given");
            ps.setNull(3, java.sql.Types.BIGINT);
            ps.executeUpdate();
            ps.setNull(1, java.sql.Types.BIGINT);
            ps.setString(2, "bound null");
            ps.setLong(3, 40);
            ps.executeUpdate();
        }
        assertEquals(List.of("7:given:0", "40:bound null:0"), rows());

        KeyRewriter.KeyedInsert all = rewrite("INSERT INTO item VALUES (?, ?, ?)");
        assertEquals("INSERT INTO item VALUES (coalesce(?1, ?4), ?2, ?3)", all.preparedSql());
        KeyRewriter.KeyedInsert two = rewrite("INSERT INTO item (name, id) VALUES (?, ?), ('x', NULL), (?, ?)");
        assertEquals("INSERT INTO item (name, id) VALUES (?1, coalesce(?2, ?5)), ('x', ?6), (?3, coalesce(?4, ?7))",
                two.preparedSql());
        assertEquals(List.of(2, 0, 4), two.guards());
    }

    @Test
    void numberedParametersKeepTheirNumbers() throws SQLException {
        KeyRewriter.KeyedInsert k = rewrite("INSERT INTO item (qty, name) VALUES (?2, ?1)");
        assertEquals("INSERT INTO item (qty, name, \"id\") VALUES (?2, ?1, ?3)", k.preparedSql());
        run(k, List.of("n", 4), 3);
        assertEquals(List.of("3:n:4"), rows());
    }
}
