package io.syncsqlite.driver.sync;

import io.syncsqlite.driver.capture.CaptureInstaller;
import io.syncsqlite.driver.capture.TableInfo;
import io.syncsqlite.protocol.HybridClock;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.Map;
import java.util.Set;

/** Test fixture: a sync client's local store on a plain sqlite-jdbc connection, capture installed. */
final class LocalStores {

    private LocalStores() {
    }

    /** Installs capture on every keyed table of {@code client}'s file and opens a store on that connection. */
    static LocalStore open(Connection client) throws SQLException {
        HybridClock clock = new HybridClock(InstantSource.system());
        Map<String, TableInfo> tables = CaptureInstaller.install(client, Set.of(), clock::now);
        return new LocalStore(client, clock, () -> tables);
    }

    /** What the sync client does with a snapshot request at connect; returns whether it resyncs. */
    static boolean takeAtConnect(LocalStore store) throws SQLException {
        long request = store.snapshotRequest();
        boolean resync = store.resyncDue(request);
        if (request != 0 || resync) {
            store.takeSnapshotRequest(request, resync);
        }
        return resync;
    }
}
