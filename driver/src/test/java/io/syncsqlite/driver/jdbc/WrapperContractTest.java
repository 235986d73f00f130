package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The JDBC surface of the intercepting wrappers: every interface method (default methods included) is
 * implemented by the wrapper itself, and every back-reference answers the wrapper on a real file.
 * Per-method forwarding of the delegating layer is checked in {@link DelegatingForwardingTest}.
 */
class WrapperContractTest {

    static Stream<Arguments> pairs() {
        return Stream.of(
                Arguments.of(Connection.class, DelegatingConnection.class),
                Arguments.of(Statement.class, DelegatingStatement.class),
                Arguments.of(PreparedStatement.class, DelegatingPreparedStatement.class),
                Arguments.of(CallableStatement.class, DelegatingCallableStatement.class),
                Arguments.of(ResultSet.class, DelegatingResultSet.class),
                Arguments.of(DatabaseMetaData.class, DelegatingDatabaseMetaData.class),
                Arguments.of(Statement.class, SyncStatement.class),
                Arguments.of(PreparedStatement.class, SyncPreparedStatement.class),
                Arguments.of(CallableStatement.class, SyncCallableStatement.class));
    }

    /** A method the wrapper class or one of its superclasses declares (not an inherited interface default). */
    private static boolean declared(Class<?> cls, Method m) {
        for (Class<?> c = cls; c != null && c != Object.class; c = c.getSuperclass()) {
            try {
                Method d = c.getDeclaredMethod(m.getName(), m.getParameterTypes());
                if (!Modifier.isAbstract(d.getModifiers())) {
                    return true;
                }
            } catch (NoSuchMethodException e) {
                // look further up
            }
        }
        return false;
    }

    @ParameterizedTest
    @MethodSource("pairs")
    void everyInterfaceMethodIsImplementedByTheWrapper(Class<?> iface, Class<?> wrapper) {
        List<String> missing = new ArrayList<>();
        for (Method m : iface.getMethods()) {
            if (!Modifier.isStatic(m.getModifiers()) && !declared(wrapper, m)) {
                missing.add(m.toGenericString());
            }
        }
        assertEquals(List.of(), missing, wrapper.getSimpleName() + " leaves methods to interface defaults");
    }

    @TempDir
    Path dir;

    @Test
    void backReferencesAnswerTheWrapperAndUnwrapReachesSqliteJdbc() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:syncsqlite:" + dir.resolve("w.db") + "?sync.lingerMs=0")) {
            assertTrue(c instanceof SyncConnection);
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
                assertSame(c, st.getConnection());
                st.executeUpdate("INSERT INTO t (v) VALUES ('a')", Statement.RETURN_GENERATED_KEYS);
                try (ResultSet keys = st.getGeneratedKeys()) {
                    assertSame(st, keys.getStatement());
                }
                try (ResultSet rs = st.executeQuery("SELECT * FROM t")) {
                    assertSame(st, rs.getStatement());
                    assertSame(c, rs.getStatement().getConnection());
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT v FROM t WHERE id = ?")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    assertSame(ps, rs.getStatement());
                    assertTrue(rs.next());
                    assertEquals("a", rs.getString(1));
                }
            }
            try (PreparedStatement up = c.prepareStatement("UPDATE t SET v = 'z' WHERE id = 1")) {
                assertEquals(1L, up.executeLargeUpdate(), "a default method of the interface, implemented by the wrapper");
            }
            DatabaseMetaData md = c.getMetaData();
            assertSame(c, md.getConnection());
            try (ResultSet tables = md.getTables(null, null, "t", null)) {
                assertTrue(tables instanceof DelegatingResultSet);
            }
            assertTrue(c.isWrapperFor(org.sqlite.SQLiteConnection.class));
            assertTrue(c.unwrap(org.sqlite.SQLiteConnection.class) instanceof org.sqlite.SQLiteConnection);
            assertSame(c, c.unwrap(SyncConnection.class));
            try (Statement st = c.createStatement()) {
                st.addBatch("INSERT INTO t (v) VALUES ('b')");
                st.addBatch("INSERT INTO t (v) VALUES ('c')");
                assertEquals(2, st.executeLargeBatch().length);
            }
        } catch (SQLException e) {
            fail(e);
        }
    }
}
