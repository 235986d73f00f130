package io.syncsqlite.relay.session;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Runs one session's tasks one at a time, in submission order, on a shared thread pool: thousands of
 * sessions need no thread each, yet a session's applies and feed sends never overlap.
 *
 * <p>Each task happens-before the next one (the hand-over goes through {@link #scheduled}), so state
 * touched only by lane tasks needs no further synchronization. A drain runs a bounded burst of tasks and
 * then yields the pool thread, so a busy session cannot starve the others.
 *
 * <p>Thread-safe: {@link #submit} may be called from any thread.
 */
public final class SerialLane {

    private static final Logger log = LoggerFactory.getLogger(SerialLane.class);
    private static final int BURST = 32;

    private final Executor executor;
    private final Consumer<Throwable> onFailure;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();

    /**
     * @param onFailure told, on the lane, of a task that threw, before the next task runs. A session closes its
     *                  connection there: a push whose task failed was never answered, and acknowledgements are
     *                  cumulative, so the answer to the next push made its client drop the transaction (it was
     *                  logged here and lost).
     */
    public SerialLane(Executor executor, Consumer<Throwable> onFailure) {
        this.executor = executor;
        this.onFailure = onFailure;
    }

    public void submit(Runnable task) {
        tasks.add(task);
        schedule();
    }

    private void schedule() {
        if (scheduled.compareAndSet(false, true)) {
            try {
                executor.execute(this::drain);
            } catch (RejectedExecutionException e) {
                // The relay is shut down: nothing will run any more.
                tasks.clear();
                scheduled.set(false);
            }
        }
    }

    private void drain() {
        try {
            for (int i = 0; i < BURST; i++) {
                Runnable task = tasks.poll();
                if (task == null) {
                    break;
                }
                try {
                    task.run();
                } catch (RuntimeException | Error e) {
                    log.error("session task failed", e);
                    try {
                        onFailure.accept(e);
                    } catch (RuntimeException | Error e2) {
                        log.error("handling a failed session task failed", e2);
                    }
                }
            }
        } finally {
            scheduled.set(false);
            if (!tasks.isEmpty()) {
                schedule();
            }
        }
    }
}
