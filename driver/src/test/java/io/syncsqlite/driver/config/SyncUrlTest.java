package io.syncsqlite.driver.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.sql.SQLException;
import java.util.List;
import java.util.Properties;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyncUrlTest {

    @Test
    void syncKeysAreOursAndEverythingElsePassesThrough() throws SQLException {
        Properties info = new Properties();
        info.setProperty("foreign_keys", "true");
        info.setProperty("sync.tables", "Items, orders");
        SyncUrl u = SyncUrl.parse("jdbc:syncsqlite:/tmp/app.db?journal_mode=WAL&sync.server=ws://h:7780/sync,wss://k/s"
                + "&busy_timeout=5000&sync.batchRows=10", info);
        assertEquals("jdbc:sqlite:/tmp/app.db?journal_mode=WAL&busy_timeout=5000", u.sqliteUrl());
        assertEquals("true", u.sqliteProps().getProperty("foreign_keys"));
        assertFalse(u.sqliteProps().stringPropertyNames().stream().anyMatch(k -> k.startsWith("sync.")));
        assertEquals(List.of(URI.create("ws://h:7780/sync"), URI.create("wss://k/s")), u.servers());
        assertEquals(Set.of("items", "orders"), u.tables());
        assertEquals(10, u.batchRows());
        assertTrue(u.syncEnabled());
        assertTrue(u.isFile());
    }

    @Test
    void urlParametersOverrideProperties() throws SQLException {
        Properties info = new Properties();
        info.setProperty("sync.batchRows", "5");
        assertEquals(7, SyncUrl.parse("jdbc:syncsqlite:a.db?sync.batchRows=7", info).batchRows());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "jdbc:syncsqlite:",
        "jdbc:syncsqlite:?sync.server=ws://x",
        "jdbc:syncsqlite:a.db?sync.serverr=ws://x",
        "jdbc:syncsqlite:a.db?sync.server=http://x",
        "jdbc:syncsqlite:a.db?sync.server=ws://",
        "jdbc:syncsqlite:a.db?sync.batchRows=0",
        "jdbc:syncsqlite:a.db?sync.batchRows=many",
        "jdbc:syncsqlite:a.db?sync.enabled=yes",
        "jdbc:syncsqlite:a.db?novalue",
        "jdbc:sqlite:a.db",
    })
    void badInputIs22023NamingTheProblem(String url) {
        SQLException e = assertThrows(SQLException.class, () -> SyncUrl.parse(url, new Properties()));
        assertEquals("22023", e.getSQLState());
    }

    @Test
    void unknownKeyIsNamed() {
        SQLException e = assertThrows(SQLException.class,
                () -> SyncUrl.parse("jdbc:syncsqlite:a.db?sync.tabels=x", new Properties()));
        assertTrue(e.getMessage().contains("sync.tabels"), e.getMessage());
    }

    @Test
    void secretsAreMasked() {
        assertEquals("wss://***@relay/s?token=***&x=1", SyncUrl.mask("wss://user:pw@relay/s?token=abc&x=1"));
    }

    @Test
    void memoryDatabasesAreNotFiles() throws SQLException {
        assertFalse(SyncUrl.parse("jdbc:syncsqlite::memory:", null).isFile());
    }

    /** What sqlite-jdbc applies: the connection's properties, overridden by the URL's parameters. */
    @Test
    void sqliteSettingsJoinPropertiesAndUrlParameters() throws SQLException {
        Properties info = new Properties();
        info.setProperty("date_class", "REAL");
        info.setProperty("busy_timeout", "100");
        SyncUrl u = SyncUrl.parse("jdbc:syncsqlite:/tmp/a.db?date_class=TEXT&date_string_format=yyyy%2FMM%2Fdd&sync.node=n", info);
        Properties s = u.sqliteSettings();
        assertEquals("TEXT", s.getProperty("date_class"));
        assertEquals("yyyy/MM/dd", s.getProperty("date_string_format"));
        assertEquals("100", s.getProperty("busy_timeout"));
        assertEquals(null, s.getProperty("sync.node"));
    }
}
