package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every public method of each JDBC interface, default methods and those inherited from {@link java.sql.Wrapper}
 * and {@link AutoCloseable} included, is declared by the {@code Delegating*} class itself or a
 * {@code Delegating*} superclass. An interface default left in place would silently bypass sqlite-jdbc
 * (or, in a {@code Sync*} subclass, bypass capture).
 */
class DelegatingCompletenessTest {

    static Stream<Arguments> wrappers() {
        return Stream.of(
                Arguments.of(DelegatingConnection.class, Connection.class),
                Arguments.of(DelegatingStatement.class, Statement.class),
                Arguments.of(DelegatingPreparedStatement.class, PreparedStatement.class),
                Arguments.of(DelegatingCallableStatement.class, CallableStatement.class),
                Arguments.of(DelegatingResultSet.class, ResultSet.class),
                Arguments.of(DelegatingDatabaseMetaData.class, DatabaseMetaData.class));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrappers")
    void declaresEveryInterfaceMethod(Class<?> wrapper, Class<?> iface) {
        assertTrue(iface.isAssignableFrom(wrapper), wrapper.getSimpleName() + " implements " + iface.getSimpleName());
        assertTrue(Modifier.isPublic(wrapper.getModifiers()) && !Modifier.isFinal(wrapper.getModifiers()),
                wrapper.getSimpleName() + " is public and open for Sync* subclasses");
        assertEquals(List.of(), missing(wrapper, iface), wrapper.getSimpleName() + " leaves these to the interface");
    }

    @Test
    void theCheckNoticesAMissingMethod() {
        List<String> missing = missing(DelegatingIncompleteStatement.class, Statement.class);

        assertTrue(missing.contains(signature(method(Statement.class, "executeLargeBatch"))), missing::toString);
        assertTrue(missing.contains(signature(method(Statement.class, "isWrapperFor", Class.class))), missing::toString);
        assertTrue(missing.stream().noneMatch(m -> m.startsWith("close(")), missing::toString);
    }

    @Test
    void defaultMethodsAreCovered() {
        assertTrue(method(Statement.class, "executeLargeUpdate", String.class).isDefault());
        assertTrue(missing(DelegatingStatement.class, Statement.class).isEmpty());
        assertEquals(DelegatingStatement.class,
                method(DelegatingStatement.class, "executeLargeUpdate", String.class).getDeclaringClass());
    }

    static List<String> missing(Class<?> wrapper, Class<?> iface) {
        List<String> missing = new ArrayList<>();
        for (Method m : iface.getMethods()) {
            if (!Modifier.isStatic(m.getModifiers()) && !declaredByDelegatingClass(wrapper, m)) {
                missing.add(signature(m));
            }
        }
        missing.sort(null);
        return missing;
    }

    /**
     * Walks the class chain only, never interfaces, so an inherited default does not count. Synthetic
     * methods (javac's access bridges for the package-private {@code DelegatingWrapper}) are skipped: the
     * real declaration further up is what counts.
     */
    private static boolean declaredByDelegatingClass(Class<?> wrapper, Method m) {
        for (Class<?> c = wrapper; c != null && c.getSimpleName().startsWith("Delegating"); c = c.getSuperclass()) {
            try {
                Method declared = c.getDeclaredMethod(m.getName(), m.getParameterTypes());
                if (!declared.isSynthetic() && !Modifier.isAbstract(declared.getModifiers())) {
                    return true;
                }
            } catch (NoSuchMethodException e) {
                // not declared here; try the superclass
            }
        }
        return false;
    }

    private static String signature(Method m) {
        StringBuilder s = new StringBuilder(m.getName()).append('(');
        Class<?>[] types = m.getParameterTypes();
        for (int i = 0; i < types.length; i++) {
            s.append(i == 0 ? "" : ", ").append(types[i].getSimpleName());
        }
        return s.append(')').toString();
    }

    private static Method method(Class<?> type, String name, Class<?>... parameterTypes) {
        try {
            return type.getMethod(name, parameterTypes);
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    /** Declares only {@code close()}: everything else comes from elsewhere or is missing. */
    private abstract static class DelegatingIncompleteStatement implements Statement {
        @Override
        public void close() throws SQLException {
        }
    }
}
