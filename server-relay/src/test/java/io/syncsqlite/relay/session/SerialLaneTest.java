package io.syncsqlite.relay.session;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A lane's failing task is handed to its failure handler before the next task runs (a session closes its connection
 * there, so that its client resends the push that task never answered), and the lane goes on. Inline executor.
 */
class SerialLaneTest {

    @Test
    void aFailingTaskIsReportedBeforeTheNextTaskRuns() {
        List<String> seen = new ArrayList<>();
        SerialLane lane = new SerialLane(Runnable::run, e -> seen.add("failed: " + e.getMessage()));
        lane.submit(() -> seen.add("first"));
        lane.submit(() -> {
            throw new IllegalStateException("boom");
        });
        lane.submit(() -> seen.add("third"));
        lane.submit(() -> {
            throw new NoClassDefFoundError("gone");
        });
        lane.submit(() -> seen.add("fifth"));
        assertEquals(List.of("first", "failed: boom", "third", "failed: gone", "fifth"), seen);
    }

    @Test
    void aFailingFailureHandlerDoesNotStopTheLane() {
        List<String> seen = new ArrayList<>();
        SerialLane lane = new SerialLane(Runnable::run, e -> {
            throw new IllegalStateException("handler");
        });
        lane.submit(() -> {
            throw new IllegalStateException("boom");
        });
        lane.submit(() -> seen.add("next"));
        assertEquals(List.of("next"), seen);
    }
}
