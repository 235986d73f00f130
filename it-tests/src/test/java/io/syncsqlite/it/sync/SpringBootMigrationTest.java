package io.syncsqlite.it.sync;

import io.syncsqlite.it.harness.Cluster;
import io.syncsqlite.it.harness.TcpProxy;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.orm.jpa.persistenceunit.PersistenceManagedTypes;
import org.springframework.transaction.support.TransactionTemplate;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.springframework.orm.jpa.SharedEntityManagerCreator;
import org.springframework.jdbc.core.JdbcTemplate;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Spring Boot application whose only database configuration is {@code spring.datasource.url=jdbc:syncsqlite:...}
 * (and the driver's class): Boot's own Flyway or Liquibase auto-configuration migrates a new file at start through
 * the driver, the migrated tables' rows reach PostgreSQL, the history tables stay on the device, and the next start
 * on the same file has nothing to migrate.
 */
class SpringBootMigrationTest {

    private static final String PG = "CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0,"
            + " note text, tag text)";

    @Configuration(proxyBeanMethods = false)
    @EnableAutoConfiguration
    static class App {
        /** JPA (on the classpath) manages this test's entity only, not the package's other tests' entities. */
        @Bean
        PersistenceManagedTypes persistenceManagedTypes() {
            return PersistenceManagedTypes.of(Item.class.getName());
        }
    }

    @Entity
    @Table(name = "item")
    public static class Item {
        // V1 declares "id INTEGER PRIMARY KEY", which sqlite-jdbc reports as Types.INTEGER: a Long would fail validation
        @Id
        Integer id;
        @Column(nullable = false)
        String name;
        int qty;
        String note;

        protected Item() {
        }

        Item(int id, String name, String note) {
            this.id = id;
            this.name = name;
            this.note = note;
        }
    }

    @TempDir
    Path dir;

    private static ConfigurableApplicationContext start(String url, String... props) {
        List<String> all = new ArrayList<>(List.of(
                "spring.datasource.url=" + url,
                "spring.datasource.driver-class-name=io.syncsqlite.driver.jdbc.SyncDriver",
                "spring.main.banner-mode=off"));
        all.addAll(Arrays.asList(props));
        return new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE)
                .properties(all.toArray(String[]::new)).run();
    }

    private static void awaitItemsInPostgres(Cluster cluster) {
        List<Map<String, Object>> pg = Cluster.eventually(() -> cluster.pgRows("SELECT id, name, note FROM item ORDER BY id"),
                rows -> rows.size() == 2 && rows.stream().allMatch(r -> r.get("note") != null));
        assertEquals(List.of("one", "two"), pg.stream().map(r -> r.get("name")).toList());
        assertEquals(List.of("note 1", "note 2"), pg.stream().map(r -> r.get("note")).toList());
    }

    @Test
    void bootRunsFlywayAtStartThroughTheDriver() throws Exception {
        try (Cluster cluster = Cluster.start("boot_flyway", dir, PG)) {
            Path file = cluster.file("app");
            TcpProxy proxy = cluster.proxy();
            String url = cluster.url("app", file, proxy);
            String[] props = {"spring.flyway.locations=classpath:flyway/app", "spring.liquibase.enabled=false"};
            try (ConfigurableApplicationContext ctx = start(url, props)) {
                assertEquals(1, ctx.getBeanNamesForType(Flyway.class).length, "Flyway auto-configured");
                JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
                assertEquals(3, jdbc.queryForObject("SELECT count(*) FROM flyway_schema_history WHERE success = 1", Integer.class));
                assertEquals(List.of("1", "2", "3"), jdbc.queryForList(
                        "SELECT version FROM flyway_schema_history ORDER BY installed_rank", String.class));
                awaitItemsInPostgres(cluster);
                assertNull(cluster.pgRows("SELECT to_regclass('flyway_schema_history') AS t").get(0).get("t"));
            }
            // The application's next start on the same file: nothing to migrate, no error; it still syncs.
            try (ConfigurableApplicationContext ctx = start(url, props)) {
                Flyway flyway = ctx.getBean(Flyway.class);
                assertEquals(0, flyway.info().pending().length);
                JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
                assertEquals(3, jdbc.queryForObject("SELECT count(*) FROM flyway_schema_history", Integer.class));
                jdbc.update("UPDATE item SET qty = 7 WHERE id = 2");
                Cluster.eventually(() -> cluster.pgRows("SELECT qty FROM item WHERE id = 2"),
                        rows -> ((Number) rows.get(0).get("qty")).intValue() == 7);
            }
        }
    }

    @Test
    void bootRunsLiquibaseAtStartThroughTheDriver() throws Exception {
        try (Cluster cluster = Cluster.start("boot_liquibase", dir, PG)) {
            Path file = cluster.file("app");
            TcpProxy proxy = cluster.proxy();
            String url = cluster.url("app", file, proxy);
            String[] props = {"spring.liquibase.change-log=classpath:liquibase/changelog.yaml", "spring.flyway.enabled=false"};
            List<String> ids = List.of("1-create-item", "2-seed-item", "3-add-note");
            try (ConfigurableApplicationContext ctx = start(url, props)) {
                assertTrue(ctx.getBeanNamesForType(liquibase.integration.spring.SpringLiquibase.class).length == 1,
                        "Liquibase auto-configured");
                JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
                assertEquals(ids, jdbc.queryForList("SELECT ID FROM DATABASECHANGELOG ORDER BY ORDEREXECUTED", String.class));
                awaitItemsInPostgres(cluster);
                assertNull(cluster.pgRows("SELECT to_regclass('databasechangelog') AS t").get(0).get("t"));
                assertNull(cluster.pgRows("SELECT to_regclass('databasechangeloglock') AS t").get(0).get("t"));
            }
            try (ConfigurableApplicationContext ctx = start(url, props)) {
                JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
                assertEquals(ids, jdbc.queryForList("SELECT ID FROM DATABASECHANGELOG ORDER BY ORDEREXECUTED", String.class));
                jdbc.update("UPDATE item SET qty = 7 WHERE id = 2");
                Cluster.eventually(() -> cluster.pgRows("SELECT qty FROM item WHERE id = 2"),
                        rows -> ((Number) rows.get(0).get("qty")).intValue() == 7);
            }
        }
    }

    /** Flyway creates the tables at start, then Hibernate validates its mapping against them and writes through JPA. */
    @Test
    void bootRunsFlywayThenJpaValidatesAndWrites() throws Exception {
        try (Cluster cluster = Cluster.start("boot_jpa", dir, PG)) {
            Path file = cluster.file("app");
            String url = cluster.url("app", file, cluster.proxy());
            String[] props = {"spring.flyway.locations=classpath:flyway/app", "spring.liquibase.enabled=false",
                    "spring.jpa.hibernate.ddl-auto=validate",
                    "spring.jpa.database-platform=org.hibernate.community.dialect.SQLiteDialect"};
            try (ConfigurableApplicationContext ctx = start(url, props)) {
                EntityManager em = SharedEntityManagerCreator.createSharedEntityManager(ctx.getBean(EntityManagerFactory.class));
                TransactionTemplate tx = ctx.getBean(TransactionTemplate.class);
                tx.executeWithoutResult(status -> {
                    em.persist(new Item(3, "three", "from jpa"));
                    em.find(Item.class, 1).qty = 4;
                });
                awaitItemsInPostgres3(cluster);
            }
            try (ConfigurableApplicationContext ctx = start(url, props)) {
                EntityManager em = SharedEntityManagerCreator.createSharedEntityManager(ctx.getBean(EntityManagerFactory.class));
                assertEquals("three", em.find(Item.class, 3).name);
            }
        }
    }

    private static void awaitItemsInPostgres3(Cluster cluster) {
        List<Map<String, Object>> pg = Cluster.eventually(() -> cluster.pgRows("SELECT id, name, qty, note FROM item ORDER BY id"),
                rows -> rows.size() == 3 && ((Number) rows.get(0).get("qty")).intValue() == 4);
        assertEquals(List.of("one", "two", "three"), pg.stream().map(r -> r.get("name")).toList());
        assertEquals("from jpa", pg.get(2).get("note"));
    }
}
