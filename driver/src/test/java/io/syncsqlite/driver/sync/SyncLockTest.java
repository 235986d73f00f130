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

    /** A node of the file still closing in this JVM (its sync thread lets go as it ends) is waited for. */
    @Test
    void openingWaitsForANodeOfThisJvmThatIsClosing() throws Exception {
        String db = dir.resolve("app.db").toString();
        SyncLock closing = new SyncLock(db);
        assertTrue(closing.tryAcquire());
        Thread ender = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException ignored) {
                return;
            }
            closing.release();
        });
        ender.start();
        SyncLock opening = new SyncLock(db);
        assertTrue(opening.acquireOnOpen(5_000));
        ender.join();
        SyncLock late = new SyncLock(db);
        long t0 = System.nanoTime();
        assertFalse(late.acquireOnOpen(300), "a holder that stays is given up on after the wait");
        assertTrue(System.nanoTime() - t0 >= 300_000_000L);
        opening.release();
    }

    @Test
    void aLockFileThatCannotBeMadeLeavesTheProcessSyncingUnchecked() {
        SyncLock lock = new SyncLock(dir.resolve("missing-directory").resolve("app.db").toString());
        assertTrue(lock.tryAcquire());
        assertTrue(lock.held());
    }
}
