package io.syncsqlite.driver.sync;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The right to run the sync client of one file, among processes: an operating-system lock on a file beside
 * it ({@code <file>-synclock}). Inside one JVM every connection to a file shares one {@link SyncNode}; a
 * second process on the same file (an application and its command-line tool, or an application restarted
 * while the old process still shuts down) would run a second sync client for the same node, and two clients
 * applying the same feed and the same acknowledgements at their own pace count a pending counter twice and
 * apply an older row over a newer one (SharedFileReviewTest). The process holding the lock syncs; the others
 * capture their writes, which the holder sends, and try for the lock again, so one of them takes over when
 * the holder ends. The operating system releases the lock of a process that dies.
 *
 * <p>The lock is not on the database file itself: POSIX locks belong to the process, and closing any channel
 * on a file drops all of them, SQLite's own included.
 *
 * <p>Thread-safe.
 */
final class SyncLock {

    private static final System.Logger LOG = System.getLogger(SyncLock.class.getName());

    private final Path path;
    private FileChannel channel;
    private FileLock lock;
    /** The lock file could not be made: this process syncs unchecked (warned once). */
    private boolean unchecked;
    /** Whether the last failed attempt found the lock held in this JVM (a node of the file still closing). */
    private boolean heldInThisJvm;

    SyncLock(String databasePath) {
        this.path = Path.of(databasePath + "-synclock");
    }

    /**
     * Takes the lock if no other process holds it; true if this process holds it now. A lock file that
     * cannot be created (a read-only directory) counts as held: this process then syncs, as before.
     */
    synchronized boolean tryAcquire() {
        if (lock != null || unchecked) {
            return true;
        }
        heldInThisJvm = false;
        FileChannel ch = null;
        try {
            ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l = ch.tryLock();
            if (l == null) {
                ch.close();
                return false;
            }
            channel = ch;
            lock = l;
            return true;
        } catch (OverlappingFileLockException e) {
            close(ch);
            heldInThisJvm = true;
            return false;
        } catch (IOException e) {
            close(ch);
            LOG.log(System.Logger.Level.WARNING, "cannot lock {0} ({1}): this process syncs the file without"
                    + " checking for another one", path, e.toString());
            unchecked = true;
            return true;
        }
    }

    /**
     * Takes the lock as a node opening the file does: a node of the same file in this JVM that is still
     * closing (its sync thread lets go as it ends; an application that opens a connection per request closes
     * and reopens the node) is waited for, up to {@code waitMs}; another process is not.
     */
    boolean acquireOnOpen(long waitMs) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (true) {
            if (tryAcquire()) {
                return true;
            }
            synchronized (this) {
                if (!heldInThisJvm || System.nanoTime() > deadline) {
                    return false;
                }
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    /** Whether this process holds the lock. */
    synchronized boolean held() {
        return lock != null || unchecked;
    }

    /** Gives the lock up (another process may take it). */
    synchronized void release() {
        lock = null;
        close(channel);
        channel = null;
    }

    private static void close(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing releases the lock; nothing else to do
            }
        }
    }
}
