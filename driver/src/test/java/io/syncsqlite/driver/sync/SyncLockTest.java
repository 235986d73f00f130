package io.syncsqlite.driver.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The lock that lets one process sync a file; two processes are in SharedFileReviewTest (it-tests). */
class SyncLockTest {

    @TempDir
    Path dir;

    @Test
    void oneHolderAtATimeAndTheNextTakesOverOnRelease() {
        String db = dir.resolve("app.db").toString();
        SyncLock first = new SyncLock(db);
        SyncLock second = new SyncLock(db);
        assertTrue(first.tryAcquire());
        assertTrue(first.tryAcquire(), "taking it again is a no-op");
        assertFalse(second.tryAcquire());
        assertFalse(second.held());
        first.release();
        assertFalse(first.held());
        assertTrue(second.tryAcquire());
        assertTrue(second.held());
        assertTrue(Files.exists(Path.of(db + "-synclock")));
        second.release();
    }

    @Test
    void aLockFileThatCannotBeMadeLeavesTheProcessSyncingUnchecked() {
        SyncLock lock = new SyncLock(dir.resolve("missing-directory").resolve("app.db").toString());
        assertTrue(lock.tryAcquire());
        assertTrue(lock.held());
    }
}
