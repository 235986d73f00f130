package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Client;
import io.syncsqlite.it.harness.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.support.TransactionTemplate;

import javax.sql.DataSource;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Spring Boot application configured only by {@code spring.datasource.url=jdbc:syncsqlite:...}: Boot's
 * auto-configuration builds its HikariCP pool on the driver, and JdbcTemplate and TransactionTemplate work
 * unchanged; committed work reaches PostgreSQL, rolled-back work never leaves the device.
 */
class SpringBootJdbcTest {

    @Configuration(proxyBeanMethods = false)
    @EnableAutoConfiguration
    static class App {
    }

    @TempDir
    Path dir;

    @Test
    void springBootApplicationSyncsThroughTheUrlAlone() throws Exception {
        try (Cluster cluster = Cluster.start("spring", dir,
                "CREATE TABLE todo (id bigserial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false)")) {
            Path file = cluster.file("app", "CREATE TABLE todo (id INTEGER PRIMARY KEY, title TEXT NOT NULL,"
                    + " done BOOLEAN NOT NULL DEFAULT 0)");
            // One proxy for both: every connection to a file shares its sync, so they give the same sync.server.
            io.syncsqlite.it.harness.TcpProxy proxy = cluster.proxy();
            String url = cluster.url("app", file, proxy);
            try (ConfigurableApplicationContext ctx = new SpringApplicationBuilder(App.class)
                    .web(WebApplicationType.NONE)
                    .properties("spring.datasource.url=" + url,
                            // Boot derives the driver class only for URLs it knows; any other driver is named
                            "spring.datasource.driver-class-name=io.syncsqlite.driver.jdbc.SyncDriver",
                            "spring.main.banner-mode=off",
                            // migration tools are on this module's classpath for SpringBootMigrationTest
                            "spring.flyway.enabled=false", "spring.liquibase.enabled=false")
                    .run()) {
                DataSource ds = ctx.getBean(DataSource.class);
                assertTrue(ds.getClass().getName().contains("Hikari"), ds.getClass().getName());
                JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
                TransactionTemplate tx = ctx.getBean(TransactionTemplate.class);
                tx.executeWithoutResult(status -> {
                    jdbc.update("INSERT INTO todo (title) VALUES (?)", "write docs");
                    jdbc.update("INSERT INTO todo (title) VALUES (?)", "ship it");
                });
                tx.executeWithoutResult(status -> {
                    jdbc.update("INSERT INTO todo (title) VALUES (?)", "never happened");
                    status.setRollbackOnly();
                });
                jdbc.update("UPDATE todo SET done = ? WHERE title = ?", true, "write docs");
                Client view = cluster.open("app", file, proxy);
                view.awaitSynced();
                cluster.awaitConverged("SELECT id, title, done FROM todo ORDER BY id", view);
                assertEquals(2L, cluster.pgRows("SELECT count(*) AS n FROM todo").get(0).get("n"));
                assertEquals(1L, cluster.pgRows("SELECT done FROM todo WHERE title = 'write docs'").get(0).get("done")); // Rows: booleans as 0/1
            }
        }
    }
}
