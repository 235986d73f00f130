package io.syncsqlite.relay.session;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The {@code changes} messages a client has not yet confirmed with {@code progress}, for flow control.
 *
 * <p>Clients apply messages in order, so a progress cursor confirms every message up to the last one
 * whose {@code through} it covers. A message with {@code through} 0 (part of a snapshot, or of a commit
 * too big for one message) moves no cursor; a progress that covers no message confirms the oldest such
 * message instead.
 *
 * <p>Not thread-safe: used on its session's lane only.
 */
final class FlowWindow {

    private final ArrayDeque<Long> outstanding = new ArrayDeque<>();

    void sent(long through) {
        outstanding.addLast(through);
    }

    void confirm(long cursor) {
        int last = -1;
        int i = 0;
        for (Iterator<Long> it = outstanding.iterator(); it.hasNext(); i++) {
            long through = it.next();
            if (through != 0 && through <= cursor) {
                last = i;
            }
        }
        if (last >= 0) {
            for (int k = 0; k <= last; k++) {
                outstanding.pollFirst();
            }
        } else if (!outstanding.isEmpty() && outstanding.peekFirst() == 0) {
            outstanding.pollFirst();
        }
    }

    int size() {
        return outstanding.size();
    }
}
