package io.syncsqlite.driver.sql;

import java.math.BigDecimal;

/**
 * A column a statement adds to rather than sets: {@code SET c = c + ?}, {@code c = (c - 2)}, or an upsert
 * whose {@code DO UPDATE} adds the inserted value ({@code count = count + excluded.count}). The amount
 * added to each affected row is {@code sign} times the bound parameter {@code parameter} (1-based), or
 * times {@code literal} when the amount is written in the SQL.
 *
 * <p>Immutable; thread-safe.
 */
public record Counter(String column, int sign, int parameter, BigDecimal literal) {

    /** The amount this counter adds, given the statement's parameters, or {@code null} if not numeric. */
    public BigDecimal amount(Object[] parameters) {
        BigDecimal base;
        if (literal != null) {
            base = literal;
        } else {
            Object p = parameters != null && parameter - 1 < parameters.length ? parameters[parameter - 1] : null;
            if (p instanceof BigDecimal d) {
                base = d;
            } else if (p instanceof Long || p instanceof Integer || p instanceof Short || p instanceof Byte) {
                base = BigDecimal.valueOf(((Number) p).longValue());
            } else if (p instanceof Number n) {
                base = BigDecimal.valueOf(n.doubleValue());
            } else {
                return null;
            }
        }
        return sign < 0 ? base.negate() : base;
    }
}
