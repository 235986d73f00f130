package io.syncsqlite.driver.sql;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SqlClassifierTest {

    private final SqlClassifier classifier = new SqlClassifier();

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "~", textBlock = """
        select * from item                                           | READ         | ~
        SELECT last_insert_rowid()                                   | READ         | ~
        with x as (select 1) select * from x                         | READ         | ~
        insert into item (title) values (?)                          | INSERT       | item
        INSERT OR REPLACE INTO "Item" VALUES (1, 'a')                | INSERT       | Item
        insert or ignore into [my item] values (1)                   | INSERT       | my item
        REPLACE INTO item VALUES (1)                                 | INSERT       | item
        INSERT INTO main.item VALUES (1)                             | INSERT       | item
        insert into categories(name, count) values ('Food', ?) on conflict(name) do update set count = count + excluded.count | INSERT | categories
        insert into item (title) values (?) returning id             | INSERT       | item
        with n as (select 1 as v) insert into item select v from n   | INSERT       | item
        update item set qty=(qty+?) where id=?                       | UPDATE       | item
        UPDATE OR IGNORE item SET a = 1                              | UPDATE       | item
        delete from item where id = ?                                | DELETE       | item
        BEGIN                                                        | BEGIN        | ~
        begin immediate transaction                                  | BEGIN        | ~
        COMMIT                                                       | COMMIT       | ~
        END TRANSACTION                                              | COMMIT       | ~
        ROLLBACK                                                     | ROLLBACK     | ~
        ROLLBACK TO SAVEPOINT sp1                                    | ROLLBACK_TO  | ~
        rollback transaction to sp1                                  | ROLLBACK_TO  | ~
        SAVEPOINT sp1                                                | SAVEPOINT    | ~
        RELEASE SAVEPOINT sp1                                        | RELEASE      | ~
        release sp1                                                  | RELEASE      | ~
        PRAGMA foreign_keys = ON                                     | PRAGMA       | ~
        ATTACH DATABASE 'x.db' AS x                                  | PRAGMA       | ~
        VACUUM                                                       | PRAGMA       | ~
        create table item (id integer, primary key (id))             | CREATE_TABLE | item
        CREATE TABLE IF NOT EXISTS "Order" (id INTEGER PRIMARY KEY) STRICT | CREATE_TABLE | Order
        create temp table scratch (a)                                | OTHER_DDL    | scratch
        create index ix on item (title)                              | OTHER_DDL    | ~
        create trigger t after insert on item begin select 1; end    | OTHER_DDL    | ~
        ALTER TABLE item ADD COLUMN note TEXT                        | ALTER_TABLE  | item
        drop table if exists item                                    | DROP_TABLE   | item
        drop index ix                                                | OTHER_DDL    | ~
        insert into a values (1); insert into b values (2)           | UNKNOWN      | ~
        insert into a values (';')                                   | INSERT       | a
        select 1;                                                    | READ         | ~
        """)
    void classifies(String sql, StatementKind kind, String table) {
        SqlInfo info = classifier.classify(sql.replace("\\n", "\n"));
        assertEquals(kind, info.kind(), sql);
        if (kind != StatementKind.UNKNOWN) {
            assertEquals(table, info.table(), sql);
        }
    }

    @Test
    void commentsAndStringsAreSkipped() {
        SqlInfo info = classifier.classify("/* hint; */ -- note; with a semicolon\n DELETE FROM \"my table\" WHERE a = ';'");
        assertEquals(StatementKind.DELETE, info.kind());
        assertEquals("my table", info.table());
    }

    /** A WITH clause longer than the head the lexer reads first is read on to the statement it prefixes. */
    @Test
    void aLongWithClauseStillFindsItsStatement() {
        StringBuilder ctes = new StringBuilder("WITH c0 AS (SELECT 0 AS n)");
        for (int i = 1; i < 20; i++) {
            ctes.append(", c").append(i).append(" AS (SELECT n + 1 AS n FROM c").append(i - 1).append(")");
        }
        SqlInfo info = classifier.classify(ctes + " INSERT OR REPLACE INTO \"my table\" (n) SELECT n FROM c19");
        assertEquals(StatementKind.INSERT, info.kind());
        assertEquals("my table", info.table());
        assertEquals(true, info.replaces());
        assertEquals(StatementKind.UPDATE, classifier.classify(ctes + " UPDATE t SET n = 1").kind());
        assertEquals(StatementKind.UNKNOWN, classifier.classify(ctes + " garbage").kind());
    }

    /** The conflict clause that evicts other rows (REPLACE), and look-alikes that do not. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "INSERT OR REPLACE INTO t VALUES (1) | true",
        "REPLACE INTO t VALUES (1) | true",
        "update or replace t set a = 1 | true",
        "INSERT INTO t SELECT replace(a, 'x', 'y') FROM u | false",
        "INSERT OR IGNORE INTO t VALUES (1) | false",
        "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2 | false",
        "UPDATE \"replace\" SET a = 1 | false",
        // Several statements: marked when one may REPLACE and none manages the transaction or says ROLLBACK.
        "INSERT INTO u VALUES (1); INSERT OR REPLACE INTO t VALUES (1) | true",
        "INSERT INTO u VALUES (1); INSERT INTO t VALUES ('REPLACE') | false",
        "INSERT INTO u VALUES (1); INSERT INTO \"replace\" VALUES (1) | false",
        "REPLACE INTO t VALUES (1); COMMIT | false",
        "BEGIN; REPLACE INTO t VALUES (1) | false",
        "REPLACE INTO t VALUES (1); INSERT OR ROLLBACK INTO u VALUES (1) | false",
        "REPLACE INTO t VALUES (1); /* COMMIT */ INSERT INTO u VALUES (1) | true",
    })
    void replaceIsMarked(String sql, boolean replaces) {
        assertEquals(replaces, classifier.classify(sql).replaces(), sql);
    }

    @Test
    void aCreateTriggerWithABodyIsOneStatement() {
        assertEquals(StatementKind.OTHER_DDL, classifier.classify(
                "CREATE TRIGGER g AFTER INSERT ON t BEGIN UPDATE t SET a = 1 WHERE id = NEW.id; DELETE FROM u; END").kind());
        assertEquals(StatementKind.OTHER_DDL, classifier.classify("create temp trigger g after insert on t"
                + " when case when NEW.a then 1 end begin update t set a = case when a then 1 else 2 end; end;;").kind());
        // A statement after the trigger is a second one.
        assertEquals(StatementKind.UNKNOWN, classifier.classify(
                "CREATE TRIGGER g AFTER INSERT ON t BEGIN DELETE FROM u; END; INSERT INTO t VALUES (1)").kind());
        // An END inside a string or a quoted name does not close the body.
        assertEquals(StatementKind.UNKNOWN, classifier.classify(
                "CREATE TRIGGER \"end\" AFTER INSERT ON t BEGIN SELECT 'END'; END; DELETE FROM t").kind());
        assertEquals(StatementKind.OTHER_DDL, classifier.classify(
                "CREATE TRIGGER \"end\" AFTER INSERT ON t BEGIN SELECT 'END'; END").kind());
    }

    @Test
    void aTriggerCreatedBeforeWritesInOneStringIsFound() {
        String trigger = "CREATE TRIGGER g AFTER UPDATE OF a, b ON main.\"My T\" WHEN NEW.a > 0 BEGIN"
                + " INSERT INTO log VALUES (NEW.a); UPDATE x SET c = CASE WHEN 1 THEN 2 END; END;";
        String sql = trigger + " INSERT INTO \"My T\" VALUES (1); CREATE TRIGGER h AFTER INSERT ON u BEGIN SELECT 1; END";
        assertEquals(java.util.List.of(new SqlClassifier.TriggerBeforeWrites("My T", trigger.length())),
                SqlClassifier.triggersBeforeWrites(sql));
        // Nothing writes after it: no cut.
        assertEquals(java.util.List.of(), SqlClassifier.triggersBeforeWrites(trigger + " SELECT 1"));
        assertEquals(java.util.List.of(), SqlClassifier.triggersBeforeWrites("INSERT INTO t VALUES (1); DELETE FROM t"));
    }

    @Test
    void theAltersAmongSeveralStatementsAreListed() {
        String sql = "UPDATE t SET a = ';'; /* ; */ ALTER TABLE main.\"My T\" DROP COLUMN b;"
                + " CREATE TRIGGER g AFTER INSERT ON u BEGIN DELETE FROM u; END; alter table u rename to v";
        SqlInfo info = classifier.classify(sql);
        assertEquals(StatementKind.UNKNOWN, info.kind());
        assertEquals(java.util.List.of("My T:DROP", "u:RENAME"),
                info.alters().stream().map(a -> a.table() + ":" + a.name()).toList());
        assertTrue(info.alters().stream().allMatch(a -> a.kind() == StatementKind.ALTER_TABLE));
        // Where sqlite-jdbc runs the first statement only, only its ALTER counts.
        assertTrue(SqlClassifier.firstStatementOnly(info, sql).alters().isEmpty());
        String first = "ALTER TABLE t RENAME COLUMN a TO b; ALTER TABLE u DROP c";
        assertEquals(java.util.List.of("t:RENAME"), SqlClassifier.firstStatementOnly(classifier.classify(first), first)
                .alters().stream().map(a -> a.table() + ":" + a.name()).toList());
        assertTrue(classifier.classify("ALTER TABLE t DROP c").alters().isEmpty(), "one statement: its own kind says it");
    }

    @Test
    void parametersAndStringNamesAreReadAsSqliteReadsThem() {
        // SQLite reads $a(...), :a(...), @a(...) up to ')' or a space, quotes included: the ';' after it ends a statement.
        for (String p : List.of("$a(')", ":a(/*)", "@a(\")", "$a::b(')")) {
            SqlInfo info = classifier.classify("UPDATE t SET x = " + p + " WHERE id = 1; ALTER TABLE t RENAME TO u; -- '\"*/");
            assertEquals(StatementKind.UNKNOWN, info.kind(), p);
            assertEquals(List.of("t:RENAME"), info.alters().stream().map(a -> a.table() + ":" + a.name()).toList(), p);
        }
        assertEquals(StatementKind.UPDATE, classifier.classify("UPDATE t SET x = $a WHERE y = ':b; c'").kind());
        // A string where SQLite expects a name is that name.
        assertEquals("my item", classifier.classify("ALTER TABLE 'my item' RENAME TO x").table());
        assertEquals("it's", classifier.classify("INSERT INTO main.'it''s' (a) VALUES (1)").table());
        // Another schema than main is none of the synced tables.
        assertEquals(null, classifier.classify("ALTER TABLE temp.t DROP COLUMN c").table());
        assertEquals("t", classifier.classify("ALTER TABLE \"MAIN\".t DROP COLUMN c").table());
    }

    @Test
    void transactionControlAndWritesAfterAnAddAreFound() {
        assertTrue(SqlClassifier.managesTransaction("BEGIN; UPDATE t SET a = 1; COMMIT"));
        assertTrue(SqlClassifier.managesTransaction("UPDATE t SET a = 1; end"));
        // OR ROLLBACK and RAISE(ROLLBACK) end a transaction only as a failing statement does: not control.
        assertFalse(SqlClassifier.managesTransaction("CREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT RAISE(ROLLBACK, 'x'); END"));
        assertFalse(SqlClassifier.managesTransaction("INSERT OR ROLLBACK INTO t VALUES (1); UPDATE t SET a = 1"));
        assertTrue(SqlClassifier.managesTransaction("UPDATE t SET a = 1; ROLLBACK"));
        assertFalse(SqlClassifier.managesTransaction("CREATE TEMP TRIGGER g AFTER INSERT ON t WHEN CASE WHEN 1 THEN 1 END"
                + " BEGIN UPDATE t SET a = CASE WHEN a THEN 1 END; DELETE FROM u; END; UPDATE t SET a = 2"));
        String sql = "ALTER TABLE t ADD COLUMN c; ALTER TABLE u ADD d; CREATE INDEX i ON t (c); UPDATE t SET c = 1;"
                + " ALTER TABLE v ADD e; DELETE FROM v";
        List<SqlClassifier.AddBeforeWrites> adds = SqlClassifier.addsBeforeWrites(sql);
        // A DELETE may fire a trigger that writes the new column: it counts as a write.
        assertEquals(List.of("t", "u", "v"), adds.stream().map(a -> a.add().table()).toList());
        assertEquals("ALTER TABLE t ADD COLUMN c;", sql.substring(0, adds.get(0).end()));
        assertEquals(" ALTER TABLE u ADD d;", sql.substring(adds.get(0).end(), adds.get(1).end()));
    }

    @Test
    void repeatedSqlComesFromTheCache() {
        String sql = "update item set qty = qty + ? where id = ?";
        assertSame(classifier.classify(sql), classifier.classify(sql));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
        SAVEPOINT "Sp 1"     | Sp 1
        RELEASE sp2          | sp2
        ROLLBACK TO x        | x
        """)
    void savepointNames(String sql, String name) {
        assertEquals(name, classifier.classify(sql).name());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "~", textBlock = """
        update item set qty=(qty+?) where id=?                                   | qty:+1:p1
        UPDATE item SET qty = qty - ? WHERE id = ?                               | qty:-1:p1
        update item set title = ?, qty = ? + qty where id = ?                    | qty:+1:p2
        update item set qty = qty - -3                                           | qty:+1:3
        update item set price = price + 2.5, qty = qty * 2                       | price:+1:2.5
        INSERT INTO categories(name, count) VALUES ('Food', ?) ON CONFLICT(name) DO UPDATE SET count = count + excluded.count | count:+1:p1
        insert into c (name, count) values (?, 4) on conflict (name) do update set count = count + excluded.count | count:+1:4
        update item set qty = ? where id = ?                                     | ~
        update item set qty = other + 1                                          | ~
        update item set qty = qty + (select 1)                                   | ~
        update item set qty = d.qty + 1 from delivery as d where d.id = item.id  | ~
        update item as t set qty = s.qty + 5 from item as s where s.id = t.id + 1 | ~
        update item as t set qty = t.qty + 5 from item as s where s.id = t.id    | qty:+1:5
        update item set qty = item.qty + ? from d where d.id = item.id           | qty:+1:p1
        update main.item set qty = "ITEM".qty - 1                                | qty:-1:1
        UPDATE [item] SET [qty] = [qty] + 1 WHERE [id] = ?                       | qty:+1:1
        UPDATE OR IGNORE item SET qty = qty + ? WHERE id = ?                     | qty:+1:p1
        update or abort [item] set qty = [item].qty - 2 where title = '[x] or y' | qty:-1:2
        with d as (select 1) update or fail item set qty = qty + 3               | qty:+1:3
        update item set qty = qty + 1 where id = ? and note is not 'x'           | qty:+1:1
        update item set qty = qty - ? where owner is ? and (a is (select null))  | qty:-1:p1
        update item set qty = ? where owner is ?                                 | ~
        insert or ignore into item (id, qty) values (?, ?) on conflict (id) do update set qty = qty + excluded.qty | qty:+1:p2
        update item set title=?, version=? where id=? and version=?              | version:+1:p2-p4
        update Item set "Version" = ?, qty = qty + ? where (? = version) and id = ? | qty:+1:p2;Version:+1:p1-p3
        update Item set lockVersion = ? where id = ? and lockVersion = ?         | ~
        update item set version = ? where id = ?                                 | ~
        update item set version = ? where id = ? or version = ?                  | ~
        update seat set holder = ? where id = ? and holder = ?                   | ~
        update campaign set conversion = ? where id = ? and conversion = ?       | ~
        update t set row_version = ? where id = ? and row_version = ?            | ~
        update item set qty = (coalesce(item.qty, ?) + ?) where item.id = ?      | qty:+1:p2/p1
        update item set qty = ifnull(qty, 0) - 3                                 | qty:-1:3
        update item set qty = 2 + coalesce(qty, 0)                               | qty:+1:2
        update item set qty = coalesce(qty, 1) + 2                               | ~
        update item set qty = coalesce(qty, other, 0) + 2                        | ~
        """)
    void countersAreInferredFromTheSql(String sql, String expected) {
        java.util.List<String> got = classifier.classify(sql).counters().stream()
                .map(c -> c.column() + ":" + (c.sign() > 0 ? "+1" : "-1") + ":"
                        + (c.literal() != null ? c.literal().stripTrailingZeros().toPlainString() : "p" + c.parameter())
                        + (c.minus() > 0 ? "-p" + c.minus() : "") + (c.zero() > 0 ? "/p" + c.zero() : ""))
                .toList();
        assertEquals(expected == null ? java.util.List.of() : java.util.List.of(expected.split(";")), got, sql);
    }

    /** A null-safe increment with a bound fallback adds its amount only while the fallback is bound 0. */
    @Test
    void aBoundFallbackMakesAnIncrementOnlyWhenZero() {
        Counter c = new Counter("qty", 1, 2, null, 0, 1);
        assertEquals(java.math.BigDecimal.valueOf(5), c.amount(new Object[]{0, 5}));
        assertEquals(java.math.BigDecimal.valueOf(5), c.amount(new Object[]{java.math.BigDecimal.ZERO, 5L}));
        assertEquals(null, c.amount(new Object[]{1, 5}));
        assertEquals(null, c.amount(new Object[]{null, 5}));
    }

    /** An upsert without a column list adds what its VALUES give the column, known with the table's columns. */
    @Test
    void upsertCountersWithoutAColumnListAreReadWithTheTablesColumns() {
        String sql = "INSERT INTO item VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET qty = qty + excluded.qty";
        SqlInfo info = classifier.classify(sql);
        assertTrue(info.unnamedColumns());
        assertEquals(java.util.List.of(), info.counters());
        java.util.List<Counter> counters = SqlClassifier.withColumns(sql, info, java.util.List.of("id", "title", "qty"));
        assertEquals(java.util.List.of(new Counter("qty", 1, 3, null)), counters);
        // A literal amount, a qualified target, and a name in brackets
        assertEquals(java.util.List.of(new Counter("qty", -1, 0, java.math.BigDecimal.valueOf(2))),
                SqlClassifier.withColumns("INSERT INTO [item] VALUES ('a', 2) ON CONFLICT (id) DO UPDATE SET qty = item.qty - excluded.qty",
                        info, java.util.List.of("id", "qty")));
        // Columns that do not match the VALUES: nothing is guessed
        assertEquals(java.util.List.of(), SqlClassifier.withColumns(sql, info, java.util.List.of("id", "qty")));
        // With a column list, or without excluded, there is nothing to resolve
        assertEquals(false, classifier.classify("INSERT INTO item (id, qty) VALUES (?, ?) ON CONFLICT (id) DO UPDATE"
                + " SET qty = qty + excluded.qty").unnamedColumns());
        assertEquals(false, classifier.classify("INSERT INTO item VALUES (?, ?) ON CONFLICT (id) DO NOTHING").unnamedColumns());
    }

    /** The terms and WHERE of a unique index, read past quotes, comments, COLLATE and ASC/DESC. */
    @Test
    void indexShapesAreRead() {
        SqlClassifier.IndexShape shape = SqlClassifier.indexShape("CREATE UNIQUE INDEX \"i\" ON t (lower(\"e mail\") COLLATE NOCASE DESC,"
                + " /* a, b */ substr(code, 1, 3), n ASC) WHERE deleted = 0 AND note <> ')'");
        assertEquals(java.util.List.of("lower(\"e mail\")", "substr(code, 1, 3)", "n"), shape.terms());
        assertEquals("deleted = 0 AND note <> ')'", shape.where());
        assertTrue(shape.names().containsAll(java.util.Set.of("e mail", "code", "n", "deleted", "note")));
        assertEquals(null, SqlClassifier.indexShape("CREATE UNIQUE INDEX i ON t (a) x"));
        assertEquals(null, SqlClassifier.indexShape("CREATE UNIQUE INDEX i ON t (a"));
        assertTrue(SqlClassifier.indexShape("CREATE UNIQUE INDEX i ON t (t.a)").qualifies());
        assertEquals(false, SqlClassifier.indexShape("CREATE UNIQUE INDEX i ON t (a * 1.5) WHERE b > 0.5").qualifies());
        // A sort order or collation applies to the whole term only after an operand of its own.
        assertEquals(java.util.List.of("desc", "name = 'main' COLLATE NOCASE", "(a || b)"),
                SqlClassifier.indexShape("CREATE UNIQUE INDEX i ON t (desc, name = 'main' COLLATE NOCASE,"
                        + " (a || b) COLLATE NOCASE ASC)").terms());
    }
}
