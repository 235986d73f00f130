package io.syncsqlite.examples.jpa;

import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import org.hibernate.cfg.Configuration;

/**
 * Hibernate/JPA on syncsqlite: the application is plain JPA; the only syncsqlite-specific line is the JDBC
 * URL. Tables are created by Hibernate ({@code hbm2ddl.auto=update}) through the driver, which starts
 * capturing them as they appear.
 *
 * <p>Run against a relay: {@code mvn -pl examples exec:java -Dexec.mainClass=io.syncsqlite.examples.jpa.JpaExample
 * -Dexec.args="app.db ws://localhost:7780/sync"}. The relay's PostgreSQL needs the same three tables
 * (player, tournament, enrolment, game with an IDENTITY key); see {@link #POSTGRES_DDL}.
 */
public final class JpaExample {

    /** The PostgreSQL side of the mapping, as an operator would create it. */
    public static final String[] POSTGRES_DDL = {
        "CREATE TABLE player (id VARCHAR(255) PRIMARY KEY, name VARCHAR(255), rating INTEGER NOT NULL)",
        "CREATE TABLE tournament (id VARCHAR(255) PRIMARY KEY, title VARCHAR(255), starts_on DATE)",
        "CREATE TABLE enrolment (tournament_id VARCHAR(255) NOT NULL, player_id VARCHAR(255) NOT NULL,"
                + " PRIMARY KEY (tournament_id, player_id))",
        "CREATE TABLE player_tags (player_id VARCHAR(255) NOT NULL REFERENCES player (id), tags VARCHAR(255) NOT NULL,"
                + " PRIMARY KEY (player_id, tags))",
        "CREATE TABLE game (id BIGSERIAL PRIMARY KEY, round INTEGER NOT NULL, result VARCHAR(255),"
                + " tournament_id VARCHAR(255) REFERENCES tournament (id))",
    };

    private JpaExample() {
    }

    /** An EntityManagerFactory on a syncsqlite file; everything but the URL is ordinary Hibernate set-up. */
    public static EntityManagerFactory open(String sqliteFile, String relay) {
        return new Configuration()
                .addAnnotatedClass(Player.class)
                .addAnnotatedClass(Tournament.class)
                .addAnnotatedClass(Game.class)
                .setProperty("hibernate.connection.url",
                        "jdbc:syncsqlite:" + sqliteFile + "?sync.server=" + relay)   // was jdbc:sqlite:<file>
                .setProperty("hibernate.dialect", "org.hibernate.community.dialect.SQLiteDialect")
                .setProperty("hibernate.hbm2ddl.auto", "update")
                .setProperty("hibernate.connection.pool_size", "2")
                .buildSessionFactory();
    }

    public static void main(String[] args) throws Exception {
        String file = args.length > 0 ? args[0] : "jpa-example.db";
        String relay = args.length > 1 ? args[1] : "ws://localhost:7780/sync";
        try (EntityManagerFactory emf = open(file, relay)) {
            EntityManager em = emf.createEntityManager();
            em.getTransaction().begin();
            Player ann = new Player("Ann", 1800);
            Player bob = new Player("Bob", 1650);
            Tournament open = new Tournament("Spring Open");
            open.setStartsOn(java.time.LocalDate.of(2027, 4, 1));
            open.enrol(ann);
            open.enrol(bob);
            em.persist(ann);
            em.persist(bob);
            em.persist(open);
            em.getTransaction().commit();
            System.out.println("persisted " + open.getTitle() + " with " + open.getPlayers().size()
                    + " players; they sync to the relay in the background");
            em.close();
            Thread.sleep(1000);
        }
    }
}
