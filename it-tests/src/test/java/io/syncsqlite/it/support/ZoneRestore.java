package io.syncsqlite.it.support;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.TimeZone;

/**
 * Puts the JVM's default time zone back after each test, for tests that run the driver in other zones
 * ({@code @RegisterExtension final ZoneRestore zones = new ZoneRestore();}, then {@link #set}).
 *
 * <p>Not thread-safe: tests of one class run one at a time.
 */
public final class ZoneRestore implements BeforeEachCallback, AfterEachCallback {

    private TimeZone saved;

    @Override
    public void beforeEach(ExtensionContext context) {
        saved = TimeZone.getDefault();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        TimeZone.setDefault(saved);
    }

    /** Makes {@code id} the JVM's default zone until the test ends. */
    public void set(String id) {
        TimeZone.setDefault(TimeZone.getTimeZone(id));
    }
}
