package io.syncsqlite.driver.sql;

import java.math.BigDecimal;

/**
 * A column a statement adds to rather than sets: {@code SET c = c + ?}, {@code c = (c - 2)}, or an upsert
 * whose {@code DO UPDATE} adds the inserted value ({@code count = count + excluded.count}). The amount
 * added to each affected row is {@code sign} times the bound parameter {@code parameter} (1-based), or
 * times {@code literal} when the amount is written in the SQL. A version column that an ORM sets and
 * compares ({@code SET version = ? ... WHERE ... AND version = ?}) adds one when the set value is one more
 * than the compared one: {@code minus} is the compared one's index (0 for every other counter). A null-safe
 * increment, {@code c = coalesce(c, ?) + ?} (jOOQ binds the fallback), is one only while the fallback is bound 0,
 * as the relay applies {@code coalesce(c, 0) + amount}: {@code zero} is the fallback's index (0 for none).
 *
 * <p>Immutable; thread-safe.
 */
public record Counter(String column, int sign, int parameter, BigDecimal literal, int minus, int zero) {

    public Counter(String column, int sign, int parameter, BigDecimal literal) {
        this(column, sign, parameter, literal, 0, 0);
    }

    public Counter(String column, int sign, int parameter, BigDecimal literal, int minus) {
        this(column, sign, parameter, literal, minus, 0);
    }

    /** The highest parameter index the amount reads (0 for a literal). */
    public int lastParameter() {
        return Math.max(Math.max(parameter, minus), zero);
    }

    /** The amount this counter adds, given the statement's parameters, or {@code null} if not numeric. */
    public BigDecimal amount(Object[] parameters) {
        if (zero > 0) {
            BigDecimal fallback = number(parameters, zero);
            if (fallback == null || fallback.signum() != 0) {
                return null; // coalesce(c, 5) + 1 on a NULL c is not what the relay's coalesce(c, 0) + 1 gives
            }
        }
        BigDecimal base = literal != null ? literal : number(parameters, parameter);
        if (base != null && minus > 0) {
            // A version moves up by one (Hibernate's step); any other compare-and-set is a plain write.
            BigDecimal was = number(parameters, minus);
            base = was != null && base.subtract(was).compareTo(BigDecimal.ONE) == 0 ? BigDecimal.ONE : null;
        }
        if (base == null) {
            return null;
        }
        return sign < 0 ? base.negate() : base;
    }

    private static BigDecimal number(Object[] parameters, int index) {
        Object p = parameters != null && index - 1 < parameters.length ? parameters[index - 1] : null;
        if (p instanceof BigDecimal d) {
            return d;
        } else if (p instanceof Long || p instanceof Integer || p instanceof Short || p instanceof Byte) {
            return BigDecimal.valueOf(((Number) p).longValue());
        } else if (p instanceof Number n) {
            return BigDecimal.valueOf(n.doubleValue());
        }
        return null;
    }
}
