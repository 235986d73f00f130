package io.syncsqlite.driver.sql;

/**
 * What the driver needs to know about one SQL text.
 *
 * @param kind    the statement's kind
 * @param table   the table written or altered (unquoted, as written), or {@code null}
 * @param name    the savepoint name for SAVEPOINT / RELEASE / ROLLBACK TO, else {@code null}
 * @param parsed  whether JSqlParser understood the statement (false: the lexer alone classified it)
 */
public record SqlInfo(StatementKind kind, String table, String name, boolean parsed) {
}
