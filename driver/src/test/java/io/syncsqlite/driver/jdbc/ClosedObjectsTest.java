package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Using a closed connection or statement fails with SQLState 08003, where sqlite-jdbc alone sometimes runs
 * the call anyway (a closed {@code Statement} still executes) or fails it without a SQLState.
 */
class ClosedObjectsTest {

    @TempDir
    Path dir;

    @Test
    void closedConnectionsAndStatementsSay08003() throws Exception {
        Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("c.db") + "?sync.lingerMs=0");
        c.createStatement().execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
        Statement st = c.createStatement();
        PreparedStatement ps = c.prepareStatement("INSERT INTO t (id, v) VALUES (?, ?)");
        st.close();
        ps.close();
        Map<String, Executable> calls = new java.util.LinkedHashMap<>();
        calls.put("Statement.executeQuery", () -> st.executeQuery("SELECT 1"));
        calls.put("Statement.executeUpdate", () -> st.executeUpdate("INSERT INTO t (id, v) VALUES (1, 'x')"));
        calls.put("Statement.addBatch", () -> st.addBatch("INSERT INTO t (id, v) VALUES (1, 'x')"));
        calls.put("PreparedStatement.executeUpdate", ps::executeUpdate);
        calls.put("PreparedStatement.executeBatch", ps::executeBatch);
        for (Map.Entry<String, Executable> e : calls.entrySet()) {
            assertEquals("08003", assertThrows(SQLException.class, e.getValue(), e.getKey()).getSQLState(), e.getKey());
        }
        c.close();
        assertEquals("08003", assertThrows(SQLException.class, c::createStatement).getSQLState());
        assertEquals("08003", assertThrows(SQLException.class, () -> c.prepareStatement("SELECT 1")).getSQLState());
        try (Connection again = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("c.db"));
             var rs = again.createStatement().executeQuery("SELECT count(*) FROM t")) {
            rs.next();
            assertEquals(0, rs.getInt(1), "nothing ran on the closed statements");
        }
    }
}
