package io.syncsqlite.relay.schema;

import java.util.List;
import java.util.stream.Collectors;

/**
 * SQL text helpers. Identifiers come from PostgreSQL's catalog, never from client input (the relay
 * resolves client names against the catalog first), and are always quoted.
 *
 * <p>Thread-safe: stateless.
 */
public final class Sql {

    private Sql() {
    }

    /** A quoted identifier, as {@code quote_ident} would produce for a name that needs quoting. */
    public static String ident(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    /** {@code prefix."a", prefix."b"} */
    public static String columns(String prefix, List<String> names) {
        return names.stream().map(n -> prefix + ident(n)).collect(Collectors.joining(", "));
    }

    /** {@code jsonb_build_object('a', prefix."a", 'b', prefix."b")}: a primary key object. */
    public static String pkObject(String prefix, List<String> pk) {
        return pk.stream().map(n -> literal(n) + ", " + prefix + ident(n))
                .collect(Collectors.joining(", ", "jsonb_build_object(", ")"));
    }

    /** {@code (a."x", a."y") = (b."x", b."y")}: primary key equality between two row sources. */
    public static String pkEquals(String left, String right, List<String> pk) {
        return "(" + columns(left, pk) + ") = (" + columns(right, pk) + ")";
    }

    /** A string literal that reads the same whatever standard_conforming_strings is. */
    public static String literal(String value) {
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }
}
