package io.syncsqlite.it.sync;

import io.syncsqlite.examples.jpa.Game;
import io.syncsqlite.examples.jpa.JpaExample;
import io.syncsqlite.examples.jpa.Player;
import io.syncsqlite.examples.jpa.Tournament;
import io.syncsqlite.it.support.RelayFixture;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The JPA example application, unchanged but for its URL, run as two clients against one relay: what one
 * persists appears in PostgreSQL and, loaded through JPA, on the other.
 */
class JpaTwoClientsTest {

    @TempDir
    Path dir;

    @Test
    void entitiesPersistedOnOneClientLoadOnTheOther() throws Exception {
        try (RelayFixture relay = RelayFixture.start("e2e_jpa", JpaExample.POSTGRES_DDL);
             EntityManagerFactory one = JpaExample.open(dir.resolve("one.db").toString(), relay.uri().toString());
             EntityManagerFactory two = JpaExample.open(dir.resolve("two.db").toString(), relay.uri().toString())) {
            String tournamentId;
            EntityManager em = one.createEntityManager();
            em.getTransaction().begin();
            Player ann = new Player("Ann", 1800);
            Player bob = new Player("Bob", 1650);
            ann.getTags().addAll(Set.of("left-handed", "captain"));
            Tournament t = new Tournament("Spring Open");
            t.setStartsOn(java.time.LocalDate.of(2027, 4, 1));
            t.enrol(ann);
            t.enrol(bob);
            em.persist(ann);
            em.persist(bob);
            em.persist(t);
            em.getTransaction().commit();
            tournamentId = t.getId();
            em.close();

            await().atMost(Duration.ofSeconds(30)).until(() -> relay.queryLong("SELECT count(*) FROM enrolment") == 2);
            assertEquals(1, relay.queryLong("SELECT count(*) FROM tournament WHERE title = 'Spring Open'"
                    + " AND starts_on = date '2027-04-01'"), "a LocalDate lands in PostgreSQL's date column");

            Set<String> names = await().atMost(Duration.ofSeconds(30)).until(() -> {
                EntityManager other = two.createEntityManager();
                try {
                    Tournament seen = other.find(Tournament.class, tournamentId);
                    return seen == null ? Set.<String>of()
                            : seen.getPlayers().stream().map(Player::getName).collect(Collectors.toSet());
                } finally {
                    other.close();
                }
            }, s -> s.size() == 2);
            assertEquals(Set.of("Ann", "Bob"), names);
            EntityManager reader = two.createEntityManager();
            try {
                assertEquals(java.time.LocalDate.of(2027, 4, 1), reader.find(Tournament.class, tournamentId).getStartsOn());
            } finally {
                reader.close();
            }
            // An @ElementCollection (its own table, keyed by owner and value) syncs like any table.
            Set<String> tags = await().atMost(Duration.ofSeconds(30)).until(() -> {
                EntityManager other = two.createEntityManager();
                try {
                    return Set.copyOf(other.find(Player.class, ann.getId()).getTags());
                } finally {
                    other.close();
                }
            }, s -> s.size() == 2);
            assertEquals(Set.of("left-handed", "captain"), tags);

            // And back: a rating changed on the second client reaches PostgreSQL and the first.
            EntityManager em2 = two.createEntityManager();
            em2.getTransaction().begin();
            em2.find(Player.class, ann.getId()).setRating(1900);
            em2.getTransaction().commit();
            em2.close();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                EntityManager check = one.createEntityManager();
                try {
                    return check.find(Player.class, ann.getId()).getRating() == 1900;
                } finally {
                    check.close();
                }
            });
            assertEquals(1900, relay.queryLong("SELECT rating FROM player WHERE name = 'Ann'"));

            // IDENTITY keys: both clients record games at the same time; ids never collide.
            List<Long> fromOne = recordGames(one, tournamentId, "one");
            List<Long> fromTwo = recordGames(two, tournamentId, "two");
            // Hibernate's DDL must make the id SQLite's rowid alias (7.4.5 dropped the type for some
            // entities, see NOTES.md): only then does SQLite, and so the driver, treat it as generated.
            try (java.sql.Connection plain = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("one.db"));
                 java.sql.ResultSet rs = plain.createStatement().executeQuery(
                         "SELECT type, pk FROM pragma_table_info('game') WHERE name = 'id'")) {
                assertEquals(true, rs.next());
                assertEquals("integer", rs.getString(1).toLowerCase(java.util.Locale.ROOT));
                assertEquals(1, rs.getInt(2));
            }
            Set<Long> all = new HashSet<>(fromOne);
            all.addAll(fromTwo);
            assertEquals(10, all.size(), "ids given by Hibernate on the two clients: " + fromOne + " " + fromTwo);
            await().atMost(Duration.ofSeconds(30)).until(() -> relay.queryLong("SELECT count(*) FROM game") == 10);
            assertEquals(10, relay.queryLong("SELECT count(DISTINCT id) FROM game"));
            for (EntityManagerFactory side : List.of(one, two)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    EntityManager check = side.createEntityManager();
                    try {
                        for (long id : all) {
                            Game g = check.find(Game.class, id);
                            String expected = fromOne.contains(id) ? "one" : "two";
                            if (g == null || !g.getResult().startsWith(expected)
                                    || !g.getTournament().getId().equals(tournamentId)) {
                                return false;
                            }
                        }
                        return true;
                    } finally {
                        check.close();
                    }
                });
            }
        }
    }

    private static List<Long> recordGames(EntityManagerFactory emf, String tournamentId, String who) {
        EntityManager em = emf.createEntityManager();
        try {
            em.getTransaction().begin();
            Tournament t = em.find(Tournament.class, tournamentId);
            List<Game> games = new ArrayList<>();
            for (int round = 1; round <= 5; round++) {
                Game g = new Game(t, round, who + " won round " + round);
                em.persist(g);
                games.add(g);
            }
            em.getTransaction().commit();
            return games.stream().map(Game::getId).toList();
        } finally {
            em.close();
        }
    }
}
