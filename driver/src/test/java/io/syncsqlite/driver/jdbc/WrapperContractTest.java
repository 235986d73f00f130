package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
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
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The JDBC surface of the wrappers: every interface method (default methods included) is implemented by
 * the wrapper itself, every call that is not intercepted reaches the delegate, and every back-reference
 * answers the wrapper.
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

    /** Records invoked methods; answers defaults, and recording proxies for JDBC interface types. */
    private static final class Recorder implements InvocationHandler {
        final List<Method> calls = new ArrayList<>();

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) {
            if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "recorder";
                };
            }
            calls.add(method);
            return answer(method.getReturnType());
        }

        static Object answer(Class<?> t) {
            if (t == boolean.class) {
                return false;
            }
            if (t == int.class || t == short.class || t == byte.class) {
                return t == int.class ? (Object) 0 : t == short.class ? (Object) (short) 0 : (Object) (byte) 0;
            }
            if (t == long.class) {
                return 0L;
            }
            if (t == float.class) {
                return 0f;
            }
            if (t == double.class) {
                return 0d;
            }
            if (t == String.class) {
                return "";
            }
            if (t.isInterface() && t.getName().startsWith("java.sql.")) {
                return Proxy.newProxyInstance(t.getClassLoader(), new Class<?>[]{t}, new Recorder());
            }
            return null;
        }
    }

    private static Object[] defaults(Method m) {
        Class<?>[] p = m.getParameterTypes();
        Object[] args = new Object[p.length];
        for (int i = 0; i < p.length; i++) {
            args[i] = p[i] == Class.class ? Object.class : Recorder.answer(p[i]);
        }
        return args;
    }

    private static final Set<String> BACK_REFERENCES = Set.of("getConnection", "getStatement", "unwrap", "isWrapperFor");

    private static <T> void everyCallReachesTheDelegate(Class<T> iface, java.util.function.Function<T, Object> wrap)
            throws Exception {
        for (Method m : iface.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || BACK_REFERENCES.contains(m.getName())) {
                continue;
            }
            Recorder r = new Recorder();
            T delegate = iface.cast(Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[]{iface}, r));
            Object wrapper = wrap.apply(delegate);
            Object result = m.invoke(wrapper, defaults(m));
            assertEquals(1, r.calls.size(), m.toGenericString() + " should reach the delegate once");
            Method got = r.calls.get(0);
            assertEquals(m.getName() + List.of(m.getParameterTypes()), got.getName() + List.of(got.getParameterTypes()));
            if (result instanceof Statement || result instanceof ResultSet || result instanceof DatabaseMetaData) {
                assertTrue(result.getClass().getSimpleName().startsWith("Delegating"),
                        m.getName() + " leaked a raw " + result.getClass());
            }
        }
    }

    @Test
    void everyCallReachesTheDelegate() throws Exception {
        everyCallReachesTheDelegate(Connection.class, DelegatingConnection::new);
        everyCallReachesTheDelegate(Statement.class, s -> new DelegatingStatement(s, null));
        everyCallReachesTheDelegate(PreparedStatement.class, s -> new DelegatingPreparedStatement(s, null, "x"));
        everyCallReachesTheDelegate(CallableStatement.class, s -> new DelegatingCallableStatement(s, null, "x"));
        everyCallReachesTheDelegate(ResultSet.class, s -> new DelegatingResultSet(s, null));
        everyCallReachesTheDelegate(DatabaseMetaData.class, s -> new DelegatingDatabaseMetaData(s, null));
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
