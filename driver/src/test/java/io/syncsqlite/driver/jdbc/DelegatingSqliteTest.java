package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConnection;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.JDBCType;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The plain delegation layer over a real sqlite-jdbc connection to a file: behaviour is sqlite-jdbc's. */
class DelegatingSqliteTest {

    @TempDir
    Path dir;

    private Connection raw;
    private DelegatingConnection wrapper;

    @BeforeEach
    void open() throws SQLException {
        raw = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("delegating.db"));
        wrapper = new DelegatingConnection(raw);
        try (Statement statement = wrapper.createStatement()) {
            statement.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)");
        }
    }

    @AfterEach
    void close() throws SQLException {
        wrapper.close();
        assertTrue(raw.isClosed());
    }

    @Test
    void writesAndReadsThroughTheWrappers() throws SQLException {
        try (PreparedStatement insert = wrapper.prepareStatement("INSERT INTO item (name, qty) VALUES (?, ?)")) {
            assertInstanceOf(DelegatingPreparedStatement.class, insert);
            assertSame(wrapper, insert.getConnection());

            insert.setString(1, "apple");
            insert.setInt(2, 3);
            assertEquals(1, insert.executeUpdate());

            insert.setString(1, "pear");
            insert.setInt(2, 5);
            assertEquals(1L, insert.executeLargeUpdate());

            insert.setString(1, "plum");
            insert.setInt(2, 1);
            insert.addBatch();
            insert.setString(1, "fig");
            insert.setInt(2, 2);
            insert.addBatch();
            assertArrayEquals(new int[]{1, 1}, insert.executeBatch());
        }

        try (Statement statement = wrapper.createStatement()) {
            assertEquals(2L, statement.executeLargeUpdate("UPDATE item SET qty = qty + 10 WHERE qty < 3"));

            statement.addBatch("INSERT INTO item (name, qty) VALUES ('kiwi', 4)");
            statement.addBatch("DELETE FROM item WHERE name = 'fig'");
            assertArrayEquals(new long[]{1L, 1L}, statement.executeLargeBatch());

            try (ResultSet rs = statement.executeQuery("SELECT name, qty FROM item ORDER BY id")) {
                assertInstanceOf(DelegatingResultSet.class, rs);
                assertSame(statement, rs.getStatement());
                assertSame(wrapper, rs.getStatement().getConnection());
                assertEquals(2, rs.getMetaData().getColumnCount());

                StringBuilder rows = new StringBuilder();
                while (rs.next()) {
                    rows.append(rs.getString("name")).append('=').append(rs.getInt(2)).append(' ');
                }
                assertEquals("apple=3 pear=5 plum=11 kiwi=4 ", rows.toString());
            }
        }
    }

    @Test
    void generatedKeysComeBackWrapped() throws SQLException {
        try (PreparedStatement insert = wrapper.prepareStatement(
                "INSERT INTO item (name, qty) VALUES (?, 1)", Statement.RETURN_GENERATED_KEYS)) {
            insert.setString(1, "a");
            insert.executeUpdate();
            insert.setString(1, "b");
            insert.executeUpdate();
            try (ResultSet keys = insert.getGeneratedKeys()) {
                assertInstanceOf(DelegatingResultSet.class, keys);
                // sqlite-jdbc answers an internal statement here; the wrapper answers itself
                assertNotSame(raw, keys.getStatement().getConnection());
                assertSame(insert, keys.getStatement());
                assertTrue(keys.next());
                assertEquals(2L, keys.getLong(1));
            }
        }
        try (Statement statement = wrapper.createStatement()) {
            statement.executeUpdate("INSERT INTO item (name) VALUES ('c')", Statement.RETURN_GENERATED_KEYS);
            try (ResultSet keys = statement.getGeneratedKeys()) {
                assertSame(statement, keys.getStatement());
                assertTrue(keys.next());
                assertEquals(3L, keys.getLong(1));
            }
        }
    }

    @Test
    void metaDataAndItsResultSetsLeadBackToTheWrapper() throws SQLException {
        DatabaseMetaData metaData = wrapper.getMetaData();
        assertInstanceOf(DelegatingDatabaseMetaData.class, metaData);
        assertSame(wrapper, metaData.getConnection());
        assertFalse(metaData.supportsSharding());

        try (ResultSet tables = metaData.getTables(null, null, "item", null)) {
            assertInstanceOf(DelegatingResultSet.class, tables);
            Statement owner = tables.getStatement();
            assertTrue(owner == null || owner instanceof DelegatingStatement && owner.getConnection() == wrapper,
                    () -> "raw statement leaked: " + owner);
            assertTrue(tables.next());
            assertEquals("item", tables.getString("TABLE_NAME"));
        }
        try (ResultSet keys = metaData.getPrimaryKeys(null, null, "item")) {
            assertInstanceOf(DelegatingResultSet.class, keys);
            assertTrue(keys.next());
            assertEquals("id", keys.getString("COLUMN_NAME"));
        }
    }

    @Test
    void unwrapReachesSqliteJdbc() throws SQLException {
        assertSame(raw, wrapper.unwrap(SQLiteConnection.class));
        assertTrue(wrapper.isWrapperFor(SQLiteConnection.class));
        assertSame(wrapper, wrapper.unwrap(Connection.class));
        assertSame(wrapper, wrapper.unwrap(DelegatingConnection.class));
        assertTrue(wrapper.isWrapperFor(DelegatingConnection.class));
        assertFalse(wrapper.isWrapperFor(String.class));

        try (Statement statement = wrapper.createStatement()) {
            assertInstanceOf(org.sqlite.core.CoreStatement.class, statement.unwrap(org.sqlite.core.CoreStatement.class));
        }
    }

    @Test
    void defaultMethodsBehaveAsInSqliteJdbc() throws SQLException {
        try (Statement statement = wrapper.createStatement()) {
            assertEquals(0L, statement.getLargeMaxRows());
            statement.setLargeMaxRows(2);
            assertEquals(2L, statement.getLargeMaxRows());
            assertEquals(2, statement.getMaxRows());
            assertEquals("'it''s'", statement.enquoteLiteral("it's"));
            assertEquals("\"a b\"", statement.enquoteIdentifier("a b", false));
        }
        try (PreparedStatement insert = wrapper.prepareStatement("INSERT INTO item (name) VALUES (?)")) {
            // PreparedStatement's SQLType overloads are interface defaults sqlite-jdbc never overrides
            assertThrows(SQLFeatureNotSupportedException.class, () -> insert.setObject(1, "x", JDBCType.VARCHAR));
            insert.setObject(1, "x", java.sql.Types.VARCHAR);
            assertEquals(1, insert.executeUpdate());
        }
        assertThrows(SQLFeatureNotSupportedException.class, () -> wrapper.setShardingKey(null));
        wrapper.beginRequest();
        wrapper.endRequest();
        assertThrows(SQLException.class, () -> wrapper.prepareCall("SELECT 1"), "sqlite-jdbc has no stored procedures");
    }

    @Test
    void closedStatementReportsClosed() throws SQLException {
        Statement statement = wrapper.createStatement();
        statement.close();
        assertTrue(statement.isClosed());
        assertNull(wrapper.getWarnings());
    }
}
