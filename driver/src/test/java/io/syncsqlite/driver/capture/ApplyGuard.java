package io.syncsqlite.driver.capture;

/**
 * The capture triggers' guard for the sync client's applies ({@link TriggerSql#NOT_APPLYING}), for tests that
 * rebuild the triggers an older syncsqlite wrote, which had none. Stateless; thread-safe.
 */
public final class ApplyGuard {

    public static final String TEXT = TriggerSql.NOT_APPLYING;

    private ApplyGuard() {
    }

    /** {@code triggerSql} as it was before the guard: the same trigger, capturing every write. */
    public static String without(String triggerSql) {
        return triggerSql.replace(" AND " + TEXT, "").replace(" WHEN " + TEXT, "");
    }
}
