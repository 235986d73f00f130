package io.syncsqlite.relay.session;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class FlowWindowTest {

    @Test
    void aCursorConfirmsEveryMessageUpToTheLastItCovers() {
        FlowWindow w = new FlowWindow();
        w.sent(5);
        w.sent(9);
        w.sent(12);
        w.confirm(9);
        assertEquals(1, w.size());
        w.confirm(9); // a repeated cursor confirms nothing more
        assertEquals(1, w.size());
        w.confirm(20);
        assertEquals(0, w.size());
    }

    @Test
    void messagesThatMoveNoCursorAreConfirmedOneProgressEach() {
        FlowWindow w = new FlowWindow();
        w.sent(0);
        w.sent(0);
        w.sent(40);
        w.confirm(0);
        assertEquals(2, w.size());
        w.confirm(0);
        assertEquals(1, w.size());
        w.confirm(40);
        assertEquals(0, w.size());
    }

    @Test
    void aCoalescedProgressConfirmsTheSnapshotPartsBeforeIt() {
        FlowWindow w = new FlowWindow();
        w.sent(0);
        w.sent(0);
        w.sent(7);
        w.sent(8);
        w.confirm(7);
        assertEquals(1, w.size());
    }
}
