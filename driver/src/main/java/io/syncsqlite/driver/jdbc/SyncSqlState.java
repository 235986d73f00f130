package io.syncsqlite.driver.jdbc;

/**
 * The SQLStates this driver raises itself. Standard codes where one fits; class {@code SY} (an
 * implementation-defined class, as SQL allows for classes starting with a letter S-Z) for conditions that
 * only exist because of sync.
 *
 * <p>Immutable; thread-safe.
 */
public enum SyncSqlState {
    /** A malformed URL, an unknown {@code sync.*} key or a bad property value. */
    INVALID_PARAMETER("22023"),
    /** A call on a closed connection or statement. */
    CONNECTION_CLOSED("08003"),
    /** A JDBC feature the driver does not offer. */
    NOT_SUPPORTED("0A000"),
    /** A write that sync cannot capture (a synced table without a primary key, for example). */
    NOT_SYNCABLE("SY001"),
    /** DDL on a synced table that sync cannot follow. */
    SCHEMA_CHANGE_REFUSED("SY002"),
    /** The driver's own bookkeeping in the SQLite file failed. */
    SYNC_STATE("SY003"),
    /**
     * A row needs an integer key from the relay and none is in stock: the client has not reached the
     * relay since the table became synced, or used up its keys offline ({@code sync.idBlock}).
     */
    NO_KEYS("SY004");

    private final String code;

    SyncSqlState(String code) {
        this.code = code;
    }

    public String code() {
        return code;
    }
}
