package io.syncsqlite.driver;

import io.syncsqlite.driver.sql.SqlClassifier;
import io.syncsqlite.driver.sql.SqlInfo;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Counter inference of today's third review, at the classifier (the it-test TodayThirdReviewTest shows the loss). */
class TodayThirdDriverReviewTest {

    private static List<String> counterColumns(String sql) {
        SqlInfo info = SqlClassifier.classifyUncached(sql);
        var counters = info.unnamedColumns() ? SqlClassifier.withColumns(sql, info, List.of("id", "qty")) : info.counters();
        return counters.stream().map(c -> c.column()).toList();
    }

    /** Controls: the shapes today's change reads. */
    @Test
    void bracketsInStringsAndConflictClausesKeepTheirCounters() {
        assertEquals(List.of("qty"), counterColumns("UPDATE item SET qty = qty + 1, note = '[' WHERE id = '] ['"));
        assertEquals(List.of("qty"), counterColumns("UPDATE OR IGNORE [item] SET [qty] = [item].[qty] + 1 WHERE id = 'x'"));
        assertEquals(List.of("qty"), counterColumns(
                "INSERT INTO item VALUES ('[x]', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty"));
    }

    /** SQLite runs the DO UPDATE of an upsert under INSERT OR REPLACE / OR IGNORE too: still an increment. */
    @Test
    void anUpsertWithAnOrConflictClauseIsAnIncrement() {
        assertEquals(List.of("qty"), counterColumns(
                "INSERT OR REPLACE INTO item VALUES ('k', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty"));
        assertEquals(List.of("qty"), counterColumns(
                "INSERT OR IGNORE INTO item (id, qty) VALUES ('k', 1) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty"));
    }

    /** SQLite's {@code IS NOT <value>} in the WHERE makes JSqlParser fail and the increment is lost. */
    @Test
    void anIncrementWhoseWhereUsesIsNotAValueIsAnIncrement() {
        assertEquals(List.of("qty"), counterColumns("UPDATE item SET qty = qty + 1 WHERE id = ? AND note IS NOT 'x'"));
        assertEquals(List.of("qty"), counterColumns("UPDATE item SET qty = qty + ? WHERE id = ? AND owner IS ?"));
    }
}
