package io.syncsqlite.relay.scope;

/**
 * Which rows of one synced table a user may read and write (docs/DESIGN.md, "Per-user scopes"). Column
 * and table names are PostgreSQL's, checked against the catalog when the rules were loaded.
 *
 * <p>Immutable; thread-safe.
 */
public sealed interface TableRule {

    /** The PostgreSQL name of the table the rule is for. */
    String table();

    /** Whether users may write rows of the table (only rows in their scope, before and after the write). */
    boolean writable();

    /** Every row: a shared table. */
    record Everyone(String table, boolean writable) implements TableRule {
    }

    /** {@code column = :claim}: rows whose column equals the claim, or one of its values if it is a list. */
    record ByClaim(String table, String column, String claim, boolean writable) implements TableRule {
    }

    /**
     * {@code column IN (SELECT viaKey FROM viaTable WHERE viaMatch = :claim)}: membership through another
     * synced table, such as the projects a user belongs to.
     */
    record Membership(String table, String column, String viaTable, String viaKey, String viaMatch, String claim,
                      boolean writable) implements TableRule {
    }
}
