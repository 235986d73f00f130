package io.syncsqlite.driver.jdbc;

import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.JDBCType;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLClientInfoException;
import java.sql.SQLException;
import java.sql.SQLType;
import java.sql.Statement;
import java.sql.Wrapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Calendar;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every interface method of every {@code Delegating*} class, called on a wrapper around a recording
 * {@link Proxy}, reaches the delegate exactly once, as the same method with the same arguments, and
 * hands back what the delegate answered: unchanged, or wrapped with its back-reference pointing at the
 * wrapper. Only the back-references and {@code unwrap}/{@code isWrapperFor} are answered by the wrapper.
 */
class DelegatingForwardingTest {

    private static final Set<String> INTERCEPTED = Set.of("getConnection", "getStatement", "unwrap", "isWrapperFor");

    /** Not implemented by any recording proxy, so {@code unwrap} has to ask the delegate. */
    interface Unrelated {
    }

    private record Call(Method method, Object[] args, Object answer) {
    }

    private enum Answer { VALUES, NULLS, THROW }

    /**
     * The delegate side: records each call and answers a recognisable value of the return type, a further
     * recording proxy for a JDBC interface, {@code null} for other objects (or for every object, in
     * {@link Answer#NULLS} mode), or throws one exception instance.
     */
    private static final class Recorder implements InvocationHandler {
        final List<Call> calls = new ArrayList<>();
        final Answer mode;
        final SQLException failure = new SQLClientInfoException("from the delegate", Map.of());
        final RuntimeException uncheckedFailure = new IllegalStateException("from the delegate");

        Recorder(Answer mode) {
            this.mode = mode;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws SQLException {
            if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "recording " + proxy.getClass().getInterfaces()[0].getSimpleName();
                };
            }
            Object answer = mode == Answer.NULLS && !method.getReturnType().isPrimitive()
                    ? null
                    : answer(method.getReturnType());
            calls.add(new Call(method, args == null ? new Object[0] : args.clone(), answer));
            if (mode == Answer.THROW && declaresSqlException(method)) {
                throw failure;
            }
            if (mode == Answer.THROW) {
                throw uncheckedFailure;
            }
            return answer;
        }

        private static boolean declaresSqlException(Method method) {
            return Arrays.stream(method.getExceptionTypes()).anyMatch(t -> t.isAssignableFrom(SQLClientInfoException.class));
        }

        Call only() {
            assertEquals(1, calls.size(), () -> "calls reaching the delegate: " + calls);
            return calls.get(0);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T recording(Class<T> iface, Recorder recorder) {
        return (T) Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[]{iface}, recorder);
    }

    private static Object answer(Class<?> type) {
        if (type == void.class) {
            return null;
        }
        if (type == boolean.class) {
            return true;
        }
        if (type == int.class) {
            return 7;
        }
        if (type == long.class) {
            return 7L;
        }
        if (type == short.class) {
            return (short) 7;
        }
        if (type == byte.class) {
            return (byte) 7;
        }
        if (type == float.class) {
            return 7f;
        }
        if (type == double.class) {
            return 7d;
        }
        if (type == String.class) {
            return "answer";
        }
        if (type == int[].class) {
            return new int[]{7};
        }
        if (type == long[].class) {
            return new long[]{7L};
        }
        if (type == byte[].class) {
            return new byte[]{7};
        }
        if (type == Object.class) {
            return new Object();
        }
        if (type.isInterface() && type.getPackageName().equals("java.sql")) {
            return recording(type, new Recorder(Answer.VALUES));
        }
        return null;
    }

    private static Object[] arguments(Method method) {
        Class<?>[] types = method.getParameterTypes();
        Object[] args = new Object[types.length];
        for (int i = 0; i < types.length; i++) {
            args[i] = argument(types[i], i);
        }
        return args;
    }

    /** Distinct per position, so swapped arguments would show. */
    private static Object argument(Class<?> type, int position) {
        if (type == boolean.class) {
            return position % 2 == 0;
        }
        if (type == int.class) {
            return 11 + position;
        }
        if (type == long.class) {
            return 11L + position;
        }
        if (type == short.class) {
            return (short) (11 + position);
        }
        if (type == byte.class) {
            return (byte) (11 + position);
        }
        if (type == float.class) {
            return 11f + position;
        }
        if (type == double.class) {
            return 11d + position;
        }
        if (type == String.class) {
            return "argument" + position;
        }
        if (type == Class.class) {
            return String.class;
        }
        if (type == SQLType.class) {
            return JDBCType.INTEGER;
        }
        if (type == BigDecimal.class) {
            return BigDecimal.valueOf(11 + position);
        }
        if (type == Calendar.class) {
            return Calendar.getInstance();
        }
        if (type == Map.class) {
            return new HashMap<>();
        }
        if (type == Properties.class) {
            return new Properties();
        }
        if (type == Executor.class) {
            return (Executor) Runnable::run;
        }
        if (type == Object.class) {
            return new Object();
        }
        if (type.isArray()) {
            return java.lang.reflect.Array.newInstance(type.getComponentType(), 1);
        }
        if (type.isInterface() && type.getPackageName().equals("java.sql")) {
            return recording(type, new Recorder(Answer.VALUES));
        }
        return null;
    }

    /** One wrapper kind: its interface, what its back-reference answers, and how to wrap a delegate. */
    private record Subject(Class<?> iface, String backReference, Object owner, Function<Object, Wrapper> wrap) {

        Wrapper wrap(Recorder recorder) {
            return wrap.apply(recording(iface, recorder));
        }

        String name() {
            return wrap(new Recorder(Answer.VALUES)).getClass().getSimpleName();
        }

        List<Method> methods() {
            return Arrays.stream(iface.getMethods())
                    .filter(m -> !Modifier.isStatic(m.getModifiers()))
                    .sorted(Comparator.comparing(DelegatingForwardingTest::signature))
                    .toList();
        }
    }

    private static List<Subject> subjects() {
        Connection ownerConnection = new DelegatingConnection(recording(Connection.class, new Recorder(Answer.VALUES)));
        Statement ownerStatement = new DelegatingStatement(
                recording(Statement.class, new Recorder(Answer.VALUES)), ownerConnection);
        return List.of(
                new Subject(Connection.class, null, null,
                        delegate -> new DelegatingConnection((Connection) delegate)),
                new Subject(Statement.class, "getConnection", ownerConnection,
                        delegate -> new DelegatingStatement((Statement) delegate, ownerConnection)),
                new Subject(PreparedStatement.class, "getConnection", ownerConnection,
                        delegate -> new DelegatingPreparedStatement((PreparedStatement) delegate, ownerConnection, "SELECT ?")),
                new Subject(CallableStatement.class, "getConnection", ownerConnection,
                        delegate -> new DelegatingCallableStatement((CallableStatement) delegate, ownerConnection, "SELECT ?")),
                new Subject(ResultSet.class, "getStatement", ownerStatement,
                        delegate -> new DelegatingResultSet((ResultSet) delegate, ownerStatement)),
                new Subject(DatabaseMetaData.class, "getConnection", ownerConnection,
                        delegate -> new DelegatingDatabaseMetaData((DatabaseMetaData) delegate, ownerConnection)));
    }

    private interface Check {
        void run(Subject subject, Method method) throws SQLException;
    }

    private static Stream<DynamicNode> perMethod(String label, Check check, boolean includeIntercepted) {
        return subjects().stream().map(subject -> DynamicContainer.dynamicContainer(subject.name() + " " + label,
                subject.methods().stream()
                        .filter(m -> includeIntercepted || !INTERCEPTED.contains(m.getName()))
                        .map(m -> DynamicTest.dynamicTest(signature(m), () -> check.run(subject, m)))));
    }

    @TestFactory
    Stream<DynamicNode> everyCallReachesTheDelegate() {
        return perMethod("forwards", DelegatingForwardingTest::forwards, false);
    }

    @TestFactory
    Stream<DynamicNode> nullAnswersStayNull() {
        return perMethod("passes null through", (subject, method) -> {
            Recorder recorder = new Recorder(Answer.NULLS);
            Object result = invoke(subject.wrap(recorder), method, arguments(method));
            recorder.only();
            if (!method.getReturnType().isPrimitive()) {
                assertNull(result, "a null answer must not be wrapped");
            }
        }, false);
    }

    @TestFactory
    Stream<DynamicNode> delegateExceptionsSurfaceUnchanged() {
        return perMethod("rethrows", (subject, method) -> {
            Recorder recorder = new Recorder(Answer.THROW);
            Wrapper wrapper = subject.wrap(recorder);
            Object[] args = arguments(method);
            if (method.getName().equals("unwrap") || method.getName().equals("isWrapperFor")) {
                args[0] = Unrelated.class;
            }
            try {
                invoke(wrapper, method, args);
                if (subject.backReference() == null || !method.getName().equals(subject.backReference())) {
                    fail("expected the delegate's exception");
                }
            } catch (SQLException e) {
                assertSame(recorder.failure, e);
            } catch (IllegalStateException e) {
                assertSame(recorder.uncheckedFailure, e);
            }
        }, true);
    }

    private static void forwards(Subject subject, Method method) throws SQLException {
        Recorder recorder = new Recorder(Answer.VALUES);
        Wrapper wrapper = subject.wrap(recorder);
        Object[] args = arguments(method);

        Object result = invoke(wrapper, method, args);

        Call call = recorder.only();
        assertEquals(signature(method), signature(call.method()), "the delegate received another method");
        assertEquals(args.length, call.args().length);
        for (int i = 0; i < args.length; i++) {
            if (method.getParameterTypes()[i].isPrimitive()) {
                assertEquals(args[i], call.args()[i], "argument " + i);
            } else {
                assertSame(args[i], call.args()[i], "argument " + i);
            }
        }
        checkResult(wrapper, method, args, call.answer(), result);
    }

    /** What the delegate answered comes back unchanged, except JDBC objects that carry a back-reference. */
    private static void checkResult(Wrapper wrapper, Method method, Object[] args, Object answer, Object result)
            throws SQLException {
        Class<?> type = method.getReturnType();
        if (type == CallableStatement.class) {
            DelegatingCallableStatement statement = assertInstanceOf(DelegatingCallableStatement.class, result);
            assertSame(answer, statement.delegate);
            assertSame(wrapper, statement.getConnection());
            assertEquals(args[0], statement.sql);
        } else if (type == PreparedStatement.class) {
            assertEquals(DelegatingPreparedStatement.class, result.getClass());
            DelegatingPreparedStatement statement = (DelegatingPreparedStatement) result;
            assertSame(answer, statement.delegate);
            assertSame(wrapper, statement.getConnection());
            assertEquals(args[0], statement.sql);
        } else if (type == Statement.class) {
            assertEquals(DelegatingStatement.class, result.getClass());
            DelegatingStatement statement = (DelegatingStatement) result;
            assertSame(answer, statement.delegate);
            assertSame(wrapper, statement.getConnection());
        } else if (type == ResultSet.class) {
            DelegatingResultSet resultSet = assertInstanceOf(DelegatingResultSet.class, result);
            assertSame(answer, resultSet.delegate);
            if (wrapper instanceof DatabaseMetaData) {
                assertNull(resultSet.getStatement(), "metadata result sets have no statement");
            } else {
                assertSame(wrapper, resultSet.getStatement());
            }
        } else if (type == DatabaseMetaData.class) {
            DelegatingDatabaseMetaData metaData = assertInstanceOf(DelegatingDatabaseMetaData.class, result);
            assertSame(answer, metaData.delegate);
            assertSame(wrapper, metaData.getConnection());
        } else if (type.isPrimitive()) {
            assertEquals(answer, result);
        } else {
            assertSame(answer, result, "returned unchanged");
        }
    }

    @Test
    void backReferencesAnswerTheOwnerWithoutAskingTheDelegate() throws SQLException {
        for (Subject subject : subjects()) {
            if (subject.backReference() == null) {
                continue;
            }
            Recorder recorder = new Recorder(Answer.VALUES);
            Wrapper wrapper = subject.wrap(recorder);
            for (Method method : subject.methods()) {
                if (method.getName().equals(subject.backReference())) {
                    assertSame(subject.owner(), invoke(wrapper, method, arguments(method)), subject.name() + "." + method.getName());
                }
            }
            assertEquals(List.of(), recorder.calls, subject.name());
        }
    }

    @Test
    void unwrapAnswersTheWrapperThenTheDelegateThenAsksTheDelegate() throws SQLException {
        for (Subject subject : subjects()) {
            Recorder recorder = new Recorder(Answer.VALUES);
            Object delegate = recording(subject.iface(), recorder);
            Wrapper wrapper = subject.wrap().apply(delegate);
            String name = subject.name();

            assertSame(wrapper, wrapper.unwrap(subject.iface()), name);
            assertSame(wrapper, wrapper.unwrap(wrapper.getClass()), name);
            assertTrue(wrapper.isWrapperFor(subject.iface()), name);
            assertTrue(wrapper.isWrapperFor(wrapper.getClass()), name);
            assertEquals(List.of(), recorder.calls, name + " answered itself");

            assertSame(delegate, wrapper.unwrap(delegate.getClass()), name);
            assertTrue(wrapper.isWrapperFor(delegate.getClass()), name);
            assertEquals(List.of(), recorder.calls, name + " answered its delegate");

            Object asked = unwrapVia(wrapper, Unrelated.class);
            Call unwrapCall = recorder.only();
            assertEquals("unwrap", unwrapCall.method().getName());
            assertArrayEquals(new Object[]{Unrelated.class}, unwrapCall.args());
            assertSame(unwrapCall.answer(), asked, name);

            recorder.calls.clear();
            assertTrue(wrapper.isWrapperFor(Unrelated.class), name + " repeats the delegate's answer");
            Call isWrapperForCall = recorder.only();
            assertEquals("isWrapperFor", isWrapperForCall.method().getName());
            assertArrayEquals(new Object[]{Unrelated.class}, isWrapperForCall.args());
        }
    }

    @Test
    void identityAndToString() {
        for (Subject subject : subjects()) {
            Recorder recorder = new Recorder(Answer.VALUES);
            Object delegate = recording(subject.iface(), recorder);
            Wrapper first = subject.wrap().apply(delegate);
            Wrapper second = subject.wrap().apply(delegate);

            assertNotEquals(first, second, "equals stays identity");
            assertFalse(first.equals(delegate));
            assertEquals(System.identityHashCode(first), first.hashCode());
            assertTrue(first.toString().startsWith(first.getClass().getSimpleName()), first::toString);
            assertTrue(first.toString().contains(delegate.toString()), first::toString);
            assertEquals(List.of(), recorder.calls);
        }
    }

    /** Reflective, so no cast to {@code Unrelated} is compiled in: the recorder answers a plain object. */
    private static Object unwrapVia(Wrapper wrapper, Class<?> iface) throws SQLException {
        try {
            return invoke(wrapper, Wrapper.class.getMethod("unwrap", Class.class), new Object[]{iface});
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    private static Object invoke(Object target, Method method, Object[] args) throws SQLException {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof SQLException sqlException) {
                throw sqlException;
            }
            if (e.getCause() instanceof RuntimeException runtimeException) {
                throw runtimeException;
            }
            throw new AssertionError(method.getName() + " failed", e.getCause());
        } catch (IllegalAccessException e) {
            throw new AssertionError(e);
        }
    }

    private static String signature(Method m) {
        StringBuilder s = new StringBuilder(m.getName()).append('(');
        Class<?>[] types = m.getParameterTypes();
        for (int i = 0; i < types.length; i++) {
            s.append(i == 0 ? "" : ", ").append(types[i].getSimpleName());
        }
        return s.append(')').toString();
    }
}
